"""Reads of the precomputed chains and recommendations (no writes, no model at request time).

Each function reads the latest successful run's ready-made list for the product or customer
(one row, see :mod:`guanxi.analytics.payloads`; the customer's segments' lists come with it) and
re-checks, in one more query, what may have changed since the run: stock and active flags, and
what the customer has bought or returned since. Every item says why it is there (``reason`` +
``explanation``). ``serve_*`` return a :class:`Served` that the API turns into JSON as is;
``related_products``, ``customer_recommendations`` and ``customer_home`` give the same lists as
objects for the console.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import get_language, gettext

from guanxi.analytics.models import (
    AnalyticsRun,
    ProductRule,
    Recommendation,
    SegmentPopular,
)
from guanxi.commerce.models import Category, Product
from guanxi.customers.models import Customer

_translated: dict[tuple[str | None, str], str] = {}


def _(message: str) -> str:
    """``gettext``, remembered per language: every item of every request repeats one of the same
    few sentences, and looking each up again was a tenth of a request's time."""
    key = (get_language(), message)
    text = _translated.get(key)
    if text is None:
        text = _translated[key] = gettext(message)
    return text


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


# -- Reading a run's lists -------------------------------------------------------------------
# The hot paths below are a few hand-written SQL queries returning tuples: at hundreds of
# requests a second the ORM's query compilation and model building cost more than the database
# work. A request reads its run's ready-made list (one row by its unique key, see
# ``guanxi.analytics.payloads``), then the live state of the products on it in one query.

_LATEST_RUN = (
    "(SELECT id FROM analytics_analyticsrun WHERE status = 'succeeded' "
    "ORDER BY finished_at DESC, started_at DESC, id DESC LIMIT 1)"
)
_RUN = "(%(run)s)"
# Products on a list beyond what is asked for, read at once in case some are excluded.
_SPARE = 8
_Q4 = Decimal("0.0001")
_as_json = DjangoJSONEncoder().default


def _rows(sql: str, params) -> list[tuple]:
    """The rows of one query. On PostgreSQL the statement is prepared on the server (psycopg,
    parameters bound server-side): planning these joins took longer than running them. When
    Django logs queries (debug, tests counting them) it goes through Django's cursor as usual."""
    if connection.vendor == "postgresql" and not connection.queries_logged:
        import psycopg

        connection.ensure_connection()
        with psycopg.Cursor(connection.connection) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchall()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _aware(value) -> dt.datetime:
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if timezone.is_naive(value):
        value = value.replace(tzinfo=dt.UTC)
    return value


def _run_filter(run) -> tuple[str, dict]:
    """SQL for "the run's id" (the latest successful run unless ``run`` is given)."""
    if run is None:
        return _LATEST_RUN, {}
    return _RUN, {"run": run.pk if hasattr(run, "pk") else int(run)}


class _Live:
    """The live state of the products a response may list, read in as few queries as possible:
    ``(id, sku, name, category id, category name, price, currency, in stock, active, owned)``
    where ``owned`` says the customer has bought or returned it (ever: also since the run)."""

    _SQL = (
        "SELECT p.id, p.sku, p.name, p.category_id, c.name, p.price, p.currency, p.in_stock, "
        "p.is_active, {owned} FROM commerce_product p "
        "LEFT JOIN commerce_category c ON c.id = p.category_id WHERE p.id IN ({ids})"
    )
    # A non-correlated IN: both databases build the customer's few products once, through the
    # (customer, placed_at) index on orders, instead of probing every line of each product.
    _OWNED = (
        "p.id IN (SELECT l.product_id FROM commerce_order o "
        "JOIN commerce_orderline l ON l.order_id = o.id "
        "WHERE o.customer_id = %s AND l.product_id IS NOT NULL)"
    )

    def __init__(self, customer_id: int | None = None):
        self.customer_id = customer_id
        self.rows: dict[int, tuple] = {}
        self.asked: set[int] = set()

    def need(self, ids) -> None:
        missing = list(dict.fromkeys(i for i in ids if i is not None and i not in self.asked))
        if not missing:
            return
        self.asked.update(missing)
        owned = "0" if self.customer_id is None else self._OWNED
        params: list = [] if self.customer_id is None else [self.customer_id]
        if connection.vendor == "postgresql":
            # One statement whatever the number of products (an array parameter).
            sql = self._SQL.format(owned=owned, ids="SELECT unnest(%s::bigint[])")
            params.append(missing)
        else:
            sql = self._SQL.format(owned=owned, ids=", ".join(["%s"] * len(missing)))
            params += missing
        for row in _rows(sql, params):
            self.rows[row[0]] = row

    def available(self, pid: int, *, unowned: bool = False) -> tuple | None:
        """The product's row when it is in stock and active (and, with ``unowned``, never
        bought or returned by the customer), else None."""
        if pid not in self.asked:
            self.need([pid])
        row = self.rows.get(pid)
        if row is None or not (row[7] and row[8]) or (unowned and row[9]):
            return None
        return row

    def name(self, pid: int | None) -> str:
        row = self.rows.get(pid) if pid is not None else None
        return row[2] if row else ""


def _take(candidates: list, live: _Live, want: int, accept) -> list:
    """The first ``want`` candidates ``accept`` (candidate) keeps, reading the live state of the
    products in chunks: one query when nothing is excluded."""
    out: list = []
    i = 0
    while i < len(candidates) and len(out) < want:
        chunk = candidates[i : i + want - len(out) + _SPARE]
        live.need(c[0] for c in chunk)
        for c in chunk:
            if accept(c):
                out.append(c)
                if len(out) >= want:
                    break
        i += len(chunk)
    return out


@dataclass
class _Entry:
    """One listed product before it is shaped for the API or the console."""

    pid: int
    reason: str
    explanation: str
    score: float | None
    because: int | None = None
    numbers: dict = field(default_factory=dict)


@dataclass
class Served:
    """A list as served: the run, the entries (in order) and the live product rows behind them.
    ``found`` is False for an unknown product or customer (the API's 404)."""

    found: bool
    run_id: int | None = None
    as_of: dt.datetime | None = None
    entries: list[_Entry] = field(default_factory=list)
    live: _Live | None = None
    segment: dict | None = None
    cold_start: bool = False
    categories: list = field(default_factory=list)

    # -- shapes ---------------------------------------------------------------------------

    def product_json(self, pid: int) -> dict:
        pid, sku, name, category_id, category, price, currency, in_stock = self.live.rows[pid][:8]
        return {
            "id": pid,
            "sku": sku,
            "name": name,
            "category_id": category_id,
            "category": category if category_id is not None else None,
            "price": None if price is None else str(Decimal(str(price)).quantize(_Q4)),
            "currency": currency,
            "in_stock": bool(in_stock),
        }

    def items_json(self) -> list[dict]:
        """The entries as the API's ``items`` (rank from 1)."""
        return [
            {
                "rank": rank,
                "product": self.product_json(e.pid),
                "reason": e.reason,
                "explanation": e.explanation,
                "score": e.score,
                "because_of_product_id": e.because,
                "numbers": e.numbers,
            }
            for rank, e in enumerate(self.entries, start=1)
        ]

    def as_of_json(self) -> str | None:
        return None if self.as_of is None else _as_json(self.as_of)

    def product(self, pid: int) -> Product:
        pid, sku, name, category_id, category, price, currency, in_stock, active = self.live.rows[
            pid
        ][:9]
        product = Product(
            id=pid,
            sku=sku,
            name=name,
            category_id=category_id,
            price=None if price is None else Decimal(str(price)).quantize(_Q4),
            currency=currency,
            in_stock=bool(in_stock),
            is_active=bool(active),
        )
        if category_id is not None:
            product.category = Category(id=category_id, name=category)
        return product

    def item_list(self) -> ItemList:
        """The entries as :class:`Item` objects (for the console and Python callers)."""
        run = None
        if self.run_id is not None:
            run = AnalyticsRun(
                id=self.run_id, as_of=self.as_of, status=AnalyticsRun.Status.SUCCEEDED
            )
        items = [
            Item(
                product=self.product(e.pid),
                reason=e.reason,
                explanation=e.explanation,
                score=e.score,
                because_of=(
                    Product(id=e.because, name=self.live.name(e.because)) if e.because else None
                ),
                numbers=e.numbers,
            )
            for e in self.entries
        ]
        return ItemList(run, items, segment=self.segment, cold_start=self.cold_start)


def _pct(x: float) -> str:
    return f"{x * 100:.0f}%"


def serve_related(product_id: int, limit: int = 10, run=None) -> Served:
    """Products bought with the product: its rules first (same basket, by confidence), then
    the products bought by the same customers (collaborative filter); in stock only."""
    where, params = _run_filter(run)
    found = _rows(
        "SELECT r.id, r.as_of, s.payload FROM analytics_analyticsrun r "  # noqa: S608
        "LEFT JOIN analytics_servinglist s ON s.run_id = r.id AND s.kind = 'product' "
        f"AND s.key = %(key)s WHERE r.id = {where}",
        {**params, "key": str(product_id)},
    )
    live = _Live()
    if not found:
        live.need([product_id])
        return Served(found=product_id in live.rows, live=live)
    run_id, as_of, payload = found[0]
    lists = json.loads(payload) if payload else {"rules": [], "neighbours": []}
    rules = [(c[0], "rule", c) for c in lists["rules"]]
    neighbours = [(c[0], "neighbour", c) for c in lists["neighbours"]]
    live.need([product_id] + [c[0] for c in (rules + neighbours)[: limit + _SPARE]])
    served = Served(found=product_id in live.rows, run_id=run_id, as_of=_aware(as_of), live=live)
    if not served.found:
        return served
    name = live.name(product_id)
    seen = {product_id}

    def fresh(c) -> bool:
        if c[0] in seen or live.available(c[0]) is None:
            return False
        seen.add(c[0])
        return True

    for pid, _kind, (_pid, support, confidence, lift, both) in _take(rules, live, limit, fresh):
        served.entries.append(
            _Entry(
                pid,
                "bought_together",
                _("%(conf)s of baskets with %(a)s also hold %(c)s (%(lift).1f× the usual rate)")
                % {"conf": _pct(confidence), "a": name, "c": live.name(pid), "lift": lift},
                confidence,
                numbers={
                    "support": support,
                    "confidence": confidence,
                    "lift": lift,
                    "baskets_with_both": both,
                },
            )
        )
    more = limit - len(served.entries)
    for pid, _kind, (_pid, similarity, both) in _take(neighbours, live, more, fresh):
        served.entries.append(
            _Entry(
                pid,
                "similar_customers",
                _(
                    "%(n)d customers bought both, not necessarily in one basket "
                    "(similarity %(sim).2f)"
                )
                % {"n": both, "sim": similarity},
                similarity,
                numbers={"similarity": similarity, "customers_both": both},
            )
        )
    return served


def _segment_label(kind: str, value: str) -> str:
    if kind == SegmentPopular.SegmentKind.CUSTOMER_TYPE and value in Customer.CustomerType.values:
        return str(Customer.CustomerType(value).label)
    return value


def _customer_lists(customer_id: int, run) -> Served | tuple:
    """The customer, the run, the customer's list and their segments' lists in one query."""
    where, params = _run_filter(run)
    rows = _rows(
        "SELECT c.id, c.occupation, c.customer_type, r.id, r.as_of, s.payload, g.key, g.payload "  # noqa: S608
        "FROM customers_customer c "
        f"LEFT JOIN analytics_analyticsrun r ON r.id = {where} "
        "LEFT JOIN analytics_servinglist s ON s.run_id = r.id AND s.kind = 'customer' "
        "AND s.key = %(key)s "
        "LEFT JOIN analytics_servinglist g ON g.run_id = r.id AND g.kind = 'segment' AND g.key IN "
        "('occupation:' || TRIM(c.occupation), 'customer_type:' || c.customer_type, 'store:') "
        "WHERE c.id = %(id)s",
        {**params, "key": str(customer_id), "id": customer_id},
    )
    if not rows:
        return Served(found=False)
    return rows


def _personal(customer_id: int, limit: int, run, *, due: bool = False) -> Served:
    """Personal picks, then the segment's best sellers to fill up (all of them for a customer
    without history: the cold start); with ``due``, the periodic purchases due within 30 days
    first (the home feed). Never a product the customer bought or returned (also since the
    run) among the picks, nor one out of stock or inactive anywhere."""
    rows = _customer_lists(customer_id, run)
    if isinstance(rows, Served):
        return rows
    occupation, customer_type, run_id, as_of, payload = rows[0][1:6]
    live = _Live(customer_id)
    served = Served(found=True, live=live)
    if run_id is None:
        return served
    served.run_id, served.as_of = run_id, _aware(as_of)
    mine = json.loads(payload) if payload else {"items": [], "due": [], "categories": []}
    segments = {row[6]: row[7] for row in rows if row[6] is not None}
    picks = mine["items"]
    due_rows = []
    if due:
        horizon = (timezone.now().date() + dt.timedelta(days=30)).isoformat()
        due_rows = [d for d in mine["due"] if d[2] <= horizon]
    # One read of everything the answer most likely shows.
    first = [d[0] for d in due_rows] + [p[0] for p in picks[: limit + _SPARE]]
    first += [p[3] for p in picks[: limit + _SPARE]]
    live.need(first)

    taken: set[int] = set()
    for pid, period, next_due, confidence in due_rows:
        if len(served.entries) >= limit:
            break
        if pid in taken or live.available(pid) is None:
            continue
        taken.add(pid)
        served.entries.append(
            _Entry(
                pid,
                "due_again",
                _("Bought about every %(days).0f days; next due %(date)s")
                % {"days": period, "date": next_due},
                confidence,
                numbers={"next_due": next_due},
            )
        )
    wanted = limit - len(served.entries) if due else limit
    # The personal list stands on its own (``limit`` long, as the recommendations endpoint
    # would answer) before the home feed merges it after what is due.
    own: set[int] = set()

    def pick_ok(c) -> bool:
        if c[0] in own or live.available(c[0], unowned=True) is None:
            return False
        own.add(c[0])
        return True

    chosen = _take(picks, live, limit, pick_ok)
    live.need(p[3] for p in chosen)  # the names of the products that explain them
    personal = []
    for pid, reason, score, because, strength in chosen:
        if reason == Recommendation.Reason.BOUGHT_TOGETHER and because is not None:
            text = _("%(conf)s of baskets with %(a)s, which they bought, also hold it") % {
                "conf": _pct(strength or 0),
                "a": live.name(because),
            }
        elif because is not None:
            text = _("Customers who bought %(a)s, as they did, also bought it") % {
                "a": live.name(because)
            }
        else:
            text = _("Customers who buy and browse like them bought it")
        personal.append(
            _Entry(pid, reason, text, score, because=because, numbers={"strength": strength})
        )
    served.cold_start = not personal
    if len(personal) < limit:
        personal += _segment_entries(
            served, occupation, customer_type, segments, own, limit - len(personal)
        )
    for entry in personal:
        if wanted <= 0:
            break
        if entry.pid in taken:
            continue
        taken.add(entry.pid)
        served.entries.append(entry)
        wanted -= 1
    if due:
        served.categories = [tuple(c) for c in mine["categories"]]
    return served


def _segment_entries(
    served: Served, occupation, customer_type, segments: dict, own: set, limit: int
) -> list[_Entry]:
    """Best sellers of the customer's segment (occupation, else customer type, else store),
    leaving out what they own and what is already listed (``own``)."""
    live = served.live
    wanted = []
    occupation = (occupation or "").strip()
    if occupation:
        wanted.append((SegmentPopular.SegmentKind.OCCUPATION.value, occupation))
    wanted.append((SegmentPopular.SegmentKind.CUSTOMER_TYPE.value, customer_type))
    wanted.append((SegmentPopular.SegmentKind.STORE.value, ""))
    out: list[_Entry] = []

    def ok(c) -> bool:
        if c[0] in own or live.available(c[0], unowned=True) is None:
            return False
        own.add(c[0])
        return True

    for kind, value in wanted:
        if len(out) >= limit:
            break
        text = segments.get(f"{kind}:{value}")
        if not text:
            continue
        lists = json.loads(text)
        segment_buyers = lists["buyers"]
        for pid, buyers in _take(lists["items"], live, limit - len(out), ok):
            share = buyers / segment_buyers if segment_buyers else 0.0
            if kind == SegmentPopular.SegmentKind.STORE:
                reason = "popular"
                explanation = _("Bought by %(share)s of the store's customers") % {
                    "share": _pct(share)
                }
            else:
                reason = "popular_in_segment"
                label = (
                    _("occupation") if kind == SegmentPopular.SegmentKind.OCCUPATION else _("type")
                )
                explanation = _("Bought by %(share)s of customers with %(label)s “%(value)s”") % {
                    "share": _pct(share),
                    "label": label,
                    "value": _segment_label(kind, value),
                }
            served.segment = served.segment or {
                "kind": kind,
                "value": value,
                "buyers": segment_buyers,
            }
            out.append(
                _Entry(
                    pid,
                    reason,
                    explanation,
                    share,
                    numbers={"buyers": buyers, "segment_buyers": segment_buyers},
                )
            )
    return out


def serve_recommendations(customer_id: int, limit: int = 10, run=None) -> Served:
    """Personal picks of the run, then the segment's best sellers to fill up."""
    return _personal(customer_id, limit, run)


def serve_home(customer_id: int, limit: int = 20, run=None) -> Served:
    """A ranked home-page feed (S3.13): what is due again (periodic purchases due within 30
    days), then personal picks, then the segment's best sellers; and the top categories
    (``(category id, name, share, affinity)``)."""
    return _personal(customer_id, limit, run, due=True)


# -- The same lists as objects, for the console and Python callers ---------------------------


def find_product(product_id: int) -> Product | None:
    """The product (with its category), or None."""
    live = _Live()
    live.need([product_id])
    return Served(found=True, live=live).product(product_id) if product_id in live.rows else None


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
    found = _rows(f"SELECT id, as_of FROM analytics_analyticsrun WHERE id = {_LATEST_RUN}", {})  # noqa: S608
    if not found:
        return None
    run_id, as_of = found[0]
    return AnalyticsRun(id=run_id, as_of=_aware(as_of), status=AnalyticsRun.Status.SUCCEEDED)


def related_products(product: Product, limit: int = 10, run=None) -> ItemList:
    """:func:`serve_related` as :class:`Item` objects."""
    served = serve_related(product.pk, limit, run)
    return served.item_list() if served.found else ItemList(None, [])


def customer_recommendations(customer: Customer, limit: int = 10, run=None) -> ItemList:
    """:func:`serve_recommendations` as :class:`Item` objects."""
    served = serve_recommendations(customer.pk, limit, run)
    return served.item_list() if served.found else ItemList(None, [])


def customer_home(customer: Customer, limit: int = 20, run=None) -> tuple[ItemList, list]:
    """:func:`serve_home` as :class:`Item` objects, and the top categories."""
    served = serve_home(customer.pk, limit, run)
    if not served.found:
        return ItemList(None, []), []
    return served.item_list(), served.categories


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
    "Served",
    "serve_home",
    "serve_recommendations",
    "serve_related",
    "category_rules_for",
    "find_customer",
    "find_product",
    "latest_run",
    "customer_home",
    "customer_recommendations",
    "related_products",
    "rules_explorer",
]
