"""Inbound email: a raw RFC 822 message becomes a new ticket or a reply on an existing one.

Threading, in this order: a Message-ID the desk already stored (the same email delivered twice
changes nothing); ``In-Reply-To`` / ``References`` naming one of the ticket's messages; a
Message-ID of the desk's own form (``<t123.…@domain>``); a ``[#123]`` reference in the subject
from the ticket's own customer. Anything else opens a new ticket; an unknown sender becomes a
prospect profile.

Sources: the signed webhook (``POST /api/v1/service/inbound-email``), ``guanxi service
fetch-mail`` (IMAP poll) and ``guanxi service pipe-mail`` (one message on stdin, for an MTA's
pipe transport).
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import hmac
import logging
import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from django.conf import settings
from django.db import transaction

from guanxi.core.models import AuditEntry
from guanxi.service import services
from guanxi.service.models import Channel, Message, Ticket

log = logging.getLogger("guanxi.service")
_OUR_ID = re.compile(r"<t(\d+)\.[a-z]+\.[0-9a-f]+@([^>]+)>")
_SUBJECT_REF = re.compile(r"\[#(\d+)\]")
_QUOTE_START = re.compile(
    r"^(On .+ wrote:|.*于.*写道：?|-----\s*Original Message\s*-----|From: .+)$", re.MULTILINE
)
MAX_RAW_BYTES = 25 * 1024 * 1024


class InboundError(ValueError):
    pass


@dataclass(frozen=True)
class InboundResult:
    ticket: Ticket
    message: Message
    created_ticket: bool
    duplicate: bool = False


def _text_of(msg: EmailMessage) -> str:
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = part.get_content()
    if part.get_content_type() == "text/html":
        text = re.sub(r"<(br|/p|/div)[^>]*>", "\n", text, flags=re.I)
        text = re.sub(r"<[^>]+>", "", text)
    return text


def strip_quoted(text: str) -> str:
    """The new part of a reply: drop the quoted history below "On … wrote:" and "> " lines."""
    match = _QUOTE_START.search(text)
    if match:
        text = text[: match.start()]
    lines = [line for line in text.splitlines() if not line.startswith(">")]
    return "\n".join(lines).strip()


def _uploads(msg: EmailMessage) -> list[services.Upload]:
    out = []
    for part in msg.iter_attachments():
        name = part.get_filename()
        data = part.get_payload(decode=True)
        if name and data is not None:
            out.append(services.Upload(name, data))
    return out


def _ids(value: str | None) -> list[str]:
    return re.findall(r"<[^<>\s]+>", value or "")


def _find_thread(msg: EmailMessage, sender: str) -> Ticket | None:
    candidates = _ids(msg.get("In-Reply-To")) + list(reversed(_ids(msg.get("References"))))
    for mid in candidates:
        found = Message.objects.filter(email_message_id=mid).select_related("ticket").first()
        if found is not None:
            return found.ticket
    domain = services.mail._domain()
    for mid in candidates:
        match = _OUR_ID.fullmatch(mid)
        if match and match.group(2) == domain:
            ticket = Ticket.objects.filter(pk=int(match.group(1))).first()
            if ticket is not None:
                return ticket
    ref = _SUBJECT_REF.search(str(msg.get("Subject", "")))
    if ref:
        ticket = Ticket.objects.filter(pk=int(ref.group(1))).select_related("customer").first()
        if ticket is not None:
            from guanxi.customers import selectors as customer_selectors

            owner = customer_selectors.find_customer_by_contact("email", sender)
            if owner is not None and owner.pk == ticket.customer_id:
                return ticket
    return None


def is_automatic(msg) -> bool:
    """Mail written by a robot (an out-of-office, a bounce, a list): never auto-answer it, or
    two robots would answer each other forever (RFC 3834)."""
    auto = str(msg.get("Auto-Submitted", "no")).strip().lower()
    precedence = str(msg.get("Precedence", "")).strip().lower()
    return (
        auto != "no"
        or precedence in ("bulk", "junk", "list", "auto_reply")
        or msg.get("X-Autoreply") is not None
        or msg.get("X-Autorespond") is not None
        or msg.get("List-Id") is not None
    )


def _follow_merges(ticket: Ticket) -> Ticket:
    seen = set()
    while ticket.merged_into_id and ticket.pk not in seen:
        seen.add(ticket.pk)
        ticket = ticket.merged_into
    return ticket


@transaction.atomic
def receive_email(raw: bytes) -> InboundResult:
    """Turn one raw email into a ticket or a reply. Idempotent by Message-ID."""
    if not raw or len(raw) > MAX_RAW_BYTES:
        raise InboundError("empty or oversized message")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    name, sender = parseaddr(str(msg.get("Reply-To") or msg.get("From") or ""))
    if "@" not in sender:
        raise InboundError("the message has no sender address")
    if sender.lower() == services.mail.support_address().rsplit("<", 1)[-1].rstrip(">").lower():
        raise InboundError("refusing a message from the support address itself (mail loop)")
    message_id = str(msg.get("Message-ID") or "").strip()
    if message_id:
        existing = Message.objects.filter(email_message_id=message_id).select_related("ticket")
        found = existing.first()
        if found is not None:
            return InboundResult(found.ticket, found, False, duplicate=True)
    subject = str(msg.get("Subject") or "").strip() or "(no subject)"
    text = _text_of(msg)
    uploads = _uploads(msg)
    ticket = _find_thread(msg, sender)
    if ticket is not None:
        ticket = _follow_merges(ticket)
        body = strip_quoted(text) or text.strip() or subject
        before = ticket.messages.count()
        reply = services.customer_reply(
            ticket,
            body=body,
            uploads=uploads,
            email_message_id=message_id,
            channel=Channel.EMAIL,
        )
        created = reply.ticket_id != ticket.pk or before == 0
        return InboundResult(reply.ticket, reply, created)
    customer = services.customer_for_email(sender, name)
    clean_subject = re.sub(r"^((re|fwd?|aw|回复|答复|转发)\s*[:：]\s*)+", "", subject, flags=re.I)
    ticket = services.create_ticket(
        customer=customer,
        subject=clean_subject or subject,
        body=text.strip() or subject,
        channel=Channel.EMAIL,
        uploads=uploads,
        email_message_id=message_id,
        audit_channel=AuditEntry.Channel.SYSTEM,
        auto_reply=not is_automatic(msg),
    )
    return InboundResult(ticket, ticket.messages.order_by("id").first(), True)


def verify_signature(body: bytes, signature: str) -> bool:
    """``X-Guanxi-Signature: sha256=<hex HMAC of the body with GUANXI_INBOUND_EMAIL_SECRET>``."""
    secret = settings.GUANXI_INBOUND_EMAIL_SECRET
    if not secret or not signature:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip())


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def fetch_mail(url: str | None = None, *, limit: int = 200) -> list[InboundResult]:
    """Poll an IMAP mailbox (``imaps://user:pass@host:993/INBOX``): every unseen message is
    received, then flagged seen (a message that cannot be read is logged and flagged too)."""
    from guanxi.core.mailbox import MailboxError, poll_unseen

    results = []

    def handle(raw: bytes) -> None:
        try:
            results.append(receive_email(raw))
        except InboundError as exc:
            log.warning("skipped mail: %s", exc)

    try:
        poll_unseen(url or settings.GUANXI_IMAP_URL, handle, limit=limit, setting="GUANXI_IMAP_URL")
    except MailboxError as exc:
        raise InboundError(str(exc)) from exc
    return results


def addresses(value: str) -> list[str]:
    return [addr for _name, addr in getaddresses([value or ""]) if addr]
