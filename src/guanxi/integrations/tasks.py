"""Outbound webhook deliveries on the job queue (Huey), retried with exponential back-off."""

from huey.contrib.djhuey import db_task

from guanxi.integrations.models import WebhookDelivery


@db_task()
def deliver_webhook(delivery_id: int):
    """One attempt; on failure the next one is scheduled after ``backoff_seconds``."""
    from guanxi.integrations.services import attempt_delivery

    delivery = WebhookDelivery.objects.select_related("subscription").filter(pk=delivery_id)
    delivery = delivery.first()
    if delivery is None:
        return None
    delay = attempt_delivery(delivery)
    if delay is not None:
        deliver_webhook.schedule((delivery_id,), delay=delay)
    return delivery.status
