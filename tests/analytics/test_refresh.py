"""The refresh: run log, lifecycle transitions, the simulated store, command, schedule, imports."""

import datetime as dt
import io

import pytest
from django.core.management import call_command

from guanxi.analytics import jobs, scoring
from guanxi.analytics.models import (
    AnalyticsRun,
    CategoryAffinity,
    CustomerScore,
    LifecycleChange,
)
from guanxi.analytics.services import STEPS, refresh_analytics
from guanxi.commerce.models import ImportRun, Order, OrderLine
from guanxi.customers.models import Customer
from guanxi.simulate.generator import DEFAULT_END, generate_store
from guanxi.simulate.services import load_store
from guanxi.tasks import scheduled_jobs
from tests.analytics.conftest import AS_OF, add_order


def _stages(run) -> dict[int, str]:
    return dict(CustomerScore.objects.filter(run=run).values_list("customer_id", "lifecycle_stage"))


def test_won_back_after_at_risk_writes_stage_changes(hand_store):
    """c9 (2 orders 60 days apart, the last 200 days ago) is at risk; an order 10 days after the
    first run wins them back in the second run, and the third run calls them active again.
    Meanwhile c6 (one order, 80 days ago) passes 90 days without ordering: active → at risk."""
    c9, c6 = hand_store["c9"], hand_store["c6"]
    first = refresh_analytics(engine="duckdb", as_of=AS_OF)
    assert _stages(first)[c9.pk] == "at_risk"
    assert not LifecycleChange.objects.exists()  # nothing to compare with on the first run

    add_order(c9, -10, 40)  # 10 days after AS_OF
    second_as_of = AS_OF + dt.timedelta(days=15)
    second = refresh_analytics(engine="duckdb", as_of=second_as_of)
    assert second.inputs["previous_run"] == first.pk
    changes = {
        c.customer_id: (c.from_stage, c.to_stage, c.changed_at)
        for c in LifecycleChange.objects.filter(run=second)
    }
    assert changes == {
        c9.pk: ("at_risk", "won_back", second_as_of),
        c6.pk: ("active", "at_risk", second_as_of),
    }
    score = CustomerScore.objects.get(run=second, customer=c9)
    assert score.explanation["stage"]["previous_stage"] == "at_risk"
    assert "was at_risk in the previous run" in score.explanation["stage"]["reason"]

    third = refresh_analytics(engine="duckdb", as_of=AS_OF + dt.timedelta(days=20))
    change = LifecycleChange.objects.get(run=third, customer=c9)
    assert (change.from_stage, change.to_stage) == ("won_back", "active")


def test_refresh_on_a_simulated_store_records_the_run(db):
    store = generate_store(customers=300, seed=1)
    load_store(store, progress=False)
    seen = []

    run = refresh_analytics(
        engine="duckdb", as_of=DEFAULT_END, progress=lambda step, i, n: seen.append((step, i, n))
    )

    run.refresh_from_db()
    assert run.status == AnalyticsRun.Status.SUCCEEDED and run.error == ""
    assert run.engine == "duckdb" and run.triggered_by == "command"
    assert [s for s, _i, _n in seen] == list(STEPS)
    assert set(run.steps) == set(STEPS) and run.duration_s > 0 and run.finished_at
    customers = Customer.objects.filter(merged_into__isnull=True).count()
    assert run.inputs["customers"] == customers
    assert run.inputs["orders"] == Order.objects.filter(customer__isnull=False).count()
    assert (
        run.inputs["order_lines"] == OrderLine.objects.filter(order__customer__isnull=False).count()
    )
    assert run.outputs["customer_scores"] == CustomerScore.objects.filter(run=run).count()
    assert run.outputs["customer_scores"] == customers
    assert run.outputs["category_affinities"] == CategoryAffinity.objects.filter(run=run).count()
    assert run.outputs["category_affinities"] > 0
    buyers = CustomerScore.objects.filter(run=run).exclude(tier="none")
    assert buyers.filter(tier="vip").exists() and buyers.filter(rfm_group="champions").exists()
    # Affinity shares of one customer add up to (at most) 1.
    some = CategoryAffinity.objects.filter(run=run).values_list("customer_id", flat=True).first()
    shares = CategoryAffinity.objects.filter(run=run, customer_id=some).values_list(
        "share", flat=True
    )
    assert sum(shares) == pytest.approx(1.0)


def test_a_failing_step_is_recorded(hand_store, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(scoring, "customer_scores", broken)
    with pytest.raises(RuntimeError, match="boom"):
        refresh_analytics(engine="duckdb", as_of=AS_OF)
    run = AnalyticsRun.objects.get()
    assert run.status == AnalyticsRun.Status.FAILED
    assert "boom" in run.error and run.finished_at is not None
    assert not CustomerScore.objects.exists()


def test_refresh_command_prints_a_summary(hand_store):
    out = io.StringIO()
    call_command(
        "analytics", "refresh", "--engine", "duckdb", "--as-of", "2025-12-31", "--quiet", stdout=out
    )
    text = out.getvalue()
    assert "on duckdb, as of 2025-12-31 23:59 UTC: succeeded" in text
    assert "customer_scores 11" in text
    assert AnalyticsRun.objects.get().as_of == dt.datetime(2025, 12, 31, 23, 59, 59, tzinfo=dt.UTC)


def test_refresh_is_scheduled_nightly():
    assert jobs.refresh_analytics_nightly in scheduled_jobs("nightly")


@pytest.mark.parametrize(("orders", "queued"), [(999, 0), (1000, 1)])
def test_large_import_queues_a_refresh_on_commit(
    db, django_capture_on_commit_callbacks, orders, queued
):
    with django_capture_on_commit_callbacks() as callbacks:
        ImportRun.objects.create(
            path="orders.csv",
            file_sha256="0" * 64,
            file_format="orders-csv",
            source="webshop",
            policy=ImportRun.Policy.REJECT,
            status=ImportRun.Status.SUCCEEDED,
            orders_created=orders,
        )
        ImportRun.objects.create(  # a failed import never triggers one
            path="bad.csv",
            file_sha256="1" * 64,
            file_format="orders-csv",
            source="webshop",
            policy=ImportRun.Policy.REJECT,
            status=ImportRun.Status.FAILED,
            orders_created=5000,
        )
    assert len(callbacks) == queued
