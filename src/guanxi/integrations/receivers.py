"""Guanxi events → outbound webhooks.

Analytics sends ``run_finished`` after each successful refresh; the tier and lifecycle-stage
changes of that run go out as ``customer.tier_changed`` / ``customer.lifecycle_changed``.
Segments (``segment.entered`` / ``segment.left``) come from
``guanxi.segments.signals.membership_changed`` after a membership refresh; tickets
(``ticket.created`` / ``ticket.solved``) from ``guanxi.service.signals``.
"""

from django.dispatch import receiver

from guanxi.analytics.signals import run_finished
from guanxi.customers.signals import customers_merged
from guanxi.segments.signals import membership_changed
from guanxi.service.signals import ticket_created, ticket_solved


def score_changes(run) -> list[dict]:
    """Tier and lifecycle-stage changes a run produced (against the previous run)."""
    from guanxi.analytics.models import CustomerScore, LifecycleChange

    changes = [
        {
            "kind": "customer.lifecycle_changed",
            "customer_id": c.customer_id,
            "from": c.from_stage or None,
            "to": c.to_stage,
            "run_id": run.pk,
        }
        for c in LifecycleChange.objects.filter(run=run).order_by("customer_id")
    ]
    previous = (run.inputs or {}).get("previous_run")
    if previous:
        before = dict(
            CustomerScore.objects.filter(run_id=previous).values_list("customer_id", "tier")
        )
        for customer_id, tier in (
            CustomerScore.objects.filter(run=run)
            .order_by("customer_id")
            .values_list("customer_id", "tier")
        ):
            if customer_id in before and before[customer_id] != tier:
                changes.append(
                    {
                        "kind": "customer.tier_changed",
                        "customer_id": customer_id,
                        "from": before[customer_id],
                        "to": tier,
                        "run_id": run.pk,
                    }
                )
    return changes


@receiver(run_finished, dispatch_uid="integrations.analytics_run_finished")
def publish_score_changes(sender, run, **kwargs):
    from guanxi.integrations.models import WebhookSubscription
    from guanxi.integrations.services import publish_event

    if not WebhookSubscription.objects.filter(is_active=True).exists():
        return
    for change in score_changes(run):
        publish_event(change.pop("kind"), change)


@receiver(customers_merged, dispatch_uid="integrations.customers_merged")
def publish_merge(sender, merge, **kwargs):
    from guanxi.integrations.services import publish_event

    publish_event(
        "customer.merged",
        {
            "customer_id": merge.winner_id,
            "merged_customer_id": merge.loser_id,
            "merge_id": merge.pk,
            "automatic": merge.automatic,
        },
    )


@receiver(membership_changed, dispatch_uid="integrations.segment_membership_changed")
def publish_segment_changes(sender, segment, entered, left, **kwargs):
    from guanxi.integrations.models import WebhookSubscription
    from guanxi.integrations.services import publish_event

    if not WebhookSubscription.objects.filter(is_active=True).exists():
        return
    for kind, ids in (("segment.entered", entered), ("segment.left", left)):
        for customer_id in ids:
            publish_event(
                kind,
                {"segment_id": segment.pk, "segment": segment.name, "customer_id": customer_id},
            )


def _ticket_payload(ticket) -> dict:
    return {
        "ticket_id": ticket.pk,
        "customer_id": ticket.customer_id,
        "subject": ticket.subject,
        "channel": ticket.channel,
        "status": ticket.status,
    }


@receiver(ticket_created, dispatch_uid="integrations.ticket_created")
def publish_ticket_created(sender, ticket, **kwargs):
    from guanxi.integrations.services import publish_event

    publish_event("ticket.created", _ticket_payload(ticket))


@receiver(ticket_solved, dispatch_uid="integrations.ticket_solved")
def publish_ticket_solved(sender, ticket, **kwargs):
    from guanxi.integrations.services import publish_event

    publish_event("ticket.solved", _ticket_payload(ticket))
