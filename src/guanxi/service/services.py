"""Writes of the service desk: tickets and replies from every channel, SLA clocks, assignment,
merging, automatic replies, surveys and knowledge-base articles.

Every ticket change is audited; ``ticket_created`` / ``ticket_solved`` are sent after commit.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import override

from guanxi.core.models import AuditEntry
from guanxi.core.services import record_audit
from guanxi.customers import selectors as customer_selectors
from guanxi.customers import services as customer_services
from guanxi.service import mail, search, signals
from guanxi.service.models import (
    Attachment,
    BusinessCalendar,
    CannedReply,
    Channel,
    ChannelSettings,
    KBArticle,
    KBFeedback,
    Message,
    NPSCampaign,
    SLAPolicy,
    SurveyResponse,
    Team,
    Ticket,
)
from guanxi.service.sla import Clock, Hours, add_business_seconds

log = logging.getLogger("guanxi.service")
_CJK = re.compile(r"[\u3400-\u9fff]")
SOLVED_SALT = "guanxi.service.solved-by-article"

# Attachments: what may be uploaded, checked by extension and by the file's first bytes.
ALLOWED_TYPES = {
    ".png": ("image/png", [b"\x89PNG\r\n\x1a\n"]),
    ".jpg": ("image/jpeg", [b"\xff\xd8\xff"]),
    ".jpeg": ("image/jpeg", [b"\xff\xd8\xff"]),
    ".gif": ("image/gif", [b"GIF87a", b"GIF89a"]),
    ".webp": ("image/webp", [b"RIFF"]),
    ".pdf": ("application/pdf", [b"%PDF-"]),
    ".txt": ("text/plain", None),
    ".csv": ("text/csv", None),
    ".log": ("text/plain", None),
}


class ServiceError(ValueError):
    """A service-desk change that cannot be made; ``field`` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Upload:
    """A file a customer or agent attaches: its name and bytes."""

    name: str
    data: bytes


def max_attachment_bytes() -> int:
    return int(settings.GUANXI_SERVICE_MAX_ATTACHMENT_MB * 1024 * 1024)


def validate_upload(upload: Upload) -> str:
    """Check size and type; return the content type. Raises :class:`ServiceError`."""
    name = (upload.name or "").strip().replace("/", "_").replace("\\", "_")[:200]
    if not name:
        raise ServiceError("attachment", _("The file has no name."))
    if len(upload.data) > max_attachment_bytes():
        raise ServiceError(
            "attachment",
            _("%(name)s is larger than %(limit)s MB.")
            % {"name": name, "limit": settings.GUANXI_SERVICE_MAX_ATTACHMENT_MB},
        )
    ext = ("." + name.rsplit(".", 1)[-1].lower()) if "." in name else ""
    if ext not in ALLOWED_TYPES:
        raise ServiceError(
            "attachment",
            _("%(name)s: this type of file is not accepted (images, PDF and text only).")
            % {"name": name},
        )
    content_type, magic = ALLOWED_TYPES[ext]
    if magic is not None and not any(upload.data.startswith(m) for m in magic):
        raise ServiceError(
            "attachment",
            _("%(name)s is not really a %(ext)s file.") % {"name": name, "ext": ext[1:]},
        )
    if magic is None:
        try:
            upload.data.decode("utf-8")
        except UnicodeDecodeError:
            raise ServiceError(
                "attachment", _("%(name)s is not a text file.") % {"name": name}
            ) from None
    return content_type


def _attach(message: Message, uploads: Iterable[Upload]) -> None:
    for upload in uploads:
        content_type = validate_upload(upload)
        attachment = Attachment(
            message=message,
            filename=upload.name[:200],
            content_type=content_type,
            size=len(upload.data),
        )
        attachment.file.save(upload.name[-80:], ContentFile(upload.data), save=False)
        attachment.save()


def guess_language(text: str) -> str:
    return "zh-hans" if _CJK.search(text or "") else "en"


# --- Customers -------------------------------------------------------------------------------


def customer_for_email(address: str, name: str = "", *, channel=AuditEntry.Channel.SYSTEM):
    """The profile owning this email, or a new prospect (no orders yet) created for it."""
    address = (address or "").strip()
    if "@" not in address:
        raise ServiceError("email", _("A valid email address is needed."))
    found = customer_selectors.find_customer_by_contact("email", address)
    if found is not None:
        return found
    first, _sep, last = (name or "").strip().partition(" ")
    if _CJK.search(name or "") and not last:
        first, last = name[1:], name[:1]
    return customer_services.create_customer(
        actor=None,
        channel=channel,
        emails=[address],
        first_name=first[:150],
        last_name=last[:150],
        attributes={"origin": "service desk"},
    )


def customer_tier(customer_id: int) -> str:
    from guanxi.analytics import selectors as analytics

    score = analytics.customer_score(customer_id)
    return score.tier if score else ""


# --- SLA -------------------------------------------------------------------------------------


def policy_for(tier: str, channel: str) -> SLAPolicy | None:
    """The most specific active policy for a tier and channel (blank fields match any)."""
    candidates = SLAPolicy.objects.filter(active=True).filter(
        Q(tier="") | Q(tier=tier), Q(channel="") | Q(channel=channel)
    )

    def rank(policy):
        return (-(2 * bool(policy.tier) + bool(policy.channel)), policy.position, policy.pk)

    ranked = sorted(candidates, key=rank)
    return ranked[0] if ranked else None


def hours_of(calendar: BusinessCalendar | None) -> Hours | None:
    if calendar is None:
        return None
    return Hours.from_json(
        calendar.time_zone, calendar.hours, calendar.holidays.values_list("date", flat=True)
    )


def ticket_hours(ticket: Ticket) -> Hours | None:
    policy = ticket.sla_policy
    return hours_of(policy.calendar) if policy else None


def ticket_clock(ticket: Ticket) -> Clock:
    return Clock(
        elapsed=ticket.sla_elapsed_seconds,
        running_since=ticket.sla_running_since,
        stopped=ticket.status in (Ticket.Status.SOLVED, Ticket.Status.CLOSED),
    )


def _store_clock(ticket: Ticket, clock: Clock, hours: Hours | None) -> None:
    ticket.sla_elapsed_seconds = clock.elapsed
    ticket.sla_running_since = clock.running_since
    policy = ticket.sla_policy
    if policy is not None:
        ticket.resolution_due = clock.due(hours, policy.resolution_minutes * 60)
        if clock.elapsed > policy.resolution_minutes * 60:
            ticket.resolution_breached = True


def sla_elapsed(ticket: Ticket, at: dt.datetime | None = None) -> float:
    """Working seconds the resolution clock has run up to ``at`` (default now)."""
    return ticket_clock(ticket).elapsed_at(ticket_hours(ticket), at or timezone.now())


# --- Tickets ---------------------------------------------------------------------------------


def _next_round_robin(team: Team) -> int | None:
    team = Team.objects.select_for_update().get(pk=team.pk)
    members = list(team.members.filter(is_active=True).order_by("id").values_list("id", flat=True))
    if not members:
        return None
    cursor = (team.round_robin_cursor + 1) % len(members)
    Team.objects.filter(pk=team.pk).update(round_robin_cursor=cursor)
    return members[cursor]


def _on_commit_signal(signal, ticket: Ticket) -> None:
    transaction.on_commit(lambda: signal.send(sender=Ticket, ticket=ticket))


@transaction.atomic
def create_ticket(
    *,
    customer,
    subject: str,
    body: str,
    channel: str,
    priority: str = Ticket.Priority.NORMAL,
    actor=None,
    team: Team | None = None,
    assignee=None,
    uploads: Sequence[Upload] = (),
    email_message_id: str = "",
    auto_reply: bool = True,
    created_at: dt.datetime | None = None,
    audit_channel: str = AuditEntry.Channel.SYSTEM,
) -> Ticket:
    """Open a ticket with its first message from any channel, start its SLA clocks, assign it
    (round robin inside ``team`` when no assignee is given), and answer automatically when the
    channel says so."""
    subject = (subject or "").strip()[:250]
    body = (body or "").strip()
    if not subject:
        raise ServiceError("subject", _("A subject is needed."))
    if not body:
        raise ServiceError("body", _("Please describe the question."))
    if channel not in Channel.values:
        raise ServiceError("channel", _("Unknown channel."))
    if priority not in Ticket.Priority.values:
        raise ServiceError("priority", _("Unknown priority."))
    now = created_at or timezone.now()
    tier = customer_tier(customer.pk)
    policy = policy_for(tier, channel)
    ticket = Ticket(
        subject=subject,
        customer=customer,
        channel=channel,
        priority=priority,
        team=team,
        assignee=assignee,
        language=guess_language(subject + " " + body),
        sla_policy=policy,
        customer_tier=tier,
        created_at=now,
    )
    if team is not None and assignee is None:
        member = _next_round_robin(team)
        ticket.assignee_id = member
    hours = hours_of(policy.calendar) if policy else None
    clock = Clock()
    clock.start(now)
    if policy is not None:
        ticket.first_response_due = add_business_seconds(
            hours, now, policy.first_response_minutes * 60
        )
    _store_clock(ticket, clock, hours)
    ticket.save()
    # Phone and fax calls are logged by the agent who took them; other channels are the
    # customer's own words.
    message = Message.objects.create(
        ticket=ticket,
        author_kind=Message.Author.CUSTOMER,
        author_user=actor if channel in (Channel.PHONE, Channel.FAX) else None,
        body=body,
        channel=channel,
        created_at=now,
        email_message_id=email_message_id[:250],
    )
    _attach(message, uploads)
    record_audit(
        ticket,
        action=AuditEntry.Action.CREATE,
        actor=actor,
        channel=audit_channel,
        changes={"subject": [None, subject], "channel": [None, channel]},
    )
    _on_commit_signal(signals.ticket_created, ticket)
    if auto_reply and channel in (Channel.EMAIL, Channel.WEB, Channel.CHAT, Channel.API):
        settings_row = ChannelSettings.objects.filter(channel=channel).first()
        if settings_row is None or settings_row.auto_reply:
            send_auto_reply(ticket, message)
    return ticket


def _thread_ids(ticket: Ticket) -> list[str]:
    return list(
        ticket.messages.exclude(email_message_id="")
        .order_by("created_at", "id")
        .values_list("email_message_id", flat=True)
    )


def _email_customer(
    ticket: Ticket, message: Message, subject: str, body: str, *, automatic: bool = False
) -> None:
    """Email a customer-visible message, threaded under the ticket's earlier messages."""
    to = customer_selectors.primary_email(ticket.customer)
    if not to:
        return
    references = _thread_ids(ticket)
    message.email_message_id = mail.make_message_id(ticket.pk)
    message.save(update_fields=["email_message_id"])
    previous = [r for r in references if r != message.email_message_id]
    mid = message.email_message_id

    def send():
        try:
            mail.send_email(
                to=[to],
                subject=subject,
                body=body,
                message_id=mid,
                in_reply_to=previous[-1] if previous else "",
                references=previous,
                automatic=automatic,
            )
        except OSError:
            log.exception("could not email ticket %s", ticket.pk)
            return
        Message.objects.filter(pk=message.pk).update(sent_at=timezone.now())

    transaction.on_commit(send)


def portal_url(path: str) -> str:
    return settings.GUANXI_PORTAL_URL.rstrip("/") + path


def _subject(ticket: Ticket) -> str:
    return f"{ticket.reference} {ticket.subject}"


def describe_commitment(ticket: Ticket) -> str:
    policy = ticket.sla_policy
    if policy is None or ticket.first_response_due is None:
        return _("We will answer as soon as we can.")
    hours = policy.first_response_minutes / 60
    when = timezone.localtime(ticket.first_response_due).strftime("%Y-%m-%d %H:%M %Z")
    values = {"hours": f"{hours:g}", "when": when}
    if policy.calendar_id:
        return (
            _("Our commitment: a first answer within %(hours)s business hour(s), by %(when)s.")
            % values
        )
    return _("Our commitment: a first answer within %(hours)s hour(s), by %(when)s.") % values


def solved_token(ticket: Ticket, article_id: int) -> str:
    return signing.dumps({"t": ticket.pk, "a": article_id}, salt=SOLVED_SALT)


def send_auto_reply(ticket: Ticket, first: Message) -> Message:
    """Acknowledge a new ticket at once: its number, the SLA commitment and the best matching
    published articles, each with a link "this solved my problem" that closes the ticket."""
    hits = search.search(
        f"{ticket.subject} {first.body}", language=ticket.language or None, limit=3
    )
    if not hits:
        hits = search.search(f"{ticket.subject} {first.body}", limit=3)
    ticket.suggested_articles = [h.article.pk for h in hits]
    ticket.save(update_fields=["suggested_articles", "updated_at"])
    with override(ticket.language or settings.LANGUAGE_CODE):
        lines = [
            _("Hello %(name)s,") % {"name": ticket.customer.display_name},
            "",
            _("We received your request %(ref)s and will get back to you.")
            % {"ref": ticket.reference},
            describe_commitment(ticket),
        ]
        if hits:
            lines += ["", _("These articles may already answer your question:")]
            for hit in hits:
                lines.append(f"- {hit.article.title}: {portal_url(f'/help/{hit.article.pk}/')}")
                lines.append(
                    "  "
                    + _("This solved my problem: %(url)s")
                    % {"url": portal_url(f"/help/solved/{solved_token(ticket, hit.article.pk)}/")}
                )
        lines += ["", _("Follow your request: %(url)s") % {"url": portal_url("/tickets/")}]
        body = "\n".join(lines)
        subject = _("We received your request: %(subject)s") % {"subject": _subject(ticket)}
    message = Message.objects.create(
        ticket=ticket, author_kind=Message.Author.SYSTEM, body=body, channel=ticket.channel
    )
    _email_customer(ticket, message, subject, body, automatic=True)
    return message


@transaction.atomic
def reply(
    ticket: Ticket,
    *,
    author,
    body: str,
    internal: bool = False,
    uploads: Sequence[Upload] = (),
    status: str | None = None,
    at: dt.datetime | None = None,
    audit_channel: str = AuditEntry.Channel.CONSOLE,
) -> Message:
    """An agent's answer (emailed to the customer) or internal note. A public answer stops the
    first-response clock; ``status`` (default: waiting on the customer after an answer) pauses
    or stops the resolution clock."""
    body = (body or "").strip()
    if not body:
        raise ServiceError("body", _("The reply is empty."))
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    now = at or timezone.now()
    message = Message.objects.create(
        ticket=ticket,
        author_kind=Message.Author.AGENT,
        author_user=author,
        body=body,
        internal=internal,
        channel=ticket.channel,
        created_at=now,
    )
    _attach(message, uploads)
    if not internal:
        if ticket.first_response_at is None:
            ticket.first_response_at = now
            if ticket.first_response_due and now > ticket.first_response_due:
                ticket.first_response_breached = True
        if ticket.assignee_id is None and author is not None:
            ticket.assignee = author
        ticket.save()
        _email_customer(ticket, message, f"Re: {_subject(ticket)}", body)
        status = status or Ticket.Status.PENDING
    if status and status != ticket.status:
        set_status(ticket, status, actor=author, at=now, audit_channel=audit_channel)
    elif ticket.status == Ticket.Status.NEW and not internal:
        set_status(ticket, Ticket.Status.OPEN, actor=author, at=now, audit_channel=audit_channel)
    return message


@transaction.atomic
def customer_reply(
    ticket: Ticket,
    *,
    body: str,
    uploads: Sequence[Upload] = (),
    email_message_id: str = "",
    at: dt.datetime | None = None,
    channel: str | None = None,
) -> Message:
    """The customer wrote again: a pending ticket reopens and its clock goes on from where it
    paused; a solved one reopens; a closed one gets a follow-up ticket."""
    body = (body or "").strip()
    if not body:
        raise ServiceError("body", _("The message is empty."))
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    now = at or timezone.now()
    if ticket.status == Ticket.Status.CLOSED:
        follow_up = create_ticket(
            customer=ticket.customer,
            subject=ticket.subject,
            body=body,
            channel=channel or ticket.channel,
            priority=ticket.priority,
            team=ticket.team,
            assignee=ticket.assignee,
            uploads=uploads,
            email_message_id=email_message_id,
            auto_reply=False,
            created_at=now,
        )
        return follow_up.messages.first()
    message = Message.objects.create(
        ticket=ticket,
        author_kind=Message.Author.CUSTOMER,
        body=body,
        channel=channel or ticket.channel,
        created_at=now,
        email_message_id=email_message_id[:250],
    )
    _attach(message, uploads)
    if ticket.status in (Ticket.Status.PENDING, Ticket.Status.SOLVED):
        set_status(ticket, Ticket.Status.OPEN, actor=None, at=now)
    else:
        ticket.save(update_fields=["updated_at"])
    return message


_TRANSITION_ACTIONS = {
    Ticket.Status.NEW: "resume",
    Ticket.Status.OPEN: "resume",
    Ticket.Status.PENDING: "pause",
    Ticket.Status.SOLVED: "stop",
    Ticket.Status.CLOSED: "stop",
}


@transaction.atomic
def set_status(
    ticket: Ticket,
    status: str,
    *,
    actor=None,
    at: dt.datetime | None = None,
    audit_channel: str = AuditEntry.Channel.CONSOLE,
    note: str = "",
) -> Ticket:
    """Move a ticket to ``status`` and run its clock accordingly: waiting on the customer
    pauses it, open resumes it (from what it had banked), solved and closed stop it."""
    if status not in Ticket.Status.values:
        raise ServiceError("status", _("Unknown status."))
    caller_copy = ticket
    # Work on a fresh, locked row: a caller's stale instance must not undo other changes.
    ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
    old = ticket.status
    if old == status:
        return ticket
    now = at or timezone.now()
    hours = ticket_hours(ticket)
    clock = ticket_clock(ticket)
    action = _TRANSITION_ACTIONS[status]
    if action == "resume":
        if clock.stopped:
            clock.reopen(now)
        else:
            clock.resume(now)
        ticket.solved_at = None
        ticket.closed_at = None
    elif action == "pause":
        clock.stopped = False
        clock.pause(hours, now)
    else:
        clock.stop(hours, now)
        if status == Ticket.Status.SOLVED or ticket.solved_at is None:
            ticket.solved_at = ticket.solved_at or now
        if status == Ticket.Status.CLOSED:
            ticket.closed_at = now
    _store_clock(ticket, clock, hours)
    ticket.status = status
    changed = [
        "status",
        "sla_elapsed_seconds",
        "sla_running_since",
        "resolution_due",
        "resolution_breached",
        "solved_at",
        "closed_at",
        "updated_at",
    ]
    ticket.save(update_fields=changed)
    for name in changed:
        setattr(caller_copy, name, getattr(ticket, name))
    record_audit(
        ticket,
        action=AuditEntry.Action.UPDATE,
        actor=actor,
        channel=audit_channel,
        changes={"status": [old, status]},
        note=note,
    )
    if status == Ticket.Status.SOLVED:
        _on_commit_signal(signals.ticket_solved, ticket)
        start_csat(ticket)
    return ticket


@transaction.atomic
def update_ticket(
    ticket: Ticket, *, actor=None, audit_channel=AuditEntry.Channel.CONSOLE, **fields
):
    """Change priority, team, assignee or subject (audited); status goes through set_status."""
    allowed = {"priority", "team", "assignee", "subject"}
    unknown = set(fields) - allowed
    if unknown:
        raise ServiceError(sorted(unknown)[0], _("This field cannot be changed here."))
    if "priority" in fields and fields["priority"] not in Ticket.Priority.values:
        raise ServiceError("priority", _("Unknown priority."))
    changes = {}
    for name, value in fields.items():
        old = getattr(ticket, name)
        if old != value:
            changes[name] = [getattr(old, "pk", old), getattr(value, "pk", value)]
            setattr(ticket, name, value)
    if "team" in changes and fields.get("team") is not None and "assignee" not in fields:
        ticket.assignee_id = _next_round_robin(fields["team"])
        changes["assignee"] = [None, ticket.assignee_id]
    if changes:
        ticket.save(update_fields=[*changes, "updated_at"])
        record_audit(
            ticket,
            action=AuditEntry.Action.UPDATE,
            actor=actor,
            channel=audit_channel,
            changes=changes,
        )
    return ticket


BULK_ACTIONS = ("assign_me", "unassign", "open", "pending", "solved", "closed", "urgent")
BULK_LIMIT = 200


@transaction.atomic
def bulk_update(ticket_ids, action: str, *, actor) -> int:
    """One action on many tickets (from the inbox), each change audited; returns how many
    tickets changed."""
    if action not in BULK_ACTIONS:
        raise ServiceError("action", _("Unknown action."))
    ids = list(dict.fromkeys(int(i) for i in ticket_ids))[:BULK_LIMIT]
    changed = 0
    for ticket in Ticket.objects.filter(pk__in=ids, merged_into__isnull=True).order_by("id"):
        before = (ticket.status, ticket.assignee_id, ticket.priority)
        if action == "assign_me":
            update_ticket(ticket, actor=actor, assignee=actor)
        elif action == "unassign":
            update_ticket(ticket, actor=actor, assignee=None)
        elif action == "urgent":
            update_ticket(ticket, actor=actor, priority=Ticket.Priority.URGENT)
        else:
            set_status(ticket, action, actor=actor)
        changed += (ticket.status, ticket.assignee_id, ticket.priority) != before
    return changed


@transaction.atomic
def merge_tickets(duplicate: Ticket, into: Ticket, *, actor=None) -> Ticket:
    """Fold a duplicate ticket into another of the same customer: its messages move over, the
    duplicate is closed with a pointer to the survivor."""
    if duplicate.pk == into.pk:
        raise ServiceError("into", _("A ticket cannot be merged into itself."))
    if duplicate.customer_id != into.customer_id:
        raise ServiceError("into", _("Only tickets of the same customer can be merged."))
    if into.merged_into_id:
        raise ServiceError("into", _("That ticket was itself merged away."))
    Message.objects.filter(ticket=duplicate).update(ticket=into)
    Message.objects.create(
        ticket=into,
        author_kind=Message.Author.SYSTEM,
        author_user=actor,
        internal=True,
        channel=into.channel,
        body=_("Ticket %(ref)s (%(subject)s) was merged into this one.")
        % {"ref": duplicate.reference, "subject": duplicate.subject},
    )
    duplicate.merged_into = into
    duplicate.save(update_fields=["merged_into", "updated_at"])
    set_status(duplicate, Ticket.Status.CLOSED, actor=actor, note=f"merged into #{into.pk}")
    record_audit(
        into,
        action=AuditEntry.Action.MERGE,
        actor=actor,
        channel=AuditEntry.Channel.CONSOLE,
        changes={"absorbed": [None, duplicate.pk]},
    )
    return into


def render_canned(canned: CannedReply, ticket: Ticket, agent) -> str:
    """The canned reply's text with its ``{variables}`` filled in (unknown ones left as is)."""
    values = {
        "customer_name": ticket.customer.display_name,
        "first_name": ticket.customer.first_name or ticket.customer.display_name,
        "agent_name": (agent.get_full_name() or agent.get_username()) if agent else "",
        "ticket_number": ticket.pk,
        "subject": ticket.subject,
    }

    def fill(match):
        key = match.group(1)
        return str(values[key]) if key in values else match.group(0)

    return re.sub(r"\{(\w+)\}", fill, canned.body)


def check_solved_token(token: str) -> tuple[Ticket, KBArticle] | None:
    """The ticket and article a "this solved my problem" link names; None when forged/old."""
    try:
        data = signing.loads(token, salt=SOLVED_SALT, max_age=60 * 60 * 24 * 60)
    except signing.BadSignature:
        return None
    ticket = Ticket.objects.filter(pk=data.get("t")).first()
    article = KBArticle.objects.filter(pk=data.get("a")).first()
    if ticket is None or article is None or article.pk not in (ticket.suggested_articles or []):
        return None
    return ticket, article


@transaction.atomic
def solved_by_article(token: str) -> Ticket | None:
    """The customer confirmed "this solved my problem" under a suggested article: record the
    feedback and solve the ticket. ``None`` for a bad or foreign token."""
    found = check_solved_token(token)
    if found is None:
        return None
    ticket, article = found
    if ticket.is_open:
        record_article_feedback(article, helpful=True, customer=ticket.customer, ticket=ticket)
        Message.objects.create(
            ticket=ticket,
            author_kind=Message.Author.SYSTEM,
            internal=True,
            channel=ticket.channel,
            body=_("The customer said the article “%(title)s” solved it.")
            % {"title": article.title},
        )
        set_status(
            ticket,
            Ticket.Status.SOLVED,
            audit_channel=AuditEntry.Channel.SYSTEM,
            note=f"solved by article {article.pk}",
        )
    return ticket


# --- SLA monitoring and escalation -----------------------------------------------------------


@dataclass
class SLACheck:
    warned: int = 0
    escalated: int = 0
    breached: int = 0


def check_sla(now: dt.datetime | None = None) -> SLACheck:
    """Warn about tickets close to a breach and escalate breached ones to the policy's team
    lead, each at most once per ticket (a conditional update claims it)."""
    from guanxi.service import tasks

    now = now or timezone.now()
    result = SLACheck()
    open_tickets = Ticket.objects.filter(
        status__in=Ticket.OPEN_STATUSES, sla_policy__isnull=False, merged_into__isnull=True
    ).select_related("sla_policy")
    for ticket in open_tickets.filter(
        Q(first_response_at__isnull=True, first_response_due__isnull=False)
        | Q(resolution_due__isnull=False)
    ).iterator():
        due = _next_due(ticket)
        if due is None:
            continue
        warn_at = due - dt.timedelta(minutes=ticket.sla_policy.warn_before_minutes)
        if now >= due:
            breached_fields = {}
            if (
                ticket.first_response_at is None
                and ticket.first_response_due
                and now >= ticket.first_response_due
            ):
                breached_fields["first_response_breached"] = True
            if ticket.resolution_due and now >= ticket.resolution_due:
                breached_fields["resolution_breached"] = True
            if breached_fields:
                Ticket.objects.filter(pk=ticket.pk).update(**breached_fields)
                result.breached += 1
            claimed = Ticket.objects.filter(pk=ticket.pk, escalated_at__isnull=True).update(
                escalated_at=now
            )
            if claimed:
                tasks.escalate_ticket(ticket.pk)
                result.escalated += 1
        elif now >= warn_at:
            claimed = Ticket.objects.filter(pk=ticket.pk, breach_warned_at__isnull=True).update(
                breach_warned_at=now
            )
            if claimed:
                tasks.warn_ticket(ticket.pk)
                result.warned += 1
    return result


def _next_due(ticket: Ticket) -> dt.datetime | None:
    dues = []
    if ticket.first_response_at is None and ticket.first_response_due:
        dues.append(ticket.first_response_due)
    if ticket.resolution_due and ticket.status != Ticket.Status.PENDING:
        dues.append(ticket.resolution_due)
    return min(dues) if dues else None


@transaction.atomic
def warn_breach(ticket_id: int) -> bool:
    """Warn the assignee (internal note + email) that a ticket is about to breach its SLA.
    Idempotent like :func:`escalate`."""
    ticket = Ticket.objects.select_related("assignee", "sla_policy").get(pk=ticket_id)
    marker = f"[sla-warning:{ticket.pk}]"
    if ticket.messages.filter(internal=True, body__startswith=marker).exists():
        return False
    due = _next_due(ticket)
    when = timezone.localtime(due).strftime("%Y-%m-%d %H:%M %Z") if due else "?"
    Message.objects.create(
        ticket=ticket,
        author_kind=Message.Author.SYSTEM,
        internal=True,
        channel=ticket.channel,
        body=marker + " " + _("SLA breach soon: due %(when)s.") % {"when": when},
    )
    assignee = ticket.assignee
    if assignee is not None and assignee.email:
        to = assignee.email
        subject = f"[SLA warning] {_subject(ticket)}"
        text = _("Ticket %(ref)s is due %(when)s. %(url)s") % {
            "ref": ticket.reference,
            "when": when,
            "url": portal_url(f"/console/service/tickets/{ticket.pk}/"),
        }
        mid = mail.make_message_id(ticket.pk, "warn")
        transaction.on_commit(
            lambda: mail.send_email(to=[to], subject=subject, body=text, message_id=mid)
        )
    return True


@transaction.atomic
def escalate(ticket_id: int) -> bool:
    """Tell the policy's team lead about a breached ticket (internal note + email) and raise
    its priority; runs as a background job. Idempotent: a note already written is not repeated."""
    ticket = Ticket.objects.select_related("sla_policy__escalate_to__lead").get(pk=ticket_id)
    marker = f"[escalation:{ticket.pk}]"
    if ticket.messages.filter(internal=True, body__startswith=marker).exists():
        return False
    team = ticket.sla_policy.escalate_to if ticket.sla_policy else None
    lead = team.lead if team else None
    body = (
        marker
        + " "
        + _("SLA breached; escalated to %(who)s.")
        % {"who": (lead.get_username() if lead else (team.name if team else _("the service team")))}
    )
    Message.objects.create(
        ticket=ticket,
        author_kind=Message.Author.SYSTEM,
        internal=True,
        channel=ticket.channel,
        body=body,
    )
    changes = {}
    if ticket.priority != Ticket.Priority.URGENT:
        changes["priority"] = [ticket.priority, Ticket.Priority.URGENT]
        ticket.priority = Ticket.Priority.URGENT
    if team is not None and ticket.team_id != team.pk:
        changes["team"] = [ticket.team_id, team.pk]
        ticket.team = team
    ticket.save()
    record_audit(
        ticket,
        action=AuditEntry.Action.UPDATE,
        channel=AuditEntry.Channel.SYSTEM,
        changes=changes,
        note="SLA escalation",
    )
    if lead is not None and lead.email:
        to = lead.email
        subject = f"[SLA] {_subject(ticket)}"
        text = _("Ticket %(ref)s has breached its SLA (%(policy)s). %(url)s") % {
            "ref": ticket.reference,
            "policy": ticket.sla_policy.name if ticket.sla_policy else "",
            "url": portal_url(f"/console/service/tickets/{ticket.pk}/"),
        }
        mid = mail.make_message_id(ticket.pk, "esc")
        transaction.on_commit(
            lambda: mail.send_email(to=[to], subject=subject, body=text, message_id=mid)
        )
    return True


def close_solved_tickets(now: dt.datetime | None = None, *, days: int | None = None) -> int:
    """Close tickets solved more than ``days`` ago (default GUANXI_SERVICE_CLOSE_SOLVED_DAYS);
    the customer's next message then opens a follow-up ticket instead."""
    now = now or timezone.now()
    days = settings.GUANXI_SERVICE_CLOSE_SOLVED_DAYS if days is None else days
    due = Ticket.objects.filter(
        status=Ticket.Status.SOLVED, solved_at__lt=now - dt.timedelta(days=days)
    )
    closed = 0
    for ticket in due.iterator():
        set_status(
            ticket,
            Ticket.Status.CLOSED,
            at=now,
            audit_channel=AuditEntry.Channel.SYSTEM,
            note=f"closed automatically {days} days after solving",
        )
        closed += 1
    return closed


# --- Surveys ---------------------------------------------------------------------------------


def _new_token() -> str:
    return secrets.token_urlsafe(24)


def start_csat(ticket: Ticket) -> SurveyResponse | None:
    """After solving: one CSAT survey per ticket (if the channel wants one), emailed with a link."""
    row = ChannelSettings.objects.filter(channel=ticket.channel).first()
    if row is not None and not row.csat_survey:
        return None
    survey, created = SurveyResponse.objects.get_or_create(
        ticket=ticket,
        defaults={
            "kind": SurveyResponse.Kind.CSAT,
            "token": _new_token(),
            "customer": ticket.customer,
            "agent": ticket.assignee,
            "team": ticket.team,
            "channel": ticket.channel,
        },
    )
    if created:
        _send_survey(survey)
    return survey


def _survey_text(survey: SurveyResponse, reminder: bool = False) -> tuple[str, str]:
    """Subject and text of a survey email, in the customer's language."""
    language = (survey.ticket.language if survey.ticket_id else "") or (
        "zh-hans" if (survey.customer.language or "").lower().startswith("zh") else ""
    )
    with override(language or settings.LANGUAGE_CODE):
        return _survey_text_now(survey, reminder)


def _survey_text_now(survey: SurveyResponse, reminder: bool) -> tuple[str, str]:
    url = portal_url(f"/survey/{survey.token}/")
    if survey.kind == SurveyResponse.Kind.CSAT:
        subject = _("How did we do? %(ref)s") % {"ref": survey.ticket.reference}
        body = _(
            "Your request “%(subject)s” was solved. How satisfied are you with our help? "
            "It takes one click: %(url)s"
        ) % {"subject": survey.ticket.subject, "url": url}
    else:
        subject = survey.campaign.name
        body = f"{survey.campaign.question}\n{url}"
    if reminder:
        subject = _("Reminder: %(subject)s") % {"subject": subject}
    return subject, body


def _send_survey(survey: SurveyResponse, reminder: bool = False) -> None:
    to = customer_selectors.primary_email(survey.customer)
    if not to:
        return
    subject, body = _survey_text(survey, reminder)
    kwargs = {}
    if survey.ticket_id:
        refs = _thread_ids(survey.ticket)
        kwargs = {"in_reply_to": refs[-1] if refs else "", "references": refs}
    mid = mail.make_message_id(survey.ticket_id or 0, "survey")

    def send():
        try:
            mail.send_email(to=[to], subject=subject, body=body, message_id=mid, **kwargs)
        except OSError:
            log.exception("could not send survey %s", survey.pk)

    transaction.on_commit(send)


def send_survey_reminders(now: dt.datetime | None = None) -> int:
    """Remind once about CSAT surveys left unanswered longer than the channel's delay."""
    now = now or timezone.now()
    delays = {row.channel: row.csat_reminder_hours for row in ChannelSettings.objects.all()}
    sent = 0
    pending = SurveyResponse.objects.filter(
        kind=SurveyResponse.Kind.CSAT, answered_at__isnull=True, reminded_at__isnull=True
    ).select_related("ticket", "customer")
    for survey in pending:
        hours = delays.get(survey.channel, 48)
        if now - survey.sent_at < dt.timedelta(hours=hours):
            continue
        if SurveyResponse.objects.filter(pk=survey.pk, reminded_at__isnull=True).update(
            reminded_at=now
        ):
            with transaction.atomic():
                _send_survey(survey, reminder=True)
            sent += 1
    return sent


@transaction.atomic
def answer_survey(token: str, *, score: int, comment: str = "") -> SurveyResponse:
    """Record an answer (CSAT 1–5, NPS 0–10); the first answer earns the coupon, if any."""
    survey = SurveyResponse.objects.select_for_update().filter(token=token).first()
    if survey is None:
        raise ServiceError("token", _("This survey link is not valid."))
    low, high = (1, 5) if survey.kind == SurveyResponse.Kind.CSAT else (0, 10)
    try:
        score = int(score)
    except (TypeError, ValueError):
        raise ServiceError("score", _("Pick a score.")) from None
    if not low <= score <= high:
        raise ServiceError(
            "score",
            _("The score must be between %(low)s and %(high)s.") % {"low": low, "high": high},
        )
    first_answer = survey.answered_at is None
    survey.score = score
    survey.comment = (comment or "").strip()[:5000]
    survey.answered_at = timezone.now()
    if first_answer and survey.coupon_id is None:
        percent = (
            survey.campaign.coupon_percent
            if survey.campaign_id
            else settings.GUANXI_CSAT_COUPON_PERCENT
        )
        if percent:
            survey.coupon = issue_coupon(survey.customer, percent, key=f"survey:{survey.pk}")
    survey.save()
    return survey


def csat_for_ticket(ticket: Ticket) -> SurveyResponse:
    """The ticket's CSAT survey (created when missing, e.g. on a channel without emails)."""
    survey = SurveyResponse.objects.filter(ticket=ticket).first()
    if survey is None:
        survey = SurveyResponse.objects.create(
            kind=SurveyResponse.Kind.CSAT,
            token=_new_token(),
            customer=ticket.customer,
            ticket=ticket,
            agent=ticket.assignee,
            team=ticket.team,
            channel=ticket.channel,
        )
    return survey


def issue_coupon(customer, percent: int, *, key: str):
    """The customer's single-use "N % off" code for answering a survey (marketing's coupons;
    one per survey answer, ``key``, however often it is answered)."""
    from guanxi.marketing import coupons
    from guanxi.marketing.models import Coupon

    offer = coupons.survey_offer(percent)
    return coupons.issue(offer, customer, source=Coupon.Source.SURVEY, source_key=key)


@transaction.atomic
def create_nps_campaign(
    *, name: str, customers: Iterable, question: str = "", coupon_percent: int = 0, actor=None
) -> NPSCampaign:
    """Send an NPS survey to every given customer that has an email address."""
    if not (name or "").strip():
        raise ServiceError("name", _("A name is needed."))
    campaign = NPSCampaign.objects.create(
        name=name.strip()[:150],
        question=(question or "").strip()[:300] or NPSCampaign._meta.get_field("question").default,
        coupon_percent=max(0, min(100, int(coupon_percent or 0))),
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
        sent_at=timezone.now(),
    )
    for customer in customers:
        survey = SurveyResponse.objects.create(
            kind=SurveyResponse.Kind.NPS,
            token=_new_token(),
            customer=customer,
            campaign=campaign,
        )
        _send_survey(survey)
    return campaign


# --- Knowledge base --------------------------------------------------------------------------


@transaction.atomic
def save_article(
    article: KBArticle | None = None,
    *,
    actor=None,
    title: str,
    body: str,
    language: str = KBArticle.Language.EN,
    category=None,
    published: bool = False,
    audit_channel: str = AuditEntry.Channel.CONSOLE,
) -> KBArticle:
    """Create or update an article (draft or published) and re-index it for search."""
    title, body = (title or "").strip(), (body or "").strip()
    if not title:
        raise ServiceError("title", _("A title is needed."))
    if not body:
        raise ServiceError("body", _("The article is empty."))
    if language not in KBArticle.Language.values:
        raise ServiceError("language", _("Language must be en or zh-hans."))
    created = article is None
    article = article or KBArticle(
        author=actor if getattr(actor, "is_authenticated", False) else None
    )
    old = {"title": article.title, "published": article.published}
    article.title = title[:250]
    article.body = body
    article.language = language
    article.category = category
    if published and not article.published:
        article.published_at = timezone.now()
    article.published = bool(published)
    article.save()
    search.index_article(article)
    record_audit(
        article,
        action=AuditEntry.Action.CREATE if created else AuditEntry.Action.UPDATE,
        actor=actor,
        channel=audit_channel,
        changes={
            "title": [None if created else old["title"], article.title],
            "published": [None if created else old["published"], article.published],
        },
    )
    return article


@transaction.atomic
def record_article_feedback(
    article: KBArticle, *, helpful: bool, comment: str = "", customer=None, ticket=None
) -> KBFeedback:
    """ "Did this help?" — counted on the article and kept with an optional comment."""
    feedback = KBFeedback.objects.create(
        article=article,
        helpful=helpful,
        comment=(comment or "")[:500],
        customer=customer,
        ticket=ticket,
    )
    field = "helpful_count" if helpful else "not_helpful_count"
    from django.db.models import F

    KBArticle.objects.filter(pk=article.pk).update(**{field: F(field) + 1})
    return feedback
