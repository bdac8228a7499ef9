"""Reads for the console and the API."""

from django.db.models import Count, Q, QuerySet

from guanxi.marketing.models import Campaign, Delivery, Flow, FlowRun


def campaigns_with_counts() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("segment", "template").annotate(
        recipients=Count("deliveries"),
        sent=Count("deliveries", filter=Q(deliveries__state=Delivery.State.SENT)),
    )


def flows_with_counts() -> QuerySet[Flow]:
    return Flow.objects.select_related("template", "condition").annotate(
        waiting=Count("runs", filter=Q(runs__state=FlowRun.State.WAITING)),
        fired=Count("runs"),
    )
