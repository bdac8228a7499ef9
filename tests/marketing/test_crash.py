"""kill -9 of the sender in the middle of a 10,000-recipient campaign, then a restart: everyone
gets the message, and the only duplicates are the messages that were in flight at the kill
(same Message-ID). Runs the real command in separate processes against its own database."""

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

from tests.smtp import Sink, free_port

RECIPIENTS = 10_000
KILL_AFTER = 3_000
GUANXI = str(Path(sys.executable).with_name("guanxi"))

SETUP = f"""
from guanxi.customers.services import ingest_customers
from guanxi.marketing.models import Campaign, EmailTemplate
from guanxi.marketing.services import queue_campaign
from guanxi.segments.services import create_segment
rows = [{{"external_id": f"c{{i}}", "first_name": f"C{{i}}", "email": f"c{{i}}@example.com",
          "consent_email_marketing": True}} for i in range({RECIPIENTS})]
for start in range(0, len(rows), 1000):
    ingest_customers(rows[start:start + 1000], source="crash-test")
template = EmailTemplate.objects.create(
    name="Sale", subject_en="Sale", body_en="Hi {{{{ first_name }}}}"
)
segment = create_segment(name="All", rule={{"match": "all", "conditions": []}})
campaign = Campaign.objects.create(name="Sale", template=template, segment=segment)
print("queued", queue_campaign(campaign))
"""


@pytest.fixture
def separate_database():
    """Environment for child processes: a database of their own (SQLite file, or a new
    PostgreSQL database when the suite runs on PostgreSQL)."""
    data_dir = tempfile.mkdtemp(prefix="guanxi-crash-")
    env = {k: v for k, v in os.environ.items() if k not in ("GUANXI_JOBS_IMMEDIATE",)}
    env.update(
        GUANXI_DATA_DIR=data_dir,
        PYTHONWARNINGS="ignore",
        GUANXI_QUIET_HOURS_START="0",  # no quiet hours: the test may run at any time of day
        GUANXI_QUIET_HOURS_END="0",
        DJANGO_SETTINGS_MODULE="guanxi.settings",
    )
    url = os.environ.get("DATABASE_URL", "")
    name = None
    if url.startswith("postgres"):
        import psycopg

        name = f"guanxi_crash_{uuid.uuid4().hex[:8]}"
        admin = url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = url.rsplit("/", 1)[0] + "/" + name
    else:
        env.pop("DATABASE_URL", None)
    yield env
    if name:
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(env, *args, **kwargs):
    return subprocess.run(
        [GUANXI, *args], env=env, check=True, capture_output=True, text=True, **kwargs
    )


def test_kill_9_mid_campaign_loses_no_one_and_duplicates_only_what_was_in_flight(
    separate_database,
):
    env = separate_database
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    env["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
    try:
        run(env, "migrate", "--verbosity", "0")
        assert f"queued {RECIPIENTS}" in run(env, "shell", "-c", SETUP).stdout

        sender = subprocess.Popen(
            [GUANXI, "marketing", "send", "--loop", "--batch", "100"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 300
        while len(sink.messages) < KILL_AFTER:
            assert sender.poll() is None, sender.stderr.read().decode()
            assert time.monotonic() < deadline, "the sender is too slow"
            time.sleep(0.01)
        os.kill(sender.pid, signal.SIGKILL)
        sender.wait()
        at_kill = len(sink.messages)
        assert at_kill < RECIPIENTS, "the kill came too late to test anything"

        # Restart: rows the dead sender left 'sending' go out again, then the rest.
        out = run(env, "marketing", "send", "--recover-in-flight", timeout=600).stdout
        assert "failed 0" in out
    finally:
        controller.stop()

    recipients = Counter(m["To"] for m in sink.messages)
    assert len(recipients) == RECIPIENTS  # nobody skipped
    duplicates = sum(n - 1 for n in recipients.values())
    # One sender hands one message at a time to SMTP: at most one was in flight at the kill.
    assert duplicates <= 1, duplicates
    for address, n in recipients.items():
        if n > 1:
            ids = {m["Message-ID"] for m in sink.messages if m["To"] == address}
            assert len(ids) == 1  # the duplicate is recognisable: same Message-ID
    print(f"killed after {at_kill} messages; {duplicates} duplicate(s) at the SMTP sink")
