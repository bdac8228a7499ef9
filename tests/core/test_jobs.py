"""Background jobs: Huey periodic schedules, retries, and the scheduled-job registry."""

import datetime as dt

import pytest
from huey.contrib.djhuey import HUEY, task

from guanxi import tasks as wiring
from guanxi.core import tasks as core_tasks
from guanxi.customers.models import ContactPoint, Customer
from guanxi.customers.services import add_contact_point, create_customer


def test_periodic_schedules_fire_at_their_hours():
    at = {
        "nightly_analytics": dt.datetime(2026, 1, 5, 2, 0),
        "daily_flows": dt.datetime(2026, 1, 5, 7, 0),
        "daily_profile_upkeep": dt.datetime(2026, 1, 5, 3, 30),
    }
    for name, moment in at.items():
        periodic = getattr(core_tasks, name)
        assert periodic.task_class().validate_datetime(moment)
        assert not periodic.task_class().validate_datetime(moment + dt.timedelta(minutes=1))


calls = {"n": 0}


@task(retries=2, retry_delay=0)
def flaky():
    calls["n"] += 1
    if calls["n"] < 3:
        raise RuntimeError("transient")
    return "done"


def test_a_failing_task_is_retried_until_it_succeeds():
    assert HUEY.immediate  # tests run Huey in its immediate mode (real task machinery, no queue)
    calls["n"] = 0
    flaky()
    assert calls["n"] == 3


def test_scheduled_jobs_run_and_failures_surface():
    ran = []

    def good():
        ran.append("good")

    def bad():
        raise ValueError("boom")

    wiring.schedule_job("daily")(good)
    try:
        assert wiring.run_scheduled_jobs("daily")[f"{__name__}.{good.__qualname__}"] == "ok"
        wiring.schedule_job("daily")(bad)
        with pytest.raises(ValueError, match="boom"):
            wiring.run_scheduled_jobs("daily")
        assert ran == ["good", "good"]  # the good job still ran before the failure surfaced
    finally:
        wiring._jobs["daily"] = [j for j in wiring._jobs["daily"] if j not in (good, bad)]
    with pytest.raises(ValueError):
        wiring.schedule_job("hourly")


@pytest.mark.django_db
def test_profile_upkeep_marks_unreachable_and_back():
    dead = create_customer(first_name="Dead", emails=["dead@example.com"])
    alive = create_customer(first_name="Alive", emails=["ok@example.com"])
    ContactPoint.objects.filter(customer=dead).update(validity=ContactPoint.Validity.INVALID)

    assert core_tasks.daily_profile_upkeep.call_local() == 1
    dead.refresh_from_db()
    alive.refresh_from_db()
    assert dead.reachability == Customer.Reachability.UNREACHABLE
    assert alive.reachability == Customer.Reachability.REACHABLE
    add_contact_point(dead, ContactPoint.Kind.PHONE, "+86 138 0000 0000")
    assert core_tasks.daily_profile_upkeep.call_local() == 1
    dead.refresh_from_db()
    assert dead.reachability == Customer.Reachability.REACHABLE
