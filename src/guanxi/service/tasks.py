"""Background jobs of the service desk (Huey; ``guanxi worker`` runs them).

Every five minutes the SLA monitor warns about tickets close to a breach and queues one
escalation per breached ticket; hourly, unanswered CSAT surveys get their one reminder.
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
