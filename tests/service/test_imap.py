"""``guanxi service fetch-mail`` against a small IMAP server running in the test: unseen mail
becomes tickets (or replies), is flagged seen, and a second poll changes nothing."""

import io
from email.message import EmailMessage

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from guanxi.service.models import Ticket
from tests.imap import Mailbox

pytestmark = pytest.mark.django_db


def mail(sender, subject, body) -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, "support@shop.example", subject
    msg["Message-ID"] = f"<{abs(hash((sender, subject)))}@client.example>"
    msg.set_content(body)
    return msg.as_bytes()


def test_fetch_mail_turns_unseen_messages_into_tickets(imap_server, settings, smtp):
    imap_server.mailbox = Mailbox(
        [
            mail("Ann <ann@example.com>", "Lost parcel", "It never came."),
            mail("bo@example.com", "发票", "请开发票，谢谢。"),
        ]
    )
    port = imap_server.server_address[1]
    settings.GUANXI_IMAP_URL = f"imap://support%40shop.example:s3cret@127.0.0.1:{port}/INBOX"
    out = io.StringIO()
    call_command("service", "fetch-mail", stdout=out)
    assert out.getvalue().strip() == "2 message(s): 2 new ticket(s), 0 repl(ies)"
    assert sorted(Ticket.objects.values_list("subject", flat=True)) == ["Lost parcel", "发票"]
    assert all(m["seen"] for m in imap_server.mailbox.messages)
    assert "support@shop.example" in imap_server.mailbox.logins[0]
    assert "s3cret" in imap_server.mailbox.logins[0]

    out = io.StringIO()
    call_command("service", "fetch-mail", stdout=out)  # nothing unseen any more
    assert out.getvalue().strip().startswith("0 message(s)")
    assert Ticket.objects.count() == 2


def test_fetch_mail_without_a_mailbox_is_a_clear_error(settings):
    settings.GUANXI_IMAP_URL = ""
    with pytest.raises(CommandError, match="GUANXI_IMAP_URL"):
        call_command("service", "fetch-mail")
