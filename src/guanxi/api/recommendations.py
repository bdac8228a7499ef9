"""Chains and recommendations, read-only and precomputed (S3.15, S1.3, S3.13):

    GET /api/v1/products/{id}/related          bought together, explained by the rule behind it
    GET /api/v1/customers/{id}/recommendations personal picks (cold start: segment best sellers)
    GET /api/v1/customers/{id}/home            a ranked home-page feed

Any live token may read (as for customers and orders). Every item has a ``reason`` (one of
``bought_together``, ``similar_customers``, ``popular_in_segment``, ``popular``, ``due_again``)
and an ``explanation`` in words. 404 for an unknown product or customer; an empty list (with
``run_id`` null) before the first analytics run.
"""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from typing import Any

from django.http import Http404, HttpResponse
from ninja import Query, Router, Schema

from guanxi.analytics import serving

router = Router(tags=["recommendations"])


class ProductOut(Schema):
    id: int
    sku: str
    name: str
    category_id: int | None
    category: str | None
    price: Decimal | None
    currency: str
    in_stock: bool


class ItemOut(Schema):
    rank: int
    product: ProductOut
    reason: str
    explanation: str
    score: float | None
    because_of_product_id: int | None
    numbers: dict[str, Any]


class RelatedOut(Schema):
    product_id: int
    run_id: int | None
    as_of: dt.datetime | None
    items: list[ItemOut]


class SegmentOut(Schema):
    kind: str
    value: str
    buyers: int


class RecommendationsOut(Schema):
    customer_id: int
    run_id: int | None
    as_of: dt.datetime | None
    cold_start: bool
    segment: SegmentOut | None
    items: list[ItemOut]


class CategoryOut(Schema):
    id: int
    name: str
    share: float
    affinity: float


class HomeOut(RecommendationsOut):
    top_categories: list[CategoryOut]


class LimitQuery(Schema):
    limit: int = 10


def _json(data: dict) -> HttpResponse:
    """The body as JSON, skipping the response model's validation: these are the hot read
    paths, the dicts are built to the schema above (prices and times already as strings, so
    the C encoder does all the work), and validation was a fifth of their time."""
    return HttpResponse(json.dumps(data), content_type="application/json")


def _limit(value: int, cap: int = 50) -> int:
    return max(1, min(int(value), cap))


@router.get(
    "/products/{int:product_id}/related",
    response=RelatedOut,
    summary="Products bought together with this one",
    description=(
        "Association rules from this product (same basket: support, confidence, lift), then "
        "products bought by the same customers (collaborative filter). In-stock products only."
    ),
)
def related(request, product_id: int, q: Query[LimitQuery]):
    served = serving.serve_related(product_id, limit=_limit(q.limit))
    if not served.found:
        raise Http404("No such product.")
    return _json(
        {
            "product_id": product_id,
            "run_id": served.run_id,
            "as_of": served.as_of_json(),
            "items": served.items_json(),
        }
    )


def _personal(customer_id: int, served: serving.Served) -> dict:
    if not served.found:
        raise Http404("No such customer.")
    return {
        "customer_id": customer_id,
        "run_id": served.run_id,
        "as_of": served.as_of_json(),
        "cold_start": served.cold_start,
        "segment": served.segment,
        "items": served.items_json(),
    }


@router.get(
    "/customers/{int:customer_id}/recommendations",
    response=RecommendationsOut,
    summary="Personal recommendations for a customer",
    description=(
        "Precomputed by the analytics refresh: collaborative filtering over purchases and views, "
        "plus association rules from what they bought; never a product they bought or returned, "
        "nor one out of stock. A customer without history (`cold_start`) gets the best sellers "
        "of their segment (occupation, else customer type) and of the store."
    ),
)
def recommendations(request, customer_id: int, q: Query[LimitQuery]):
    served = serving.serve_recommendations(customer_id, limit=_limit(q.limit))
    return _json(_personal(customer_id, served))


@router.get(
    "/customers/{int:customer_id}/home",
    response=HomeOut,
    summary="A ranked home-page feed for a customer",
    description=(
        "What is due again (periodic purchases due within 30 days), then personal picks, then "
        "the segment's best sellers; with the customer's top categories."
    ),
)
def home(request, customer_id: int, q: Query[LimitQuery]):
    served = serving.serve_home(customer_id, limit=_limit(q.limit, 100))
    return _json(
        {
            **_personal(customer_id, served),
            "top_categories": [
                {"id": cid, "name": name, "share": share, "affinity": score}
                for cid, name, share, score in served.categories
            ],
        }
    )
