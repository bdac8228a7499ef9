"""Built-in flows fire on the simulator's data at the right moment, once, and hand their
message to the sender (where consent, the cap and quiet hours apply)."""

import datetime as dt

import pytest

from guanxi.analytics.models import LifecycleChange, PeriodicPattern
from guanxi.analytics.services import refresh_analytics
from guanxi.commerce.models import Order, OrderLine
from guanxi.customers.models import Customer
from guanxi.marketing import flows
from guanxi.marketing.models import Delivery, Flow, FlowRun, Purpose
from guanxi.segments.services import create_segment
from guanxi.simulate.services import simulate_store

pytestmark = pytest.mark.django_db
END = dt.datetime(2026, 10, 31, 23, 0, tzinfo=dt.UTC)  # the simulator's last day


@pytest.fixture
def store(db):
    simulate_store(500, seed=3, months=24, progress=False)
    refresh_analytics(as_of=END)


def runs(key: str) -> set[int]:
    return set(FlowRun.objects.filter(flow__builtin=key).values_list("customer_id", flat=True))


def only(*keys):
    Flow.objects.exclude(builtin__in=keys).update(enabled=False)


def test_builtin_flows_ship_switched_on():
    builtins = dict(Flow.objects.values_list("builtin", "enabled"))
    for key in ("welcome", "birthday", "periodic", "post_purchase", "win_back", "product_updated"):
        assert builtins[key] is True
    for status in ("paid", "shipped", "delivered", "returned"):
        assert builtins[f"order_{status}"] is True


def test_birthday_fires_on_the_day_once(store):
    only("birthday")
    live = Customer.objects.filter(merged_into__isnull=True, archived_at__isnull=True)
    birthdays = [
        c.birthday for c in live if c.birthday and (c.birthday.month, c.birthday.day) != (2, 29)
    ]
    first = min(birthdays, key=lambda b: (b.month, b.day))  # someone's birthday
    day = dt.datetime(2026, first.month, first.day, 0, 30, tzinfo=dt.UTC) + dt.timedelta(days=1)
    # The flow fires on the day, and catches up the two days before (a worker that was down
    # misses nobody); never for the days after.
    window = {(day.date() - dt.timedelta(days=k)).timetuple()[1:3] for k in range(3)}
    expected = {c.pk for c in live if c.birthday and (c.birthday.month, c.birthday.day) in window}
    flows.find_triggers(now=day)
    assert expected and runs("birthday") == expected
    flows.find_triggers(now=day + dt.timedelta(hours=5))
    assert FlowRun.objects.count() == len(expected)  # once
    flows.run_due_flows(now=day)
    assert Delivery.objects.filter(customer_id__in=expected).count() == len(expected)


def test_periodic_reminder_fires_three_days_before_the_due_date(store):
    only("periodic")
    pattern = PeriodicPattern.objects.order_by("next_due", "id").first()
    assert pattern is not None, "the simulator plants periodic buyers"
    due = dt.datetime.combine(pattern.next_due, dt.time(6), tzinfo=dt.UTC)
    flows.find_triggers(now=due - dt.timedelta(days=10))
    assert pattern.customer_id not in runs("periodic")
    flows.find_triggers(now=due - dt.timedelta(days=3))
    assert pattern.customer_id in runs("periodic")
    run = FlowRun.objects.get(flow__builtin="periodic", customer_id=pattern.customer_id)
    assert run.context["due_date"] == pattern.next_due.isoformat()


def test_win_back_fires_for_those_who_became_at_risk(store):
    only("win_back")
    later = END + dt.timedelta(days=75)
    refresh_analytics(as_of=later)
    became = set(
        LifecycleChange.objects.filter(to_stage="at_risk", changed_at=later).values_list(
            "customer_id", flat=True
        )
    )
    assert became, "75 days later some customers are at risk"
    flows.find_triggers(now=later)
    assert runs("win_back") == became


def test_post_purchase_waits_seven_days_then_queues_a_delivery(store):
    only("post_purchase")
    order = Order.objects.filter(kind="order", customer__isnull=False).order_by("-placed_at")[0]
    flows.find_triggers(now=order.placed_at + dt.timedelta(hours=1))
    run = FlowRun.objects.get(flow__builtin="post_purchase", trigger_key=f"order:{order.pk}")
    assert run.due_at == order.placed_at + dt.timedelta(days=7)
    flows.run_due_flows(now=order.placed_at + dt.timedelta(days=6))
    run.refresh_from_db()
    assert run.state == FlowRun.State.WAITING  # still waiting on day 6
    flows.run_due_flows(now=order.placed_at + dt.timedelta(days=7, minutes=1))
    delivery = Delivery.objects.get(key=f"flow:{run.flow_id}:order:{order.pk}")
    assert delivery.customer_id == order.customer_id
    assert delivery.context["order"] == order.external_id


def test_condition_segment_filters_at_the_time_of_sending(store):
    only("post_purchase")
    flow = Flow.objects.get(builtin="post_purchase")
    flow.condition = create_segment(
        name="Resellers",
        rule={"conditions": [{"field": "customer_type", "op": "in", "value": ["reseller"]}]},
    )
    flow.save()
    recent = Order.objects.filter(kind="order", customer__isnull=False).order_by("-placed_at")[:40]
    now = max(o.placed_at for o in recent)
    flows.find_triggers(now=now)
    flows.run_due_flows(now=now + dt.timedelta(days=8))
    sent = set(Delivery.objects.values_list("customer__customer_type", flat=True))
    skipped = FlowRun.objects.filter(state=FlowRun.State.SKIPPED).count()
    assert sent <= {"reseller"}
    assert skipped > 0


def test_product_update_reaches_every_past_buyer(store):
    line = OrderLine.objects.filter(order__kind="order", order__customer__isnull=False).first()
    buyers = set(
        OrderLine.objects.filter(product_id=line.product_id, order__kind="order")
        .exclude(order__customer__isnull=True)
        .values_list("order__customer_id", flat=True)
    )
    assert flows.notify_product_updated(line.product_id, note="New firmware") == len(buyers)
    flows.run_due_flows()
    deliveries = Delivery.objects.filter(key__startswith="flow:")
    assert set(deliveries.values_list("customer_id", flat=True)) == buyers
    assert set(deliveries.values_list("purpose", flat=True)) == {Purpose.TRANSACTIONAL}
