"""Background-job wiring.

Huey is the job runner: with no ``REDIS_URL`` its queue is a SQLite file in the data dir (no
extra server); with ``REDIS_URL`` it is Redis. ``guanxi worker`` consumes it. Huey gives task
retries with a delay and crontab-style periodic tasks (see ``guanxi/core/tasks.py``); nothing in
Guanxi schedules by hand.

Capabilities that need to run on the nightly or daily schedule register a plain function::

    from guanxi.tasks import schedule_job

    @schedule_job("nightly")
    def refresh_analytics(): ...
"""

import logging
from collections.abc import Callable

from huey.contrib.djhuey import HUEY as huey  # noqa: N811

log = logging.getLogger("guanxi.jobs")
SCHEDULES = ("nightly", "daily", "minute")
_jobs: dict[str, list[Callable[[], object]]] = {name: [] for name in SCHEDULES}


def schedule_job(schedule: str):
    """Register ``func`` to run on ``schedule`` ("nightly" at 02:00, "daily" at 07:00 UTC,
    "minute": every minute, for sending)."""
    if schedule not in _jobs:
        raise ValueError(f"unknown schedule {schedule!r}; use one of {SCHEDULES}")

    def register(func):
        if func not in _jobs[schedule]:
            _jobs[schedule].append(func)
        return func

    return register


def scheduled_jobs(schedule: str) -> list[Callable[[], object]]:
    return list(_jobs[schedule])


def run_scheduled_jobs(schedule: str) -> dict[str, str]:
    """Run every job of a schedule; one failing job does not stop the others, but re-raises at
    the end so Huey retries the periodic task."""
    outcome, failed = {}, None
    for job in _jobs[schedule]:
        name = f"{job.__module__}.{job.__qualname__}"
        try:
            job()
            outcome[name] = "ok"
        except Exception as exc:  # noqa: BLE001 - reported and re-raised below
            log.exception("scheduled job %s failed", name)
            outcome[name] = f"failed: {exc}"
            failed = exc
    if failed is not None:
        raise failed
    return outcome


__all__ = ["huey", "run_scheduled_jobs", "schedule_job", "scheduled_jobs"]
