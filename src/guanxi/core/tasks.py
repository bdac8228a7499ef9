"""Periodic jobs. Huey runs them from ``guanxi worker`` (crontab schedules, retries with delay).

Later capabilities hook their work in with :func:`guanxi.tasks.schedule_job` instead of adding
new periodic tasks, so the schedule stays in one place.
"""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from guanxi.customers.services import mark_unreachable_profiles
from guanxi.tasks import run_scheduled_jobs

log = logging.getLogger("guanxi.jobs")


@db_periodic_task(crontab(minute="0", hour="2"), retries=2, retry_delay=600)
def nightly_analytics():
    """02:00 UTC: analytics refresh (scores, tiers, CLV …) once those jobs are registered."""
    return run_scheduled_jobs("nightly")


@db_periodic_task(crontab(minute="0", hour="7"), retries=2, retry_delay=600)
def daily_flows():
    """07:00 UTC: date-driven flows (birthdays, periodic-purchase reminders)."""
    return run_scheduled_jobs("daily")


@db_periodic_task(crontab(minute="*"))
def every_minute():
    """Every minute: due messages go out (consent, frequency cap, quiet hours checked)."""
    return run_scheduled_jobs("minute")


@db_periodic_task(crontab(minute="30", hour="3"), retries=2, retry_delay=600)
def daily_profile_upkeep():
    """03:30 UTC: profiles whose every contact point failed become unreachable (S3.10)."""
    changed = mark_unreachable_profiles()
    log.info("profile upkeep: %d profile(s) marked unreachable", changed)
    return changed


@db_task(retries=3, retry_delay=30)
def import_file_in_background(path: str, file_format: str, source: str | None, policy: str):
    """Run a file import on the worker (used after uploads); retried on transient errors."""
    from guanxi.commerce.importers import import_file

    result = import_file(path, file_format=file_format, source=source, policy=policy)
    return {"orders_created": result.orders_created, "run_id": result.run_id}
