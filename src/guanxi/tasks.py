"""Background-job wiring: the Huey instance every app's ``tasks.py`` registers with.

Embedded default: a SQLite-backed queue in the data dir, consumed by ``guanxi worker``.
Production: ``REDIS_URL`` set → a Redis-backed queue. Retries with delay and crontab periodic
tasks come from Huey itself; nothing here schedules by hand.
"""

from huey.contrib.djhuey import HUEY as huey  # noqa: N811

__all__ = ["huey"]
