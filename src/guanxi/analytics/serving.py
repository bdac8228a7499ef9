"""Reads of the precomputed chains and recommendations (no writes, no model at request time).

Each function reads the latest successful run's rows with a handful of indexed queries and
re-checks what may have changed since the run: stock and active flags, and what the customer has
bought or returned since. Every item says why it is there (``reason`` + ``explanation``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.analytics.models import (
    AnalyticsRun,
    CategoryAffinity,
    PeriodicPattern,
    ProductRule,
    Recommendation,
    RelatedProduct,
    SegmentPopular,
)
from guanxi.analytics.selectors import latest_run
from guanxi.commerce.models import OrderLine, Product
from guanxi.customers.models import Customer

REASONS = (
    "bought_together",
    "similar_customers",
    "popular_in_segment",
    "popular",
    "due_again",
)


@dataclass
class Item:
    """One product in a list, with why it is there."""

    product: Product
    reason: str
    explanation: str
    score: float | None = None
    because_of: Product | None = None
    numbers: dict = field(default_factory=dict)


@dataclass
class ItemList:
    run: AnalyticsRun | None
    items: list[Item]
    segment: dict | None = None
    cold_start: bool = False


def _available(product: Product) -> bool:
    return product.in_stock and product.is_active


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def related_products(product: Product, limit: int = 10, run=None) -> ItemList:
    """Products bought with ``product``: its rules first (same basket, by confidence), then the
    products bought by the same customers (collaborative filter), in stock only."""
    run = run or latest_run()
    if run is None:
        return ItemList(None, [])
    items: list[Item] = []
    seen = {product.pk}
    rules = (
        ProductRule.objects.filter(
            run=run, level=ProductRule.Level.PRODUCT, antecedent_product=product
        )
        .select_related("consequent_product", "consequent_product__category")
        .order_by("-confidence", "-lift", "consequent_product_id")[: limit * 2]
    )
    for rule in rules:
        other = rule.consequent_product
        if other.pk in seen or not _available(other):
            continue
        seen.add(other.pk)
        items.append(
            Item(
                product=other,
                reason="bought_together",
                explanation=_(
                    "%(conf)s of baskets with %(a)s also hold %(c)s (%(lift).1f× the usual rate)"
                )
                % {
                    "conf": _pct(rule.confidence),
                    "a": product.name,
                    "c": other.name,
                    "lift": rule.lift,
                },
                score=rule.confidence,
                numbers={
                    "support": rule.support,
                    "confidence": rule.confidence,
                    "lift": rule.lift,
                    "baskets_with_both": rule.pair_count,
                },
            )
        )
    neighbours = (
        RelatedProduct.objects.filter(run=run, product=product)
        .select_related("related", "related__category")
        .order_by("rank")
    )
    for row in neighbours:
        other = row.related
        if other.pk in seen or not _available(other):
            continue
        seen.add(other.pk)
        items.append(
            Item(
                product=other,
                reason="similar_customers",
                explanation=_(
                    "%(n)d customers bought both, not necessarily in one basket "
                    "(similarity %(sim).2f)"
                )
                % {"n": row.customers_both, "sim": row.similarity},
                score=row.similarity,
                numbers={"similarity": row.similarity, "customers_both": row.customers_both},
            )
        )
    return ItemList(run, items[:limit])


def _owned(customer_id: int) -> set[int]:
    """Products the customer bought or returned (any time, including after the run)."""
    return set(
        OrderLine.objects.filter(order__customer_id=customer_id, product_id__isnull=False)
        .values_list("product_id", flat=True)
        .distinct()
    )


def _segment_lists(run: AnalyticsRun, customer: Customer) -> list[tuple[str, str]]:
    wanted = []
    occupation = (customer.occupation or "").strip()
    if occupation:
        wanted.append((SegmentPopular.SegmentKind.OCCUPATION, occupation))
    wanted.append((SegmentPopular.SegmentKind.CUSTOMER_TYPE, customer.customer_type))
    wanted.append((SegmentPopular.SegmentKind.STORE, ""))
    return wanted


def _segment_items(
    run: AnalyticsRun, customer: Customer, skip: set[int], limit: int
) -> tuple[list[Item], dict | None]:
    """Best sellers of the customer's segment (occupation, else customer type, else store)."""
    wanted = _segment_lists(run, customer)
    query = Q()
    for kind, value in wanted:
        query |= Q(segment_kind=kind, segment=value)
    rows = list(
        SegmentPopular.objects.filter(query, run=run)
        .select_related("product", "product__category")
        .order_by("rank")
    )
    items: list[Item] = []
    used = None
    for kind, value in wanted:
        for row in (r for r in rows if r.segment_kind == kind and r.segment == value):
            if len(items) >= limit:
                break
            if row.product_id in skip or not _available(row.product):
                continue
            skip.add(row.product_id)
            share = row.buyers / row.segment_buyers if row.segment_buyers else 0.0
            if kind == SegmentPopular.SegmentKind.STORE:
                reason = "popular"
                text = _("Bought by %(share)s of the store's customers") % {"share": _pct(share)}
            else:
                reason = "popular_in_segment"
                label = (
                    _("occupation") if kind == SegmentPopular.SegmentKind.OCCUPATION else _("type")
                )
                text = _("Bought by %(share)s of customers with %(label)s “%(value)s”") % {
                    "share": _pct(share),
                    "label": label,
                    "value": Customer.CustomerType(value).label
                    if kind == SegmentPopular.SegmentKind.CUSTOMER_TYPE
                    and value in Customer.CustomerType.values
                    else value,
                }
            used = used or {"kind": kind, "value": value, "buyers": row.segment_buyers}
            items.append(
                Item(
                    product=row.product,
                    reason=reason,
                    explanation=text,
                    score=share,
                    numbers={"buyers": row.buyers, "segment_buyers": row.segment_buyers},
                )
            )
    return items, used


def customer_recommendations(customer: Customer, limit: int = 10, run=None) -> ItemList:
    """Personal picks of the latest run, then the segment's best sellers to fill up (all of
    them for a customer without history: the cold start). Never something the customer bought
    or returned, nor a product out of stock or inactive."""
    run = run or latest_run()
    if run is None:
        return ItemList(None, [])
    owned = _owned(customer.pk)
    items: list[Item] = []
    rows = (
        Recommendation.objects.filter(run=run, customer=customer)
        .select_related("product", "product__category", "because_of")
        .order_by("rank")
    )
    for rec in rows:
        if len(items) >= limit:
            break
        if rec.product_id in owned or not _available(rec.product):
            continue
        owned.add(rec.product_id)
        because = rec.because_of
        if rec.reason == Recommendation.Reason.BOUGHT_TOGETHER and because is not None:
            text = _("%(conf)s of baskets with %(a)s, which they bought, also hold it") % {
                "conf": _pct(rec.strength or 0),
                "a": because.name,
            }
        elif because is not None:
            text = _("Customers who bought %(a)s, as they did, also bought it") % {
                "a": because.name
            }
        else:
            text = _("Bought by customers with similar taste")
        items.append(
            Item(
                product=rec.product,
                reason=rec.reason,
                explanation=text,
                score=rec.score,
                because_of=because,
                numbers={"strength": rec.strength},
            )
        )
    cold_start = not items
    segment = None
    if len(items) < limit:
        more, segment = _segment_items(run, customer, owned, limit - len(items))
        items.extend(more)
    return ItemList(run, items, segment=segment, cold_start=cold_start)


def customer_home(customer: Customer, limit: int = 20, run=None) -> tuple[ItemList, list]:
    """A ranked home-page feed (S3.13): what is due again (periodic purchases due within 30
    days), then personal picks, then the segment's best sellers; and the top categories."""
    run = run or latest_run()
    if run is None:
        return ItemList(None, []), []
    items: list[Item] = []
    today = timezone.now().date()
    due = (
        PeriodicPattern.objects.filter(
            run=run,
            customer=customer,
            product__isnull=False,
            next_due__lte=today + dt.timedelta(days=30),
        )
        .select_related("product", "product__category")
        .order_by("next_due")
    )
    taken: set[int] = set()
    for pattern in due:
        if pattern.product_id in taken or not _available(pattern.product):
            continue
        taken.add(pattern.product_id)
        items.append(
            Item(
                product=pattern.product,
                reason="due_again",
                explanation=_("Bought about every %(days).0f days; next due %(date)s")
                % {"days": pattern.period_days, "date": pattern.next_due.isoformat()},
                score=pattern.confidence,
                numbers={"next_due": pattern.next_due.isoformat()},
            )
        )
    personal = customer_recommendations(customer, limit=limit, run=run)
    for item in personal.items:
        if len(items) >= limit:
            break
        if item.product.pk not in taken:
            taken.add(item.product.pk)
            items.append(item)
    categories = list(
        CategoryAffinity.objects.filter(run=run, customer=customer)
        .select_related("category")
        .order_by("-score", "category_id")[:3]
    )
    feed = ItemList(run, items, segment=personal.segment, cold_start=personal.cold_start)
    return feed, categories


def rules_explorer(
    run: AnalyticsRun,
    *,
    level: str = "product",
    min_lift: float | None = None,
    min_support: float | None = None,
    min_confidence: float | None = None,
    category_id: int | None = None,
):
    """The run's rules, strongest first, filtered (a queryset: paginate it)."""
    rules = ProductRule.objects.filter(run=run, level=level)
    if min_lift is not None:
        rules = rules.filter(lift__gte=min_lift)
    if min_support is not None:
        rules = rules.filter(support__gte=min_support)
    if min_confidence is not None:
        rules = rules.filter(confidence__gte=min_confidence)
    if category_id is not None:
        if level == ProductRule.Level.PRODUCT:
            rules = rules.filter(
                Q(antecedent_product__category_id=category_id)
                | Q(consequent_product__category_id=category_id)
                | Q(antecedent_product__category__parent_id=category_id)
                | Q(consequent_product__category__parent_id=category_id)
            )
        else:
            rules = rules.filter(
                Q(antecedent_category_id=category_id) | Q(consequent_category_id=category_id)
            )
    return rules.select_related(
        "antecedent_product",
        "consequent_product",
        "antecedent_category",
        "consequent_category",
        "antecedent_product__category",
        "consequent_product__category",
    ).order_by("-lift", "-confidence", "id")


def category_rules_for(run: AnalyticsRun, category_id: int | None, limit: int = 5):
    if run is None or category_id is None:
        return []
    return list(
        ProductRule.objects.filter(
            run=run, level=ProductRule.Level.CATEGORY, antecedent_category_id=category_id
        )
        .select_related("consequent_category")
        .order_by("-lift")[:limit]
    )


__all__ = [
    "REASONS",
    "Item",
    "ItemList",
    "category_rules_for",
    "customer_home",
    "customer_recommendations",
    "related_products",
    "rules_explorer",
]
