"""Background sending: every minute, scheduled campaigns are queued and due messages sent."""

import time

from django.utils import timezone

from guanxi.tasks import schedule_job

BUDGET_S = 50  # stay inside the minute: the next tick picks up the rest


@schedule_job("minute")
def send_due_messages() -> dict[str, int]:
    from guanxi.marketing.models import Campaign
    from guanxi.marketing.services import queue_campaign, send_due

    for campaign in Campaign.objects.filter(
        status=Campaign.Status.SCHEDULED, scheduled_at__lte=timezone.now()
    ):
        queue_campaign(campaign)
    totals = {"sent": 0, "deferred": 0, "skipped": 0, "failed": 0}
    started = time.monotonic()
    while time.monotonic() - started < BUDGET_S:
        report = send_due()
        for key in totals:
            totals[key] += getattr(report, key)
        if not (
            report.sent or report.deferred or report.skipped or report.failed or report.retried
        ):
            break
    return totals


@schedule_job("minute")
def read_bounce_mailbox() -> dict[str, int]:
    """Every minute, when a bounce mailbox is configured: apply its new reports."""
    from django.conf import settings

    from guanxi.marketing import bounces

    if not getattr(settings, "GUANXI_BOUNCE_IMAP_URL", ""):
        return {}
    outcome = bounces.fetch()
    return {"recorded": outcome.recorded, "duplicates": outcome.duplicates}
