"""Reads for the console and the API."""

from django.db.models import Count, Q, QuerySet

from guanxi.marketing.models import Campaign, Delivery, Flow, FlowRun


def campaigns_with_counts() -> QuerySet[Campaign]:
    return Campaign.objects.select_related("segment", "template").annotate(
        recipients=Count("deliveries"),
        sent=Count("deliveries", filter=Q(deliveries__state=Delivery.State.SENT)),
    )


def campaigns() -> QuerySet[Campaign]:
    return Campaign.objects.order_by("-created_at", "-id")


def offers_with_counts() -> QuerySet:
    from guanxi.marketing.models import Offer

    return Offer.objects.annotate(
        issued=Count("coupons"),
        redeemed=Count("coupons", filter=Q(coupons__redeemed_at__isnull=False)),
    ).order_by("-active", "name")


def recent_bounces(kind: str = "") -> QuerySet:
    from guanxi.marketing.models import BounceReport

    rows = BounceReport.objects.select_related("customer", "delivery")
    return rows.filter(kind=kind) if kind else rows


def flows_with_counts() -> QuerySet[Flow]:
    return Flow.objects.select_related("template", "condition").annotate(
        waiting=Count("runs", filter=Q(runs__state=FlowRun.State.WAITING)),
        fired=Count("runs"),
    )
