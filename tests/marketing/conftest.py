"""Marketing tests send through a real SMTP server in-process (tests/smtp.py) and read bounce
reports from a small IMAP server in-process (tests/imap.py)."""

from tests.imap import imap_server  # noqa: F401 - the fixture, shared with the service desk
from tests.smtp import smtp_sink  # noqa: F401 - the fixture, shared with the browser tests
