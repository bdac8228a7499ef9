"""Reads of the precomputed chains and recommendations (no writes, no model at request time).

Each function reads the latest successful run's rows with a handful of indexed queries and
re-checks what may have changed since the run: stock and active flags, and what the customer has
bought or returned since. Every item says why it is there (``reason`` + ``explanation``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from guanxi.analytics.models import (
    AnalyticsRun,
    ProductRule,
    Recommendation,
    SegmentPopular,
)
from guanxi.commerce.models import Category, Product
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


# The hot paths below use a few hand-written SQL queries: at hundreds of requests a second the
# ORM's query compilation and model building cost more than the database work.
_PRODUCT_COLUMNS = (
    "p.id, p.sku, p.name, p.category_id, c.name, p.price, p.currency, p.in_stock, p.is_active"
)
_PRODUCT_JOIN = (
    "JOIN commerce_product p ON p.id = {col} LEFT JOIN commerce_category c ON c.id = p.category_id"
)
_AVAILABLE = "p.in_stock AND p.is_active"
# Not bought or returned by the customer, ever (also since the run). A non-correlated NOT IN:
# both databases build the customer's few products once, through the (customer, placed_at)
# index on orders, instead of probing every order line of each candidate product.
_NOT_OWNED = """p.id NOT IN (
    SELECT l.product_id FROM commerce_order o JOIN commerce_orderline l ON l.order_id = o.id
    WHERE o.customer_id = %(customer)s AND l.product_id IS NOT NULL)"""


def _rows(sql: str, params: dict) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _product(row: tuple) -> Product:
    """A Product (with its category's name) from the 9 columns of ``_PRODUCT_COLUMNS``."""
    pid, sku, name, category_id, category_name, price, currency, in_stock, active = row[:9]
    product = Product(
        id=pid,
        sku=sku,
        name=name,
        category_id=category_id,
        price=None if price is None else Decimal(str(price)).quantize(Decimal("0.0001")),
        currency=currency,
        in_stock=bool(in_stock),
        is_active=bool(active),
    )
    if category_id is not None:
        product.category = Category(id=category_id, name=category_name)
    return product


def find_product(product_id: int) -> Product | None:
    """The product (with its category) in one plain query, or None."""
    found = _rows(
        f"SELECT {_PRODUCT_COLUMNS} FROM commerce_product p "  # noqa: S608
        "LEFT JOIN commerce_category c ON c.id = p.category_id WHERE p.id = %(id)s",
        {"id": product_id},
    )
    return _product(found[0]) if found else None


def find_customer(customer_id: int) -> Customer | None:
    """The customer's id, occupation and type in one plain query, or None."""
    found = _rows(
        "SELECT id, occupation, customer_type FROM customers_customer WHERE id = %(id)s",
        {"id": customer_id},
    )
    if not found:
        return None
    cid, occupation, customer_type = found[0]
    return Customer(id=cid, occupation=occupation or "", customer_type=customer_type)


def latest_run() -> AnalyticsRun | None:
    """The latest successful run (id and as_of only), in one plain query."""
    found = _rows(
        "SELECT id, as_of FROM analytics_analyticsrun WHERE status = 'succeeded' "
        "ORDER BY finished_at DESC, started_at DESC, id DESC LIMIT 1",
        {},
    )
    if not found:
        return None
    run_id, as_of = found[0]
    if isinstance(as_of, str):
        as_of = dt.datetime.fromisoformat(as_of)
    if timezone.is_naive(as_of):
        as_of = as_of.replace(tzinfo=dt.UTC)
    return AnalyticsRun(id=run_id, as_of=as_of, status=AnalyticsRun.Status.SUCCEEDED)


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def related_products(product: Product, limit: int = 10, run=None) -> ItemList:
    """Products bought with ``product``: its rules first (same basket, by confidence), then the
    products bought by the same customers (collaborative filter), in stock only."""
    run = run or latest_run()
    if run is None:
        return ItemList(None, [])
    params = {"run": run.pk, "product": product.pk, "level": "product", "n": limit}
    rules = _rows(
        f"SELECT {_PRODUCT_COLUMNS}, r.support, r.confidence, r.lift, r.pair_count "  # noqa: S608
        f"FROM analytics_productrule r {_PRODUCT_JOIN.format(col='r.consequent_product_id')} "
        f"WHERE r.run_id = %(run)s AND r.level = %(level)s "
        f"AND r.antecedent_product_id = %(product)s AND {_AVAILABLE} "
        "ORDER BY r.confidence DESC, r.lift DESC, p.id LIMIT %(n)s",
        params,
    )
    items: list[Item] = []
    seen = {product.pk}
    for row in rules:
        other = _product(row)
        support, confidence, lift, pair_count = row[9:]
        seen.add(other.pk)
        items.append(
            Item(
                product=other,
                reason="bought_together",
                explanation=_(
                    "%(conf)s of baskets with %(a)s also hold %(c)s (%(lift).1f× the usual rate)"
                )
                % {"conf": _pct(confidence), "a": product.name, "c": other.name, "lift": lift},
                score=confidence,
                numbers={
                    "support": support,
                    "confidence": confidence,
                    "lift": lift,
                    "baskets_with_both": pair_count,
                },
            )
        )
    if len(items) < limit:
        neighbours = _rows(
            f"SELECT {_PRODUCT_COLUMNS}, r.similarity, r.customers_both "  # noqa: S608
            f"FROM analytics_relatedproduct r {_PRODUCT_JOIN.format(col='r.related_id')} "
            f"WHERE r.run_id = %(run)s AND r.product_id = %(product)s AND {_AVAILABLE} "
            "ORDER BY r.rank",
            params,
        )
        for row in neighbours:
            other = _product(row)
            if other.pk in seen:
                continue
            seen.add(other.pk)
            similarity, both = row[9:]
            items.append(
                Item(
                    product=other,
                    reason="similar_customers",
                    explanation=_(
                        "%(n)d customers bought both, not necessarily in one basket "
                        "(similarity %(sim).2f)"
                    )
                    % {"n": both, "sim": similarity},
                    score=similarity,
                    numbers={"similarity": similarity, "customers_both": both},
                )
            )
    return ItemList(run, items[:limit])


def _segment_lists(customer: Customer) -> list[tuple[str, str]]:
    wanted = []
    occupation = (customer.occupation or "").strip()
    if occupation:
        wanted.append((SegmentPopular.SegmentKind.OCCUPATION.value, occupation))
    wanted.append((SegmentPopular.SegmentKind.CUSTOMER_TYPE.value, customer.customer_type))
    wanted.append((SegmentPopular.SegmentKind.STORE.value, ""))
    return wanted


def _segment_label(kind: str, value: str) -> str:
    if kind == SegmentPopular.SegmentKind.CUSTOMER_TYPE and value in Customer.CustomerType.values:
        return str(Customer.CustomerType(value).label)
    return value


def _segment_items(
    run: AnalyticsRun, customer: Customer, skip: set[int], limit: int
) -> tuple[list[Item], dict | None]:
    """Best sellers of the customer's segment (occupation, else customer type, else store),
    leaving out what they own and what is already listed (``skip``)."""
    items: list[Item] = []
    used = None
    for kind, value in _segment_lists(customer):
        if len(items) >= limit:
            break
        rows = _rows(
            f"SELECT {_PRODUCT_COLUMNS}, s.buyers, s.segment_buyers "  # noqa: S608
            f"FROM analytics_segmentpopular s {_PRODUCT_JOIN.format(col='s.product_id')} "
            "WHERE s.run_id = %(run)s AND s.segment_kind = %(kind)s AND s.segment = %(value)s "
            f"AND {_AVAILABLE} AND {_NOT_OWNED} ORDER BY s.rank",
            {"run": run.pk, "kind": kind, "value": value, "customer": customer.pk},
        )
        for row in rows:
            if len(items) >= limit:
                break
            product = _product(row)
            if product.pk in skip:
                continue
            skip.add(product.pk)
            buyers, segment_buyers = row[9:]
            share = buyers / segment_buyers if segment_buyers else 0.0
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
                    "value": _segment_label(kind, value),
                }
            used = used or {"kind": kind, "value": value, "buyers": segment_buyers}
            items.append(
                Item(
                    product=product,
                    reason=reason,
                    explanation=text,
                    score=share,
                    numbers={"buyers": buyers, "segment_buyers": segment_buyers},
                )
            )
    return items, used


def customer_recommendations(customer: Customer, limit: int = 10, run=None) -> ItemList:
    """Personal picks of the latest run, then the segment's best sellers to fill up (all of
    them for a customer without history: the cold start). Never something the customer bought
    or returned (also since the run), nor a product out of stock or inactive."""
    run = run or latest_run()
    if run is None:
        return ItemList(None, [])
    rows = _rows(
        f"SELECT {_PRODUCT_COLUMNS}, r.reason, r.score, r.strength, "  # noqa: S608
        "r.because_of_id, b.name "
        f"FROM analytics_recommendation r {_PRODUCT_JOIN.format(col='r.product_id')} "
        "LEFT JOIN commerce_product b ON b.id = r.because_of_id "
        f"WHERE r.run_id = %(run)s AND r.customer_id = %(customer)s AND {_AVAILABLE} "
        f"AND {_NOT_OWNED} ORDER BY r.rank LIMIT %(n)s",
        {"run": run.pk, "customer": customer.pk, "n": limit},
    )
    items: list[Item] = []
    for row in rows:
        reason, score, strength, because_id, because_name = row[9:]
        because = Product(id=because_id, name=because_name) if because_id else None
        if reason == Recommendation.Reason.BOUGHT_TOGETHER and because is not None:
            text = _("%(conf)s of baskets with %(a)s, which they bought, also hold it") % {
                "conf": _pct(strength or 0),
                "a": because.name,
            }
        elif because is not None:
            text = _("Customers who bought %(a)s, as they did, also bought it") % {
                "a": because.name
            }
        else:
            text = _("Customers who buy and browse like them bought it")
        items.append(
            Item(
                product=_product(row),
                reason=reason,
                explanation=text,
                score=score,
                because_of=because,
                numbers={"strength": strength},
            )
        )
    cold_start = not items
    segment = None
    if len(items) < limit:
        skip = {item.product.pk for item in items}
        more, segment = _segment_items(run, customer, skip, limit - len(items))
        items.extend(more)
    return ItemList(run, items, segment=segment, cold_start=cold_start)


def customer_home(customer: Customer, limit: int = 20, run=None) -> tuple[ItemList, list]:
    """A ranked home-page feed (S3.13): what is due again (periodic purchases due within 30
    days), then personal picks, then the segment's best sellers; and the top categories
    (``(category id, name, share, affinity)`` rows)."""
    run = run or latest_run()
    if run is None:
        return ItemList(None, []), []
    horizon = timezone.now().date() + dt.timedelta(days=30)
    due = _rows(
        f"SELECT {_PRODUCT_COLUMNS}, pp.period_days, pp.next_due, pp.confidence "  # noqa: S608
        f"FROM analytics_periodicpattern pp {_PRODUCT_JOIN.format(col='pp.product_id')} "
        "WHERE pp.run_id = %(run)s AND pp.customer_id = %(customer)s "
        f"AND pp.next_due <= %(horizon)s AND {_AVAILABLE} ORDER BY pp.next_due, p.id",
        {"run": run.pk, "customer": customer.pk, "horizon": horizon},
    )
    items: list[Item] = []
    taken: set[int] = set()
    for row in due:
        product = _product(row)
        period, next_due, confidence = row[9:]
        if isinstance(next_due, str):
            next_due = dt.date.fromisoformat(next_due)
        if product.pk in taken:
            continue
        taken.add(product.pk)
        items.append(
            Item(
                product=product,
                reason="due_again",
                explanation=_("Bought about every %(days).0f days; next due %(date)s")
                % {"days": period, "date": next_due.isoformat()},
                score=confidence,
                numbers={"next_due": next_due.isoformat()},
            )
        )
    personal = customer_recommendations(customer, limit=limit, run=run)
    for item in personal.items:
        if len(items) >= limit:
            break
        if item.product.pk not in taken:
            taken.add(item.product.pk)
            items.append(item)
    categories = _rows(
        "SELECT a.category_id, c.name, a.share, a.score FROM analytics_categoryaffinity a "
        "JOIN commerce_category c ON c.id = a.category_id "
        "WHERE a.run_id = %(run)s AND a.customer_id = %(customer)s "
        "ORDER BY a.score DESC, a.category_id LIMIT 3",
        {"run": run.pk, "customer": customer.pk},
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
    "find_customer",
    "find_product",
    "latest_run",
    "customer_home",
    "customer_recommendations",
    "related_products",
    "rules_explorer",
]
