"""Outgoing email of the service desk, behind one small interface.

The marketing app (a later issue) owns campaign sending; until it lands, the service desk sends
through Django's email framework over SMTP (``EMAIL_URL``). Everything the desk sends goes
through :func:`send_email`, so marketing can later swap the transport (bounce handling,
suppression lists) in one place.

Threading: every message carries a stable ``Message-ID`` (stored on the ``Message`` row), and a
reply carries ``In-Reply-To`` / ``References`` naming the ticket's earlier messages, so mail
clients show one conversation and the customer's answer comes back with headers that lead to
the ticket.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

log = logging.getLogger("guanxi.service")


def support_address() -> str:
    return settings.GUANXI_SUPPORT_EMAIL


def _domain() -> str:
    address = support_address()
    addr = address.rsplit("<", 1)[-1].rstrip(">")
    return addr.rsplit("@", 1)[-1] or "localhost"


def make_message_id(ticket_id: int, kind: str = "msg") -> str:
    """A globally unique Message-ID that names the ticket (``<t123.msg.abcdef@domain>``)."""
    return f"<t{ticket_id}.{kind}.{secrets.token_hex(6)}@{_domain()}>"


def send_email(
    *,
    to: Sequence[str],
    subject: str,
    body: str,
    message_id: str,
    in_reply_to: str = "",
    references: Sequence[str] = (),
    from_email: str | None = None,
    reply_to: Sequence[str] = (),
    automatic: bool = False,
) -> str:
    """Send one plain-text email over the configured SMTP relay; return its Message-ID.
    ``automatic`` marks machine-written mail (RFC 3834 ``Auto-Submitted: auto-replied``) so
    other robots do not answer it."""
    headers = {"Message-ID": message_id}
    if automatic:
        headers["Auto-Submitted"] = "auto-replied"
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
    refs = [r for r in references if r]
    if refs:
        headers["References"] = " ".join(refs)
    message = EmailMessage(
        subject=subject,
        body=body,
        from_email=from_email or support_address(),
        to=list(to),
        reply_to=list(reply_to) or [support_address()],
        headers=headers,
        connection=get_connection(),
    )
    message.send(fail_silently=False)
    log.info("service mail %s sent to %s", message_id, ", ".join(to))
    return message_id
