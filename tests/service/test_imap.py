"""``guanxi service fetch-mail`` against a small IMAP server running in the test: unseen mail
becomes tickets (or replies), is flagged seen, and a second poll changes nothing."""

import io
import socketserver
import threading
from email.message import EmailMessage

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from guanxi.service.models import Ticket

pytestmark = pytest.mark.django_db


class Mailbox:
    def __init__(self, messages):
        self.messages = [{"raw": raw, "seen": False} for raw in messages]
        self.logins = []


class ImapHandler(socketserver.StreamRequestHandler):
    """Just enough IMAP4rev1 for imaplib: CAPABILITY, LOGIN, SELECT, SEARCH UNSEEN,
    FETCH (BODY.PEEK[]), STORE +FLAGS \\Seen, LOGOUT."""

    def send(self, data: bytes) -> None:
        self.wfile.write(data)
        self.wfile.flush()

    def handle(self):
        box: Mailbox = self.server.mailbox
        self.send(b"* OK test IMAP ready\r\n")
        while True:
            line = self.rfile.readline()
            if not line:
                return
            tag, command, *rest = line.decode().rstrip("\r\n").split(" ", 2)
            args = rest[0] if rest else ""
            command = command.upper()
            if command == "CAPABILITY":
                self.send(b"* CAPABILITY IMAP4rev1\r\n" + f"{tag} OK done\r\n".encode())
            elif command == "LOGIN":
                box.logins.append(args)
                self.send(f"{tag} OK logged in\r\n".encode())
            elif command == "SELECT":
                self.send(
                    f"* {len(box.messages)} EXISTS\r\n{tag} OK [READ-WRITE] done\r\n".encode()
                )
            elif command == "SEARCH":
                unseen = [str(i + 1) for i, m in enumerate(box.messages) if not m["seen"]]
                self.send(f"* SEARCH {' '.join(unseen)}\r\n{tag} OK done\r\n".encode())
            elif command == "FETCH":
                num = int(args.split(" ", 1)[0])
                raw = box.messages[num - 1]["raw"]
                self.send(f"* {num} FETCH (BODY[] {{{len(raw)}}}\r\n".encode() + raw + b")\r\n")
                self.send(f"{tag} OK done\r\n".encode())
            elif command == "STORE":
                num = int(args.split(" ", 1)[0])
                box.messages[num - 1]["seen"] = True
                self.send(f"* {num} FETCH (FLAGS (\\Seen))\r\n{tag} OK done\r\n".encode())
            elif command == "LOGOUT":
                self.send(f"* BYE\r\n{tag} OK bye\r\n".encode())
                return
            else:
                self.send(f"{tag} BAD unknown\r\n".encode())


@pytest.fixture
def imap_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), ImapHandler)
    server.daemon_threads = True
    server.mailbox = Mailbox([])
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


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
