"""Reading a mailbox over IMAP: the support inbox (service) and the bounce mailbox (marketing)."""

import imaplib
import logging
from collections.abc import Callable
from urllib.parse import unquote, urlparse

log = logging.getLogger("guanxi.mailbox")


class MailboxError(ValueError):
    pass


def poll_unseen(
    url: str, handle: Callable[[bytes], object], *, limit: int = 200, setting: str = "URL"
) -> int:
    """Give every unseen message of the mailbox at ``url`` (``imaps://user:pass@host:993/INBOX``)
    to ``handle`` (raw bytes), then flag it seen; returns how many were handled. A message whose
    handler raises stays unseen (read again next time) and the error propagates."""
    if not url:
        raise MailboxError(f"no mailbox configured ({setting})")
    parts = urlparse(url)
    if parts.scheme not in ("imap", "imaps"):
        raise MailboxError(f"{setting} must start with imap:// or imaps://")
    cls = imaplib.IMAP4_SSL if parts.scheme == "imaps" else imaplib.IMAP4
    port = parts.port or (993 if parts.scheme == "imaps" else 143)
    handled = 0
    with cls(parts.hostname, port) as box:
        box.login(unquote(parts.username or ""), unquote(parts.password or ""))
        box.select(unquote(parts.path.lstrip("/")) or "INBOX")
        _status, data = box.search(None, "UNSEEN")
        for num in (data[0] or b"").split()[:limit]:
            _status, fetched = box.fetch(num, "(BODY.PEEK[])")
            raw = next((item[1] for item in fetched if isinstance(item, tuple)), None)
            if raw is None:
                continue
            handle(raw)
            box.store(num, "+FLAGS", "\\Seen")
            handled += 1
    return handled
