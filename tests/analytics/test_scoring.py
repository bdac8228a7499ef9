"""RFM, value tiers, lifecycle stages and health on a store small enough to score by hand.

The hand-made store (``conftest.HAND_ORDERS``), scored as of 2026-01-01 00:00 UTC:

    cust  orders  net revenue  last order (days)  first order (days)
    c1    6       1000         5                  305
    c2    4        200         10                 100
    c3    7        100         60                 210
    c4    1         20         3                  3
    c5    2         40         20                 50
    c6    1         30         80                 80
    c7    5        500         150                430   (600 bought, 100 returned)
    c8    3         60         400                600
    c9    2         10         200                260   (+ a cancelled 999, ignored)
    c10   2         50         500                530
    p     0          0         -                  -

RFM: ten buyers ranked worst → best (ties by customer id), rank k → score ⌊5k/10⌋ + 1, so two
customers per score.
- R by days since last order, most days first: c10 c8 | c9 c7 | c6 c3 | c5 c2 | c1 c4.
- F by orders: c4(1) c6(1) | c5(2) c9(2) | c10(2) c8(3) | c2(4) c7(5) | c1(6) c3(7) — c10 has
  2 orders like c5 and c9 but the highest id of the three, so it lands in F3.
- M by net revenue: c9 c4 | c6 c5 | c10 c8 | c3 c2 | c7 c1.

Groups (first rule that holds; FM = F + M): champions R≥4 & FM≥8 (c1 555, c2 444); loyal R≥3 &
FM≥6 (c3 354); recent R≥4 (c4 511, c5 422); needs attention R=3 (c6 312); at risk FM≥6 (c7 245,
c8 133, c10 133); inactive (c9 221).

Tiers (total 2010; cut points 0.8 / 0.95 / 0.99 on the share *before* the customer), richest
first: c1 1000 (0 → vip), c7 500 (.4975 vip), c2 200 (.7463 vip), c3 100 (.8458 gold), c8 60
(.8955 gold), c10 50 (.9254 gold), c5 40 (.9502 silver), c6 30 (.9701 silver), c4 20 (.9851
silver), c9 10 (.9950 standard).

Lifecycle (new ≤ 30 days since first order; lapsed > 365 days; at risk > 2 × usual gap, at least
30, with 2+ orders, else > 90 days): c1 gap 60 → 120, 5 days: active; c2 gap 30 → 60: active;
c3 gap 25 → 50, 60 days: at risk; c4 first order 3 days ago: new; c5 gap 30, 20 days: active;
c6 one order 80 days ago ≤ 90: active; c7 gap 70 → 140, 150 days: at risk; c8 400 days: lapsed;
c9 gap 60 → 120, 200 days: at risk; c10 500 days: lapsed; p: prospect.
"""

import pytest

from guanxi.analytics.models import AnalyticsRun, CustomerScore
from guanxi.analytics.services import refresh_analytics
from tests.analytics.conftest import AS_OF

EXPECTED = {
    # name: (R, F, M, group, tier, stage)
    "c1": (5, 5, 5, "champions", "vip", "active"),
    "c2": (4, 4, 4, "champions", "vip", "active"),
    "c3": (3, 5, 4, "loyal", "gold", "at_risk"),
    "c4": (5, 1, 1, "recent", "silver", "new"),
    "c5": (4, 2, 2, "recent", "silver", "active"),
    "c6": (3, 1, 2, "needs_attention", "silver", "active"),
    "c7": (2, 4, 5, "at_risk", "vip", "at_risk"),
    "c8": (1, 3, 3, "at_risk", "gold", "lapsed"),
    "c9": (2, 2, 1, "inactive", "standard", "at_risk"),
    "c10": (1, 3, 3, "at_risk", "gold", "lapsed"),
    "p": (None, None, None, "prospect", "none", "prospect"),
}


@pytest.fixture
def scores(hand_store):
    run = refresh_analytics(engine="duckdb", as_of=AS_OF)
    by_id = {s.customer_id: s for s in CustomerScore.objects.filter(run=run)}
    return run, {name: by_id[c.pk] for name, c in hand_store.items()}


def test_rfm_groups_tiers_and_stages_match_the_hand_computation(scores):
    _run, by_name = scores
    got = {
        name: (s.r_score, s.f_score, s.m_score, s.rfm_group, s.tier, s.lifecycle_stage)
        for name, s in by_name.items()
    }
    assert got == EXPECTED


def test_purchase_summary_is_net_of_returns_and_ignores_cancelled(scores):
    _run, s = scores
    assert (s["c7"].orders_count, float(s["c7"].revenue), s["c7"].recency_days) == (5, 500.0, 150)
    assert (s["c9"].orders_count, float(s["c9"].revenue), s["c9"].recency_days) == (2, 10.0, 200)
    assert s["c7"].explanation["summary"]["returns"] == 100.0
    assert (s["p"].orders_count, s["p"].recency_days, s["p"].health_score) == (0, None, None)
    assert s["c1"].first_order_at.date().isoformat() == "2025-03-02"  # 305 days before


def test_tier_explanation_shows_the_pareto_numbers(scores):
    _run, s = scores
    tier = s["c3"].explanation["tier"]
    assert tier["revenue_rank"] == 4
    assert tier["share_before"] == pytest.approx(1700 / 2010, abs=1e-4)
    assert tier["cumulative_share"] == pytest.approx(1800 / 2010, abs=1e-4)
    assert tier["thresholds"] == [0.8, 0.95, 0.99]
    assert s["c3"].cumulative_revenue_share == pytest.approx(1800 / 2010)
    assert s["c9"].cumulative_revenue_share == pytest.approx(1.0)


def test_health_score_by_hand(scores):
    """c4: recency 1 − 3/365; trend (1 recent + 1)/(1 + 0 + 2); no returns.
    (0.4 × 0.99178 + 0.25 × 0.66667 + 0.2 × 1) / 0.85 = 0.8981 → 90.
    c7: recency 1 − 150/365; 1 order in the last 180 days, 2 in the 180 before → 2/5; returns
    1 − 100/600. (0.4 × 0.58904 + 0.25 × 0.4 + 0.2 × 0.83333) / 0.85 = 0.5909 → 59."""
    _run, s = scores
    assert s["c4"].health_score == 90
    assert s["c7"].health_score == 59
    factors = s["c7"].explanation["health"]["factors"]
    assert factors["returns"]["value"] == pytest.approx(1 - 100 / 600, abs=1e-4)
    assert factors["frequency_trend"]["recent_orders"] == 1
    assert factors["frequency_trend"]["prior_orders"] == 2
    assert factors["service"]["value"] is None  # placeholder until tickets exist


def test_stage_explanation_says_why(scores):
    _run, s = scores
    stage = s["c3"].explanation["stage"]
    assert stage["at_risk_after_days"] == pytest.approx(50.0)
    assert stage["reason"] == "no order for 60 days > 50"
    assert s["c4"].explanation["stage"]["reason"] == "first order 3 days ago ≤ 30"


def test_profitability_by_customer_type_is_recorded(scores):
    run, _s = scores
    assert run.status == AnalyticsRun.Status.SUCCEEDED
    (row,) = run.outputs["profitability_by_customer_type"]
    assert row["customer_type"] == "individual"
    assert (row["customers"], row["buyers"], row["orders"]) == (11, 10, 33)
    assert (row["gross_revenue"], row["returns"], row["revenue"]) == (2110.0, 100.0, 2010.0)
    assert row["margin"] is None


def test_tier_thresholds_come_from_settings(hand_store, settings):
    settings.GUANXI_TIER_THRESHOLDS = (0.5, 0.9, 0.99)
    run = refresh_analytics(engine="duckdb", as_of=AS_OF)
    tiers = dict(CustomerScore.objects.filter(run=run).values_list("customer_id", "tier"))
    # Shares before: c1 0 → vip, c7 .4975 → vip, c2 .7463 → gold.
    assert tiers[hand_store["c7"].pk] == "vip"
    assert tiers[hand_store["c2"].pk] == "gold"
    assert run.params["tier_thresholds"] == [0.5, 0.9, 0.99]
