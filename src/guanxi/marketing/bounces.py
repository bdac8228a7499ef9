"""Bounces and complaints: delivery reports in, contact point validity out (S3.10).

Reports arrive as standard messages — RFC 3464 delivery status notifications (``multipart/
report; report-type=delivery-status``, what Postfix, Exim, Sendmail, Exchange and the big
mailbox providers send back) and RFC 5965 abuse reports (``report-type=feedback-report``, the
feedback loops of mailbox providers) — read from a bounce mailbox (IMAP), an MTA pipe, or
posted to the signed webhook; or as JSON events from an email provider's webhook.

What each report does, by rule:

* **hard bounce** (``Action: failed`` with a permanent ``5.x.x`` status): the address is
  marked *invalid* at once;
* **soft bounce** (``4.x.x``, or ``Action: delayed``): the address is marked *bouncing*; the
  ``GUANXI_SOFT_BOUNCE_LIMIT``-th soft bounce (default 3) within
  ``GUANXI_SOFT_BOUNCE_DAYS`` (default 30) marks it *invalid*; an open or a click proves it
  works again (*valid*);
* **complaint** (the recipient pressed "this is spam"): marketing consent is withdrawn
  (audited) — the address itself works, so transactional mail (order shipped, ticket replies)
  still reaches them.

When every contact point of a profile is invalid the profile becomes *unreachable*
(``customers.services.refresh_reachability``): it leaves every segment and campaign, is flagged
in the console, and nothing is deleted. Every report is stored once (``BounceReport.key``: the
report's Message-ID or a hash of its bytes, plus the address), so a report read twice — the
mailbox polled again, a webhook retried — changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import hashlib
import logging
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from guanxi.customers.models import ContactPoint, Customer
from guanxi.customers.services import normalize_contact, set_contact_validity
from guanxi.marketing.models import BounceReport, Delivery

log = logging.getLogger("guanxi.marketing.bounces")

STATUS = re.compile(r"\b([245])\.(\d{1,3})\.(\d{1,3})\b")
MESSAGE_ID = re.compile(r"<[^<>\s]+@[^<>\s]+>")


class BounceError(ValueError):
    """A report that cannot be read; the message names the field."""

    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass
class Notice:
    """One bounce or complaint about one address, parsed from a report."""

    kind: str  # BounceReport.Kind
    email: str
    key: str
    status: str = ""
    diagnostic: str = ""
    message_id: str = ""  # of the message that bounced
    delivery_id: int | None = None


@dataclass
class Outcome:
    recorded: int = 0
    duplicates: int = 0
    ignored: int = 0  # not a bounce or complaint (a delivered/relayed notice, an auto-reply)
    effects: list[str] = field(default_factory=list)


# -- settings ------------------------------------------------------------------------------------


def soft_bounce_rule() -> tuple[int, dt.timedelta]:
    return (
        int(getattr(settings, "GUANXI_SOFT_BOUNCE_LIMIT", 3)),
        dt.timedelta(days=float(getattr(settings, "GUANXI_SOFT_BOUNCE_DAYS", 30))),
    )


# -- parsing -------------------------------------------------------------------------------------


def _address(value: str | None) -> str:
    """``rfc822; Ann@Example.com`` → ``ann@example.com``."""
    if not value:
        return ""
    value = str(value)
    if ";" in value:
        value = value.split(";", 1)[1]
    found = [addr for _name, addr in getaddresses([value.strip()]) if "@" in addr]
    return found[0].strip().lower() if found else ""


def _original_headers(report: Message) -> Message | None:
    """The headers of the message the report is about (the third part of a report)."""
    for part in report.walk():
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                return payload[0]
        if ctype == "text/rfc822-headers":
            text = part.get_payload(decode=True) or b""
            return email.message_from_bytes(text, policy=email.policy.compat32)
    return None


def _about(original: Message | None) -> tuple[str, int | None]:
    """(Message-ID, our delivery id) of the bounced message, when its headers came back."""
    if original is None:
        return "", None
    found = MESSAGE_ID.search(str(original.get("Message-ID", "")))
    message_id = found.group(0) if found else ""
    raw = str(original.get("X-Guanxi-Delivery", "")).strip()
    return message_id, int(raw) if raw.isdigit() else None


def _kind_for(action: str, status: str) -> str | None:
    action = action.lower()
    if action in ("delivered", "relayed", "expanded"):
        return None
    if action == "delayed" or status.startswith("4."):
        return BounceReport.Kind.SOFT
    if action == "failed" or status.startswith("5."):
        return BounceReport.Kind.HARD
    return None


def _report_key(message: Message, raw: bytes) -> str:
    found = MESSAGE_ID.search(str(message.get("Message-ID", "")))
    return found.group(0) if found else "sha256:" + hashlib.sha256(raw).hexdigest()[:40]


def parse_report(raw: bytes) -> list[Notice]:
    """The bounces and complaints in one raw message (bytes); ``[]`` if it reports nothing
    actionable (a success notice, an auto-reply). Raises ``BounceError`` for unreadable input."""
    if not raw or not raw.strip():
        raise BounceError("message", "is empty")
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    if not message.keys():
        raise BounceError("message", "has no headers: not an email message")
    key = _report_key(message, raw)
    report_type = (message.get_param("report-type") or "").lower()
    original = _original_headers(message)
    message_id, delivery_id = _about(original)
    if message.get_content_type() != "multipart/report":
        return []
    if report_type == "delivery-status":
        return _dsn(message, key, message_id, delivery_id)
    if report_type == "feedback-report":
        return _arf(message, key, original, message_id, delivery_id)
    return []


def _dsn(message: Message, key: str, message_id: str, delivery_id: int | None) -> list[Notice]:
    notices = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        if not isinstance(blocks, list):
            raise BounceError("message/delivery-status", "could not be read")
        for block in blocks[1:]:  # the first block is about the message, the rest per recipient
            recipient = _address(block.get("Final-Recipient") or block.get("Original-Recipient"))
            if not recipient:
                raise BounceError("Final-Recipient", "missing or not an address")
            status_match = STATUS.search(str(block.get("Status", "")))
            status = ".".join(status_match.groups()) if status_match else ""
            kind = _kind_for(str(block.get("Action", "")).strip(), status)
            if kind is None:
                continue
            notices.append(
                Notice(
                    kind=kind,
                    email=recipient,
                    key=f"{key}:{recipient}",
                    status=status,
                    diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split())[:500],
                    message_id=message_id,
                    delivery_id=delivery_id,
                )
            )
    return notices


def _arf(
    message: Message, key: str, original: Message | None, message_id: str, delivery_id
) -> list[Notice]:
    fields = None
    for part in message.walk():
        if part.get_content_type() == "message/feedback-report":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                fields = payload[0]
            else:
                fields = email.message_from_string(str(payload), policy=email.policy.compat32)
            break
    if fields is None:
        raise BounceError("message/feedback-report", "missing")
    if str(fields.get("Feedback-Type", "abuse")).strip().lower() != "abuse":
        return []
    recipient = _address(fields.get("Original-Rcpt-To"))
    if not recipient and original is not None:
        recipient = _address(original.get("To"))
    if not recipient:
        raise BounceError("Original-Rcpt-To", "missing, and the original message has no To")
    return [
        Notice(
            kind=BounceReport.Kind.COMPLAINT,
            email=recipient,
            key=f"{key}:{recipient}",
            message_id=message_id,
            delivery_id=delivery_id,
        )
    ]


def parse_event(event: dict, index: int = 0) -> Notice:
    """One JSON event from a provider webhook: ``{"id", "type": "bounce"|"complaint", "email",
    "bounce_type": "hard"|"soft", "status", "diagnostic", "message_id"}``."""
    where = f"events[{index}]"
    if not isinstance(event, dict):
        raise BounceError(where, "must be an object")
    kind = event.get("type")
    if kind not in ("bounce", "complaint"):
        raise BounceError(f"{where}.type", "must be 'bounce' or 'complaint'")
    address = _address(str(event.get("email") or ""))
    if not address:
        raise BounceError(f"{where}.email", "missing or not an address")
    event_id = str(event.get("id") or "").strip()
    if not event_id:
        raise BounceError(f"{where}.id", "missing (the provider's event id makes retries safe)")
    status = str(event.get("status") or "")
    if kind == "complaint":
        kind = BounceReport.Kind.COMPLAINT
    else:
        bounce_type = event.get("bounce_type") or ("soft" if status.startswith("4") else "hard")
        if bounce_type not in ("hard", "soft"):
            raise BounceError(f"{where}.bounce_type", "must be 'hard' or 'soft'")
        kind = BounceReport.Kind.HARD if bounce_type == "hard" else BounceReport.Kind.SOFT
    found = MESSAGE_ID.search(str(event.get("message_id") or ""))
    return Notice(
        kind=kind,
        email=address,
        key=f"event:{event_id}:{address}"[:200],
        status=status[:16],
        diagnostic=str(event.get("diagnostic") or "")[:500],
        message_id=found.group(0) if found else "",
    )


# -- applying ------------------------------------------------------------------------------------


def _find_delivery(notice: Notice) -> Delivery | None:
    """The delivery the report is about: by Message-ID (stable, derived from the delivery's
    key), checked against the address it went to; the X-Guanxi-Delivery header only as a hint
    that must agree with both."""
    rows = Delivery.objects.filter(email__iexact=notice.email)
    if notice.message_id:
        found = rows.filter(message_id=notice.message_id).first()
        if found:
            return found
    if notice.delivery_id:
        return rows.filter(pk=notice.delivery_id).exclude(message_id="").first()
    return None


def _points(notice: Notice, delivery: Delivery | None) -> list[ContactPoint]:
    normalized = normalize_contact(ContactPoint.Kind.EMAIL, notice.email)
    points = ContactPoint.objects.filter(kind=ContactPoint.Kind.EMAIL, normalized=normalized)
    if delivery is not None:
        points = points.filter(customer_id=delivery.customer_id) or points
    return list(points.select_related("customer"))


@transaction.atomic
def apply(notice: Notice, *, source: str, now: dt.datetime | None = None) -> BounceReport | None:
    """Record one notice and act on it; None if this very notice was recorded before."""
    now = now or timezone.now()
    if BounceReport.objects.filter(key=notice.key).exists():
        return None
    delivery = _find_delivery(notice)
    points = _points(notice, delivery)
    owner = delivery.customer_id if delivery else (points[0].customer_id if points else None)
    report = BounceReport(
        key=notice.key,
        kind=notice.kind,
        email=notice.email,
        status=notice.status,
        diagnostic=notice.diagnostic,
        delivery=delivery,
        customer_id=owner,
        source=source,
        received_at=now,
    )
    try:
        with transaction.atomic():
            report.save()
    except IntegrityError:  # recorded by a concurrent reader a moment ago
        return None
    effects = []
    if notice.kind == BounceReport.Kind.COMPLAINT:
        if delivery is not None:
            Delivery.objects.filter(pk=delivery.pk, complained_at__isnull=True).update(
                complained_at=now
            )
        effects += _withdraw_consent(points, delivery)
    else:
        if delivery is not None:
            Delivery.objects.filter(pk=delivery.pk, bounced_at__isnull=True).update(bounced_at=now)
        validity = _validity_after(notice, now)
        for point in points:
            if point.validity != validity and point.validity != ContactPoint.Validity.INVALID:
                set_contact_validity(point, validity)
                effects.append(f"{point.value}: {validity}")
            point.customer.refresh_from_db(fields=["reachability"])
            if point.customer.reachability == Customer.Reachability.UNREACHABLE:
                effects.append(f"customer {point.customer_id}: unreachable")
    if not points:
        effects.append("no profile has this address")
    report.effect = "; ".join(dict.fromkeys(effects))[:200]
    report.save(update_fields=["effect"])
    return report


def _validity_after(notice: Notice, now: dt.datetime) -> str:
    if notice.kind == BounceReport.Kind.HARD:
        return ContactPoint.Validity.INVALID
    limit, window = soft_bounce_rule()
    soft = BounceReport.objects.filter(
        email=notice.email, kind=BounceReport.Kind.SOFT, received_at__gt=now - window
    ).count()  # includes this one
    return ContactPoint.Validity.INVALID if soft >= limit else ContactPoint.Validity.BOUNCING


def _withdraw_consent(points: list[ContactPoint], delivery: Delivery | None) -> list[str]:
    from guanxi.marketing.services import set_marketing_consent

    customers = {p.customer_id: p.customer for p in points}
    if delivery is not None:
        customers.setdefault(delivery.customer_id, delivery.customer)
    effects = []
    for customer in customers.values():
        if customer.consent_email_marketing:
            set_marketing_consent(customer, False)
            effects.append(f"customer {customer.pk}: marketing consent withdrawn")
    return effects


def receive(raw: bytes, *, source: str) -> Outcome:
    """Parse one raw report and apply every notice in it (each at most once, ever)."""
    outcome = Outcome()
    notices = parse_report(raw)
    if not notices:
        outcome.ignored += 1
    for notice in notices:
        report = apply(notice, source=source)
        if report is None:
            outcome.duplicates += 1
        else:
            outcome.recorded += 1
            outcome.effects.append(report.effect)
    return outcome


@transaction.atomic
def receive_events(events: list, *, source: str = "webhook") -> Outcome:
    """A provider's JSON events: all validated first (the first bad one named), then applied
    together (all or nothing)."""
    if not isinstance(events, list):
        raise BounceError("events", "must be a list")
    notices = [parse_event(event, i) for i, event in enumerate(events)]
    outcome = Outcome()
    for notice in notices:
        report = apply(notice, source=source)
        if report is None:
            outcome.duplicates += 1
        else:
            outcome.recorded += 1
            outcome.effects.append(report.effect)
    return outcome


def proof_of_life(delivery_id: int) -> None:
    """An open or click came from this delivery: a *bouncing* address works after all."""
    delivery = Delivery.objects.filter(pk=delivery_id).only("customer_id", "email").first()
    if delivery is None or not delivery.email:
        return
    normalized = normalize_contact(ContactPoint.Kind.EMAIL, delivery.email)
    for point in ContactPoint.objects.filter(
        customer_id=delivery.customer_id,
        kind=ContactPoint.Kind.EMAIL,
        normalized=normalized,
        validity=ContactPoint.Validity.BOUNCING,
    ):
        set_contact_validity(point, ContactPoint.Validity.VALID)


def fetch(url: str | None = None, *, limit: int = 500) -> Outcome:
    """Poll the bounce mailbox (``GUANXI_BOUNCE_IMAP_URL``): every unseen report is applied and
    flagged seen (a report that cannot be read is flagged too, and logged)."""
    from guanxi.core.mailbox import poll_unseen

    url = url or getattr(settings, "GUANXI_BOUNCE_IMAP_URL", "")
    total = Outcome()

    def handle(raw: bytes) -> None:
        try:
            got = receive(raw, source="mailbox")
        except BounceError as exc:
            log.warning("unreadable bounce report: %s", exc)
            total.ignored += 1
            return
        total.recorded += got.recorded
        total.duplicates += got.duplicates
        total.ignored += got.ignored
        total.effects += got.effects

    poll_unseen(url, handle, limit=limit, setting="GUANXI_BOUNCE_IMAP_URL")
    return total
