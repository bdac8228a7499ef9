"""Bounces and complaints: a real campaign goes out through the SMTP sink; the delivery reports
that come back — RFC 3464 DSNs (as Postfix writes them) and RFC 5965 abuse reports, read from a
bounce mailbox over IMAP, an MTA pipe or the signed webhook — mark the address bouncing →
invalid, and a profile whose every address is invalid becomes unreachable (S3.10): it leaves
every list, is flagged in the console, and nothing is deleted."""

import datetime as dt
import hashlib
import hmac
import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.urls import reverse

from guanxi.core.models import AuditEntry
from guanxi.customers.models import ContactPoint, Customer
from guanxi.marketing import bounces, services
from guanxi.marketing.models import BounceReport, Campaign, Delivery, EmailTemplate, Purpose
from guanxi.segments import rules
from guanxi.segments.services import create_segment
from tests.factories import make_customer
from tests.imap import Mailbox

pytestmark = pytest.mark.django_db
NOON_UTC = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
EVERYONE = {"match": "all", "conditions": []}
SECRET = "bounce-secret"


def person(name, emails=None, consent=True):
    customer = make_customer(first_name=name, emails=emails or [f"{name.lower()}@example.com"])
    Customer.objects.filter(pk=customer.pk).update(consent_email_marketing=consent)
    customer.refresh_from_db()
    return customer


@pytest.fixture
def sent(smtp_sink):
    """A campaign sent to Ann, Bob and Cy; returns {name: (customer, the message received)}."""
    template = EmailTemplate.objects.create(
        name="News", subject_en="News for {{ first_name }}", body_en="Hello {{ first_name }}"
    )
    campaign = Campaign.objects.create(
        name="November", template=template, segment=create_segment(name="All", rule=EVERYONE)
    )
    people = {n: person(n) for n in ("Ann", "Bob", "Cy")}
    services.queue_campaign(campaign, now=NOON_UTC)
    assert services.send_due(now=NOON_UTC).sent == 3
    return campaign, {
        n: (c, smtp_sink.to(f"{n.lower()}@example.com")[0]) for n, c in people.items()
    }


def dsn(original, recipients, *, report_id="<dsn-1@mx.example>") -> bytes:
    """A delivery status notification as Postfix writes it: a human-readable part, the
    machine-readable message/delivery-status, and the bounced message's headers.
    ``recipients``: [(address, action, status, diagnostic)]."""
    headers = "".join(f"{k}: {v}\r\n" for k, v in original.items())
    blocks = "".join(
        f"\r\nFinal-Recipient: rfc822; {address}\r\n"
        f"Original-Recipient: rfc822;{address}\r\n"
        f"Action: {action}\r\nStatus: {status}\r\n"
        f"Remote-MTA: dns; mx.example.com\r\nDiagnostic-Code: smtp; {diagnostic}\r\n"
        for address, action, status, diagnostic in recipients
    )
    return (
        "From: MAILER-DAEMON@mail.shop.example (Mail Delivery System)\r\n"
        "To: noreply@shop.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\n"
        f"Message-Id: {report_id}\r\n"
        "Auto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/report; report-type=delivery-status;\r\n"
        '\tboundary="B0UND"\r\n\r\n'
        "This is a MIME-encapsulated message.\r\n\r\n"
        "--B0UND\r\nContent-Description: Notification\r\n"
        "Content-Type: text/plain; charset=us-ascii\r\n\r\n"
        "This is the mail system at host mail.shop.example.\r\n\r\n"
        "I'm sorry to have to inform you that your message could not\r\n"
        "be delivered to one or more recipients.\r\n\r\n"
        "--B0UND\r\nContent-Description: Delivery report\r\n"
        "Content-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; mail.shop.example\r\n"
        "X-Postfix-Queue-ID: 4F2A81C0A2\r\n"
        "Arrival-Date: Tue, 24 Nov 2026 12:00:01 +0000 (UTC)\r\n"
        f"{blocks}\r\n"
        "--B0UND\r\nContent-Description: Undelivered Message Headers\r\n"
        "Content-Type: text/rfc822-headers\r\n\r\n"
        f"{headers}\r\n--B0UND--\r\n"
    ).encode()


def abuse_report(original, *, report_id="<arf-1@fbl.example>", rcpt=True) -> bytes:
    """An RFC 5965 feedback report (a mailbox provider's feedback loop)."""
    headers = "".join(f"{k}: {v}\r\n" for k, v in original.items())
    rcpt_line = f"Original-Rcpt-To: {original['To']}\r\n" if rcpt else ""
    return (
        "From: fbl@mailbox.example\r\nTo: abuse@shop.example\r\n"
        "Subject: FW: News\r\n"
        f"Message-ID: {report_id}\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=feedback-report; boundary="ARF"\r\n\r\n'
        "--ARF\r\nContent-Type: text/plain\r\n\r\n"
        "This is an email abuse report for an email message received from IP 192.0.2.1.\r\n\r\n"
        "--ARF\r\nContent-Type: message/feedback-report\r\n\r\n"
        "Feedback-Type: abuse\r\nUser-Agent: SomeGenerator/1.0\r\nVersion: 1\r\n"
        f"Original-Mail-From: <noreply@shop.example>\r\n{rcpt_line}"
        "Arrival-Date: Tue, 24 Nov 2026 12:00:02 +0000\r\n\r\n"
        "--ARF\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"{headers}\r\n--ARF--\r\n"
    ).encode()


def email_point(customer):
    return customer.contact_points.get(kind=ContactPoint.Kind.EMAIL)


def test_a_hard_bounce_makes_the_address_invalid_and_the_profile_unreachable(sent, admin_client):
    campaign, people = sent
    ann, message = people["Ann"]
    report = dsn(message, [("ann@example.com", "failed", "5.1.1", "550 5.1.1 No such user")])

    outcome = bounces.receive(report, source="mailbox")

    assert outcome.recorded == 1
    assert email_point(ann).validity == ContactPoint.Validity.INVALID
    ann.refresh_from_db()
    assert ann.reachability == Customer.Reachability.UNREACHABLE
    delivery = Delivery.objects.get(customer=ann)
    stored = BounceReport.objects.get()
    # Tied to the delivery by the Message-ID that came back in the report's headers.
    assert stored.delivery == delivery and stored.status == "5.1.1"
    assert "No such user" in stored.diagnostic
    assert delivery.bounced_at is not None
    results = services.campaign_results(campaign)
    assert results["bounced"] == 1 and results["delivered"] == 2
    # Nothing deleted; the change is audited; the profile left every list.
    assert Customer.objects.filter(pk=ann.pk).exists()
    changes = list(AuditEntry.objects.filter(object_id=ann.pk).values_list("changes", flat=True))
    assert {"reachability": ["reachable", "unreachable"]} in changes
    assert not rules.members(EVERYONE).filter(pk=ann.pk).exists()
    unreachable = {
        "match": "all",
        "conditions": [{"field": "reachability", "op": "in", "value": ["unreachable"]}],
    }
    assert list(rules.members(unreachable).values_list("pk", flat=True)) == [ann.pk]
    # Flagged in the console.
    page = admin_client.get(reverse("console:customer_detail", args=[ann.pk])).content.decode()
    assert "unreachable" in page and "invalid" in page
    # The same report read again (the mailbox polled twice) changes nothing.
    again = bounces.receive(report, source="mailbox")
    assert again.recorded == 0 and again.duplicates == 1
    assert BounceReport.objects.count() == 1


def test_one_report_for_several_recipients_acts_on_each_by_its_status(sent):
    _campaign, people = sent
    _ann, message = people["Ann"]
    bob, cy = people["Bob"][0], people["Cy"][0]
    report = dsn(
        message,
        [
            ("bob@example.com", "delayed", "4.2.2", "452 4.2.2 Mailbox full"),
            ("cy@example.com", "delivered", "2.0.0", "250 OK"),
        ],
    )
    outcome = bounces.receive(report, source="pipe")
    assert outcome.recorded == 1  # the success notice for Cy is not a bounce
    assert email_point(bob).validity == ContactPoint.Validity.BOUNCING
    assert email_point(cy).validity == ContactPoint.Validity.UNVERIFIED
    bob.refresh_from_db()
    assert bob.reachability == Customer.Reachability.REACHABLE  # bouncing is not invalid


def test_soft_bounces_turn_invalid_on_the_third_and_an_open_proves_the_address(sent, settings):
    settings.GUANXI_SOFT_BOUNCE_LIMIT = 3
    _campaign, people = sent
    bob, message = people["Bob"]
    full = [("bob@example.com", "delayed", "4.2.2", "452 Mailbox full")]

    bounces.receive(dsn(message, full, report_id="<s1@mx>"), source="mailbox")
    assert email_point(bob).validity == ContactPoint.Validity.BOUNCING
    # He opens the email after all: the address works.
    delivery = Delivery.objects.get(customer=bob)
    services.record_open(services.signing.dumps(delivery.pk, salt=services.OPEN_SALT))
    assert email_point(bob).validity == ContactPoint.Validity.VALID

    bounces.receive(dsn(message, full, report_id="<s2@mx>"), source="mailbox")
    assert email_point(bob).validity == ContactPoint.Validity.BOUNCING
    bounces.receive(dsn(message, full, report_id="<s3@mx>"), source="mailbox")
    assert email_point(bob).validity == ContactPoint.Validity.INVALID  # the third soft bounce
    bob.refresh_from_db()
    assert bob.reachability == Customer.Reachability.UNREACHABLE


def test_a_profile_stays_reachable_while_one_address_works(smtp_sink):
    two = person("Dee", emails=["dee@example.com", "dee@work.example"])
    template = EmailTemplate.objects.create(name="T", subject_en="S", body_en="B")
    services.queue_delivery(key="k:1", customer=two, template=template, due_at=NOON_UTC)
    services.send_due(now=NOON_UTC)
    message = smtp_sink.to("dee@")[0]
    bounces.receive(
        dsn(message, [(message["To"], "failed", "5.1.1", "550 unknown")]), source="mailbox"
    )
    two.refresh_from_db()
    assert two.reachability == Customer.Reachability.REACHABLE
    validity = dict(two.contact_points.values_list("value", "validity"))
    assert sorted(validity.values()) == ["invalid", "unverified"]
    # The next message goes to the address that works.
    services.queue_delivery(key="k:2", customer=two, template=template, due_at=NOON_UTC)
    services.send_due(now=NOON_UTC)
    assert smtp_sink.messages[-1]["To"] != message["To"]


def test_a_complaint_withdraws_marketing_consent_but_transactional_mail_still_arrives(
    sent, smtp_sink
):
    campaign, people = sent
    cy, message = people["Cy"]
    outcome = bounces.receive(abuse_report(message), source="mailbox")
    assert outcome.recorded == 1
    cy.refresh_from_db()
    assert cy.consent_email_marketing is False
    assert cy.reachability == Customer.Reachability.REACHABLE
    assert email_point(cy).validity == ContactPoint.Validity.UNVERIFIED  # the address works
    assert Delivery.objects.get(customer=cy).complained_at is not None
    assert services.campaign_results(campaign)["complained"] == 1
    audit = AuditEntry.objects.filter(object_id=cy.pk).values_list("changes", flat=True)
    assert {"consent_email_marketing": [True, False]} in list(audit)

    receipt = EmailTemplate.objects.create(
        name="Shipped", purpose=Purpose.TRANSACTIONAL, subject_en="Shipped", body_en="On its way"
    )
    marketing = EmailTemplate.objects.create(name="Promo", subject_en="Sale", body_en="Sale")
    services.queue_delivery(key="ship:1", customer=cy, template=receipt, due_at=NOON_UTC)
    services.queue_delivery(key="promo:1", customer=cy, template=marketing, due_at=NOON_UTC)
    report = services.send_due(now=NOON_UTC)
    assert report.sent == 1 and report.reasons == {"no_consent": 1}
    assert smtp_sink.messages[-1]["Subject"] == "Shipped"


def test_an_abuse_report_without_original_rcpt_to_falls_back_to_the_original_to(sent):
    _campaign, people = sent
    bob, message = people["Bob"]
    bounces.receive(abuse_report(message, rcpt=False), source="mailbox")
    bob.refresh_from_db()
    assert bob.consent_email_marketing is False


def test_a_report_about_someone_elses_message_does_not_touch_that_delivery(sent):
    """A report naming Ann's Message-ID but another recipient is not tied to Ann's delivery."""
    _campaign, people = sent
    ann, message = people["Ann"]
    bounces.receive(
        dsn(message, [("stranger@elsewhere.example", "failed", "5.1.1", "550 unknown")]),
        source="mailbox",
    )
    assert Delivery.objects.get(customer=ann).bounced_at is None
    assert email_point(ann).validity == ContactPoint.Validity.UNVERIFIED
    stored = BounceReport.objects.get()
    assert stored.delivery is None and "no profile" in stored.effect


def test_mail_that_is_not_a_report_is_ignored_and_garbage_is_refused():
    auto_reply = (
        b"From: ann@example.com\r\nTo: noreply@shop.example\r\nSubject: Out of office\r\n"
        b"Message-ID: <ooo@example.com>\r\n\r\nI am away until Monday.\r\n"
    )
    assert bounces.receive(auto_reply, source="mailbox").ignored == 1
    assert BounceReport.objects.count() == 0
    with pytest.raises(bounces.BounceError, match="message"):
        bounces.receive(b"", source="pipe")
    broken = dsn({"To": "x"}, [("", "failed", "5.1.1", "x")])
    with pytest.raises(bounces.BounceError, match="Final-Recipient"):
        bounces.receive(broken, source="pipe")


def test_the_bounce_mailbox_is_polled_over_imap_and_each_report_counts_once(
    sent, imap_server, settings
):
    _campaign, people = sent
    ann, message = people["Ann"]
    cy, cy_message = people["Cy"]
    hard = dsn(message, [("ann@example.com", "failed", "5.1.1", "550 No such user")])
    imap_server.mailbox = Mailbox([hard, abuse_report(cy_message)])
    host, port = imap_server.server_address
    settings.GUANXI_BOUNCE_IMAP_URL = f"imap://bounces:secret@{host}:{port}/INBOX"
    out = io.StringIO()

    call_command("marketing", "bounces", "--fetch", stdout=out)

    assert "recorded 2" in out.getvalue()
    assert all(m["seen"] for m in imap_server.mailbox.messages)
    ann.refresh_from_db()
    cy.refresh_from_db()
    assert ann.reachability == Customer.Reachability.UNREACHABLE
    assert cy.consent_email_marketing is False
    # The worker's job polls the same mailbox: nothing new, nothing counted twice.
    from guanxi.marketing.jobs import read_bounce_mailbox

    assert read_bounce_mailbox() == {"recorded": 0, "duplicates": 0}
    for m in imap_server.mailbox.messages:
        m["seen"] = False  # a mailbox that forgot what was read: still counted once
    assert read_bounce_mailbox() == {"recorded": 0, "duplicates": 2}
    assert BounceReport.objects.count() == 2


def test_the_mta_pipe_reads_report_files_and_names_a_bad_one(sent, tmp_path):
    _campaign, people = sent
    ann, message = people["Ann"]
    good = tmp_path / "bounce.eml"
    good.write_bytes(dsn(message, [("ann@example.com", "failed", "5.0.0", "550 gone")]))
    out = io.StringIO()
    call_command("marketing", "bounces", str(good), stdout=out)
    assert "recorded 1" in out.getvalue() and "invalid" in out.getvalue()
    with pytest.raises(CommandError, match="missing.eml"):
        call_command("marketing", "bounces", str(tmp_path / "missing.eml"))


def sign(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_the_webhook_takes_signed_reports_and_provider_events(sent, client, settings):
    settings.GUANXI_BOUNCE_WEBHOOK_SECRET = SECRET
    _campaign, people = sent
    ann, message = people["Ann"]
    bob = people["Bob"][0]
    url = "/api/v1/marketing/bounces"
    raw = dsn(message, [("ann@example.com", "failed", "5.1.1", "550 No such user")])

    assert client.post(url, raw, content_type="message/rfc822").status_code == 401
    forged = client.post(
        url, raw, content_type="message/rfc822", HTTP_X_GUANXI_SIGNATURE=sign(b"other")
    )
    assert forged.status_code == 401
    assert BounceReport.objects.count() == 0
    ok = client.post(url, raw, content_type="message/rfc822", HTTP_X_GUANXI_SIGNATURE=sign(raw))
    assert ok.status_code == 200 and ok.json()["recorded"] == 1

    # Provider events: all validated first; one bad event rejects the batch, naming it.
    events = [
        {"id": "ev-1", "type": "complaint", "email": "bob@example.com"},
        {"id": "ev-2", "type": "bounce", "email": "not-an-address"},
    ]
    body = json.dumps({"events": events}).encode()
    bad = client.post(
        url, body, content_type="application/json", HTTP_X_GUANXI_SIGNATURE=sign(body)
    )
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["field"] == "events[1].email"
    bob.refresh_from_db()
    assert bob.consent_email_marketing is True  # nothing of the batch was applied

    events[1] = {"id": "ev-2", "type": "bounce", "email": "Cy@Example.com", "status": "5.1.1"}
    body = json.dumps({"events": events}).encode()
    for _ in range(2):  # a provider retry is counted once
        good = client.post(
            url, body, content_type="application/json", HTTP_X_GUANXI_SIGNATURE=sign(body)
        )
        assert good.status_code == 200
    assert good.json() == {"recorded": 0, "duplicates": 2, "ignored": 0}
    bob.refresh_from_db()
    assert bob.consent_email_marketing is False
    cy = people["Cy"][0]
    assert email_point(cy).validity == ContactPoint.Validity.INVALID
    assert BounceReport.objects.count() == 3


def test_console_lists_bounces_for_marketers_only(sent, client, make_staff):
    _campaign, people = sent
    _ann, message = people["Ann"]
    bounces.receive(
        dsn(message, [("ann@example.com", "failed", "5.1.1", "550 No such user")]),
        source="mailbox",
    )
    client.force_login(make_staff("marketer"))
    page = client.get(reverse("console:bounce_list") + "?kind=hard")
    assert page.status_code == 200
    body = page.content.decode()
    assert "ann@example.com" in body and "5.1.1" in body and "unreachable" in body
    client.force_login(make_staff("agent"))
    assert client.get(reverse("console:bounce_list")).status_code == 403
