"""Customer scores as pure Ibis expressions: tables in, tables out, any backend.

Each function takes Ibis tables (as registered by :func:`guanxi.analytics.engine.connect`) and
returns an Ibis table; nothing here touches Django models or a particular engine, so DuckDB and
Spark compute the same numbers from the same code. The rules are documented in
``docs/analytics.md``; the defaults live in this module and can be overridden by settings
(``GUANXI_TIER_THRESHOLDS``, ``GUANXI_LIFECYCLE_RULES``, ``GUANXI_HEALTH_WEIGHTS``).

Exactness across engines: money is summed as integer ten-thousandths (the database's own
precision, ``Decimal(18, 4)``), times are compared as integer epoch seconds, and every ranking
breaks ties by ``customer_id``, so both engines order, sum and bucket identically.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
from django.conf import settings

DAY = 86_400
MONEY_SCALE = 10_000  # Decimal(18, 4): sums are exact in integer ten-thousandths.

# Pareto value tiers: cumulative-share cut points, richest customers first. A customer is VIP
# when the customers ranked above them bring less than 80 % of revenue (so the VIPs together
# make the first 80 %), gold up to 95 %, silver up to 99 %, the rest standard.
DEFAULT_TIER_THRESHOLDS = (0.8, 0.95, 0.99)

DEFAULT_LIFECYCLE_RULES = {
    "new_days": 30,  # first order at most this many days ago → new
    "at_risk_days": 90,  # no order for longer than this (fewer than 2 orders) → at risk
    "at_risk_gap_factor": 2.0,  # …or longer than this × their usual gap (2+ orders)
    "at_risk_min_days": 30,  # the usual-gap rule never fires before this many days
    "lapsed_days": 365,  # no order for longer than this → lapsed
    "trend_days": 180,  # windows for the frequency trend and the category trend
}

# Relationship health: weighted mean of factors in [0, 1], × 100. Service experience is a
# placeholder until tickets exist: its value is unknown (None), so it is left out of the mean
# (the weights of the known factors are renormalised) — neutral, neither good nor bad.
DEFAULT_HEALTH_WEIGHTS = {
    "recency": 0.4,
    "frequency_trend": 0.25,
    "returns": 0.2,
    "service": 0.15,
}

RFM_RULES = (
    # (group, rule) in the order they are tested; FM = F + M (2…10).
    ("champions", "R ≥ 4 and F + M ≥ 8"),
    ("loyal", "R ≥ 3 and F + M ≥ 6"),
    ("recent", "R ≥ 4"),
    ("needs_attention", "R = 3"),
    ("at_risk", "R ≤ 2 and F + M ≥ 6"),
    ("inactive", "otherwise (R ≤ 2, F + M < 6)"),
)


def tier_thresholds() -> tuple[float, float, float]:
    value = getattr(settings, "GUANXI_TIER_THRESHOLDS", None) or DEFAULT_TIER_THRESHOLDS
    vip, gold, silver = (float(v) for v in value)
    if not 0 < vip <= gold <= silver <= 1:
        raise ValueError(f"GUANXI_TIER_THRESHOLDS must rise within (0, 1], got {value!r}")
    return vip, gold, silver


def lifecycle_rules() -> dict[str, float]:
    return {**DEFAULT_LIFECYCLE_RULES, **(getattr(settings, "GUANXI_LIFECYCLE_RULES", None) or {})}


def health_weights() -> dict[str, float]:
    return {**DEFAULT_HEALTH_WEIGHTS, **(getattr(settings, "GUANXI_HEALTH_WEIGHTS", None) or {})}


def epoch(as_of: dt.datetime) -> int:
    return int(as_of.timestamp())


def money_units(column: ir.NumericValue) -> ir.IntegerValue:
    """Money as integer ten-thousandths, so sums are exact and engine-independent."""
    return (column * MONEY_SCALE).round().cast("int64")


def _seconds(column: ir.TimestampValue) -> ir.IntegerValue:
    return column.epoch_seconds().cast("int64")


def _days_between(later: ir.IntegerValue, earlier: ir.IntegerValue) -> ir.IntegerValue:
    return ((later - earlier) / DAY).floor().cast("int64")


def valid_orders(orders: ir.Table, as_of: dt.datetime) -> ir.Table:
    """Orders and returns up to ``as_of``, cancelled ones ignored, with ``ts`` (epoch seconds)
    and ``units`` (absolute amount in ten-thousandths)."""
    cut = epoch(as_of)
    orders = orders.mutate(ts=_seconds(orders.placed_at))
    orders = orders.filter(orders.status != "cancelled", orders.ts <= cut)
    return orders.mutate(units=money_units(orders.total).abs())


def purchase_summary(
    customers: ir.Table, orders: ir.Table, as_of: dt.datetime, *, trend_days: int = 180
) -> ir.Table:
    """One row per customer: orders, revenue net of returns, first/last order, recency.

    Columns: customer_id, customer_type, kind, created_ts, orders_count, gross_units,
    returns_units, revenue_units (gross − returns), first_ts, last_ts (epoch seconds, null
    without orders), recency_days, tenure_days (since the first order), avg_gap_days (null with
    fewer than two orders), recent_orders (within ``trend_days`` of ``as_of``), prior_orders (the
    ``trend_days`` before that).
    """
    cut = epoch(as_of)
    valid = valid_orders(orders, as_of)
    bought = valid.filter(valid.kind == "order")
    recent_from = cut - trend_days * DAY
    prior_from = cut - 2 * trend_days * DAY
    purchases = bought.group_by("customer_id").aggregate(
        orders_count=bought.order_id.count().cast("int64"),
        gross_units=bought.units.sum(),
        first_ts=bought.ts.min(),
        last_ts=bought.ts.max(),
        recent_orders=ibis.ifelse(bought.ts > recent_from, 1, 0).sum().cast("int64"),
        prior_orders=ibis.ifelse((bought.ts > prior_from) & (bought.ts <= recent_from), 1, 0)
        .sum()
        .cast("int64"),
    )
    returned = valid.filter(valid.kind == "return")
    returns = returned.group_by("customer_id").aggregate(returns_units=returned.units.sum())

    c = customers.select(
        "customer_id", "customer_type", "kind", created_ts=_seconds(customers.created_at)
    )
    p = purchases.rename(p_customer_id="customer_id")
    r = returns.rename(r_customer_id="customer_id")
    joined = c.left_join(p, c.customer_id == p.p_customer_id).left_join(
        r, c.customer_id == r.r_customer_id
    )
    joined = joined.select(
        "customer_id",
        "customer_type",
        "kind",
        "created_ts",
        "first_ts",
        "last_ts",
        orders_count=joined.orders_count.fill_null(0),
        gross_units=joined.gross_units.fill_null(0).cast("int64"),
        returns_units=joined.returns_units.fill_null(0).cast("int64"),
        recent_orders=joined.recent_orders.fill_null(0),
        prior_orders=joined.prior_orders.fill_null(0),
    )
    return joined.mutate(
        revenue_units=joined.gross_units - joined.returns_units,
        recency_days=_days_between(ibis.literal(cut, "int64"), joined.last_ts),
        tenure_days=_days_between(ibis.literal(cut, "int64"), joined.first_ts),
        avg_gap_days=ibis.ifelse(
            joined.orders_count >= 2,
            (joined.last_ts - joined.first_ts) / DAY / (joined.orders_count - 1),
            ibis.null("float64"),
        ),
    )


def _quintile(rank0: ir.IntegerValue, count: ir.IntegerValue) -> ir.IntegerValue:
    """Rank 0…n−1 (worst first) → 1…5, equal-sized buckets (the first ones one larger)."""
    return ((rank0 * 5) / count).floor().cast("int64") + 1


def rfm_scores(summary: ir.Table) -> ir.Table:
    """RFM quintiles 1–5 (5 = best) for customers with orders; others get nulls.

    Each customer is ranked worst-to-best by one value, ties broken by ``customer_id``, and the
    rank is cut into five equal buckets: R by days since the last order (fewer is better), F by
    number of orders, M by revenue net of returns.
    """
    buyers = summary.filter(summary.orders_count > 0)
    n = buyers.customer_id.count().over(ibis.window())
    scored = buyers.mutate(
        r_score=_quintile(
            ibis.row_number().over(
                ibis.window(order_by=[buyers.recency_days.desc(), buyers.customer_id])
            ),
            n,
        ),
        f_score=_quintile(
            ibis.row_number().over(ibis.window(order_by=[buyers.orders_count, buyers.customer_id])),
            n,
        ),
        m_score=_quintile(
            ibis.row_number().over(
                ibis.window(order_by=[buyers.revenue_units, buyers.customer_id])
            ),
            n,
        ),
    )
    return scored.select("customer_id", "r_score", "f_score", "m_score")


def rfm_group(r: ir.IntegerValue, f: ir.IntegerValue, m: ir.IntegerValue) -> ir.StringValue:
    """The named group for R, F, M scores (see :data:`RFM_RULES`); ``prospect`` when null."""
    fm = f + m
    return ibis.cases(
        (r.isnull(), "prospect"),
        ((r >= 4) & (fm >= 8), "champions"),
        ((r >= 3) & (fm >= 6), "loyal"),
        (r >= 4, "recent"),
        (r == 3, "needs_attention"),
        (fm >= 6, "at_risk"),
        else_="inactive",
    )


def value_tiers(summary: ir.Table, thresholds: tuple[float, float, float]) -> ir.Table:
    """Pareto tiers by net revenue: rank customers richest first (ties by ``customer_id``).

    ``cumulative_share`` is the share of all revenue brought by this customer and everyone above;
    ``share_before`` the same without this customer. Tier by ``share_before``: below the first
    cut point → vip, below the second → gold, below the third → silver, else standard.
    Only customers with positive net revenue are ranked.
    """
    vip, gold, silver = thresholds
    payers = summary.filter(summary.revenue_units > 0)
    order = [payers.revenue_units.desc(), payers.customer_id]
    running = payers.revenue_units.sum().over(ibis.window(order_by=order, rows=(None, 0)))
    total = payers.revenue_units.sum().over(ibis.window())
    ranked = payers.mutate(
        revenue_rank=ibis.row_number().over(ibis.window(order_by=order)) + 1,
        cumulative_share=running / total,
        share_before=(running - payers.revenue_units) / total,
    )
    return ranked.select(
        "customer_id",
        "revenue_rank",
        "cumulative_share",
        "share_before",
        tier=ibis.cases(
            (ranked.share_before < vip, "vip"),
            (ranked.share_before < gold, "gold"),
            (ranked.share_before < silver, "silver"),
            else_="standard",
        ),
    )


def lifecycle_stage(t: ir.Table, rules: dict[str, Any]) -> ir.Table:
    """Add ``at_risk_after_days``, ``base_stage`` and ``lifecycle_stage`` to a summary that has
    ``prev_stage`` (the stage in the previous successful run, null if none).

    prospect: no order · lapsed: no order for more than ``lapsed_days`` · at_risk: no order for
    more than ``at_risk_after_days`` (``at_risk_gap_factor`` × usual gap, at least
    ``at_risk_min_days``, with 2+ orders; else ``at_risk_days``) · new: first order within
    ``new_days`` · active: otherwise · won_back: new/active now after at_risk/lapsed in the
    previous run (for that one run; the next run calls them active).
    """
    at_risk_after = ibis.ifelse(
        t.orders_count >= 2,
        ibis.greatest(
            t.avg_gap_days * float(rules["at_risk_gap_factor"]),
            float(rules["at_risk_min_days"]),
        ),
        float(rules["at_risk_days"]),
    )
    t = t.mutate(at_risk_after_days=at_risk_after)
    base = ibis.cases(
        (t.orders_count == 0, "prospect"),
        (t.recency_days > int(rules["lapsed_days"]), "lapsed"),
        (t.recency_days > t.at_risk_after_days, "at_risk"),
        (t.tenure_days <= int(rules["new_days"]), "new"),
        else_="active",
    )
    t = t.mutate(base_stage=base)
    return t.mutate(
        lifecycle_stage=ibis.ifelse(
            t.prev_stage.isin(["at_risk", "lapsed"]) & t.base_stage.isin(["new", "active"]),
            "won_back",
            t.base_stage,
        )
    )


def health(t: ir.Table, rules: dict[str, Any], weights: dict[str, float]) -> ir.Table:
    """Relationship health 0–100 (null for prospects) from three known factors in [0, 1]:

    recency = 1 − recency_days / lapsed_days (0 once lapsed); frequency_trend = (recent + 1) /
    (recent + prior + 2) over two ``trend_days`` windows (0.5 = steady); returns = 1 − returned /
    gross revenue. Service experience is a placeholder (unknown until tickets exist) and is left
    out; the known weights are renormalised.
    """
    # Integer literals and float64 columns only: Spark reads a literal like 1.0 as a DECIMAL,
    # whose rounding would differ from DuckDB's doubles.
    lapsed = int(rules["lapsed_days"])
    recency = ibis.ifelse(
        t.recency_days >= lapsed, 0.0, 1 - t.recency_days.cast("float64") / lapsed
    )
    recent, prior = t.recent_orders.cast("float64"), t.prior_orders.cast("float64")
    trend = (recent + 1) / (recent + prior + 2)
    returns = ibis.ifelse(
        t.gross_units > 0,
        1 - ibis.least(1, t.returns_units.cast("float64") / t.gross_units.cast("float64")),
        1.0,
    )
    t = t.mutate(h_recency=recency, h_frequency_trend=trend, h_returns=returns)
    known = weights["recency"] + weights["frequency_trend"] + weights["returns"]
    weighted = (
        t.h_recency * weights["recency"]
        + t.h_frequency_trend * weights["frequency_trend"]
        + t.h_returns * weights["returns"]
    ) / known
    return t.mutate(
        health_score=ibis.ifelse(
            t.orders_count > 0, (weighted * 100 + 0.5).floor().cast("int64"), ibis.null("int64")
        )
    )


def customer_scores(
    customers: ir.Table,
    orders: ir.Table,
    previous: ir.Table,
    as_of: dt.datetime,
    *,
    thresholds: tuple[float, float, float] | None = None,
    rules: dict[str, Any] | None = None,
    weights: dict[str, float] | None = None,
) -> ir.Table:
    """Everything per customer in one table: summary, RFM, tier, lifecycle stage, health.

    ``previous`` has ``customer_id`` and ``prev_stage`` (the last successful run's stages).
    """
    thresholds = thresholds or tier_thresholds()
    rules = rules or lifecycle_rules()
    weights = weights or health_weights()
    summary = purchase_summary(customers, orders, as_of, trend_days=int(rules["trend_days"]))
    rfm = rfm_scores(summary).rename(rfm_customer_id="customer_id")
    tiers = value_tiers(summary, thresholds).rename(tier_customer_id="customer_id")
    prev = previous.select(prev_customer_id="customer_id", prev_stage="prev_stage")
    t = (
        summary.left_join(rfm, summary.customer_id == rfm.rfm_customer_id)
        .left_join(tiers, summary.customer_id == tiers.tier_customer_id)
        .left_join(prev, summary.customer_id == prev.prev_customer_id)
    )
    t = t.drop("rfm_customer_id", "tier_customer_id", "prev_customer_id")
    t = t.mutate(
        rfm_group=rfm_group(t.r_score, t.f_score, t.m_score),
        tier=ibis.ifelse(t.orders_count == 0, "none", t.tier.fill_null("standard")),
    )
    t = lifecycle_stage(t, rules)
    return health(t, rules, weights)


def category_affinities(
    order_lines: ir.Table, as_of: dt.datetime, *, trend_days: int = 180
) -> ir.Table:
    """Per customer and category: share of the customer's spend, affinity, trend.

    Spend is net of returns (return lines count negative), cancelled orders ignored, lines
    without a category left out. share = category spend / the customer's spend; score = share /
    the store-wide share of that category (1 = like everyone, 2 = twice as keen); trend = share
    in the last ``trend_days`` − share before, when the customer bought in both windows, else 0.
    Only categories with positive net spend are returned.
    """
    cut = epoch(as_of)
    lines = order_lines.mutate(ts=_seconds(order_lines.placed_at))
    lines = lines.filter(lines.status != "cancelled", lines.ts <= cut, lines.category_id.notnull())
    amount = money_units(lines.line_total).abs()
    lines = lines.mutate(
        spend=ibis.ifelse(lines.kind == "return", -amount, amount),
    )
    recent = lines.ts > cut - trend_days * DAY
    per = lines.group_by(["customer_id", "category_id"]).aggregate(
        spend=lines.spend.sum(),
        recent_spend=ibis.ifelse(recent, lines.spend, 0).sum(),
        earlier_spend=ibis.ifelse(recent, 0, lines.spend).sum(),
    )
    positive = per.filter(per.spend > 0)
    by_customer = ibis.window(group_by=positive.customer_id)
    by_category = ibis.window(group_by=positive.category_id)
    with_totals = positive.mutate(
        customer_spend=positive.spend.sum().over(by_customer),
        recent_total=ibis.ifelse(positive.recent_spend > 0, positive.recent_spend, 0)
        .sum()
        .over(by_customer),
        earlier_total=ibis.ifelse(positive.earlier_spend > 0, positive.earlier_spend, 0)
        .sum()
        .over(by_customer),
        category_spend=positive.spend.sum().over(by_category),
        store_spend=positive.spend.sum().over(ibis.window()),
    )
    w = with_totals
    share = w.spend / w.customer_spend
    store_share = w.category_spend / w.store_spend
    recent_share = ibis.greatest(w.recent_spend, 0) / w.recent_total
    earlier_share = ibis.greatest(w.earlier_spend, 0) / w.earlier_total
    return w.select(
        "customer_id",
        "category_id",
        share=share,
        score=share / store_share,
        trend=ibis.ifelse(
            (w.recent_total > 0) & (w.earlier_total > 0), recent_share - earlier_share, 0.0
        ),
    )


def profitability_by_customer_type(summary: ir.Table) -> ir.Table:
    """Revenue net of returns per customer type (margin is unknown until costs are imported).

    Columns: customer_type, customers, buyers, orders, gross_units, returns_units,
    revenue_units (money in ten-thousandths).
    """
    return (
        summary.group_by("customer_type")
        .aggregate(
            customers=summary.customer_id.count().cast("int64"),
            buyers=ibis.ifelse(summary.orders_count > 0, 1, 0).sum().cast("int64"),
            orders=summary.orders_count.sum().cast("int64"),
            gross_units=summary.gross_units.sum().cast("int64"),
            returns_units=summary.returns_units.sum().cast("int64"),
            revenue_units=summary.revenue_units.sum().cast("int64"),
        )
        .order_by("customer_type")
    )
