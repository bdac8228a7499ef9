"""A small IMAP server running in the test (just enough IMAP4rev1 for imaplib), and a fixture
that starts it: for the support inbox and the bounce mailbox."""

import socketserver
import threading

import pytest


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
