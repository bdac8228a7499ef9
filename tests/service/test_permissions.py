"""Who may do what: agents see and answer tickets, marketers and analysts cannot change them,
customers see only their own tickets, and staff and customer accounts stay apart."""

import pytest
from django.urls import reverse

from guanxi.portal.services import sign_up
from guanxi.service import services
from guanxi.service.models import Message, Ticket
from tests.console.test_views import POST_PAGES
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def ticket():
    customer = make_customer(first_name="Mei", emails=["mei@example.com"])
    return services.create_ticket(
        customer=customer,
        subject="Tea set chipped",
        body="One cup is chipped",
        channel="phone",
        auto_reply=False,
    )


def test_agent_sees_the_ticket_in_the_inbox_and_answers_it(client, make_staff, ticket):
    client.force_login(make_staff("agent"))
    inbox = client.get(reverse("console:service_inbox") + "?view=unassigned")
    assert inbox.status_code == 200 and "Tea set chipped" in inbox.content.decode()
    page = client.get(reverse("console:service_ticket", args=[ticket.pk])).content.decode()
    assert "One cup is chipped" in page and 'data-testid="send-reply"' in page
    response = client.post(
        reverse("console:service_ticket_reply", args=[ticket.pk]), {"body": "New cup on its way"}
    )
    assert response.status_code == 302
    assert Message.objects.filter(ticket=ticket, body="New cup on its way").exists()


@pytest.mark.parametrize("role", ["marketer", "analyst", "sales_rep"])
def test_other_roles_cannot_change_tickets(client, make_staff, ticket, role):
    client.force_login(make_staff(role))
    for name in POST_PAGES:
        args = [] if name == "console:service_bulk" else [ticket.pk]
        data = {"body": "x", "into": 1, "ticket": [ticket.pk], "action": "closed"}
        response = client.post(reverse(name, args=args), data)
        assert response.status_code == 403, name
    ticket.refresh_from_db()
    assert ticket.messages.count() == 1 and ticket.status == Ticket.Status.NEW
    page = client.get(reverse("console:service_ticket", args=[ticket.pk]))
    if role == "analyst":  # may read tickets for reporting, never answer
        assert page.status_code == 200 and 'data-testid="send-reply"' not in page.content.decode()
    else:
        assert page.status_code == 403


def test_agent_may_post_every_ticket_action(client, make_staff, ticket):
    client.force_login(make_staff("agent"))
    other = services.create_ticket(
        customer=ticket.customer, subject="dup", body="dup", channel="phone", auto_reply=False
    )
    assert (
        client.post(
            reverse("console:service_ticket_update", args=[ticket.pk]),
            {"status": "open", "priority": "high", "team": "", "assignee": ""},
        ).status_code
        == 302
    )
    ticket.refresh_from_db()
    assert (ticket.status, ticket.priority) == ("open", "high")
    assert (
        client.post(
            reverse("console:service_ticket_merge", args=[other.pk]), {"into": ticket.pk}
        ).status_code
        == 302
    )
    other.refresh_from_db()
    assert other.merged_into == ticket


def test_customers_see_only_their_own_tickets(client, ticket):
    mine = sign_up(email="zhou@example.com", password="pw-Secret-123", first_name="Zhou")
    own = services.create_ticket(
        customer=mine.customer,
        subject="My own question",
        body="?",
        channel="web",
        auto_reply=False,
    )
    client.force_login(mine.user)
    listing = client.get(reverse("portal:tickets")).content.decode()
    assert "My own question" in listing and "Tea set chipped" not in listing
    assert client.get(reverse("portal:ticket", args=[own.pk])).status_code == 200
    assert client.get(reverse("portal:ticket", args=[ticket.pk])).status_code == 404
    response = client.post(reverse("portal:ticket", args=[ticket.pk]), {"body": "sneaky"})
    assert response.status_code == 404
    assert (
        client.post(reverse("portal:ticket_rate", args=[ticket.pk]), {"score": 1}).status_code
        == 404
    )
    assert not Message.objects.filter(body="sneaky").exists()


def test_staff_console_refuses_customer_accounts(client):
    account = sign_up(email="buyer@example.com", password="pw-Secret-123")
    response = client.post(
        reverse("console:login"),
        {"username": account.user.username, "password": "pw-Secret-123"},
    )
    assert "no access to the staff console" in response.content.decode()
    client.force_login(account.user)
    assert client.get(reverse("console:service_inbox")).status_code == 403


def test_portal_refuses_staff_accounts(client, make_staff):
    agent = make_staff("agent")
    agent.email = "agent@shop.example"
    agent.save()
    response = client.post(
        reverse("portal:login"), {"username": "agent-user", "password": "pw-Secret-123"}
    )
    assert response.status_code == 200 and not response.wsgi_request.user.is_authenticated
    client.force_login(agent)
    response = client.get(reverse("portal:tickets"))
    assert response.status_code == 403 and "staff account" in response.content.decode()
    assert client.get(reverse("console:service_inbox")).status_code == 200  # still signed in
