"""Reads of analytics results for pages, the API and other apps (no writes here).

"Current" always means the latest successful run: every run keeps its own rows, so a page reads
one run's numbers and never mixes two.
"""

from __future__ import annotations

import bisect
import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DateTimeField, OuterRef, Q, QuerySet, Subquery, Sum
from django.db.models.functions import TruncMonth

from guanxi.analytics.models import (
    AnalyticsRun,
    CategoryAffinity,
    CustomerScore,
    LifecycleChange,
    PeriodicPattern,
)
from guanxi.commerce import selectors as commerce


@dataclass(frozen=True)
class Bucket:
    """One bar of a distribution: a machine key, a human label and how many customers."""

    key: str
    label: str
    count: int


@dataclass(frozen=True)
class HistogramBin:
    """Customers whose value lies in ``[low, high)`` (the last bin is closed)."""

    low: float
    high: float
    count: int


@dataclass
class CustomerAnalytics:
    """A customer's numbers in the latest run, with what the 360 page shows beside them."""

    run: AnalyticsRun
    score: CustomerScore | None
    affinities: list[CategoryAffinity] = field(default_factory=list)
    patterns: list[PeriodicPattern] = field(default_factory=list)
    stage_changes: list[LifecycleChange] = field(default_factory=list)


@dataclass(frozen=True)
class Cohort:
    """Customers whose first order fell in ``month`` and the share who ordered k months later."""

    month: dt.date
    customers: int
    retention: list[float | None]  # index k = months since the first order; None = not yet


def latest_run() -> AnalyticsRun | None:
    """The latest successful analytics run, or None when there has been none."""
    return (
        AnalyticsRun.objects.filter(status=AnalyticsRun.Status.SUCCEEDED)
        .order_by("-finished_at", "-started_at", "-id")
        .first()
    )


def run_log() -> QuerySet[AnalyticsRun]:
    """Every run, newest first (slice or paginate it)."""
    return AnalyticsRun.objects.order_by("-started_at", "-id")


def customer_score(customer_id: int, run: AnalyticsRun | None = None) -> CustomerScore | None:
    """The customer's score in ``run`` (default: the latest successful run), with explanation."""
    run = run or latest_run()
    if run is None:
        return None
    return CustomerScore.objects.filter(run=run, customer_id=customer_id).first()


def customer_analytics(
    customer_id: int,
    *,
    run: AnalyticsRun | None = None,
    affinities: int = 5,
    patterns: bool = True,
    stage_changes: int = 5,
) -> CustomerAnalytics | None:
    """Score, top category affinities, periodic patterns and recent stage changes of a customer.

    None when no analytics run has succeeded yet; ``score`` is None when the customer was not
    part of the latest run (e.g. created since). ``affinities=0``, ``patterns=False`` and
    ``stage_changes=0`` skip those reads (for users who may not see them).
    """
    run = run or latest_run()
    if run is None:
        return None
    result = CustomerAnalytics(run=run, score=customer_score(customer_id, run))
    if affinities:
        result.affinities = list(
            CategoryAffinity.objects.filter(run=run, customer_id=customer_id)
            .select_related("category")
            .order_by("-score", "category_id")[:affinities]
        )
    if patterns:
        result.patterns = list(
            PeriodicPattern.objects.filter(run=run, customer_id=customer_id)
            .select_related("product", "category")
            .order_by("next_due", "id")
        )
    if stage_changes:
        result.stage_changes = list(
            LifecycleChange.objects.filter(customer_id=customer_id).order_by("-changed_at", "-id")[
                :stage_changes
            ]
        )
    return result


def _counts(run: AnalyticsRun, column: str, choices) -> list[Bucket]:
    found = dict(
        CustomerScore.objects.filter(run=run).values_list(column).annotate(n=Count("id")).order_by()
    )
    return [Bucket(value, str(label), found.get(value, 0)) for value, label in choices]


def tier_counts(run: AnalyticsRun) -> list[Bucket]:
    """Customers per value tier, VIP first."""
    return _counts(run, "tier", CustomerScore.Tier.choices)


def lifecycle_counts(run: AnalyticsRun) -> list[Bucket]:
    """Customers per lifecycle stage, from prospect to won back."""
    return _counts(run, "lifecycle_stage", CustomerScore.Stage.choices)


def rfm_group_counts(run: AnalyticsRun) -> list[Bucket]:
    """Customers per named RFM group, champions first."""
    return _counts(run, "rfm_group", CustomerScore.RfmGroup.choices)


def churn_risk_counts(run: AnalyticsRun) -> list[Bucket]:
    """Customers per churn-risk band (low, medium, high, not enough data)."""
    return _counts(run, "churn_risk", CustomerScore.ChurnRisk.choices)


def pareto_curve(run: AnalyticsRun, points: int = 50) -> list[tuple[float, float]]:
    """Share of buying customers (best first) vs the share of net revenue they bring.

    ``points`` + 1 pairs from (0, 0) to (1, 1), in percent; empty when nobody bought anything.
    """
    revenue = [
        float(r)
        for r in CustomerScore.objects.filter(run=run, revenue__gt=0)
        .order_by("-revenue", "customer_id")
        .values_list("revenue", flat=True)
    ]
    total = sum(revenue)
    if not revenue or total <= 0:
        return []
    cumulative, running = [0.0], 0.0
    for value in revenue:
        running += value
        cumulative.append(running)
    n = len(revenue)
    curve = []
    for i in range(points + 1):
        k = round(i * n / points)
        curve.append((round(100.0 * k / n, 2), round(100.0 * cumulative[k] / total, 2)))
    return curve


def top_share(curve: Sequence[tuple[float, float]], customers_pct: float = 20.0) -> float | None:
    """Revenue share (percent) of the best ``customers_pct`` percent of buyers, from the curve."""
    for x, y in curve:
        if x >= customers_pct:
            return y
    return None


def _histogram(values: list[float], bins: int, low: float, high: float) -> list[HistogramBin]:
    if high <= low:
        high = low + 1.0
    width = (high - low) / bins
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int((v - low) // width)))] += 1
    return [HistogramBin(low + i * width, low + (i + 1) * width, c) for i, c in enumerate(counts)]


def churn_histogram(run: AnalyticsRun, bins: int = 10) -> list[HistogramBin]:
    """Customers by churn probability (1 − P(alive)) in equal bins over 0–1; scored ones only."""
    values = [
        1.0 - p
        for p in CustomerScore.objects.filter(run=run, p_alive__isnull=False).values_list(
            "p_alive", flat=True
        )
    ]
    return _histogram(values, bins, 0.0, 1.0) if values else []


def _round_edges(low: float, high: float) -> list[float]:
    """1-2-5 steps (…, 10, 20, 50, 100, …) from the step at or below ``low`` to the one at or
    above ``high``: money is spread over orders of magnitude, so equal-width bins would put
    almost everyone in the first one."""
    low, high = max(low, 1.0), max(high, low, 1.0)
    series = [
        float(step * 10**power)
        for power in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
        for step in (1, 2, 5)
    ]
    first = max(i for i, e in enumerate(series) if e <= low)
    last = min(i for i, e in enumerate(series) if e >= high)
    return series[first : last + 1]


def clv_histogram(run: AnalyticsRun) -> list[HistogramBin]:
    """Customers by predicted CLV in round-numbered bins (0–10, 10–20, 20–50, …) from 0 to a
    round number at or above the 99th percentile; the last bin also holds the few above it.
    Customers with too little history (no CLV) are left out."""
    values = sorted(
        float(v)
        for v in CustomerScore.objects.filter(run=run, clv__isnull=False).values_list(
            "clv", flat=True
        )
    )
    if not values:
        return []
    p5 = values[int(0.05 * (len(values) - 1))]
    p99 = values[int(0.99 * (len(values) - 1))]
    edges = [e for e in _round_edges(max(p5, 1.0), max(p99, 2.0)) if e > 0]
    bounds = [0.0, *edges]
    counts = [0] * len(edges)
    for v in values:
        i = bisect.bisect_right(edges, v)
        counts[min(i, len(edges) - 1)] += 1
    return [HistogramBin(bounds[i], bounds[i + 1], counts[i]) for i in range(len(edges))]


def _add_months(month: dt.date, k: int) -> dt.date:
    y, m = divmod(month.month - 1 + k, 12)
    return dt.date(month.year + y, m + 1, 1)


def cohort_retention(run: AnalyticsRun, months: int = 12) -> list[Cohort]:
    """Monthly cohorts of first orders over the ``months`` months up to the run, and for each the
    share of the cohort who ordered again k = 1, 2, … months after their first month.

    First orders come from the run's scores, orders from commerce (cancelled ones and returns
    excluded); the counting happens in the database, one row per cohort × month comes back.
    """
    as_of = run.as_of
    end_month = dt.date(as_of.year, as_of.month, 1)
    start_month = _add_months(end_month, -(months - 1))
    start = dt.datetime(start_month.year, start_month.month, 1, tzinfo=dt.UTC)
    scores = CustomerScore.objects.filter(run=run, first_order_at__gte=start)
    sizes = {
        _month(row["cohort"]): row["n"]
        for row in scores.annotate(cohort=TruncMonth("first_order_at"))
        .values("cohort")
        .annotate(n=Count("id"))
        .order_by()
    }
    if not sizes:
        return []
    first = CustomerScore.objects.filter(run=run, customer_id=OuterRef("customer_id")).values(
        "first_order_at"
    )[:1]
    rows = (
        commerce.counted_orders()
        .filter(kind="order", customer__isnull=False, placed_at__gte=start, placed_at__lte=as_of)
        .annotate(first_at=Subquery(first, output_field=DateTimeField()))
        .filter(first_at__gte=start)
        .annotate(cohort=TruncMonth("first_at"), month=TruncMonth("placed_at"))
        .values("cohort", "month")
        .annotate(n=Count("customer_id", distinct=True))
        .order_by()
    )
    active: dict[tuple[dt.date, int], int] = {}
    for row in rows:
        cohort, month = _month(row["cohort"]), _month(row["month"])
        k = (month.year - cohort.year) * 12 + month.month - cohort.month
        active[cohort, k] = row["n"]
    cohorts = []
    for i in range(months):
        month = _add_months(start_month, i)
        size = sizes.get(month, 0)
        span = months - i  # k = 0 … months since this cohort up to the run's month
        retention: list[float | None] = []
        for k in range(months):
            if k >= span:
                retention.append(None)
            elif k == 0:
                retention.append(1.0 if size else None)
            else:
                retention.append(active.get((month, k), 0) / size if size else None)
        cohorts.append(Cohort(month, size, retention))
    return cohorts


def _month(value: dt.date | dt.datetime) -> dt.date:
    return dt.date(value.year, value.month, 1)


def upcoming_periodic(
    run: AnalyticsRun, *, days: int = 30, overdue_days: int = 14, limit: int = 20
) -> list[PeriodicPattern]:
    """Periodic purchases due within ``days`` of the run (or overdue by up to ``overdue_days``),
    soonest first, with customer and product loaded."""
    today = run.as_of.date()
    return list(
        PeriodicPattern.objects.filter(
            run=run,
            next_due__gte=today - dt.timedelta(days=overdue_days),
            next_due__lte=today + dt.timedelta(days=days),
        )
        .select_related("customer", "product", "category")
        .order_by("next_due", "-confidence", "id")[:limit]
    )


def periodic_counts(run: AnalyticsRun) -> dict[str, int]:
    """How many periodic patterns of each kind the run found."""
    found = dict(
        PeriodicPattern.objects.filter(run=run)
        .values_list("kind")
        .annotate(n=Count("id"))
        .order_by()
    )
    return {kind: found.get(kind, 0) for kind in PeriodicPattern.Kind.values}


@dataclass(frozen=True)
class RunOverview:
    """Headline numbers of one run for the analytics page."""

    customers: int
    buyers: int
    revenue: Decimal
    currency: str
    scored_clv: int


def run_overview(run: AnalyticsRun) -> RunOverview:
    """Customers scored, buyers, net revenue and how many got a CLV, in one query."""
    totals = CustomerScore.objects.filter(run=run).aggregate(
        customers=Count("id"),
        buyers=Count("id", filter=Q(orders_count__gt=0)),
        revenue=Sum("revenue"),
        scored_clv=Count("id", filter=Q(clv__isnull=False)),
    )
    currency = (
        CustomerScore.objects.filter(run=run).values_list("currency", flat=True).first() or ""
    )
    return RunOverview(
        customers=totals["customers"],
        buyers=totals["buyers"],
        revenue=totals["revenue"] or Decimal(0),
        currency=currency,
        scored_clv=totals["scored_clv"],
    )
