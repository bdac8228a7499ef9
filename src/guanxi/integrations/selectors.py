"""Reads for the console's integrations page."""

from django.db.models import Count, Q, QuerySet

from guanxi.integrations.models import (
    DeadLetter,
    InboundWebhook,
    Store,
    WebhookDelivery,
    WebhookSubscription,
)


def stores() -> QuerySet:
    return Store.objects.annotate(
        pending_dead_letters=Count(
            "dead_letters", filter=Q(dead_letters__status=DeadLetter.Status.PENDING)
        )
    ).order_by("name")


def dead_letters(status: str = DeadLetter.Status.PENDING) -> QuerySet:
    letters = DeadLetter.objects.select_related("store")
    return letters.filter(status=status) if status else letters


def inbound_log() -> QuerySet:
    return InboundWebhook.objects.select_related("store")


def subscriptions() -> QuerySet:
    return WebhookSubscription.objects.select_related("store").annotate(
        delivered=Count("deliveries", filter=Q(deliveries__status="succeeded")),
        failed=Count("deliveries", filter=Q(deliveries__status="failed")),
    )


def deliveries() -> QuerySet:
    return WebhookDelivery.objects.select_related("subscription")
