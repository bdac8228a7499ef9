"""Periodic purchases (S3.11): customers who buy a product around the same date every year (the
gift every May) or at a steady interval (refills), with a confidence and the next due date.

Written once as an Ibis expression, so the same code runs on DuckDB (the default engine) and on
PySpark with identical output. Time arithmetic is done on epoch seconds (integers), never on
calendar fields in the session time zone, so the answer does not depend on the engine's or the
machine's time zone. The rule and how it was validated are in ``docs/periodic.md``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

DAY_S = 86_400
YEAR_S = 31_557_600  # 365.25 days

OUTPUT_COLUMNS = (
    "customer_id",
    "kind",
    "sku",
    "product_id",
    "category_id",
    "period_days",
    "month",
    "occurrences",
    "confidence",
    "last_purchase_at",
    "next_due",
)


@dataclass(frozen=True)
class PeriodicRules:
    """Thresholds of the detection rule (see docs/periodic.md)."""

    # Steady interval: at least this many purchases (so at least 5 gaps) ...
    interval_min_occurrences: int = 6
    # ... a mean gap in this range (days) ...
    interval_min_days: float = 5.0
    interval_max_days: float = 180.0
    # ... and gaps that vary little: coefficient of variation (sd / mean) at most this.
    interval_max_cv: float = 0.2
    # Same time every year: every gap one year ± this many days ...
    yearly_tolerance_days: float = 14.0
    # ... and either this many purchases of the customer's own ...
    yearly_min_occurrences: int = 3
    # ... or two, of a product that other customers buy on a yearly rhythm too (a gift): at
    # least this many customers, making at least this share of the product's repeat buyers.
    yearly_product_min_customers: int = 3
    yearly_product_min_share: float = 0.5
    # A pattern that has missed more than this many occurrences is over (the customer stopped).
    max_missed: int = 1


def detect_periodic_purchases(
    order_lines: ir.Table, as_of: dt.datetime, rules: PeriodicRules | None = None
) -> ir.Table:
    """Detect periodic buyers per customer × product.

    ``order_lines`` needs ``customer_id``, ``placed_at`` (timestamp), ``sku``, ``quantity`` and
    ``kind`` (``"order"`` / ``"return"``); ``product_id`` and ``category_id`` are carried through
    when present (nulls otherwise). Only orders placed up to ``as_of`` count; returns and guest
    lines are ignored, and several purchases of one product on one day count once.

    Returns one row per detected pattern with the columns in :data:`OUTPUT_COLUMNS`: ``kind``
    ``"yearly"`` (every gap is a year ± ``yearly_tolerance_days``, and either three purchases or a
    product that other customers also buy yearly) or ``"interval"`` (at least
    ``interval_min_occurrences`` purchases whose gaps vary by at most ``interval_max_cv``);
    ``period_days`` the mean gap; ``month`` (yearly) the month of the latest purchase;
    ``confidence`` in 0–1 = regularity × support; ``next_due`` = latest purchase + period.
    """
    r = rules or PeriodicRules()
    t = order_lines
    for column in ("product_id", "category_id"):
        if column not in t.columns:
            t = t.mutate(**{column: ibis.null("int64")})
    as_of_s = int(as_of.timestamp())

    ts = t.placed_at.epoch_seconds().cast("int64")
    buys = t.mutate(ts=ts).filter(
        (t.kind == "order")
        & (t.quantity > 0)
        & t.customer_id.notnull()
        & t.sku.notnull()
        & (ts <= as_of_s)
    )
    # One purchase per customer, product and (UTC) day: a split basket is not two purchases.
    daily = buys.group_by("customer_id", "sku", day=(buys.ts // DAY_S).cast("int64")).aggregate(
        ts=buys.ts.min(),
        placed_at=buys.placed_at.min(),
        product_id=buys.product_id.max(),
        category_id=buys.category_id.max(),
    )
    window = ibis.window(group_by=[daily.customer_id, daily.sku], order_by=[daily.ts])
    gaps = daily.mutate(gap=(daily.ts - daily.ts.lag().over(window)).cast("int64"))

    year_dev = (gaps.gap - YEAR_S).abs()
    per_product = gaps.group_by("customer_id", "sku").aggregate(
        occurrences=gaps.count().cast("int64"),
        first_ts=gaps.ts.min(),
        last_ts=gaps.ts.max(),
        last_purchase_at=gaps.placed_at.max(),
        min_gap=gaps.gap.min(),
        max_gap=gaps.gap.max(),
        # Integer sums keep the result identical across engines (no float summation order).
        gap_sq_sum=(gaps.gap.cast("float64") * gaps.gap.cast("float64")).sum(),
        year_dev_sum=year_dev.sum(),
        product_id=gaps.product_id.max(),
        category_id=gaps.category_id.max(),
    )
    p = per_product.filter(per_product.occurrences >= 2)
    n_gaps = (p.occurrences - 1).cast("float64")
    mean_gap = (p.last_ts - p.first_ts).cast("float64") / n_gaps
    support = 1.0 - ibis.literal(0.5).pow(n_gaps)
    p = p.mutate(mean_gap=mean_gap, n_gaps=n_gaps, support=support)

    # Steady interval: enough purchases, a plausible period, little spread around it.
    var = (p.gap_sq_sum - p.n_gaps * p.mean_gap * p.mean_gap) / (p.n_gaps - 1.0)
    cv = ibis.greatest(var, 0.0).sqrt() / p.mean_gap
    interval = p.filter(
        (p.occurrences >= r.interval_min_occurrences)
        & (p.mean_gap >= r.interval_min_days * DAY_S)
        & (p.mean_gap <= r.interval_max_days * DAY_S)
    ).mutate(cv=cv)
    interval = interval.filter(interval.cv <= r.interval_max_cv)
    interval = interval.filter(
        as_of_s - interval.last_ts
        <= interval.mean_gap * (r.max_missed + 1) * (1.0 + r.interval_max_cv)
    ).mutate(
        kind=ibis.literal("interval"),
        confidence=(1.0 - interval.cv / r.interval_max_cv) * interval.support,
        month=ibis.null("int64"),
    )

    # Same time every year: every gap is a year, give or take the tolerance ...
    tol_s = r.yearly_tolerance_days * DAY_S
    p = p.mutate(
        yearly_fit=(p.min_gap >= YEAR_S - tol_s)
        & (p.max_gap <= YEAR_S + tol_s)
        & (as_of_s - p.last_ts <= (r.max_missed + 1) * YEAR_S + tol_s)
    )
    # ... and two purchases a year apart happen by chance, so with only two the product itself
    # must be one that other customers also buy yearly (a Mother's Day bouquet, mooncakes).
    products = p.group_by("sku").aggregate(
        repeat_buyers=p.count(), yearly_buyers=p.yearly_fit.cast("int64").sum()
    )
    products = products.mutate(
        seasonal=(products.yearly_buyers >= r.yearly_product_min_customers)
        & (products.yearly_buyers >= products.repeat_buyers * r.yearly_product_min_share)
    )
    yearly = p.filter(p.yearly_fit).join(products, "sku")
    yearly = yearly.filter((yearly.occurrences >= r.yearly_min_occurrences) | yearly.seasonal)
    # A product others buy yearly counts as one more piece of evidence.
    evidence = yearly.n_gaps + yearly.seasonal.cast("float64")
    yearly = yearly.mutate(
        kind=ibis.literal("yearly"),
        confidence=(1.0 - yearly.year_dev_sum.cast("float64") / yearly.n_gaps / tol_s)
        * (1.0 - ibis.literal(0.5).pow(evidence)),
        # Month from the epoch day (calendar arithmetic on a date is free of time zones).
        month=_epoch_day_to_date(yearly.last_ts // DAY_S).month().cast("int64"),
    )

    columns = [
        "customer_id",
        "kind",
        "sku",
        "product_id",
        "category_id",
        "mean_gap",
        "month",
        "occurrences",
        "confidence",
        "last_purchase_at",
        "last_ts",
    ]
    found = interval.select(*columns).union(yearly.select(*columns))
    next_due_day = ((found.last_ts + found.mean_gap.round(0).cast("int64")) // DAY_S).cast("int64")
    return found.select(
        "customer_id",
        "kind",
        "sku",
        "product_id",
        "category_id",
        period_days=(found.mean_gap / DAY_S).round(1),
        month=found.month,
        occurrences=found.occurrences,
        confidence=ibis.greatest(ibis.least(found.confidence, 1.0), 0.0).round(3),
        last_purchase_at=found.last_purchase_at,
        next_due=_epoch_day_to_date(next_due_day),
    )


def _epoch_day_to_date(days: ir.IntegerValue) -> ir.DateValue:
    return ibis.date(1970, 1, 1) + days.as_interval("D")
