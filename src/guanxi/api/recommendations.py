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

from django.core.serializers.json import DjangoJSONEncoder
from django.http import Http404, HttpResponse
from ninja import Query, Router, Schema

from guanxi.analytics import serving
from guanxi.commerce.models import Product
from guanxi.customers.models import Customer

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


def _product(p: Product) -> dict:
    return {
        "id": p.pk,
        "sku": p.sku,
        "name": p.name,
        "category_id": p.category_id,
        "category": p.category.name if p.category_id else None,
        "price": p.price,
        "currency": p.currency,
        "in_stock": p.in_stock,
    }


def _items(result: serving.ItemList) -> list[dict]:
    return [
        {
            "rank": i,
            "product": _product(item.product),
            "reason": item.reason,
            "explanation": item.explanation,
            "score": item.score,
            "because_of_product_id": item.because_of.pk if item.because_of else None,
            "numbers": item.numbers,
        }
        for i, item in enumerate(result.items, start=1)
    ]


def _json(data: dict) -> HttpResponse:
    """The body as JSON, skipping the response model's validation: these are the hot read
    paths, the dicts are built to the schema above, and validation was a fifth of their time."""
    return HttpResponse(json.dumps(data, cls=DjangoJSONEncoder), content_type="application/json")


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
    product = serving.find_product(product_id)
    if product is None:
        raise Http404("No such product.")
    result = serving.related_products(product, limit=_limit(q.limit))
    return _json(
        {
            "product_id": product.pk,
            "run_id": result.run.pk if result.run else None,
            "as_of": result.run.as_of if result.run else None,
            "items": _items(result),
        }
    )


def _customer(customer_id: int) -> Customer:
    found = serving.find_customer(customer_id)
    if found is None:
        raise Http404("No such customer.")
    return found


def _personal(customer: Customer, result: serving.ItemList) -> dict:
    return {
        "customer_id": customer.pk,
        "run_id": result.run.pk if result.run else None,
        "as_of": result.run.as_of if result.run else None,
        "cold_start": result.cold_start,
        "segment": result.segment,
        "items": _items(result),
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
    customer = _customer(customer_id)
    return _json(_personal(customer, serving.customer_recommendations(customer, _limit(q.limit))))


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
    customer = _customer(customer_id)
    feed, categories = serving.customer_home(customer, limit=_limit(q.limit, 100))
    return _json(
        {
            **_personal(customer, feed),
            "top_categories": [
                {"id": cid, "name": name, "share": share, "affinity": score}
                for cid, name, share, score in categories
            ],
        }
    )
