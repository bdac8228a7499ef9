"""Reads of orders, products and events for pages, exports and other apps (no writes here).

Money rules used throughout: cancelled orders count for nothing; a return / credit note always
counts *against* revenue, whatever sign its total was stored with; sums are per currency, and
pages that show one number use :func:`primary_currency`.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import (
    Case,
    CharField,
    Count,
    DecimalField,
    Exists,
    F,
    Max,
    Min,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.functions import Abs, Coalesce, TruncMonth

from guanxi.commerce.models import Event, Order, OrderLine
from guanxi.customers.models import Customer

MONEY = DecimalField(max_digits=18, decimal_places=4)
ZERO = Decimal("0")
CENT_FRACTION = Decimal("0.0001")


def as_money(value) -> Decimal:
    """A database sum as Decimal(18, 4) (SQLite hands sums back with float noise)."""
    return Decimal(value or 0).quantize(CENT_FRACTION)


ORDER_ORDERINGS: dict[str, tuple[str, ...]] = {
    "placed": ("placed_at", "id"),
    "total": ("total", "id"),
    "number": ("external_id", "id"),
    "status": ("status", "placed_at"),
}


def net_total_expression() -> Case:
    """An order's contribution to revenue: ``total`` for a sale, minus ``|total|`` for a return."""
    return Case(
        When(kind=Order.Kind.RETURN, then=-Abs(F("total"))),
        default=F("total"),
        output_field=MONEY,
    )


def counted_orders() -> QuerySet[Order]:
    """Orders and returns that count for revenue (everything except cancelled ones)."""
    return Order.objects.exclude(status=Order.Status.CANCELLED)


def primary_currency() -> str:
    """The store's working currency: that of its latest order, else ``GUANXI_DEFAULT_CURRENCY``.

    One indexed look-up; pages that show a single money figure (lists, dashboards) use it.
    """
    latest = Order.objects.order_by("-placed_at").values_list("currency", flat=True).first()
    return latest or settings.GUANXI_DEFAULT_CURRENCY


# --- Per-customer figures --------------------------------------------------------------------


ORDER_FIGURES = ("order_count", "total_spent", "last_order_at", "has_orders")


def with_order_stats(
    customers: QuerySet[Customer], currency: str, figures: Iterable[str] = ORDER_FIGURES
) -> QuerySet[Customer]:
    """Annotate customers with some of ``order_count``, ``total_spent`` (net, in ``currency``),
    ``last_order_at`` and ``has_orders``.

    Correlated subqueries rather than a JOIN + GROUP BY. Databases evaluate them for every row
    that reaches a sort, so a list sorts and pages on bare rows (plus at most its sort key) and
    annotates only the page it shows.
    """
    mine = Order.objects.filter(customer=OuterRef("pk")).order_by()
    annotations = {}
    for figure in figures:
        if figure == "order_count":
            count = (
                mine.filter(kind=Order.Kind.ORDER)
                .values("customer")
                .annotate(n=Count("id"))
                .values("n")
            )
            annotations[figure] = Coalesce(Subquery(count), 0)
        elif figure == "total_spent":
            spent = (
                mine.exclude(status=Order.Status.CANCELLED)
                .filter(currency=currency)
                .values("customer")
                .annotate(s=Sum(net_total_expression()))
                .values("s")
            )
            annotations[figure] = Coalesce(
                Subquery(spent, output_field=MONEY), Value(ZERO), output_field=MONEY
            )
        elif figure == "last_order_at":
            last = mine.filter(kind=Order.Kind.ORDER).order_by("-placed_at").values("placed_at")
            annotations[figure] = Subquery(last[:1])
        elif figure == "has_orders":
            annotations[figure] = Exists(mine)
        else:
            raise ValueError(f"unknown order figure {figure!r}")
    return customers.annotate(**annotations)


@dataclass(frozen=True)
class MoneyAmount:
    currency: str
    amount: Decimal


@dataclass(frozen=True)
class CustomerOrderStats:
    """What a customer has bought: counts, net spend per currency, first and last order."""

    order_count: int = 0
    return_count: int = 0
    cancelled_count: int = 0
    spent: list[MoneyAmount] = field(default_factory=list)
    first_order_at: dt.datetime | None = None
    last_order_at: dt.datetime | None = None

    @property
    def average_order_value(self) -> MoneyAmount | None:
        """Net spend divided by orders, in the main currency (None without orders)."""
        if not self.spent or not self.order_count:
            return None
        main = self.spent[0]
        return MoneyAmount(main.currency, main.amount / self.order_count)


def customer_order_stats(customer_id: int) -> CustomerOrderStats:
    """Order figures for one customer in one query (grouped by kind, status and currency)."""
    rows = (
        Order.objects.filter(customer_id=customer_id)
        .order_by()
        .values("kind", "currency", cancelled=Q(status=Order.Status.CANCELLED))
        .annotate(
            n=Count("id"),
            net=Sum(net_total_expression()),
            first=Min("placed_at"),
            last=Max("placed_at"),
        )
    )
    orders = returns = cancelled = 0
    spent: dict[str, Decimal] = {}
    first = last = None
    for row in rows:
        if row["cancelled"]:
            cancelled += row["n"]
        else:
            spent[row["currency"]] = spent.get(row["currency"], ZERO) + as_money(row["net"])
        if row["kind"] == Order.Kind.RETURN:
            returns += row["n"]
            continue
        orders += row["n"]
        first = row["first"] if first is None else min(first, row["first"])
        last = row["last"] if last is None else max(last, row["last"])
    return CustomerOrderStats(
        order_count=orders,
        return_count=returns,
        cancelled_count=cancelled,
        spent=[
            MoneyAmount(c, a) for c, a in sorted(spent.items(), key=lambda kv: (-abs(kv[1]), kv[0]))
        ],
        first_order_at=first,
        last_order_at=last,
    )


# --- Timeline pieces (assembled by customers.selectors.customer_timeline) --------------------


def order_timeline_rows(customer_id: int) -> QuerySet:
    """``(tl_kind, tl_id, tl_at)`` rows of a customer's orders, for a UNION with other sources."""
    return (
        Order.objects.filter(customer_id=customer_id)
        .order_by()
        .annotate(
            tl_kind=Value("order", output_field=CharField()),
            tl_id=F("id"),
            tl_at=F("placed_at"),
        )
        .values_list("tl_kind", "tl_id", "tl_at")
    )


def event_timeline_rows(customer_id: int) -> QuerySet:
    """``(tl_kind, tl_id, tl_at)`` rows of a customer's store events."""
    return (
        Event.objects.filter(customer_id=customer_id)
        .order_by()
        .annotate(
            tl_kind=Value("event", output_field=CharField()),
            tl_id=F("id"),
            tl_at=F("occurred_at"),
        )
        .values_list("tl_kind", "tl_id", "tl_at")
    )


def orders_by_id(ids: Iterable[int]) -> dict[int, Order]:
    """Orders keyed by id, in one query (no lines)."""
    return Order.objects.in_bulk(list(ids))


def events_by_id(ids: Iterable[int]) -> dict[int, Event]:
    """Events keyed by id, with their product, in one query."""
    return Event.objects.select_related("product").in_bulk(list(ids))


# --- Orders ----------------------------------------------------------------------------------


def get_order(order_id: int) -> Order:
    """One order with its customer and its lines (and their products); raises
    ``Order.DoesNotExist``."""
    return (
        Order.objects.select_related("customer")
        .prefetch_related(
            Prefetch(
                "lines",
                queryset=OrderLine.objects.select_related("product").order_by("line_no"),
            )
        )
        .get(pk=order_id)
    )


def list_orders(
    q: str = "",
    filters: Mapping[str, Any] | None = None,
    ordering: str = "-placed",
) -> QuerySet[Order]:
    """Orders matching a search and filters, with their customer.

    ``q`` matches the order number (external id), the guest email, or the customer's names.
    ``filters``: ``status``, ``kind``, ``source``, ``customer`` (id), ``placed_from`` and
    ``placed_to`` (dates, inclusive, store time zone). ``ordering`` is a key of
    :data:`ORDER_ORDERINGS`, ``-`` prefixed for descending; unknown keys fall back to newest first.
    """
    filters = filters or {}
    qs = Order.objects.select_related("customer")
    for name in ("status", "kind", "source"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("customer"):
        qs = qs.filter(customer_id=filters["customer"])
    if filters.get("placed_from"):
        qs = qs.filter(placed_at__gte=_day_start(filters["placed_from"]))
    if filters.get("placed_to"):
        qs = qs.filter(placed_at__lt=_day_start(filters["placed_to"] + dt.timedelta(days=1)))
    q = (q or "").strip()
    if q:
        match = Q(external_id__iexact=q) | Q(external_id__istartswith=q)
        if "@" in q:
            match |= Q(guest_email__icontains=q)
        name_match = Q()
        for token in q.split():
            name_match &= (
                Q(customer__first_name__icontains=token)
                | Q(customer__last_name__icontains=token)
                | Q(customer__company_name__icontains=token)
            )
        qs = qs.filter(match | name_match)
    return qs.order_by(*_ordering(ordering, ORDER_ORDERINGS, "-placed"))


def order_filter_choices() -> dict[str, list[str]]:
    """Distinct order sources present, for the orders list filter."""
    return {
        "sources": list(
            Order.objects.order_by("source").values_list("source", flat=True).distinct()
        )
    }


# --- Dashboard -------------------------------------------------------------------------------


@dataclass(frozen=True)
class MonthRevenue:
    month: dt.date
    revenue: Decimal
    orders: int


@dataclass(frozen=True)
class TopProduct:
    sku: str
    name: str
    product_id: int | None
    quantity: int
    revenue: Decimal


@dataclass(frozen=True)
class DashboardSummary:
    """The numbers on the console home page for one date range (both ends inclusive)."""

    start: dt.date
    end: dt.date
    currency: str
    customers_total: int
    customers_new: int
    customers_active: int
    orders: int
    revenue: Decimal
    returns: int
    returned: Decimal
    revenue_by_month: list[MonthRevenue]
    top_products: list[TopProduct]
    other_currencies: list[str]

    @property
    def average_order_value(self) -> Decimal | None:
        return (self.revenue / self.orders) if self.orders else None


def store_timezone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.GUANXI_STORE_TIMEZONE)


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time.min, tzinfo=store_timezone())


def last_order_date() -> dt.date | None:
    """The store-local date of the latest order, or None when there are no orders."""
    latest = Order.objects.order_by("-placed_at").values_list("placed_at", flat=True).first()
    return latest.astimezone(store_timezone()).date() if latest else None


def dashboard_summary(start: dt.date, end: dt.date, *, top: int = 10) -> DashboardSummary:
    """Customers, orders, net revenue, returns, revenue per month and top products between
    ``start`` and ``end`` (store-local dates, inclusive), money in :func:`primary_currency`."""
    currency = primary_currency()
    lo, hi = _day_start(start), _day_start(end + dt.timedelta(days=1))
    in_range = counted_orders().filter(placed_at__gte=lo, placed_at__lt=hi)
    money = in_range.filter(currency=currency)

    figures = money.aggregate(
        orders=Count("id", filter=Q(kind=Order.Kind.ORDER)),
        revenue=Sum(net_total_expression()),
        returns=Count("id", filter=Q(kind=Order.Kind.RETURN)),
        returned=Sum(Abs(F("total")), filter=Q(kind=Order.Kind.RETURN)),
        active=Count("customer", distinct=True, filter=Q(kind=Order.Kind.ORDER)),
    )
    months = (
        money.annotate(month=TruncMonth("placed_at", tzinfo=store_timezone()))
        .order_by()
        .values("month")
        .annotate(
            revenue=Sum(net_total_expression()),
            orders=Count("id", filter=Q(kind=Order.Kind.ORDER)),
        )
        .order_by("month")
    )
    products = (
        OrderLine.objects.filter(
            order__in=money.filter(kind=Order.Kind.ORDER).order_by().values("id")
        )
        .order_by()
        .values("sku")
        .annotate(
            name=Max("name"),
            product_id=Max("product_id"),
            quantity=Sum("quantity"),
            revenue=Sum("line_total"),
        )
        .order_by("-revenue", "sku")[:top]
    )
    live_customers = Customer.objects.filter(merged_into__isnull=True)
    other = (
        in_range.exclude(currency=currency)
        .order_by("currency")
        .values_list("currency", flat=True)
        .distinct()
    )
    return DashboardSummary(
        start=start,
        end=end,
        currency=currency,
        customers_total=live_customers.count(),
        customers_new=live_customers.filter(created_at__gte=lo, created_at__lt=hi).count(),
        customers_active=figures["active"] or 0,
        orders=figures["orders"] or 0,
        revenue=as_money(figures["revenue"]),
        returns=figures["returns"] or 0,
        returned=as_money(figures["returned"]),
        revenue_by_month=[
            MonthRevenue(_as_date(m["month"]), as_money(m["revenue"]), m["orders"]) for m in months
        ],
        top_products=[
            TopProduct(
                sku=p["sku"],
                name=p["name"] or "",
                product_id=p["product_id"],
                quantity=p["quantity"] or 0,
                revenue=as_money(p["revenue"]),
            )
            for p in products
        ],
        other_currencies=list(other),
    )


def _as_date(value: dt.date | dt.datetime) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _ordering(key: str, table: Mapping[str, tuple[str, ...]], default: str) -> list[str]:
    key = key if (key or "").lstrip("-") in table else default
    desc = key.startswith("-")
    return [f"-{f}" if desc else f for f in table[key.lstrip("-")]]


def has_orders() -> bool:
    """Whether any order exists (to tell an empty store from an empty search)."""
    return Order.objects.exists()
