"""Background jobs of the service desk (Huey; ``guanxi worker`` runs them).

Every five minutes the SLA monitor warns about tickets close to a breach and queues one
escalation per breached ticket; hourly, unanswered CSAT surveys get their one reminder; daily,
solved tickets close after a few days.
"""

import logging

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

log = logging.getLogger("guanxi.jobs")


@db_periodic_task(crontab(minute="*/5"), retries=1, retry_delay=60)
def sla_monitor():
    from guanxi.service.services import check_sla

    result = check_sla()
    log.info(
        "SLA monitor: %d warned, %d escalated, %d breached",
        result.warned,
        result.escalated,
        result.breached,
    )
    return result.escalated


@db_task(retries=3, retry_delay=60)
def escalate_ticket(ticket_id: int):
    from guanxi.service.services import escalate

    return escalate(ticket_id)


@db_task(retries=3, retry_delay=60)
def warn_ticket(ticket_id: int):
    from guanxi.service.services import warn_breach

    return warn_breach(ticket_id)


@db_periodic_task(crontab(minute="15"), retries=1, retry_delay=300)
def survey_reminders():
    from guanxi.service.services import send_survey_reminders

    return send_survey_reminders()


@db_periodic_task(crontab(minute="45", hour="6"), retries=2, retry_delay=600)
def close_solved_tickets():
    """Daily at 06:45 UTC: solved tickets close after GUANXI_SERVICE_CLOSE_SOLVED_DAYS."""
    from guanxi.service.services import close_solved_tickets as close

    return close()
