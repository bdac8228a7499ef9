"""``/api/v1/orders``: list, get, batch ingest."""

import datetime as dt
from decimal import Decimal

import pyarrow as pa
from django.http import Http404
from ninja import Field, Router, Schema
from ninja.pagination import PageNumberPagination, paginate

from guanxi.api.auth import require_write
from guanxi.api.batch import run_batch
from guanxi.api.customers import ErrorsOut
from guanxi.commerce import selectors
from guanxi.commerce.models import Order
from guanxi.commerce.services import ORDER_LINE_COLUMNS, ImportRejected, ingest_order_lines
from guanxi.customers.services import BatchRejected, ItemError

router = Router(tags=["orders"])


class OrderLineOut(Schema):
    line_no: int
    sku: str
    name: str
    quantity: int
    unit_price: Decimal
    currency: str
    line_total: Decimal
    product_id: int | None


class OrderOut(Schema):
    id: int
    source: str
    external_id: str
    kind: str
    status: str
    customer_id: int | None
    guest_email: str
    currency: str
    total: Decimal
    item_count: int
    placed_at: dt.datetime
    country: str


class OrderDetailOut(OrderOut):
    lines: list[OrderLineOut] = Field(..., alias="lines.all")


class OrderLineIn(Schema):
    sku: str = Field(..., max_length=128)
    name: str = ""
    category: str | None = None
    quantity: int
    unit_price: Decimal


class OrderIn(Schema):
    external_id: str = Field(..., max_length=128)
    placed_at: dt.datetime
    customer_external_id: str | None = None
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    currency: str = Field("USD", min_length=3, max_length=3)
    kind: str = "order"
    status: str = "completed"
    country: str = ""
    lines: list[OrderLineIn] = Field(..., min_length=1)


class OrderBatchIn(Schema):
    source: str = Field("api", max_length=64)
    items: list[OrderIn]


class OrderBatchOut(Schema):
    created: int
    existing: int
    lines: int
    customers_created: int


@router.get("/orders", response=list[OrderOut], summary="List orders")
@paginate(PageNumberPagination, page_size=50)
def list_orders(request, q: str = "", customer_id: int | None = None, status: str = ""):
    return selectors.list_orders(q, {"customer": customer_id, "status": status})


@router.get("/orders/{int:order_id}", response=OrderDetailOut, summary="Get one order with lines")
def get_order(request, order_id: int):
    try:
        return selectors.get_order(order_id)
    except Order.DoesNotExist:
        raise Http404 from None


def _as_table(items: list[OrderIn]) -> tuple[pa.Table, list[tuple[int, int]]]:
    columns: dict[str, list] = {name: [] for name in ORDER_LINE_COLUMNS}
    where: list[tuple[int, int]] = []
    for i, item in enumerate(items):
        for j, line in enumerate(item.lines):
            where.append((i, j))
            placed = item.placed_at
            if placed.tzinfo is None:
                placed = placed.replace(tzinfo=dt.UTC)
            values = {
                "order_id": item.external_id,
                "placed_at": placed.isoformat(),
                "customer_id": item.customer_external_id,
                "sku": line.sku,
                "product_name": line.name,
                "category": line.category,
                "quantity": str(line.quantity),
                "unit_price": str(line.unit_price),
                "currency": item.currency,
                "kind": item.kind,
                "status": item.status,
                "country": item.country,
                "email": item.email,
                "first_name": item.first_name,
                "last_name": item.last_name,
            }
            for k, v in values.items():
                columns[k].append(v)
    return pa.table({k: pa.array(v, pa.string()) for k, v in columns.items()}), where


_ORDER_FIELDS = {"order_id": "external_id", "customer_id": "customer_external_id"}
_LINE_FIELDS = {"sku", "product_name", "category", "quantity", "unit_price"}


@router.post(
    "/orders/batch",
    response={200: OrderBatchOut, 422: ErrorsOut},
    summary="Ingest up to 1,000 orders, idempotent by (source, external_id)",
)
def batch_orders(request, payload: OrderBatchIn):
    require_write(request)

    def work():
        seen: dict[str, int] = {}
        dupes = []
        for i, item in enumerate(payload.items):
            if item.external_id in seen:
                dupes.append(
                    ItemError(
                        i,
                        "external_id",
                        f"duplicates item {seen[item.external_id]}",
                        item.external_id,
                    )
                )
            seen.setdefault(item.external_id, i)
        if dupes:
            raise BatchRejected(dupes)
        table, where = _as_table(payload.items)
        try:
            result = ingest_order_lines(
                table,
                source=payload.source,
                label="batch",
                row_numbers=pa.array(range(len(where)), pa.int64()),
            )
        except ImportRejected as exc:
            errors = []
            for e in exc.result.errors:
                item, line = where[e.row]
                field = _ORDER_FIELDS.get(e.field, e.field)
                if e.field in _LINE_FIELDS:
                    field = f"lines[{line}].{'name' if e.field == 'product_name' else e.field}"
                errors.append(ItemError(item, field, e.reason, e.value))
            raise BatchRejected(errors) from None
        return {
            "created": result.orders_created,
            "existing": result.orders_existing,
            "lines": result.lines_created,
            "customers_created": result.customers_created,
        }

    return run_batch(request, "orders.batch", payload.dict(), work)
