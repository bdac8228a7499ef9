"""Feedback end to end: a solved ticket sends a CSAT survey by email, the customer answers
through the link (and earns a coupon), one reminder for the unanswered, results per agent,
team and month; NPS campaigns with their score; CSAT can be switched off per channel."""

import datetime as dt
import re

import pytest
from django.utils import timezone

from guanxi.marketing.models import Coupon
from guanxi.service import selectors, services
from guanxi.service.models import ChannelSettings, SurveyResponse
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


def solved_ticket(customer, agent, team=None, channel="web", **kwargs):
    ticket = services.create_ticket(
        customer=customer,
        subject="Lid broken",
        body="Help",
        channel=channel,
        auto_reply=False,
        team=team,
        assignee=agent if team is None else None,
    )
    services.reply(ticket, author=agent, body="Replaced", status="solved", **kwargs)
    return ticket


def test_csat_flow_end_to_end(
    client, smtp, make_staff, settings, django_capture_on_commit_callbacks
):
    settings.GUANXI_CSAT_COUPON_PERCENT = 15
    agent = make_staff("agent", username="agent.li")
    customer = make_customer(first_name="Mei", emails=["mei@example.com"])
    with django_capture_on_commit_callbacks(execute=True):
        ticket = solved_ticket(customer, agent)
    survey = SurveyResponse.objects.get(ticket=ticket)
    assert (survey.kind, survey.agent, survey.channel) == ("csat", agent, "web")

    mails = smtp.wait_for(2)
    invite = next(m for m in mails if "How did we do" in m["Subject"])
    answer_mail = next(m for m in mails if m is not invite)
    assert invite["In-Reply-To"] == answer_mail["Message-ID"]  # threaded with the ticket
    link = re.search(r"https://help\.shop\.example(/survey/[\w-]+/)", invite.get_content()).group(1)
    assert client.get(link).status_code == 200

    bad = client.post(link, {"score": "9"})
    assert "between 1 and 5" in bad.content.decode()
    response = client.post(link, {"score": "4", "comment": "Quick and kind"})
    assert response.status_code == 200
    survey.refresh_from_db()
    assert (survey.score, survey.comment) == (4, "Quick and kind")
    coupon = Coupon.objects.get(customer=customer)
    assert coupon.offer.value == 15 and coupon.code in response.content.decode()
    assert coupon.source == "survey" and coupon.redeemed_at is None and coupon.expires_at
    client.post(link, {"score": "5"})  # changing the answer earns no second coupon
    assert Coupon.objects.count() == 1

    now = timezone.now()
    rows = selectors.csat_by("agent", now - dt.timedelta(days=1), now + dt.timedelta(minutes=1))
    assert [(r.label, r.answers, r.average, r.satisfied_pct) for r in rows] == [
        ("agent.li", 1, 5.0, 100.0)
    ]


def test_reminder_is_sent_once_to_those_who_did_not_answer(
    smtp, make_staff, django_capture_on_commit_callbacks
):
    agent = make_staff("agent")
    ChannelSettings.objects.create(channel="web", csat_reminder_hours=24)
    answered = solved_ticket(make_customer(emails=["a@example.com"]), agent)
    silent = solved_ticket(make_customer(emails=["b@example.com"]), agent)
    services.answer_survey(answered.survey.token, score=5)
    smtp.clear()
    later = timezone.now() + dt.timedelta(hours=25)
    with django_capture_on_commit_callbacks(execute=True):
        assert services.send_survey_reminders(timezone.now()) == 0  # too early
        assert services.send_survey_reminders(later) == 1
        assert services.send_survey_reminders(later) == 0
    mails = smtp.wait_for(1)
    assert [m["To"] for m in mails] == ["b@example.com"]
    assert mails[0]["Subject"].startswith("Reminder")
    silent.survey.refresh_from_db()
    assert silent.survey.reminded_at == later


def test_csat_can_be_switched_off_per_channel(make_staff):
    ChannelSettings.objects.create(channel="phone", csat_survey=False)
    agent = make_staff("agent")
    ticket = solved_ticket(make_customer(emails=["p@example.com"]), agent, channel="phone")
    assert not SurveyResponse.objects.filter(ticket=ticket).exists()


def test_csat_per_team_and_month_with_planted_scores(make_staff, team):
    agent = make_staff("agent")
    scores = [5, 4, 2, 5]  # planted: average 4.0, 3 of 4 satisfied
    for i, score in enumerate(scores):
        ticket = solved_ticket(make_customer(emails=[f"c{i}@example.com"]), agent, team=team)
        services.answer_survey(ticket.survey.token, score=score)
    now = timezone.now()
    (row,) = selectors.csat_by("team", now - dt.timedelta(days=1), now + dt.timedelta(minutes=1))
    assert (row.label, row.answers, row.average, row.satisfied_pct) == ("Tier 1", 4, 4.0, 75.0)
    (month,) = selectors.csat_by("month", now - dt.timedelta(days=1), now + dt.timedelta(minutes=1))
    assert month.answers == 4 and month.label == now.strftime("%Y-%m")


def test_nps_campaign_score_and_incentive(
    client, smtp, make_staff, django_capture_on_commit_callbacks
):
    customers = [make_customer(emails=[f"n{i}@example.com"]) for i in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        campaign = services.create_nps_campaign(
            name="Spring NPS", customers=customers, coupon_percent=5
        )
    assert len(smtp.wait_for(5)) == 5
    # planted answers: 2 promoters (9, 10), 1 passive (8), 1 detractor (3), 1 silent
    for survey, score in zip(campaign.responses.order_by("id"), [9, 10, 8, 3], strict=False):
        response = client.post(f"/survey/{survey.token}/", {"score": str(score)})
        assert response.status_code == 200
    (result,) = selectors.nps_results()
    assert (result.sent, result.answers, result.promoters, result.detractors) == (5, 4, 2, 1)
    assert result.score == 25.0  # (2 − 1) / 4
    assert Coupon.objects.filter(offer__value=5, source="survey").count() == 4


def test_feedback_report_page_shows_the_numbers(admin_user_client, make_staff):
    agent = make_staff("agent", username="agent.li")
    ticket = solved_ticket(make_customer(emails=["r@example.com"]), agent)
    services.answer_survey(ticket.survey.token, score=2, comment="Too slow")
    html = admin_user_client.get("/console/service/reports/feedback/").content.decode()
    assert "agent.li" in html and "Too slow" in html
    html = admin_user_client.get("/console/service/reports/sla/").content.decode()
    assert "SLA" in html
