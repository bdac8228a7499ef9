"""Sending over real SMTP: consent, suppression, headers, idempotent queueing, signed links,
results."""

import datetime as dt
import re
import time

import pytest
from django.core import signing
from django.urls import reverse

from guanxi.commerce.models import Order
from guanxi.core.models import AuditEntry
from guanxi.customers.models import ContactPoint, Customer
from guanxi.customers.services import set_contact_validity
from guanxi.marketing import services
from guanxi.marketing.models import Campaign, Delivery, EmailTemplate, Purpose
from guanxi.segments.services import create_segment
from tests.factories import make_customer

pytestmark = pytest.mark.django_db
NOON_UTC = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
EVERYONE = {"match": "all", "conditions": []}


def header_url(value) -> str:
    """The URL in a List-Unsubscribe header (long headers arrive folded)."""
    return re.search(r"<([^>]+)>", "".join(str(value).split())).group(1)


def person(name, *, consent=True, email=True, **fields):
    customer = make_customer(
        first_name=name, emails=[f"{name.lower()}@example.com"] if email else [], **fields
    )
    Customer.objects.filter(pk=customer.pk).update(consent_email_marketing=consent)
    customer.refresh_from_db()
    return customer


@pytest.fixture
def template():
    return EmailTemplate.objects.create(
        name="November news",
        subject_en="News for {{ first_name }}",
        body_en=(
            "Hello {{ first_name }}, see https://shop.example/new\n"
            "Unsubscribe: {{ unsubscribe_url }}"
        ),
        subject_zh="{{ first_name }}的新消息",
        body_zh="你好 {{ first_name }}，请看 https://shop.example/new\n退订：{{ unsubscribe_url }}",
    )


@pytest.fixture
def campaign(template):
    segment = create_segment(name="Everyone", rule=EVERYONE)
    return Campaign.objects.create(name="November", template=template, segment=segment)


def test_a_campaign_reaches_only_those_it_may(smtp_sink, campaign):
    ann = person("Ann")
    person("Bob", consent=False)
    cy = person("Cy")
    dee = person("Dee")
    # Her only address is invalid: the profile becomes unreachable (S3.10) and leaves every
    # list — the campaign does not even queue her.
    set_contact_validity(dee.contact_points.get(), ContactPoint.Validity.INVALID)
    person("Eve", email=False)
    person("Mei", language="zh-hans")

    assert services.queue_campaign(campaign, now=NOON_UTC) == 5
    assert not Delivery.objects.filter(customer=dee).exists()
    # Cy becomes unreachable after queueing: the rule is checked again at sending time.
    Customer.objects.filter(pk=cy.pk).update(reachability=Customer.Reachability.UNREACHABLE)
    report = services.send_due(now=NOON_UTC)
    assert report.sent == 2
    assert sorted(m["To"] for m in smtp_sink.messages) == ["ann@example.com", "mei@example.com"]
    assert report.reasons == {"no_consent": 1, "unreachable": 1, "no_email": 1}

    english = smtp_sink.to("ann@example.com")[0]
    assert english["Subject"] == "News for Ann"
    assert smtp_sink.to("mei@example.com")[0]["Subject"] == "Mei的新消息"
    delivery = Delivery.objects.get(customer=ann)
    assert english["Message-ID"] == delivery.message_id == services.message_id_for(delivery)
    assert english["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    unsubscribe = header_url(english["List-Unsubscribe"])
    assert unsubscribe.startswith("http://") and "/t/u/" in unsubscribe
    text = english.get_body(("plain",)).get_content()
    assert unsubscribe in text  # the variable renders to the same signed link
    assert "https://shop.example/new" not in text and "/t/c/" in text  # the link is tracked
    results = services.campaign_results(campaign)
    assert results["sent"] == 2 and results["recipients"] == 5
    assert results["not_sent"] == {"no_consent": 1, "unreachable": 1, "no_email": 1}
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT


def test_queueing_twice_sends_once(smtp_sink, campaign):
    person("Ann")
    assert services.queue_campaign(campaign, now=NOON_UTC) == 1
    assert services.queue_campaign(campaign, now=NOON_UTC) == 0
    services.send_due(now=NOON_UTC)
    services.send_due(now=NOON_UTC)
    assert len(smtp_sink.messages) == 1


def test_transactional_mail_ignores_marketing_opt_out(smtp_sink, template):
    bob = person("Bob", consent=False)
    template.purpose = Purpose.TRANSACTIONAL
    template.save()
    services.queue_delivery(key="order-shipped:1", customer=bob, template=template, due_at=NOON_UTC)
    assert services.send_due(now=NOON_UTC).sent == 1
    message = smtp_sink.to("bob@example.com")[0]
    assert message["List-Unsubscribe"] is None  # not a marketing message


def test_one_click_unsubscribe_and_forged_links(client, smtp_sink, campaign):
    ann = person("Ann")
    services.queue_campaign(campaign, now=NOON_UTC)
    services.send_due(now=NOON_UTC)
    url = header_url(smtp_sink.messages[0]["List-Unsubscribe"])
    path = url.split("://", 1)[1].split("/", 1)[1]

    token = path.split("/")[2]
    forged = token[:-3] + ("aaa" if not token.endswith("aaa") else "bbb")
    assert client.post(f"/t/u/{forged}/").status_code == 400
    other_salt = services.preferences_token(ann.pk)  # a valid token for another purpose
    assert client.post(f"/t/u/{other_salt}/").status_code == 400
    ann.refresh_from_db()
    assert ann.consent_email_marketing

    assert client.get(f"/{path}").status_code == 200  # the page, nothing changed yet
    ann.refresh_from_db()
    assert ann.consent_email_marketing
    response = client.post(
        f"/{path}", "List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 200
    ann.refresh_from_db()
    assert not ann.consent_email_marketing
    assert AuditEntry.objects.filter(
        object_id=ann.pk, changes__has_key="consent_email_marketing"
    ).exists()
    assert services.campaign_results(campaign)["unsubscribed"] == 1
    # The next campaign skips her.
    services.queue_delivery(key="later", customer=ann, template=campaign.template, due_at=NOON_UTC)
    assert services.send_due(now=NOON_UTC).reasons == {"no_consent": 1}


def test_double_opt_in(client, smtp_sink):
    bob = person("Bob", consent=False)
    services.request_opt_in(bob)
    services.send_due()
    text = smtp_sink.to("bob@example.com")[0].get_body(("plain",)).get_content()
    link = re.search(r"http://\S+/t/c/\S+/", text).group(0)  # tracked, then redirected
    target = client.get("/" + link.split("://", 1)[1].split("/", 1)[1])
    assert target.status_code == 302 and "/t/confirm/" in target["Location"]
    confirm = "/" + target["Location"].split("://", 1)[1].split("/", 1)[1]
    assert client.get(confirm).status_code == 200
    bob.refresh_from_db()
    assert bob.consent_email_marketing


def test_expired_opt_in_is_refused(client):
    class EightDaysAgo(signing.TimestampSigner):
        def timestamp(self):
            return signing.b62_encode(int(time.time()) - 8 * 86400)

    bob = person("Bob", consent=False)
    old = EightDaysAgo(salt=services.OPT_IN_SALT).sign_object({"c": bob.pk})
    response = client.get(f"/t/confirm/{old}/")
    assert response.status_code == 400 and b"expired" in response.content
    bob.refresh_from_db()
    assert not bob.consent_email_marketing


def test_opens_clicks_and_attributed_orders(client, smtp_sink, campaign):
    ann = person("Ann")
    services.queue_campaign(campaign, now=NOON_UTC)
    services.send_due(now=NOON_UTC)
    html = smtp_sink.messages[0].get_body(("html",)).get_content()
    pixel = re.search(r'src="http://[^/]+(/t/o/[^"]+)"', html).group(1)
    assert client.get(pixel)["Content-Type"] == "image/gif"
    click = re.search(
        r"http://[^/\s]+(/t/c/\S+/)", smtp_sink.messages[0].get_body(("plain",)).get_content()
    ).group(1)
    response = client.get(click)
    assert response.status_code == 302 and response["Location"] == "https://shop.example/new"
    assert client.get("/t/c/not-a-token/").status_code == 400  # no open redirect
    sent_at = Delivery.objects.get(customer=ann).sent_at
    Order.objects.create(
        source="webshop",
        external_id="after",
        customer=ann,
        currency="USD",
        subtotal=40,
        total=40,
        placed_at=sent_at + dt.timedelta(days=2),
    )
    Order.objects.create(
        source="webshop",
        external_id="too-late",
        customer=ann,
        currency="USD",
        subtotal=9,
        total=9,
        placed_at=sent_at + dt.timedelta(days=30),
    )
    results = services.campaign_results(campaign)
    assert (results["opened"], results["clicked"], results["orders"]) == (1, 1, 1)
    assert float(results["revenue"]) == 40.0


def test_smtp_failure_is_retried_not_lost(settings, campaign):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", 9  # nothing listens: refused
    person("Ann")
    services.queue_campaign(campaign, now=NOON_UTC)
    report = services.send_due(now=NOON_UTC)
    assert report.retried == 1
    delivery = Delivery.objects.get()
    assert delivery.state == Delivery.State.QUEUED and delivery.due_at > NOON_UTC
    assert delivery.error


def test_preview_renders_both_languages(template):
    out = services.preview(template)
    assert out["en"]["subject"] == "News for Mei"
    assert out["zh-hans"]["subject"] == "Mei的新消息"


def test_unsubscribe_page_urls_resolve():
    token = services.unsubscribe_token(1)
    assert reverse("marketing:unsubscribe", args=[token]).startswith("/t/u/")


def test_a_test_sends_unsubscribe_link_answers_400_not_500(client, smtp_sink, campaign):
    services.send_test(campaign, "staff@example.com")
    url = header_url(smtp_sink.messages[0]["List-Unsubscribe"])
    path = "/" + url.split("://", 1)[1].split("/", 1)[1]
    assert smtp_sink.messages[0]["Subject"].startswith("[TEST]")
    assert client.post(path).status_code == 400


def test_a_campaign_with_a_future_send_time_is_scheduled_not_queued(campaign):
    person("Ann")
    campaign.scheduled_at = NOON_UTC + dt.timedelta(days=1)
    campaign.save()
    assert services.start_campaign(campaign, now=NOON_UTC) is None
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SCHEDULED
    assert not Delivery.objects.exists()
    assert services.start_campaign(campaign, now=NOON_UTC + dt.timedelta(days=1, minutes=1)) == 1


def test_a_throttled_campaign_sends_at_most_per_minute_and_lets_others_pass(smtp_sink, campaign):
    for name in ("Ann", "Bob", "Cy", "Dee", "Eve"):
        person(name)
    campaign.per_minute = 2
    campaign.save()
    services.queue_campaign(campaign, now=NOON_UTC)
    receipt = EmailTemplate.objects.create(
        name="Receipt", purpose=Purpose.TRANSACTIONAL, subject_en="Receipt", body_en="Thanks"
    )
    services.queue_delivery(
        key="receipt:1", customer=person("Fay"), template=receipt, due_at=NOON_UTC
    )

    first = services.send_due(now=NOON_UTC)
    assert first.sent == 3  # two of the campaign, and the receipt that is not throttled
    assert services.send_due(now=NOON_UTC + dt.timedelta(seconds=30)).sent == 0
    assert services.throttle_budgets(NOON_UTC + dt.timedelta(seconds=30)) == {campaign.pk: 0}
    assert services.send_due(now=NOON_UTC + dt.timedelta(seconds=61)).sent == 2
    assert services.send_due(now=NOON_UTC + dt.timedelta(seconds=122)).sent == 1
    assert len(smtp_sink.messages) == 6
    campaign.refresh_from_db()
    assert campaign.status == Campaign.Status.SENT
    assert services.campaign_results(campaign)["sent"] == 5
