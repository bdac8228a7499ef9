"""When analytics refresh on their own: nightly, and after a large import.

Imported from ``AnalyticsConfig.ready()``, so the nightly job is registered and the import
signal connected whenever Django starts (web, worker, command).
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save

from guanxi.tasks import huey, schedule_job

log = logging.getLogger("guanxi.analytics")

# An import that creates at least this many orders changes the scores enough to refresh now
# rather than wait for the night.
LARGE_IMPORT_ORDERS = 1000


@schedule_job("nightly")
def refresh_analytics_nightly():
    """The nightly refresh (engine from settings)."""
    from guanxi.analytics.services import refresh_analytics

    return refresh_analytics(triggered_by="nightly")


@huey.task(retries=1, retry_delay=300)
def refresh_analytics_after_import(import_run_id: int):
    """A refresh queued by a large import."""
    from guanxi.analytics.services import refresh_analytics

    refresh_analytics(triggered_by=f"import #{import_run_id}")


def queue_refresh_after_import(sender, instance, **kwargs) -> None:
    """On a succeeded import with ≥ ``LARGE_IMPORT_ORDERS`` new orders, queue a refresh once
    the import's transaction commits (never for an import that is rolled back)."""
    if instance.status != "succeeded" or instance.orders_created < LARGE_IMPORT_ORDERS:
        return
    log.info(
        "import #%s created %s orders: analytics refresh queued",
        instance.pk,
        instance.orders_created,
    )
    transaction.on_commit(lambda: refresh_analytics_after_import(instance.pk))


post_save.connect(
    queue_refresh_after_import,
    sender="commerce.ImportRun",
    dispatch_uid="guanxi.analytics.refresh_after_import",
)
