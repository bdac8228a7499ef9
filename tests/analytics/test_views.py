"""Console analytics page and 360 scores card, on rows written directly (not by a refresh)."""

import datetime as dt
from decimal import Decimal

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from guanxi.analytics import selectors
from guanxi.analytics.models import (
    AnalyticsRun,
    CategoryAffinity,
    CustomerScore,
    LifecycleChange,
    PeriodicPattern,
)
from guanxi.commerce.models import Category
from tests.console.factories import make_customer, make_order, make_product

pytestmark = pytest.mark.django_db

AS_OF = dt.datetime(2026, 10, 31, 23, 59, tzinfo=dt.UTC)

EXPLANATION = {
    "summary": {"orders": 7, "revenue": 1234.5, "currency": "GBP", "recency_days": 12},
    "stage": {
        "stage": "active",
        "reason": "ordered 12 days ago ≤ 60",
        "previous_stage": "new",
        "recency_days": 12,
        "days_since_first_order": 400,
        "at_risk_after_days": 60.0,
    },
    "rfm": {"r": 5, "f": 4, "m": 5, "group": "champions", "rule": "R ≥ 4 and F + M ≥ 8"},
    "tier": {
        "tier": "vip",
        "revenue_rank": 3,
        "share_before": 0.1234,
        "cumulative_share": 0.2,
        "thresholds": [0.8, 0.95, 0.99],
    },
    "health": {
        "score": 81,
        "factors": {
            "recency": {"value": 0.9, "weight": 0.4},
            "frequency_trend": {
                "value": 0.7,
                "weight": 0.3,
                "recent_orders": 3,
                "prior_orders": 2,
                "window_days": 180,
            },
            "returns": {"value": 1.0, "weight": 0.2},
            "service": {"value": None, "weight": 0.1, "note": "placeholder"},
        },
    },
}


def make_run(**fields) -> AnalyticsRun:
    defaults = {
        "engine": "duckdb",
        "status": "succeeded",
        "as_of": AS_OF,
        "inputs": {"orders": 10, "order_lines": 25},
        "outputs": {"customer_scores": 3},
        "finished_at": timezone.now(),
        "duration_s": 1.25,
    }
    return AnalyticsRun.objects.create(**(defaults | fields))


def make_score(run, customer, **fields) -> CustomerScore:
    defaults = {
        "currency": "GBP",
        "orders_count": 7,
        "revenue": Decimal("1234.50"),
        "first_order_at": AS_OF - dt.timedelta(days=400),
        "last_order_at": AS_OF - dt.timedelta(days=12),
        "recency_days": 12,
        "r_score": 5,
        "f_score": 4,
        "m_score": 5,
        "rfm_group": "champions",
        "tier": "vip",
        "cumulative_revenue_share": 0.2,
        "lifecycle_stage": "active",
        "p_alive": 0.93,
        "churn_risk": "low",
        "expected_orders_90d": 1.4,
        "expected_orders_365d": 5.2,
        "clv": Decimal("880.00"),
        "next_order_date": dt.date(2026, 11, 20),
        "health_score": 81,
        "explanation": EXPLANATION,
    }
    return CustomerScore.objects.create(run=run, customer=customer, **(defaults | fields))


@pytest.fixture
def analysed():
    """Three customers with orders and one successful run with scores, affinity and a pattern."""
    ann = make_customer(first_name="Ann", last_name="Lee")
    bob = make_customer(first_name="Bob", last_name="Novak")
    cy = make_customer(first_name="Cy", last_name="Prospect")
    product = make_product("GIFT-1", "Mother's Day Bouquet")
    first = AS_OF - dt.timedelta(days=70)
    make_order(ann, placed_at=first, external_id="A-1")
    make_order(ann, placed_at=first + dt.timedelta(days=35), external_id="A-2")
    make_order(bob, placed_at=first + dt.timedelta(days=3), external_id="B-1")
    run = make_run()
    make_score(run, ann, first_order_at=first)
    make_score(
        run,
        bob,
        orders_count=1,
        revenue=Decimal("20.00"),
        first_order_at=first + dt.timedelta(days=3),
        tier="standard",
        rfm_group="recent",
        lifecycle_stage="new",
        p_alive=None,
        churn_risk="not_enough_data",
        clv=None,
        next_order_date=None,
        explanation={"stage": {"recency_days": 67}},
    )
    make_score(
        run,
        cy,
        orders_count=0,
        revenue=Decimal("0"),
        first_order_at=None,
        last_order_at=None,
        recency_days=None,
        r_score=None,
        f_score=None,
        m_score=None,
        rfm_group="prospect",
        tier="none",
        lifecycle_stage="prospect",
        p_alive=None,
        churn_risk="not_enough_data",
        clv=None,
        health_score=None,
        explanation={},
    )
    category = Category.objects.create(source="test", external_id="GIFT", name="Gifts")
    CategoryAffinity.objects.create(
        run=run, customer=ann, category=category, share=0.42, score=2.5, trend=0.1
    )
    PeriodicPattern.objects.create(
        run=run,
        customer=ann,
        kind="yearly",
        product=product,
        sku="GIFT-1",
        period_days=365.2,
        month=5,
        occurrences=2,
        confidence=0.71,
        last_purchase_at=dt.datetime(2026, 5, 9, tzinfo=dt.UTC),
        next_due=AS_OF.date() + dt.timedelta(days=10),
    )
    LifecycleChange.objects.create(
        customer=ann, run=run, from_stage="new", to_stage="active", changed_at=AS_OF
    )
    return {"run": run, "ann": ann, "bob": bob, "cy": cy}


def login(client, make_staff, role):
    user = make_staff(role)
    client.force_login(user)
    return user


def test_anonymous_goes_to_login(client):
    response = client.get(reverse("console:analytics"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("console:login"))


@pytest.mark.parametrize("role", ["admin", "marketer", "agent", "sales_rep", "analyst"])
def test_every_staff_role_may_open_the_page(client, make_staff, role, analysed):
    login(client, make_staff, role)
    response = client.get(reverse("console:analytics"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="pareto-chart"' in html
    # The run log needs view_analyticsrun (analysts, admins); periodic patterns need their own.
    assert ('data-testid="run-log"' in html) == (role in {"admin", "analyst"})
    assert ('data-testid="upcoming"' in html) == (role in {"admin", "analyst", "marketer"})


def test_staff_without_the_permission_gets_403(client):
    user = User.objects.create_user("norole", password="x", is_staff=True)
    client.force_login(user)
    assert client.get(reverse("console:analytics")).status_code == 403


def test_nav_links_the_page(client, make_staff):
    login(client, make_staff, "marketer")
    html = client.get(reverse("console:home")).content.decode()
    assert reverse("console:analytics") in html


def test_empty_state_says_how_to_run(client, make_staff):
    login(client, make_staff, "analyst")
    response = client.get(reverse("console:analytics"))
    html = response.content.decode()
    assert "guanxi analytics refresh" in html
    assert "analytics-data" not in html


def test_page_with_data(client, make_staff, analysed):
    login(client, make_staff, "analyst")
    response = client.get(reverse("console:analytics"))
    charts = response.context["charts"]
    assert charts["pareto"]["points"][0] == {"x": 0.0, "y": 0.0}
    assert charts["pareto"]["points"][-1] == {"x": 100.0, "y": 100.0}
    tiers = dict(zip(charts["tiers"]["keys"], charts["tiers"]["counts"], strict=True))
    assert tiers == {"vip": 1, "gold": 0, "silver": 0, "standard": 1, "none": 1}
    stages = dict(zip(charts["stages"]["keys"], charts["stages"]["counts"], strict=True))
    assert stages["active"] == 1 and stages["new"] == 1 and stages["prospect"] == 1
    assert sum(charts["churn"]["counts"]) == 1
    assert sum(charts["clv"]["counts"]) == 1
    html = response.content.decode()
    assert "Mother&#x27;s Day Bouquet" in html  # upcoming periodic purchase
    assert 'data-testid="cohorts"' in html
    assert "1.2 s" in html or "1.3 s" in html  # run duration in the log


def test_page_in_chinese(client, make_staff, analysed):
    login(client, make_staff, "analyst")
    response = client.get(reverse("console:analytics"), HTTP_ACCEPT_LANGUAGE="zh-hans")
    assert response.status_code == 200


def test_cohort_retention_counts_repeat_orders(analysed):
    cohorts = selectors.cohort_retention(analysed["run"], months=12)
    by_month = {c.month: c for c in cohorts}
    first = (AS_OF - dt.timedelta(days=70)).date().replace(day=1)
    # Ann and Bob first ordered in August; Ann ordered again the month after.
    august = by_month[first]
    assert august.customers == 2
    assert august.retention[0] == 1.0
    assert august.retention[1] == 0.5
    assert august.retention[3] is None  # not yet: past the run's month


def test_pareto_curve_and_share():
    run = make_run()
    for i, revenue in enumerate([80, 10, 5, 5, 0]):
        make_score(run, make_customer(first_name=f"C{i}"), revenue=Decimal(revenue), explanation={})
    curve = selectors.pareto_curve(run, points=4)
    assert curve == [(0.0, 0.0), (25.0, 80.0), (50.0, 90.0), (75.0, 95.0), (100.0, 100.0)]
    assert selectors.top_share(curve, 25) == 80.0


def test_latest_run_ignores_failed_and_running():
    ok = make_run(finished_at=timezone.now() - dt.timedelta(hours=2))
    make_run(status="failed", finished_at=timezone.now())
    make_run(status="running", finished_at=None)
    assert selectors.latest_run() == ok


def test_360_shows_tier_and_why(client, make_staff, analysed):
    login(client, make_staff, "analyst")
    url = reverse("console:customer_detail", args=[analysed["ann"].pk])
    html = client.get(url).content.decode()
    assert 'data-testid="scores-card"' in html
    assert 'data-testid="tier-badge"' in html
    assert "VIP" in html
    why = html.split('data-testid="tier-why">')[1].split("</div></div>")[0]
    assert "Ranked 3" in why and "12.3%" in why and "80.0%" in why
    assert "R5" in html and "Champions" in html
    assert "Last order 12 days ago." in html
    assert 'data-testid="stage-changes"' in html
    assert "81" in html and "Service experience" in html
    assert 'data-testid="predictions"' in html and "880.00" in html
    assert "Gifts" in html  # top category
    assert 'data-testid="patterns"' in html


def test_360_says_not_enough_data(client, make_staff, analysed):
    login(client, make_staff, "marketer")
    html = client.get(
        reverse("console:customer_detail", args=[analysed["bob"].pk])
    ).content.decode()
    assert 'data-testid="not-enough-data"' in html
    assert 'data-testid="stage-changes"' not in html  # marketers do not see stage history


def test_360_prospect_has_no_tier(client, make_staff, analysed):
    login(client, make_staff, "analyst")
    html = client.get(reverse("console:customer_detail", args=[analysed["cy"].pk])).content
    assert b"No purchases yet, so no value tier." in html


def test_360_before_any_run(client, make_staff):
    login(client, make_staff, "agent")
    customer = make_customer(first_name="Dee")
    html = client.get(reverse("console:customer_detail", args=[customer.pk])).content.decode()
    assert 'data-testid="no-run"' in html


def test_360_without_score_permission_has_no_card(client, make_staff, analysed):
    user = User.objects.create_user("viewer", password="x", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_customer"))
    client.force_login(user)
    html = client.get(reverse("console:customer_detail", args=[analysed["ann"].pk])).content
    assert b'data-testid="scores-card"' not in html


def test_360_query_count_with_scores(client, make_staff, analysed, django_assert_max_num_queries):
    login(client, make_staff, "admin")
    url = reverse("console:customer_detail", args=[analysed["ann"].pk])
    with django_assert_max_num_queries(26):
        assert client.get(url).status_code == 200


def test_page_query_count_is_bounded(client, make_staff, analysed, django_assert_max_num_queries):
    login(client, make_staff, "admin")
    with django_assert_max_num_queries(20):
        assert client.get(reverse("console:analytics")).status_code == 200
