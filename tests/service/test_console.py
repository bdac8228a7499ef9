"""Console pages of the service desk with planted data: inbox views (mine, unassigned,
breaching soon), logging a phone ticket, the KB editor, SLA compliance numbers."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from guanxi.service import search, selectors, services
from guanxi.service.models import KBArticle, SLAPolicy, Ticket
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


def ticket(customer, subject, *, created_at=None, assignee=None):
    return services.create_ticket(
        customer=customer,
        subject=subject,
        body="…",
        channel="web",
        auto_reply=False,
        created_at=created_at,
        assignee=assignee,
    )


def test_inbox_views_mine_unassigned_and_breaching_soon(client, make_staff):
    SLAPolicy.objects.create(name="Std", first_response_minutes=240, resolution_minutes=2880)
    me, other = make_staff("agent", username="me"), make_staff("agent", username="other")
    customer = make_customer(emails=["c@example.com"])
    now = timezone.now()
    mine = ticket(customer, "Mine, fresh", assignee=me)
    theirs = ticket(customer, "Theirs, fresh", assignee=other)
    loose = ticket(customer, "Nobody's, fresh")
    late = ticket(customer, "Nobody's, late", created_at=now - dt.timedelta(hours=3, minutes=30))
    done = ticket(customer, "Solved", assignee=me)
    services.set_status(done, "solved", actor=me)

    def subjects(view):
        return {t.subject for t in selectors.inbox(me, view, now=now)}

    assert subjects("all") == {t.subject for t in (mine, theirs, loose, late)}
    assert subjects("mine") == {"Mine, fresh"}
    assert subjects("unassigned") == {"Nobody's, fresh", "Nobody's, late"}
    # first response due in 30 min (< 2 h window); the fresh ones have ~4 h left
    assert subjects("breaching") == {"Nobody's, late"}

    client.force_login(me)
    html = client.get(reverse("console:service_inbox") + "?view=breaching").content.decode()
    assert "Nobody&#x27;s, late" in html and "Mine, fresh" not in html
    html = client.get(reverse("console:service_inbox"), {"q": "theirs"}).content.decode()
    assert "Theirs, fresh" in html and "Mine, fresh" not in html
    html = client.get(reverse("console:service_inbox"), {"status": "solved"}).content.decode()
    assert "Solved" in html and "Mine, fresh" not in html


def test_agent_logs_a_phone_ticket_for_an_unknown_caller(client, make_staff):
    agent = make_staff("agent")
    client.force_login(agent)
    response = client.post(
        reverse("console:service_ticket_new"),
        {
            "email": "caller@example.org",
            "channel": "phone",
            "priority": "high",
            "subject": "Called about a late parcel",
            "body": "Parcel 3 days late, wants refund",
        },
    )
    created = Ticket.objects.get()
    assert response["Location"] == reverse("console:service_ticket", args=[created.pk])
    assert (created.channel, created.priority, created.assignee) == ("phone", "high", agent)
    first = created.messages.get()
    assert first.author_kind == "customer" and first.author_user == agent  # logged by the agent
    response = client.post(
        reverse("console:service_ticket_new"),
        {"customer": 999999, "channel": "fax", "priority": "normal", "subject": "x", "body": "y"},
    )
    assert response.status_code == 200 and "No such customer" in response.content.decode()


def test_kb_editor_drafts_then_publishes(client, make_staff):
    client.force_login(make_staff("agent"))
    response = client.post(
        reverse("console:service_kb_new"),
        {"title": "礼品包装", "language": "zh-hans", "body": "下单时可以选择礼品包装，每件五元。"},
    )
    article = KBArticle.objects.get()
    assert response["Location"] == reverse("console:service_kb_edit", args=[article.pk])
    assert article.published is False and search.search("礼品包装") == []
    client.post(
        reverse("console:service_kb_edit", args=[article.pk]),
        {"title": "礼品包装服务", "language": "zh-hans", "body": article.body, "published": "on"},
    )
    article.refresh_from_db()
    assert article.published and article.published_at is not None
    assert search.search("可以包装成礼物吗")[0].article == article
    listing = client.get(reverse("console:service_kb"), {"published": "yes"}).content.decode()
    assert "礼品包装服务" in listing


def test_sla_compliance_with_planted_outcomes(make_staff, team):
    agent = make_staff("agent", username="planted")
    SLAPolicy.objects.create(name="Std", first_response_minutes=60, resolution_minutes=480)
    vip = make_customer(emails=["v@example.com"])
    now = timezone.now()
    start = now - dt.timedelta(days=2)
    # 1: answered after 30 min, solved after 2 h → both met
    a = ticket(vip, "a", created_at=start, assignee=agent)
    services.reply(a, author=agent, body="hi", at=start + dt.timedelta(minutes=30))
    services.set_status(a, "solved", actor=agent, at=start + dt.timedelta(hours=2))
    # 2: answered after 3 h (first response breached), solved after 5 h → resolution met
    b = ticket(vip, "b", created_at=start, assignee=agent)
    services.reply(b, author=agent, body="hi", at=start + dt.timedelta(hours=3), status="open")
    services.set_status(b, "solved", actor=agent, at=start + dt.timedelta(hours=5))
    # 3: never answered, created 2 days ago → first response and resolution breached
    c = ticket(vip, "c", created_at=start, assignee=agent)
    services.check_sla(now)
    c.refresh_from_db()
    assert c.resolution_breached
    # 4: created just now, nothing due yet → counted as a ticket, not measured
    ticket(vip, "d", assignee=agent)

    report = selectors.sla_compliance(now - dt.timedelta(days=7), now + dt.timedelta(minutes=1))
    (row,) = report["agent"]
    assert row.label == "planted" and row.tickets == 4
    assert (row.first_response_met, row.first_response_measured) == (1, 3)
    assert (row.resolution_met, row.resolution_measured) == (2, 3)
    assert round(row.resolution_rate, 1) == 66.7
    (channel,) = report["channel"]
    assert channel.key == "web" and channel.tickets == 4


def test_bulk_actions_from_the_inbox(client, make_staff):
    agent = make_staff("agent", username="bulk.agent")
    customer = make_customer(emails=["b@example.com"])
    one, two, three = (ticket(customer, s) for s in ("one", "two", "three"))
    client.force_login(agent)
    response = client.post(
        reverse("console:service_bulk"),
        {"ticket": [one.pk, two.pk], "action": "assign_me", "next": "/console/service/?view=mine"},
    )
    assert response["Location"] == "/console/service/?view=mine"
    assert {t.subject for t in selectors.inbox(agent, "mine")} == {"one", "two"}
    client.post(reverse("console:service_bulk"), {"ticket": [two.pk, three.pk], "action": "solved"})
    statuses = dict(Ticket.objects.values_list("subject", "status"))
    assert statuses == {"one": "new", "two": "solved", "three": "solved"}
    bad = client.post(
        reverse("console:service_bulk"), {"ticket": [one.pk], "action": "delete", "next": "//evil"}
    )
    assert bad["Location"] == reverse("console:service_inbox")  # no open redirect
    client.force_login(make_staff("marketer"))
    assert (
        client.post(
            reverse("console:service_bulk"), {"ticket": [one.pk], "action": "closed"}
        ).status_code
        == 403
    )
