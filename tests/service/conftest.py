"""Fixtures of the service-desk tests: a real SMTP server in-process (aiosmtpd) that the desk
sends to, calendars and SLA policies, staff in their roles."""

import email
import email.policy
import socket
import threading
import time

import pytest
from aiosmtpd.controller import Controller

from guanxi.service.models import BusinessCalendar, SLAPolicy, Team
from tests.imap import imap_server  # noqa: F401 - the fixture (also used by marketing)


class _Sink:
    def __init__(self):
        self.messages = []
        self._lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        msg = email.message_from_bytes(envelope.original_content, policy=email.policy.default)
        with self._lock:
            self.messages.append((envelope.rcpt_tos, msg, envelope.original_content))
        return "250 OK"


class SmtpSink:
    """What the SMTP server received: ``messages`` as parsed ``EmailMessage`` objects."""

    def __init__(self, handler):
        self.handler = handler

    @property
    def messages(self):
        return [m for _to, m, _raw in self.handler.messages]

    def raw(self, index):
        return self.handler.messages[index][2]

    def to(self, address):
        return [m for rcpt, m, _raw in self.handler.messages if address in rcpt]

    def wait_for(self, count, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self.handler.messages) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.messages

    def clear(self):
        self.handler.messages.clear()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp(settings):
    """A real SMTP server on localhost; Django's SMTP backend is pointed at it."""
    handler = _Sink()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.GUANXI_SUPPORT_EMAIL = "Shop support <support@shop.example>"
    settings.GUANXI_PORTAL_URL = "https://help.shop.example"
    yield SmtpSink(handler)
    controller.stop()


WEEKDAYS_9_TO_18 = {str(d): [["09:00", "18:00"]] for d in range(1, 6)}


@pytest.fixture
def shanghai_calendar(db):
    calendar = BusinessCalendar.objects.create(
        name="Shanghai office", time_zone="Asia/Shanghai", hours=WEEKDAYS_9_TO_18
    )
    return calendar


@pytest.fixture
def vip_policy(db, shanghai_calendar):
    """VIP: first response within 1 business hour, resolution within 8 business hours."""
    return SLAPolicy.objects.create(
        name="VIP",
        tier="vip",
        first_response_minutes=60,
        resolution_minutes=8 * 60,
        calendar=shanghai_calendar,
    )


@pytest.fixture
def standard_policy(db):
    """Everyone else, around the clock: first response 4 h, resolution 48 h."""
    return SLAPolicy.objects.create(
        name="Standard", first_response_minutes=240, resolution_minutes=48 * 60, position=10
    )


@pytest.fixture
def team(db, make_staff):
    lead = make_staff("agent", username="lead.wang")
    lead.email = "lead.wang@shop.example"
    lead.save()
    a = make_staff("agent", username="agent.li")
    b = make_staff("agent", username="agent.zhao")
    team = Team.objects.create(name="Tier 1", lead=lead)
    team.members.set([a, b])
    return team
