"""Tickets: round-robin assignment, merging duplicates, attachments (size and type), canned
replies with variables, internal notes, the customer timeline, signals, and the tickets API."""

import pytest
from django.urls import reverse

from guanxi.api.services import create_api_token
from guanxi.customers import selectors as customer_selectors
from guanxi.service import selectors, services, signals
from guanxi.service.models import CannedReply, Message, Ticket
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def customer():
    return make_customer(first_name="Mei", last_name="Chen", emails=["mei@example.com"])


def new_ticket(customer, **kwargs):
    kwargs.setdefault("subject", "Question")
    kwargs.setdefault("body", "Hello")
    kwargs.setdefault("channel", "phone")
    kwargs.setdefault("auto_reply", False)
    return services.create_ticket(customer=customer, **kwargs)


def test_round_robin_inside_a_team(customer, team):
    members = sorted(team.members.all(), key=lambda u: u.pk)
    assignees = [new_ticket(customer, team=team).assignee for _ in range(5)]
    assert assignees == [members[0], members[1], members[0], members[1], members[0]]


def test_merging_a_duplicate_moves_its_messages_and_closes_it(customer, make_staff):
    agent = make_staff("agent")
    keep = new_ticket(customer, subject="Broken lid")
    dup = new_ticket(customer, subject="Broken lid (again)", body="Sent twice")
    services.merge_tickets(dup, keep, actor=agent)
    dup.refresh_from_db()
    assert dup.merged_into == keep and dup.status == Ticket.Status.CLOSED
    bodies = list(keep.messages.values_list("body", flat=True))
    assert "Sent twice" in bodies and any("merged into this one" in b for b in bodies)
    other = new_ticket(make_customer(emails=["x@example.com"]))
    with pytest.raises(services.ServiceError):
        services.merge_tickets(other, keep)
    # merged tickets leave the inbox
    assert dup not in selectors.inbox(agent, "all")


def test_attachments_are_size_limited_and_type_checked(customer, settings):
    settings.GUANXI_SERVICE_MAX_ATTACHMENT_MB = 0.001  # ~1 KB
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 100
    ticket = new_ticket(customer, uploads=[services.Upload("shot.png", png)])
    attachment = ticket.messages.get().attachments.get()
    assert (attachment.content_type, attachment.size) == ("image/png", len(png))
    with pytest.raises(services.ServiceError, match="larger than"):
        new_ticket(customer, uploads=[services.Upload("big.png", png + b"\0" * 2000)])
    with pytest.raises(services.ServiceError, match="not accepted"):
        new_ticket(customer, uploads=[services.Upload("run.exe", b"MZ\x90\x00")])
    with pytest.raises(services.ServiceError, match="not really"):
        new_ticket(customer, uploads=[services.Upload("fake.pdf", b"MZ pretending")])
    assert Ticket.objects.count() == 1  # a refused file leaves no half-made ticket


def test_canned_replies_fill_in_their_variables(customer, make_staff):
    agent = make_staff("agent", username="li.na")
    agent.first_name, agent.last_name = "Na", "Li"
    ticket = new_ticket(customer, subject="Invoice")
    canned = CannedReply.objects.create(
        title="Thanks",
        body="Hi {first_name}, about #{ticket_number} ({subject}): {agent_name}. {x}",
    )
    assert services.render_canned(canned, ticket, agent) == (
        f"Hi Mei, about #{ticket.pk} (Invoice): Na Li. {{x}}"
    )


def test_internal_notes_are_not_emailed_and_do_not_count_as_a_response(
    customer, make_staff, smtp, django_capture_on_commit_callbacks
):
    agent = make_staff("agent")
    ticket = new_ticket(customer, channel="web")
    with django_capture_on_commit_callbacks(execute=True):
        services.reply(ticket, author=agent, body="Customer is a VIP reseller", internal=True)
    ticket.refresh_from_db()
    assert ticket.first_response_at is None and smtp.messages == []
    assert [m.body for m in selectors.thread(ticket, include_internal=False)] == ["Hello"]


def test_tickets_are_on_the_customer_timeline(customer, admin_user_client):
    ticket = new_ticket(customer, subject="Wrong colour delivered")
    page = customer_selectors.customer_timeline(customer, kinds=["ticket"])
    assert [item.obj for item in page.object_list] == [ticket]
    everything = customer_selectors.customer_timeline(customer)
    assert "ticket" in {item.kind for item in everything.object_list}
    html = admin_user_client.get(
        reverse("console:customer_detail", args=[customer.pk]) + "?tl=ticket"
    ).content.decode()
    assert "Wrong colour delivered" in html
    assert reverse("console:service_ticket", args=[ticket.pk]) in html


def test_signals_are_sent_after_commit(customer, make_staff, django_capture_on_commit_callbacks):
    seen = []

    def created(sender, ticket, **kwargs):
        seen.append(("created", sender, ticket.pk))

    def solved(sender, ticket, **kwargs):
        seen.append(("solved", sender, ticket.pk))

    signals.ticket_created.connect(created)
    signals.ticket_solved.connect(solved)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            ticket = new_ticket(customer)
        assert seen == [("created", Ticket, ticket.pk)]
        with django_capture_on_commit_callbacks(execute=True):
            services.set_status(ticket, "solved", actor=make_staff("agent"))
        assert seen[-1] == ("solved", Ticket, ticket.pk)
    finally:
        signals.ticket_created.disconnect(created)
        signals.ticket_solved.disconnect(solved)


def test_tickets_api_create_list_reply(client, make_staff, smtp):
    _row, token = create_api_token("helpdesk")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
    response = client.post(
        "/api/v1/tickets",
        {
            "subject": "API ticket",
            "body": "From the shop app",
            "email": "new@example.org",
            "name": "New Person",
            "channel": "chat",
        },
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["channel"] == "chat" and created["status"] == "new"
    assert created["messages"][0]["body"] == "From the shop app"
    prospect = customer_selectors.find_customer_by_contact("email", "new@example.org")
    assert created["customer_id"] == prospect.pk

    listed = client.get("/api/v1/tickets", {"customer_id": prospect.pk}, **auth).json()
    assert [t["id"] for t in listed["items"]] == [created["id"]]

    response = client.post(
        f"/api/v1/tickets/{created['id']}/replies",
        {"body": "We are on it", "status": "open"},
        content_type="application/json",
        **auth,
    )
    assert response.status_code == 201
    detail = response.json()
    assert detail["status"] == "open" and detail["first_response_at"] is not None
    assert detail["messages"][-1]["body"] == "We are on it"

    bad = client.post(
        "/api/v1/tickets",
        {"subject": "x", "body": "y", "customer_id": 999999},
        content_type="application/json",
        **auth,
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "customer_id"
    bad = client.post(
        "/api/v1/tickets",
        {"subject": "x", "body": "y", "email": "a@b.example", "priority": "whenever"},
        content_type="application/json",
        **auth,
    )
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "priority"

    _ro, read_only = create_api_token("reader", can_write=False)
    response = client.post(
        f"/api/v1/tickets/{created['id']}/replies",
        {"body": "no"},
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {read_only}",
    )
    assert response.status_code == 403
    assert Message.objects.filter(body="no").count() == 0


def test_attachments_download_for_staff_and_for_their_own_customer_only(client, make_staff):
    from guanxi.portal.services import sign_up

    account = sign_up(email="owner@example.com", password="pw-Secret-123")
    pdf = b"%PDF-1.4 receipt"
    ticket = new_ticket(account.customer, channel="web", uploads=[services.Upload("r.pdf", pdf)])
    note = services.reply(
        ticket,
        author=make_staff("agent"),
        body="internal scan",
        internal=True,
        uploads=[services.Upload("scan.pdf", b"%PDF-1.4 internal")],
    )
    public_id = ticket.messages.order_by("id").first().attachments.get().pk
    internal_id = note.attachments.get().pk

    client.force_login(account.user)
    response = client.get(reverse("portal:attachment", args=[public_id]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == pdf
    assert client.get(reverse("portal:attachment", args=[internal_id])).status_code == 404
    stranger = sign_up(email="stranger@example.com", password="pw-Secret-123")
    client.force_login(stranger.user)
    assert client.get(reverse("portal:attachment", args=[public_id])).status_code == 404

    client.force_login(make_staff("analyst"))
    assert client.get(reverse("console:service_attachment", args=[internal_id])).status_code == 200
    client.force_login(make_staff("marketer"))
    assert client.get(reverse("console:service_attachment", args=[public_id])).status_code == 403


def test_solved_tickets_close_after_a_few_days_and_a_new_message_opens_a_follow_up(
    customer, make_staff
):
    import datetime as dt

    from django.utils import timezone

    from guanxi.service.tasks import close_solved_tickets

    agent = make_staff("agent")
    ticket = new_ticket(customer)
    solved_at = timezone.now() - dt.timedelta(days=5)
    services.set_status(ticket, "solved", actor=agent, at=solved_at)
    fresh = new_ticket(customer, subject="Other")
    services.set_status(fresh, "solved", actor=agent)
    assert close_solved_tickets.call_local() == 1
    ticket.refresh_from_db()
    fresh.refresh_from_db()
    assert (ticket.status, fresh.status) == ("closed", "solved")
    follow_up = services.customer_reply(ticket, body="It broke again")
    assert follow_up.ticket_id != ticket.pk
    assert follow_up.ticket.subject == ticket.subject and follow_up.ticket.status == "new"


def test_tickets_api_is_idempotent_with_an_idempotency_key(client, smtp):
    _row, token = create_api_token("retrying-shop")
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}", "HTTP_IDEMPOTENCY_KEY": "order-77-help"}
    body = {"subject": "Where is order 77?", "body": "No news", "email": "r@example.org"}
    first = client.post("/api/v1/tickets", body, content_type="application/json", **auth)
    again = client.post("/api/v1/tickets", body, content_type="application/json", **auth)
    assert first.status_code == again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Ticket.objects.count() == 1
    other = client.post(
        "/api/v1/tickets", {**body, "body": "changed"}, content_type="application/json", **auth
    )
    assert other.status_code == 409
    reply = {"body": "Shipped today"}
    url = f"/api/v1/tickets/{first.json()['id']}/replies"
    client.post(
        url, reply, content_type="application/json", **{**auth, "HTTP_IDEMPOTENCY_KEY": "r1"}
    )
    client.post(
        url, reply, content_type="application/json", **{**auth, "HTTP_IDEMPOTENCY_KEY": "r1"}
    )
    assert Message.objects.filter(body="Shipped today").count() == 1
