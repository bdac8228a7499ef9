"""``/api/v1/customers/{id}/scores`` and ``/api/v1/analytics/runs``: analytics results, read-only.

Any live token may read (as for customers and orders); nothing here writes.
"""

import datetime as dt
from decimal import Decimal
from typing import Any

from django.http import Http404
from ninja import Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from guanxi.analytics import selectors

router = Router(tags=["analytics"])


class RunOut(Schema):
    id: int
    engine: str
    status: str
    as_of: dt.datetime
    triggered_by: str
    params: dict[str, Any]
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    steps: dict[str, Any]
    error: str
    started_at: dt.datetime
    finished_at: dt.datetime | None
    duration_s: float | None


class AffinityOut(Schema):
    category_id: int
    category: str
    share: float
    score: float
    trend: float


class PatternOut(Schema):
    kind: str
    sku: str
    product_id: int | None
    category_id: int | None
    period_days: float
    month: int | None
    occurrences: int
    confidence: float
    last_purchase_at: dt.datetime
    next_due: dt.date


class StageChangeOut(Schema):
    from_stage: str
    to_stage: str
    changed_at: dt.datetime
    run_id: int


class ScoresOut(Schema):
    customer_id: int
    run_id: int
    as_of: dt.datetime
    currency: str
    orders_count: int
    revenue: Decimal
    first_order_at: dt.datetime | None
    last_order_at: dt.datetime | None
    recency_days: int | None
    r_score: int | None
    f_score: int | None
    m_score: int | None
    rfm_group: str
    tier: str
    cumulative_revenue_share: float | None
    lifecycle_stage: str
    p_alive: float | None
    churn_risk: str
    expected_orders_90d: float | None
    expected_orders_365d: float | None
    expected_value_90d: Decimal | None
    expected_value_365d: Decimal | None
    clv: Decimal | None
    next_order_date: dt.date | None
    health_score: int | None
    explanation: dict[str, Any]
    affinities: list[AffinityOut]
    periodic_patterns: list[PatternOut]
    stage_changes: list[StageChangeOut]


SCORE_FIELDS = [
    name
    for name in ScoresOut.model_fields
    if name
    not in {"customer_id", "run_id", "as_of", "affinities", "periodic_patterns", "stage_changes"}
]


@router.get(
    "/customers/{int:customer_id}/scores",
    response=ScoresOut,
    summary="A customer's scores in the latest analytics run",
    description=(
        "Tier, RFM, lifecycle stage, CLV/churn predictions and health score with the numbers "
        "behind them (`explanation`), top category affinities, periodic purchase patterns and "
        "recent lifecycle changes. 404 when no run has scored this customer."
    ),
)
def customer_scores(request, customer_id: int):
    data = selectors.customer_analytics(customer_id)
    if data is None or data.score is None:
        raise Http404("No analytics scores for this customer (run `guanxi analytics refresh`).")
    score = data.score
    return {
        "customer_id": customer_id,
        "run_id": data.run.pk,
        "as_of": data.run.as_of,
        **{name: getattr(score, name) for name in SCORE_FIELDS},
        "affinities": [
            {
                "category_id": a.category_id,
                "category": a.category.name,
                "share": a.share,
                "score": a.score,
                "trend": a.trend,
            }
            for a in data.affinities
        ],
        "periodic_patterns": data.patterns,
        "stage_changes": data.stage_changes,
    }


@router.get(
    "/analytics/runs",
    response=list[RunOut],
    summary="The analytics run log, newest first",
)
@paginate(PageNumberPagination, page_size=20)
def list_runs(request):
    return selectors.run_log()
