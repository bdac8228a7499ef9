"""SLA clocks: business hours, holidays, pauses while waiting on the customer, restart on the
customer's reply, escalation exactly once.

The clock is checked over random event sequences (hypothesis) against a brute-force reference
that looks at every minute: the clock never runs while paused and never counts a minute twice.
"""

import datetime as dt
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.core.models import AuditEntry
from guanxi.service import services, tasks
from guanxi.service.models import Holiday, Message, SLAPolicy, Ticket
from guanxi.service.sla import Clock, Hours, add_business_seconds, business_seconds
from tests.factories import make_customer

UTC = dt.UTC
BASE = dt.datetime(2026, 3, 23, 0, 0, tzinfo=UTC)  # a Monday; Europe/Berlin's DST starts 29 Mar

CALENDARS = {
    "office": {str(d): [["09:00", "12:00"], ["13:30", "18:00"]] for d in range(1, 6)},
    "shifts": {
        **{str(d): [["07:00", "15:00"], ["15:00", "21:30"]] for d in range(1, 7)},
        "7": [["10:00", "16:00"]],
    },
    "weekend": {"6": [["08:00", "20:00"]], "7": [["08:00", "20:00"]]},
}

hours_strategy = st.builds(
    lambda name, tz, holidays: Hours.from_json(
        tz, CALENDARS[name], [BASE.date() + dt.timedelta(days=d) for d in holidays]
    ),
    st.sampled_from(sorted(CALENDARS)),
    st.sampled_from(["Asia/Shanghai", "Europe/Berlin", "America/New_York", "UTC"]),
    st.sets(st.integers(0, 9), max_size=3),
)


def working_at(hours: Hours, instant: dt.datetime) -> bool:
    """Brute force: is the minute starting at ``instant`` a working minute?"""
    local = instant.astimezone(zoneinfo.ZoneInfo(hours.time_zone))
    if local.date() in hours.holidays:
        return False
    for start, end in hours.windows.get(local.isoweekday(), []):
        if start <= local.time() and (end is None or local.time() < end):
            return True
    return False


def brute_seconds(hours: Hours, a: dt.datetime, b: dt.datetime) -> float:
    minutes = 0
    t = a
    while t < b:
        minutes += working_at(hours, t)
        t += dt.timedelta(minutes=1)
    return 60.0 * minutes


minute = st.integers(0, 6 * 24 * 60)  # any minute in the first six days


@settings(max_examples=40, deadline=None)
@given(hours=hours_strategy, a=minute, length=st.integers(0, 3 * 24 * 60))
def test_business_seconds_match_a_minute_by_minute_count(hours, a, length):
    start = BASE + dt.timedelta(minutes=a)
    end = start + dt.timedelta(minutes=length)
    assert business_seconds(hours, start, end) == brute_seconds(hours, start, end)


@settings(max_examples=60, deadline=None)
@given(hours=hours_strategy, a=minute, seconds=st.integers(1, 30 * 3600))
def test_due_time_is_exactly_that_much_working_time_later(hours, a, seconds):
    start = BASE + dt.timedelta(minutes=a)
    due = add_business_seconds(hours, start, seconds)
    assert due is not None
    assert business_seconds(hours, start, due) == pytest.approx(seconds)
    # and not a moment later than needed: the instant just before is short of the target
    assert business_seconds(hours, start, due - dt.timedelta(seconds=1)) < seconds


OPS = ["pause", "resume", "customer_reply", "agent_reply", "solve", "reopen"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    hours=st.one_of(st.none(), hours_strategy),
    events=st.lists(
        st.tuples(st.sampled_from(OPS), st.integers(0, 4 * 24 * 60)), min_size=1, max_size=14
    ),
)
def test_clock_never_runs_while_paused_and_never_double_counts(hours, events):
    """Random event sequences, in random (even out-of-order) times: pause twice, resume a
    running clock, customer replies while pending or after solving, late events."""
    clock = Clock()
    clock.start(BASE)
    running_since, last = BASE, BASE
    stopped = False
    intervals = []  # the reference: every stretch the clock should have run

    for op, offset in events:
        at = BASE + dt.timedelta(minutes=offset)
        effective = max(at, last)
        if not clock.running:
            # While paused or stopped, time passing adds nothing.
            assert clock.elapsed_at(hours, effective) == clock.elapsed
        if op in ("pause", "agent_reply"):  # agent answered: waiting on the customer
            clock.pause(hours, at)
            if running_since is not None:
                intervals.append((running_since, effective))
                running_since = None
        elif op in ("resume", "customer_reply"):  # customer wrote back: the clock goes on
            if stopped:
                clock.reopen(at)
                stopped = False
            else:
                clock.resume(at)
            if running_since is None:
                running_since = effective
        elif op == "solve":
            clock.stop(hours, at)
            if running_since is not None:
                intervals.append((running_since, effective))
                running_since = None
            stopped = True
        elif op == "reopen":
            clock.reopen(at)
            stopped = False
            if running_since is None:
                running_since = effective
        last = effective

    end = last + dt.timedelta(hours=5)
    if running_since is not None:
        intervals.append((running_since, end))

    def measure(a, b):
        return (b - a).total_seconds() if hours is None else brute_seconds(hours, a, b)

    expected = sum(measure(a, b) for a, b in intervals)
    assert clock.elapsed_at(hours, end) == pytest.approx(expected)
    # never double counts: at most the working time between the first start and the end
    assert clock.elapsed_at(hours, end) <= measure(BASE, end) + 1e-6
    # the reference intervals are disjoint and ordered
    for (_a1, b1), (a2, _b2) in zip(intervals, intervals[1:], strict=False):
        assert b1 <= a2


# --- Tickets in the database ------------------------------------------------------------------


def shanghai(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=zoneinfo.ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def vip_customer(db, monkeypatch):
    customer = make_customer(first_name="Wei", last_name="Zhang", emails=["wei@example.cn"])
    monkeypatch.setattr(services, "customer_tier", lambda pk: "vip" if pk == customer.pk else "")
    return customer


def test_vip_ticket_due_times_follow_business_hours_and_holidays(
    vip_customer, vip_policy, standard_policy, shanghai_calendar
):
    # Monday 5 Oct 2026 is inside the National Day holidays in this calendar.
    Holiday.objects.create(calendar=shanghai_calendar, date=dt.date(2026, 10, 5), name="国庆节")
    friday_5pm = shanghai(2026, 10, 2, 17, 0)
    ticket = services.create_ticket(
        customer=vip_customer,
        subject="Order not delivered",
        body="Where is my parcel?",
        channel="email",
        created_at=friday_5pm,
        auto_reply=False,
    )
    assert ticket.sla_policy == vip_policy and ticket.customer_tier == "vip"
    # 1 business hour from Friday 17:00 → Friday 18:00.
    assert ticket.first_response_due == shanghai(2026, 10, 2, 18, 0)
    # 8 business hours: 1 h on Friday, Monday is a holiday, 7 h on Tuesday → 16:00.
    assert ticket.resolution_due == shanghai(2026, 10, 6, 16, 0)


def test_standard_policy_applies_to_everyone_else_around_the_clock(db, vip_policy, standard_policy):
    customer = make_customer(emails=["someone@example.com"])
    created = dt.datetime(2026, 10, 3, 23, 0, tzinfo=UTC)  # a Saturday night
    ticket = services.create_ticket(
        customer=customer,
        subject="Hi",
        body="Question",
        channel="web",
        created_at=created,
        auto_reply=False,
    )
    assert ticket.sla_policy == standard_policy
    assert ticket.first_response_due == created + dt.timedelta(hours=4)
    assert ticket.resolution_due == created + dt.timedelta(hours=48)


def test_clock_pauses_while_waiting_on_the_customer_and_goes_on_when_they_reply(
    vip_customer, vip_policy, make_staff
):
    agent = make_staff("agent")
    monday_9 = shanghai(2026, 10, 12, 9, 0)
    ticket = services.create_ticket(
        customer=vip_customer,
        subject="Refund",
        body="Refund please",
        channel="web",
        created_at=monday_9,
        auto_reply=False,
    )
    assert ticket.resolution_due == shanghai(2026, 10, 12, 17, 0)

    # 10:00 the agent asks a question → waiting on the customer, 1 h used.
    services.reply(ticket, author=agent, body="Which order?", at=shanghai(2026, 10, 12, 10, 0))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.PENDING
    assert ticket.first_response_at == shanghai(2026, 10, 12, 10, 0)
    assert ticket.first_response_breached is False  # exactly on time
    assert ticket.sla_running_since is None and ticket.resolution_due is None
    assert ticket.sla_elapsed_seconds == 3600
    # Two days pass: the clock does not move.
    assert services.sla_elapsed(ticket, shanghai(2026, 10, 14, 12, 0)) == 3600

    # Wednesday 14:00 the customer answers → 7 business hours left → Thursday 12:00.
    services.customer_reply(ticket, body="Order A-1", at=shanghai(2026, 10, 14, 14, 0))
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.OPEN
    assert ticket.resolution_due == shanghai(2026, 10, 15, 12, 0)
    # A second reply while already running changes nothing (no restart from zero, no double).
    services.customer_reply(ticket, body="Also, thanks", at=shanghai(2026, 10, 14, 15, 0))
    ticket.refresh_from_db()
    assert ticket.resolution_due == shanghai(2026, 10, 15, 12, 0)

    # Solved Wednesday 17:00: 1 h + 3 h = 4 h used, within the target.
    services.set_status(ticket, "solved", actor=agent, at=shanghai(2026, 10, 14, 17, 0))
    ticket.refresh_from_db()
    assert ticket.sla_elapsed_seconds == 4 * 3600
    assert ticket.resolution_breached is False


def test_escalation_fires_exactly_once(smtp, team, django_capture_on_commit_callbacks, db):
    customer = make_customer(emails=["late@example.com"])
    policy = SLAPolicy.objects.create(
        name="Fast",
        first_response_minutes=30,
        resolution_minutes=120,
        escalate_to=team,
        warn_before_minutes=10,
    )
    created = dt.datetime(2026, 10, 12, 8, 0, tzinfo=UTC)
    with django_capture_on_commit_callbacks(execute=True):
        ticket = services.create_ticket(
            customer=customer,
            subject="Help",
            body="Nobody answers",
            channel="web",
            created_at=created,
            auto_reply=False,
        )
    assert ticket.sla_policy == policy

    # 8:25 — five minutes before the first response is due: a warning, no escalation.
    result = services.check_sla(created + dt.timedelta(minutes=25))
    assert (result.warned, result.escalated) == (1, 0)
    assert services.check_sla(created + dt.timedelta(minutes=26)).warned == 0
    warnings = Message.objects.filter(ticket=ticket, internal=True, body__startswith="[sla-warn")
    assert warnings.count() == 1

    # 9:00 — breached. The monitor runs three times (and the periodic task once more).
    with django_capture_on_commit_callbacks(execute=True):
        first = services.check_sla(created + dt.timedelta(minutes=31))
        second = services.check_sla(created + dt.timedelta(minutes=45))
        services.check_sla(created + dt.timedelta(hours=3))
        tasks.sla_monitor.call_local()
        tasks.escalate_ticket.call_local(ticket.pk)  # a retried job must not repeat it either
    assert first.escalated == 1 and second.escalated == 0
    ticket.refresh_from_db()
    assert ticket.escalated_at == created + dt.timedelta(minutes=31)
    assert ticket.first_response_breached is True
    assert ticket.priority == Ticket.Priority.URGENT and ticket.team == team
    notes = Message.objects.filter(ticket=ticket, internal=True, body__contains="escalat")
    assert notes.count() == 1
    mails = smtp.wait_for(1)
    assert [m["To"] for m in mails] == ["lead.wang@shop.example"]
    assert "[SLA]" in mails[0]["Subject"]
    assert AuditEntry.objects.filter(object_id=ticket.pk, note="SLA escalation").count() == 1


TICKET_OPS = ["agent_reply", "customer_reply", "internal_note", "pending", "open", "solve"]


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    steps=st.lists(
        st.tuples(st.sampled_from(TICKET_OPS), st.integers(1, 18 * 60)), min_size=1, max_size=8
    ),
    start=st.integers(0, 5 * 24 * 60),
)
def test_ticket_clock_through_the_services_matches_the_status_history(
    vip_customer, vip_policy, make_staff, steps, start
):
    """The same property end to end: random replies and status changes through the services
    (in business hours of the Shanghai calendar); the banked working time equals the working
    minutes spent while the ticket was new or open, counted one by one."""
    from django.contrib.auth.models import User

    agent = User.objects.filter(username="prop-agent").first() or make_staff(
        "agent", username="prop-agent"
    )
    hours = services.hours_of(vip_policy.calendar)
    at = BASE + dt.timedelta(minutes=start)
    ticket = services.create_ticket(
        customer=vip_customer,
        subject="Prop",
        body="?",
        channel="web",
        created_at=at,
        auto_reply=False,
    )
    history = [(at, ticket.status)]
    for op, gap in steps:
        at += dt.timedelta(minutes=gap)
        if op == "agent_reply":
            services.reply(ticket, author=agent, body="answer", at=at)
        elif op == "customer_reply":
            services.customer_reply(ticket, body="more", at=at)
        elif op == "internal_note":
            services.reply(ticket, author=agent, body="note", internal=True, at=at)
        elif op == "pending":
            services.set_status(ticket, Ticket.Status.PENDING, actor=agent, at=at)
        elif op == "open":
            services.set_status(ticket, Ticket.Status.OPEN, actor=agent, at=at)
        else:
            services.set_status(ticket, Ticket.Status.SOLVED, actor=agent, at=at)
        ticket.refresh_from_db()
        history.append((at, ticket.status))

    end = at + dt.timedelta(hours=30)
    history.append((end, None))
    expected = sum(
        brute_seconds(hours, t0, t1)
        for (t0, status), (t1, _next) in zip(history, history[1:], strict=False)
        if status in (Ticket.Status.NEW, Ticket.Status.OPEN)
    )
    assert services.sla_elapsed(ticket, end) == pytest.approx(expected)
    if ticket.status == Ticket.Status.PENDING:
        assert ticket.resolution_due is None  # paused: no due time runs out while waiting


def test_check_sla_command_reports_what_it_did(db, make_staff):
    import io

    from django.core.management import call_command

    customer = make_customer(emails=["cmd@example.com"])
    SLAPolicy.objects.create(name="Tight", first_response_minutes=1, resolution_minutes=5)
    long_ago = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
    services.create_ticket(
        customer=customer,
        subject="Old",
        body="?",
        channel="phone",
        created_at=long_ago,
        auto_reply=False,
    )
    out = io.StringIO()
    call_command("service", "check-sla", stdout=out)
    assert out.getvalue().strip() == "0 warned, 1 escalated, 1 breached"
    out = io.StringIO()
    call_command("service", "check-sla", stdout=out)
    assert out.getvalue().strip() == "0 warned, 0 escalated, 1 breached"
