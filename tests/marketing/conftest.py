"""Marketing tests send through a real SMTP server in-process (tests/smtp.py)."""

from tests.smtp import smtp_sink  # noqa: F401 - the fixture, shared with the browser tests
