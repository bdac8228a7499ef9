"""Flows: trigger → wait → condition → send.

``find_triggers(now)`` looks at the data for what happened (new profiles, birthdays coming up,
periodic purchases falling due, orders placed, lifecycle stages changed, order statuses) and
creates one FlowRun per (flow, customer, trigger key) — unique, so looking twice fires once.
``run_due_flows(now)`` takes runs whose wait is over, checks the flow's condition (a segment the
customer must be in at that moment) and hands the message to the sender as a Delivery keyed by
the run, where consent, the frequency cap and quiet hours apply as for every email.
``notify_product_updated`` fires the "product updated" flow for every past buyer (S3.16).

Scanning the data instead of listening for signals means bulk imports, the API and webhooks all
trigger flows alike, and a worker that was down catches up (windows below).
"""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone

from guanxi.marketing.models import Flow, FlowRun
from guanxi.tasks import schedule_job

# How far back event triggers look: a worker down for less than this misses nothing.
LOOKBACK = dt.timedelta(days=2)


def _fire(flow: Flow, customer_id: int, key: str, at: dt.datetime, context=None) -> bool:
    """Create the run (once); returns whether it is new."""
    if FlowRun.objects.filter(flow=flow, customer_id=customer_id, trigger_key=key).exists():
        return False
    try:
        with transaction.atomic():
            FlowRun.objects.create(
                flow=flow,
                customer_id=customer_id,
                trigger_key=key,
                context=context or {},
                due_at=at + dt.timedelta(days=flow.wait_days),
            )
    except IntegrityError:  # another worker fired it first
        return False
    return True


def _live_customers():
    from guanxi.customers.models import Customer

    return Customer.objects.filter(merged_into__isnull=True, archived_at__isnull=True)


def _signed_up(flow: Flow, now: dt.datetime) -> int:
    rows = _live_customers().filter(created_at__gte=now - LOOKBACK, created_at__lte=now)
    return sum(_fire(flow, pk, "signed_up", at) for pk, at in rows.values_list("pk", "created_at"))


def _birthday(flow: Flow, now: dt.datetime) -> int:
    days = int(flow.trigger_config.get("days_before", 0))
    fired = 0
    today = timezone.localdate(now)
    # Each day of the look-back window, so a missed day is caught up (same key: fires once).
    for back in range(LOOKBACK.days + 1):
        day = today - dt.timedelta(days=back)
        target = day + dt.timedelta(days=days)
        rows = _live_customers().filter(birthday__month=target.month, birthday__day=target.day)
        if target.month == 3 and target.day == 1 and not _leap(target.year):
            rows = rows | _live_customers().filter(birthday__month=2, birthday__day=29)
        for pk in rows.values_list("pk", flat=True):
            # Due now: the sender holds it until the end of quiet hours in their time zone.
            fired += _fire(flow, pk, f"birthday:{target.year}", now)
    return fired


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _periodic_due(flow: Flow, now: dt.datetime) -> int:
    from guanxi.analytics.models import PeriodicPattern
    from guanxi.analytics.selectors import latest_run

    run = latest_run()
    if run is None:
        return 0
    days = int(flow.trigger_config.get("days_before", 3))
    today = timezone.localdate(now)
    patterns = PeriodicPattern.objects.filter(
        run=run,
        next_due__gte=today,
        next_due__lte=today + dt.timedelta(days=days),
    ).select_related("product", "category")
    fired = 0
    for p in patterns:
        what = p.product.name if p.product_id else (p.category.name if p.category_id else p.sku)
        context = {"product": what, "due_date": p.next_due.isoformat()}
        key = f"periodic:{p.sku or p.category_id}:{p.next_due.isoformat()}"
        fired += _fire(flow, p.customer_id, key, now, context)
    return fired


def _order_placed(flow: Flow, now: dt.datetime) -> int:
    from guanxi.commerce.models import Order

    orders = Order.objects.filter(
        kind=Order.Kind.ORDER,
        customer__isnull=False,
        placed_at__gte=now - LOOKBACK,
        placed_at__lte=now,
    ).exclude(status=Order.Status.CANCELLED)
    return sum(
        _fire(flow, customer_id, f"order:{pk}", at, {"order": external_id})
        for pk, customer_id, at, external_id in orders.values_list(
            "pk", "customer_id", "placed_at", "external_id"
        )
    )


def _order_status(flow: Flow, now: dt.datetime) -> int:
    from guanxi.commerce.models import Order

    status = flow.trigger_config.get("status", Order.Status.SHIPPED)
    orders = Order.objects.filter(
        customer__isnull=False, status=status, updated_at__gte=now - LOOKBACK
    )
    return sum(
        _fire(flow, customer_id, f"order:{pk}:{status}", now, {"order": external_id})
        for pk, customer_id, external_id in orders.values_list("pk", "customer_id", "external_id")
    )


def _stage_changed(flow: Flow, now: dt.datetime) -> int:
    from guanxi.analytics.models import LifecycleChange

    to_stage = flow.trigger_config.get("to_stage", "at_risk")
    changes = LifecycleChange.objects.filter(
        to_stage=to_stage, changed_at__gte=now - LOOKBACK, changed_at__lte=now
    )
    return sum(
        _fire(flow, customer_id, f"stage:{pk}", now, {"stage": to_stage})
        for pk, customer_id in changes.values_list("pk", "customer_id")
    )


SCANNERS = {
    Flow.Trigger.SIGNED_UP: _signed_up,
    Flow.Trigger.BIRTHDAY: _birthday,
    Flow.Trigger.PERIODIC_DUE: _periodic_due,
    Flow.Trigger.ORDER_PLACED: _order_placed,
    Flow.Trigger.ORDER_STATUS: _order_status,
    Flow.Trigger.STAGE_CHANGED: _stage_changed,
}


def find_triggers(now: dt.datetime | None = None) -> dict[str, int]:
    """Fire every enabled flow for what happened in the look-back window; counts per flow."""
    now = now or timezone.now()
    fired = {}
    for flow in Flow.objects.filter(enabled=True).exclude(trigger=Flow.Trigger.PRODUCT_UPDATED):
        fired[flow.name] = SCANNERS[flow.trigger](flow, now)
    return fired


def notify_product_updated(product_id: int, *, note: str = "", now=None) -> int:
    """Fire the "product updated" flows for every customer who ever bought the product (S3.16).

    Keyed by the product and the moment, so calling it again for a later update notifies again.
    """
    from guanxi.commerce.models import Order, OrderLine, Product

    now = now or timezone.now()
    product = Product.objects.get(pk=product_id)
    buyers = (
        OrderLine.objects.filter(product_id=product_id, order__kind=Order.Kind.ORDER)
        .exclude(order__customer__isnull=True)
        .values_list("order__customer_id", flat=True)
        .distinct()
    )
    fired = 0
    key = f"product:{product_id}:{now:%Y%m%d%H%M%S}"
    for flow in Flow.objects.filter(enabled=True, trigger=Flow.Trigger.PRODUCT_UPDATED):
        for customer_id in buyers:
            fired += _fire(flow, customer_id, key, now, {"product": product.name, "note": note})
    return fired


def run_due_flows(now: dt.datetime | None = None, limit: int = 1000) -> dict[str, int]:
    """Hand runs whose wait is over to the sender (or skip them when the condition fails)."""
    from guanxi.marketing.services import queue_delivery
    from guanxi.segments.rules import RuleError, members

    now = now or timezone.now()
    counts = {"sent": 0, "skipped": 0}
    runs = (
        FlowRun.objects.filter(state=FlowRun.State.WAITING, due_at__lte=now)
        .select_related("flow", "flow__template", "flow__condition", "customer")
        .order_by("due_at", "id")[:limit]
    )
    for run in runs:
        flow = run.flow
        ok = True
        if flow.condition is not None:
            try:
                ok = members(flow.condition.rule, now=now).filter(pk=run.customer_id).exists()
            except RuleError:
                ok = False
        if ok:
            queue_delivery(
                key=f"flow:{flow.pk}:{run.trigger_key}",
                customer=run.customer,
                template=flow.template,
                context={**run.context, **({"offer_id": flow.offer_id} if flow.offer_id else {})},
                due_at=now,
            )
        run.state = FlowRun.State.SENT if ok else FlowRun.State.SKIPPED
        run.done_at = now
        run.save(update_fields=["state", "done_at"])
        counts["sent" if ok else "skipped"] += 1
    return counts


@schedule_job("minute")
def flows_every_minute() -> dict:
    """Fire and advance flows (before the sender runs in the same tick)."""
    return {"fired": find_triggers(), "advanced": run_due_flows()}


# -- built-in flows, switched on -----------------------------------------------------------------

T = Flow.Trigger
BUILTIN_FLOWS = {
    "welcome": (
        "Welcome",
        T.SIGNED_UP,
        {},
        0,
        "marketing",
        (
            "Welcome, {{ first_name }}!",
            "Hello {{ first_name }},\n\nWelcome to our store. We are glad you are here.\n\n"
            "Unsubscribe: {{ unsubscribe_url }}",
            "欢迎你，{{ first_name }}！",
            "{{ first_name }}，您好：\n\n欢迎光临本店，很高兴认识您。"
            "\n\n退订：{{ unsubscribe_url }}",
        ),
    ),
    "birthday": (
        "Birthday greeting",
        T.BIRTHDAY,
        {"days_before": 0},
        0,
        "marketing",
        (
            "Happy birthday, {{ first_name }}!",
            "Happy birthday, {{ first_name }}! We wish you a wonderful day.\n\n"
            "Unsubscribe: {{ unsubscribe_url }}",
            "{{ first_name }}，生日快乐！",
            "{{ first_name }}，祝您生日快乐，度过美好的一天！\n\n退订：{{ unsubscribe_url }}",
        ),
    ),
    "periodic": (
        "Periodic purchase reminder",
        T.PERIODIC_DUE,
        {"days_before": 3},
        0,
        "marketing",
        (
            "Time for {{ product }} again?",
            "Hello {{ first_name }},\n\nyou usually buy {{ product }} around {{ due_date }}. "
            "Shall we get it ready?\n\nUnsubscribe: {{ unsubscribe_url }}",
            "又到购买{{ product }}的时候了吗？",
            "{{ first_name }}，您好：\n\n您通常在 {{ due_date }} 前后购买{{ product }}，"
            "需要为您准备吗？"
            "\n\n退订：{{ unsubscribe_url }}",
        ),
    ),
    "post_purchase": (
        "Post-purchase care",
        T.ORDER_PLACED,
        {},
        7,
        "marketing",
        (
            "How is your order {{ order }}?",
            "Hello {{ first_name }},\n\nwe hope you enjoy your order {{ order }}. Reply to this "
            "email if anything is not right.\n\nUnsubscribe: {{ unsubscribe_url }}",
            "您的订单 {{ order }} 还满意吗？",
            "{{ first_name }}，您好：\n\n希望您喜欢订单 {{ order }} 中的商品。"
            "如有任何问题，请直接回复本邮件。"
            "\n\n退订：{{ unsubscribe_url }}",
        ),
    ),
    "win_back": (
        "Win-back",
        T.STAGE_CHANGED,
        {"to_stage": "at_risk"},
        0,
        "marketing",
        (
            "We miss you, {{ first_name }}",
            "Hello {{ first_name }},\n\nit has been a while. Here is what is new in the store.\n\n"
            "Unsubscribe: {{ unsubscribe_url }}",
            "{{ first_name }}，好久不见",
            "{{ first_name }}，您好：\n\n好久不见，来看看店里的新品吧。"
            "\n\n退订：{{ unsubscribe_url }}",
        ),
    ),
    "product_updated": (
        "Product updated",
        T.PRODUCT_UPDATED,
        {},
        0,
        "transactional",
        (
            "News about {{ product }}",
            "Hello {{ first_name }},\n\n{{ product }}, which you bought from us, has an update:\n"
            "{{ note }}",
            "{{ product }} 有更新",
            "{{ first_name }}，您好：\n\n您购买的{{ product }}有更新：\n{{ note }}",
        ),
    ),
}
for _status, _en, _zh in (
    ("paid", "paid", "已付款"),
    ("shipped", "shipped", "已发货"),
    ("delivered", "delivered", "已送达"),
    ("returned", "returned", "已退货"),
):
    BUILTIN_FLOWS[f"order_{_status}"] = (
        f"Order {_en}",
        T.ORDER_STATUS,
        {"status": _status},
        0,
        "transactional",
        (
            f"Your order {{{{ order }}}} is {_en}",
            f"Hello {{{{ first_name }}}},\n\nyour order {{{{ order }}}} is {_en}.",
            f"您的订单 {{{{ order }}}} {_zh}",
            f"{{{{ first_name }}}}，您好：\n\n您的订单 {{{{ order }}}} {_zh}。",
        ),
    )


def ensure_builtin_flows() -> list[Flow]:
    """Create the built-in flows (switched on) and their templates; idempotent, edits kept."""
    from guanxi.marketing.models import EmailTemplate

    made = []
    for key, (name, trigger, config, wait, purpose, texts) in BUILTIN_FLOWS.items():
        if Flow.objects.filter(builtin=key).exists():
            continue
        subject_en, body_en, subject_zh, body_zh = texts
        template, _ = EmailTemplate.objects.get_or_create(
            name=f"{name} (flow)",
            defaults={
                "purpose": purpose,
                "subject_en": subject_en,
                "body_en": body_en,
                "subject_zh": subject_zh,
                "body_zh": body_zh,
            },
        )
        made.append(
            Flow.objects.create(
                name=name,
                trigger=trigger,
                trigger_config=config,
                wait_days=wait,
                template=template,
                builtin=key,
            )
        )
    return made
