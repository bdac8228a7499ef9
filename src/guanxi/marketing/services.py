"""Sending email that never spams and never loses anyone.

* ``queue_delivery`` / ``queue_campaign`` create one Delivery per (message key, customer); the
  unique key makes queueing idempotent (a campaign queued twice queues nobody twice).
* ``send_due`` claims due deliveries, applies the rules at the moment of sending — consent for
  marketing, unreachable profiles, a usable address, quiet hours in the customer's time zone, the
  per-person frequency cap across all marketing — and hands each message to Django's email
  backend (SMTP). The state is committed as ``sending`` before the hand-off and ``sent`` after,
  so a crash re-sends at most the rows that were in flight (``recover_in_flight``), with the
  same Message-ID (derived from the delivery's key).
* Messages the cap or quiet hours hold back are *deferred* to a stated time, or dropped with a
  visible reason when ``GUANXI_FREQUENCY_CAP_POLICY=drop`` — never silently lost.
* Signed links: one-click unsubscribe (RFC 8058 headers), preferences, double opt-in, open
  pixel and click redirect; none can be forged without the server's secret key.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import logging
import re
import zoneinfo
from dataclasses import dataclass, field

from django.conf import settings
from django.core import signing
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Min, Q
from django.template import Context, Engine
from django.utils import timezone
from django.utils.html import escape, linebreaks

from guanxi.core.models import AuditEntry
from guanxi.customers.models import ContactPoint, Customer
from guanxi.customers.services import update_customer
from guanxi.marketing.models import Campaign, Delivery, EmailTemplate, Purpose

log = logging.getLogger("guanxi.marketing")

UNSUBSCRIBE_SALT = "guanxi.marketing.unsubscribe"
PREFERENCES_SALT = "guanxi.marketing.preferences"
OPT_IN_SALT = "guanxi.marketing.opt-in"
OPEN_SALT = "guanxi.marketing.open"
CLICK_SALT = "guanxi.marketing.click"
OPT_IN_MAX_AGE = 7 * 24 * 3600
MAX_ATTEMPTS = 5
LEASE = dt.timedelta(minutes=10)  # a row 'sending' for longer belongs to a dead worker
URL = re.compile(r"https?://[^\s<>\"')]+")
ENGINE = Engine(autoescape=False)


# -- settings ------------------------------------------------------------------------------------


def frequency_cap() -> tuple[int, dt.timedelta]:
    """(at most N marketing emails, per this window) for one person; default 3 per 7 days."""
    return (
        int(getattr(settings, "GUANXI_FREQUENCY_CAP", 3)),
        dt.timedelta(days=float(getattr(settings, "GUANXI_FREQUENCY_CAP_DAYS", 7))),
    )


def cap_policy() -> str:
    policy = getattr(settings, "GUANXI_FREQUENCY_CAP_POLICY", "defer")
    if policy not in ("defer", "drop"):
        raise ValueError("GUANXI_FREQUENCY_CAP_POLICY must be 'defer' or 'drop'")
    return policy


def quiet_hours() -> tuple[int, int]:
    """(start hour, end hour) in the customer's local time; default 21 → 8. Equal = none."""
    return (
        int(getattr(settings, "GUANXI_QUIET_HOURS_START", 21)),
        int(getattr(settings, "GUANXI_QUIET_HOURS_END", 8)),
    )


def public_url(path: str) -> str:
    return getattr(settings, "GUANXI_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/") + path


def _domain() -> str:
    sender = settings.DEFAULT_FROM_EMAIL.rsplit("<", 1)[-1].rstrip(">")
    return sender.rsplit("@", 1)[-1] or "localhost"


# -- signed links ----------------------------------------------------------------------------------


def unsubscribe_token(customer_id: int, delivery_id: int | None = None) -> str:
    return signing.dumps({"c": customer_id, "d": delivery_id}, salt=UNSUBSCRIBE_SALT, compress=True)


def preferences_token(customer_id: int) -> str:
    return signing.dumps({"c": customer_id}, salt=PREFERENCES_SALT)


def unsubscribe_url(customer_id: int, delivery_id: int | None = None) -> str:
    return public_url(f"/t/u/{unsubscribe_token(customer_id, delivery_id)}/")


def preferences_url(customer_id: int) -> str:
    return public_url(f"/t/p/{preferences_token(customer_id)}/")


def read_token(token: str, salt: str, max_age: int | None = None) -> dict:
    """The payload of a signed link; raises ``signing.BadSignature`` (or ``SignatureExpired``)."""
    return signing.loads(token, salt=salt, max_age=max_age)


def unsubscribe(token: str, *, channel: str = AuditEntry.Channel.SYSTEM) -> Customer:
    """Withdraw marketing consent for the customer the signed token names (idempotent)."""
    payload = read_token(token, UNSUBSCRIBE_SALT)
    customer = Customer.objects.get(pk=payload["c"])
    if customer.consent_email_marketing:
        update_customer(customer, channel=channel, consent_email_marketing=False)
    if payload.get("d"):
        Delivery.objects.filter(pk=payload["d"], unsubscribed_at__isnull=True).update(
            unsubscribed_at=timezone.now()
        )
    return customer


def set_marketing_consent(customer: Customer, granted: bool, *, channel=AuditEntry.Channel.SYSTEM):
    if customer.consent_email_marketing != granted:
        update_customer(customer, channel=channel, consent_email_marketing=granted)
    return customer


def request_opt_in(customer: Customer) -> Delivery | None:
    """Double opt-in, step 1: a transactional email with a signed confirmation link (7 days)."""
    token = signing.dumps({"c": customer.pk}, salt=OPT_IN_SALT)
    template = EmailTemplate.objects.filter(name="Confirm your subscription").first()
    if template is None:
        template = ensure_builtin_templates()["Confirm your subscription"]
    return queue_delivery(
        key=f"opt-in:{timezone.now():%Y%m%d%H%M%S%f}",
        customer=customer,
        template=template,
        context={"confirm_url": public_url(f"/t/confirm/{token}/")},
    )


def confirm_opt_in(token: str) -> Customer:
    """Double opt-in, step 2: the customer clicked the link; consent is recorded (audited)."""
    payload = read_token(token, OPT_IN_SALT, max_age=OPT_IN_MAX_AGE)
    customer = Customer.objects.get(pk=payload["c"])
    return set_marketing_consent(customer, True)


def record_open(token: str) -> None:
    from guanxi.marketing.bounces import proof_of_life

    delivery_id = read_token(token, OPEN_SALT)
    if Delivery.objects.filter(pk=delivery_id, opened_at__isnull=True).update(
        opened_at=timezone.now()
    ):
        proof_of_life(delivery_id)  # a bouncing address that opens mail works after all


def record_click(token: str) -> str:
    """Record the click and return where it goes (only URLs we signed: no open redirect)."""
    payload = read_token(token, CLICK_SALT)
    now = timezone.now()
    Delivery.objects.filter(pk=payload["d"], clicked_at__isnull=True).update(clicked_at=now)
    # A click is also proof of an open (images are often blocked).
    if Delivery.objects.filter(pk=payload["d"], opened_at__isnull=True).update(opened_at=now):
        from guanxi.marketing.bounces import proof_of_life

        proof_of_life(payload["d"])
    return payload["u"]


# -- rendering -------------------------------------------------------------------------------------


def template_context(
    customer: Customer, delivery_id: int | None, extra: dict | None = None
) -> dict:
    return {
        "first_name": customer.first_name,
        "last_name": customer.last_name,
        "name": customer.display_name,
        "company_name": customer.company_name,
        "unsubscribe_url": unsubscribe_url(customer.pk, delivery_id),
        "preferences_url": preferences_url(customer.pk),
        **(extra or {}),
    }


def render(template: EmailTemplate, customer: Customer, context: dict) -> tuple[str, str, str]:
    """(language, subject, body) in the customer's language (zh-Hans if they read Chinese and
    the template has it, else English)."""
    chinese = (customer.language or "").lower().startswith("zh") and template.subject_zh
    subject, body = (
        (template.subject_zh, template.body_zh or template.body_en)
        if chinese
        else (template.subject_en, template.body_en)
    )
    ctx = Context(context)
    return (
        "zh-hans" if chinese else "en",
        " ".join(_compiled(subject).render(ctx).split()),
        _compiled(body).render(ctx),
    )


@functools.lru_cache(maxsize=256)
def _compiled(text: str):
    """A template's text compiled once per process (a campaign renders the same text for every
    recipient); keyed by the text itself, so an edited template is compiled afresh."""
    return ENGINE.from_string(text)


def template_syntax_error(text: str) -> str:
    """The template syntax error in ``text`` (a subject or body), or ""."""
    from django.template import TemplateSyntaxError

    try:
        ENGINE.from_string(text)
    except TemplateSyntaxError as exc:
        return str(exc)
    return ""


def preview(template: EmailTemplate, customer: Customer | None = None) -> dict:
    """Rendered subject and body for a sample customer (or placeholders)."""
    customer = customer or Customer(pk=0, first_name="Mei", last_name="Chen", language="en")
    out = {}
    for language in ("en", "zh-hans"):
        customer.language = "zh-hans" if language == "zh-hans" else "en"
        sample = {  # what a campaign or flow with a coupon offer fills in per recipient
            "coupon_code": "GX-SAMP-LE42",
            "coupon_value": "10 %",
            "coupon_expires": f"{timezone.localdate() + dt.timedelta(days=30):%Y-%m-%d}",
        }
        context = template_context(customer, None, sample)
        _lang, subject, body = render(template, customer, context)
        out[language] = {"subject": subject, "body": body}
    return out


def _tracked(body: str, delivery_id: int, keep: set[str]) -> str:
    def wrap(match: re.Match) -> str:
        url = match.group(0)
        if url in keep:
            return url
        token = signing.dumps({"d": delivery_id, "u": url}, salt=CLICK_SALT, compress=True)
        return public_url(f"/t/c/{token}/")

    return URL.sub(wrap, body)


def message_id_for(delivery: Delivery) -> str:
    """Stable for a delivery: a re-send after a crash carries the same Message-ID."""
    digest = hashlib.sha256(f"{delivery.key}:{delivery.customer_id}".encode()).hexdigest()[:24]
    return f"<{digest}.{delivery.pk}@{_domain()}>"


def build_message(delivery: Delivery, customer: Customer) -> EmailMultiAlternatives:
    context = template_context(customer, delivery.pk, delivery.context)
    _language, subject, body = render(delivery.template, customer, context)
    keep = {context["unsubscribe_url"], context["preferences_url"]}
    text = _tracked(body, delivery.pk, keep)
    headers = {"Message-ID": delivery.message_id or message_id_for(delivery)}
    if delivery.purpose == Purpose.MARKETING:
        # RFC 8058 one-click unsubscribe: mail clients POST "List-Unsubscribe=One-Click" to it.
        headers["List-Unsubscribe"] = f"<{context['unsubscribe_url']}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    headers["X-Guanxi-Delivery"] = str(delivery.pk)
    message = EmailMultiAlternatives(
        subject=subject,
        body=text,
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.email],
        headers=headers,
    )
    pixel = public_url(f"/t/o/{signing.dumps(delivery.pk, salt=OPEN_SALT)}.gif")
    html = URL.sub(lambda m: f'<a href="{m.group(0)}">{escape(m.group(0))}</a>', linebreaks(text))
    message.attach_alternative(
        f'{html}<img src="{pixel}" width="1" height="1" alt="">', "text/html"
    )
    return message


# -- queueing ------------------------------------------------------------------------------------


def queue_delivery(
    *,
    key: str,
    customer: Customer,
    template: EmailTemplate,
    context: dict | None = None,
    due_at: dt.datetime | None = None,
    campaign: Campaign | None = None,
) -> Delivery | None:
    """Queue one message for one person; None if that (key, customer) was queued before."""
    delivery, created = Delivery.objects.get_or_create(
        key=key,
        customer=customer,
        defaults={
            "template": template,
            "purpose": template.purpose,
            "context": context or {},
            "due_at": due_at or timezone.now(),
            "campaign": campaign,
        },
    )
    return delivery if created else None


def queue_campaign(campaign: Campaign, *, now: dt.datetime | None = None) -> int:
    """Queue the campaign for every member of its segment now; returns how many were queued.

    Idempotent: queueing again adds only people who were not queued before.
    """
    from guanxi.segments.rules import members

    if campaign.segment is None:
        raise ValueError("the campaign has no segment")
    now = now or timezone.now()
    due = max(campaign.scheduled_at or now, now)
    ids = list(members(campaign.segment.rule).values_list("pk", flat=True))
    with transaction.atomic():
        before = Delivery.objects.filter(key=campaign.message_key).count()
        Delivery.objects.bulk_create(
            [
                Delivery(
                    key=campaign.message_key,
                    customer_id=pk,
                    campaign=campaign,
                    template=campaign.template,
                    purpose=campaign.template.purpose,
                    due_at=due,
                )
                for pk in ids
            ],
            batch_size=2000,
            ignore_conflicts=True,
        )
        queued = Delivery.objects.filter(key=campaign.message_key).count() - before
        campaign.status = Campaign.Status.SENDING
        campaign.queued_at = now
        campaign.save(update_fields=["status", "queued_at", "updated_at"])
    return queued


def create_campaign(
    *,
    name: str,
    template_id: int,
    segment_id: int,
    offer_id: int | None = None,
    scheduled_at: dt.datetime | None = None,
    per_minute: int | None = None,
    attribution_days: int = 7,
    actor=None,
    channel: str = AuditEntry.Channel.API,
) -> Campaign:
    """A draft campaign (audited)."""
    from guanxi.core.services import record_audit

    campaign = Campaign.objects.create(
        name=name.strip()[:200] or "Campaign",
        template_id=template_id,
        segment_id=segment_id,
        offer_id=offer_id,
        scheduled_at=scheduled_at,
        per_minute=per_minute,
        attribution_days=attribution_days,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record_audit(campaign, action=AuditEntry.Action.CREATE, actor=actor, channel=channel)
    return campaign


def start_campaign(campaign: Campaign, *, now: dt.datetime | None = None) -> int | None:
    """Send a draft: queue it now, or — when its send time is still ahead — mark it scheduled
    (the worker queues it then). Returns how many were queued, or None when scheduled."""
    now = now or timezone.now()
    if campaign.scheduled_at and campaign.scheduled_at > now:
        campaign.status = Campaign.Status.SCHEDULED
        campaign.save(update_fields=["status", "updated_at"])
        return None
    return queue_campaign(campaign, now=now)


def send_test(campaign: Campaign, to: str, *, connection=None) -> str:
    """Send the campaign's message once to ``to`` (a staff address); nothing is recorded."""
    sample = Customer(pk=0, first_name="Test", last_name="Recipient", language="en")
    delivery = Delivery(
        pk=0, key=f"test:{campaign.pk}", customer=sample, template=campaign.template, email=to
    )
    delivery.customer_id = 0
    delivery.purpose = campaign.template.purpose
    message = build_message(delivery, sample)
    message.subject = f"[TEST] {message.subject}"
    (connection or get_connection()).send_messages([message])
    return message.extra_headers["Message-ID"]


def cancel_campaign(campaign: Campaign) -> int:
    """Stop a campaign: everything not yet handed to SMTP is marked not sent (cancelled)."""
    with transaction.atomic():
        stopped = Delivery.objects.filter(
            campaign=campaign, state__in=[Delivery.State.QUEUED, Delivery.State.DEFERRED]
        ).update(state=Delivery.State.SKIPPED, reason=Delivery.Reason.CANCELLED)
        campaign.status = Campaign.Status.CANCELLED
        campaign.save(update_fields=["status", "updated_at"])
    return stopped


# -- sending ---------------------------------------------------------------------------------------


@dataclass
class SendReport:
    sent: int = 0
    deferred: int = 0
    skipped: int = 0
    failed: int = 0
    retried: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    def count(self, what: str, reason: str = "") -> None:
        setattr(self, what, getattr(self, what) + 1)
        if reason:
            self.reasons[reason] = self.reasons.get(reason, 0) + 1


def recover_in_flight(now: dt.datetime | None = None, lease: dt.timedelta = LEASE) -> int:
    """Put rows a dead worker left in ``sending`` back in the queue (they may have gone out:
    the re-send carries the same Message-ID). Run at worker start and before each batch."""
    now = now or timezone.now()
    return Delivery.objects.filter(
        state=Delivery.State.SENDING, sending_at__lte=now - lease
    ).update(state=Delivery.State.QUEUED, due_at=now)


def usable_email(customer_id: int) -> str:
    point = (
        ContactPoint.objects.filter(
            customer_id=customer_id,
            kind=ContactPoint.Kind.EMAIL,
            validity__in=[ContactPoint.Validity.VALID, ContactPoint.Validity.UNVERIFIED],
        )
        .order_by("-is_primary", "id")
        .first()
    )
    return point.value if point else ""


def quiet_until(now: dt.datetime, time_zone: str) -> dt.datetime | None:
    """When quiet hours end, if ``now`` falls in them in ``time_zone``; else None."""
    start, end = quiet_hours()
    if start == end:
        return None
    try:
        zone = zoneinfo.ZoneInfo(time_zone or "UTC")
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    local = now.astimezone(zone)
    hour = local.hour
    quiet = (start <= hour or hour < end) if start > end else (start <= hour < end)
    if not quiet:
        return None
    day = local.date() if hour < end else local.date() + dt.timedelta(days=1)
    wake = dt.datetime.combine(day, dt.time(end), tzinfo=zone)
    return wake.astimezone(dt.UTC)


def cap_until(customer_id: int, now: dt.datetime) -> dt.datetime | None:
    """When the customer may get the next marketing email, if the cap holds it back now."""
    limit, window = frequency_cap()
    recent = Delivery.objects.filter(
        customer_id=customer_id,
        purpose=Purpose.MARKETING,
        state__in=[Delivery.State.SENT, Delivery.State.SENDING],
        sent_at__gt=now - window,
    )
    if recent.count() < limit:
        return None
    # The k-th most recent send leaves the window first: then there is room for one more.
    times = sorted(recent.values_list("sent_at", flat=True), reverse=True)
    return times[limit - 1] + window


def throttle_budgets(now: dt.datetime) -> dict[int, int]:
    """{campaign id: how many more it may hand to SMTP in the current minute} for campaigns
    with a throttle (``per_minute``); counted from what was claimed in the last 60 seconds."""
    from django.db.models import Count

    limits = dict(
        Campaign.objects.filter(
            status=Campaign.Status.SENDING, per_minute__isnull=False
        ).values_list("pk", "per_minute")
    )
    if not limits:
        return {}
    used = dict(
        Delivery.objects.filter(
            campaign_id__in=list(limits),
            sending_at__gt=now - dt.timedelta(minutes=1),
            state__in=[Delivery.State.SENDING, Delivery.State.SENT, Delivery.State.FAILED],
        )
        .values_list("campaign_id")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {pk: max(0, limit - used.get(pk, 0)) for pk, limit in limits.items()}


def _claim(now: dt.datetime, limit: int) -> list[int]:
    budgets = throttle_budgets(now)
    due = Delivery.objects.filter(
        state__in=[Delivery.State.QUEUED, Delivery.State.DEFERRED], due_at__lte=now
    )
    exhausted = [pk for pk, left in budgets.items() if left <= 0]
    if exhausted:  # throttled for this minute: others go first, these wait for the next
        due = due.exclude(campaign_id__in=exhausted)
    due = due.order_by("due_at", "id")
    with transaction.atomic():
        if _supports_skip_locked():  # PostgreSQL: concurrent senders never claim the same row
            due = due.select_for_update(skip_locked=True)
        ids = []
        for pk, campaign_id in due.values_list("pk", "campaign_id")[:limit]:
            if campaign_id in budgets:
                if budgets[campaign_id] <= 0:
                    continue
                budgets[campaign_id] -= 1
            ids.append(pk)
        Delivery.objects.filter(pk__in=ids).update(state=Delivery.State.SENDING, sending_at=now)
    return ids


def _supports_skip_locked() -> bool:
    from django.db import connection

    return connection.features.has_select_for_update_skip_locked


def _hold(delivery: Delivery, state: str, reason: str, due_at=None, error="") -> None:
    delivery.state = state
    delivery.reason = reason
    if due_at is not None:
        delivery.due_at = due_at
    delivery.error = error[:500]
    delivery.save(update_fields=["state", "reason", "due_at", "error", "attempts"])


def _decide(
    delivery: Delivery, customer: Customer, now: dt.datetime, caps: _CapBook | None = None
) -> tuple[str, str, object]:
    """('send'|'skip'|'defer', reason, due) for a claimed delivery, by the documented rules."""
    if delivery.campaign_id and delivery.campaign.status == Campaign.Status.CANCELLED:
        return "skip", Delivery.Reason.CANCELLED, None
    marketing = delivery.purpose == Purpose.MARKETING
    if customer.merged_into_id or customer.archived_at:
        return "skip", Delivery.Reason.UNREACHABLE, None
    if marketing and customer.reachability == Customer.Reachability.UNREACHABLE:
        return "skip", Delivery.Reason.UNREACHABLE, None
    if marketing and not customer.consent_email_marketing:
        return "skip", Delivery.Reason.NO_CONSENT, None
    if not delivery.email:
        return "skip", Delivery.Reason.NO_EMAIL, None
    if marketing:
        wake = quiet_until(now, customer.time_zone)
        if wake is not None:
            return "defer", Delivery.Reason.QUIET_HOURS, wake
        free = caps.until(customer.pk, now) if caps else cap_until(customer.pk, now)
        if free is not None:
            if cap_policy() == "drop":
                return "skip", Delivery.Reason.FREQUENCY_CAP, None
            wake = quiet_until(free, customer.time_zone) or free
            return "defer", Delivery.Reason.FREQUENCY_CAP, wake
    return "send", "", None


def send_due(
    *, now: dt.datetime | None = None, limit: int = 200, connection=None, recover: bool = True
) -> SendReport:
    """Send what is due now (at most ``limit``); state is committed before and after each
    SMTP hand-off."""
    now = now or timezone.now()
    report = SendReport()
    if recover:
        recover_in_flight(now)
    ids = _claim(now, limit)
    if not ids:
        return report
    connection = connection or get_connection()
    try:
        _send_claimed(ids, now, connection, report)
    finally:
        connection.close()
    _finish_campaigns(ids)
    return report


def _usable_emails(customer_ids) -> dict[int, str]:
    """``usable_email`` for many customers in one query (primary first, then the oldest)."""
    found: dict[int, str] = {}
    rows = (
        ContactPoint.objects.filter(
            customer_id__in=list(customer_ids),
            kind=ContactPoint.Kind.EMAIL,
            validity__in=[ContactPoint.Validity.VALID, ContactPoint.Validity.UNVERIFIED],
        )
        .order_by("customer_id", "-is_primary", "id")
        .values_list("customer_id", "value")
    )
    for customer_id, value in rows:
        found.setdefault(customer_id, value)
    return found


class _CapBook:
    """The frequency cap for one batch: the recent marketing sends of the batch's customers,
    read in one query, and every send of the batch added as it happens — the same answers as
    ``cap_until`` asked row by row."""

    def __init__(self, customer_ids, now: dt.datetime):
        self.limit, self.window = frequency_cap()
        self.sent: dict[int, list[dt.datetime]] = {}
        rows = Delivery.objects.filter(
            customer_id__in=list(customer_ids),
            purpose=Purpose.MARKETING,
            state__in=[Delivery.State.SENT, Delivery.State.SENDING],
            sent_at__gt=now - self.window,
        ).values_list("customer_id", "sent_at")
        for customer_id, sent_at in rows:
            self.sent.setdefault(customer_id, []).append(sent_at)

    def until(self, customer_id: int, now: dt.datetime) -> dt.datetime | None:
        recent = [t for t in self.sent.get(customer_id, []) if t > now - self.window]
        if len(recent) < self.limit:
            return None
        return sorted(recent, reverse=True)[self.limit - 1] + self.window

    def record(self, customer_id: int, now: dt.datetime) -> None:
        self.sent.setdefault(customer_id, []).append(now)


def _send_claimed(ids: list[int], now: dt.datetime, connection, report: SendReport) -> None:
    deliveries = list(
        Delivery.objects.filter(pk__in=ids)
        .select_related("customer", "template", "campaign")
        .order_by("due_at", "id")
    )
    emails = _usable_emails({d.customer_id for d in deliveries if not d.email})
    caps = _CapBook({d.customer_id for d in deliveries if d.purpose == Purpose.MARKETING}, now)
    opened = False
    for delivery in deliveries:
        customer = delivery.customer
        if not delivery.email:
            delivery.email = emails.get(customer.pk, "")
        action, reason, due = _decide(delivery, customer, now, caps)
        if action == "skip":
            _hold(delivery, Delivery.State.SKIPPED, reason)
            report.count("skipped", reason)
            continue
        if action == "defer":
            _hold(delivery, Delivery.State.DEFERRED, reason, due_at=due)
            report.count("deferred", reason)
            continue
        _hand_out_coupon(delivery, customer, now)
        # The row has been 'sending' since the claim committed; its Message-ID is derived from
        # its key, so a re-send after a crash carries the same one without writing it first.
        delivery.message_id = delivery.message_id or message_id_for(delivery)
        delivery.attempts += 1
        try:
            if not opened:  # one SMTP session for the batch
                connection.open()
                opened = True
            connection.send_messages([build_message(delivery, customer)])
        except Exception as exc:  # noqa: BLE001 - any transport error is recorded, then retried
            log.warning("delivery %s failed: %s", delivery.pk, exc)
            if delivery.attempts >= MAX_ATTEMPTS:
                _hold(delivery, Delivery.State.FAILED, Delivery.Reason.SMTP_ERROR, error=str(exc))
                report.count("failed", Delivery.Reason.SMTP_ERROR)
            else:
                backoff = now + dt.timedelta(minutes=2**delivery.attempts)
                _hold(delivery, Delivery.State.QUEUED, "", due_at=backoff, error=str(exc))
                report.count("retried")
            continue
        delivery.state = Delivery.State.SENT
        delivery.reason = ""
        delivery.sent_at = now  # the batch's clock: the cap and quiet hours were judged at it
        delivery.save(  # one commit per message, right after the hand-off
            update_fields=["state", "reason", "sent_at", "email", "message_id", "attempts"]
        )
        if delivery.purpose == Purpose.MARKETING:
            caps.record(customer.pk, now)
        report.count("sent")


def _hand_out_coupon(delivery: Delivery, customer: Customer, now: dt.datetime) -> None:
    """A campaign or flow with an offer gives each recipient their own code, issued once per
    delivery (a re-send after a crash carries the same code): ``{{ coupon_code }}``,
    ``{{ coupon_value }}``, ``{{ coupon_expires }}``."""
    from guanxi.marketing import coupons
    from guanxi.marketing.models import Coupon, Offer

    if delivery.campaign_id and delivery.campaign.offer_id:
        offer, source = delivery.campaign.offer, Coupon.Source.CAMPAIGN
    elif delivery.context.get("offer_id"):
        offer = Offer.objects.filter(pk=delivery.context["offer_id"]).first()
        source = Coupon.Source.FLOW
    else:
        return
    if offer is None or not offer.active:
        return
    coupon = coupons.issue(offer, customer, source=source, source_key=delivery.key, now=now)
    delivery.context = {
        **delivery.context,
        "coupon_code": coupon.code,
        "coupon_value": offer.label,
        "coupon_expires": f"{coupon.expires_at:%Y-%m-%d}" if coupon.expires_at else "",
    }
    delivery.save(update_fields=["context"])


def _finish_campaigns(delivery_ids: list[int]) -> None:
    campaign_ids = set(
        Delivery.objects.filter(pk__in=delivery_ids, campaign__isnull=False).values_list(
            "campaign_id", flat=True
        )
    )
    for campaign in Campaign.objects.filter(pk__in=campaign_ids, status=Campaign.Status.SENDING):
        open_rows = Delivery.objects.filter(
            campaign=campaign,
            state__in=[Delivery.State.QUEUED, Delivery.State.DEFERRED, Delivery.State.SENDING],
        )
        if not open_rows.exists():
            campaign.status = Campaign.Status.SENT
            campaign.save(update_fields=["status", "updated_at"])


# -- results ---------------------------------------------------------------------------------------


def campaign_results(campaign: Campaign) -> dict:
    """Sent, delivered, bounced, opened, clicked, unsubscribed, held back (by reason), and the
    orders its recipients placed within ``attribution_days`` of receiving it."""
    from django.db.models import Count, Sum

    from guanxi.commerce.models import Order

    rows = Delivery.objects.filter(campaign=campaign)
    by_state = dict(rows.values_list("state").annotate(n=Count("id")).order_by())
    by_reason = dict(
        rows.exclude(reason="").values_list("reason").annotate(n=Count("id")).order_by()
    )
    sent = rows.filter(state=Delivery.State.SENT)
    first_sent = sent.aggregate(first=Min("sent_at"))["first"]
    attributed = {"orders": 0, "revenue": 0}
    if first_sent is not None:
        window = dt.timedelta(days=campaign.attribution_days)
        orders = Order.objects.filter(
            kind=Order.Kind.ORDER,
            customer__deliveries__campaign=campaign,
            customer__deliveries__state=Delivery.State.SENT,
            placed_at__gte=first_sent,
        ).exclude(status=Order.Status.CANCELLED)
        orders = orders.filter(Q(placed_at__lte=first_sent + window)).distinct()
        attributed = orders.aggregate(orders=Count("id", distinct=True), revenue=Sum("total"))
    bounced = sent.filter(bounced_at__isnull=False).count()
    from guanxi.marketing.models import Coupon

    coupons = Coupon.objects.filter(source_key=campaign.message_key, offer_id=campaign.offer_id)
    return {
        "recipients": rows.count(),
        "sent": by_state.get(Delivery.State.SENT, 0),
        "delivered": by_state.get(Delivery.State.SENT, 0) - bounced,
        "bounced": bounced,
        "opened": sent.filter(opened_at__isnull=False).count(),
        "clicked": sent.filter(clicked_at__isnull=False).count(),
        "unsubscribed": sent.filter(unsubscribed_at__isnull=False).count(),
        "complained": sent.filter(complained_at__isnull=False).count(),
        "coupons_issued": coupons.count() if campaign.offer_id else 0,
        "coupons_redeemed": coupons.filter(redeemed_at__isnull=False).count()
        if campaign.offer_id
        else 0,
        "waiting": by_state.get(Delivery.State.QUEUED, 0)
        + by_state.get(Delivery.State.DEFERRED, 0)
        + by_state.get(Delivery.State.SENDING, 0),
        "failed": by_state.get(Delivery.State.FAILED, 0),
        "not_sent": by_reason,
        "orders": attributed["orders"] or 0,
        "revenue": attributed["revenue"] or 0,
    }


# -- built-in templates ----------------------------------------------------------------------------

BUILTIN_TEMPLATES = {
    "Confirm your subscription": {
        "purpose": Purpose.TRANSACTIONAL,
        "subject_en": "Please confirm your subscription",
        "body_en": (
            "Hello {{ first_name }},\n\nPlease confirm that you want our news and offers by "
            "email:\n{{ confirm_url }}\n\nIf you did not ask for this, ignore this email."
        ),
        "subject_zh": "请确认订阅",
        "body_zh": (
            "{{ first_name }}，您好：\n\n请点击以下链接确认订阅我们的资讯和优惠：\n"
            "{{ confirm_url }}\n\n如果不是您本人操作，请忽略此邮件。"
        ),
    },
}


def ensure_builtin_templates() -> dict[str, EmailTemplate]:
    made = {}
    for name, fields in BUILTIN_TEMPLATES.items():
        made[name], _ = EmailTemplate.objects.get_or_create(name=name, defaults=fields)
    return made
