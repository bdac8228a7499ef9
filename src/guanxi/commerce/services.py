"""Writes to the commerce data: catalogue, orders and their lines, events.

Every write from outside is keyed by ``(source, external_id)``, which is what makes a replay a
no-op. Order lines are validated in bulk on DuckDB (one pass, every bad row named with its row
number, field, value and reason), then written in one transaction with ``COPY`` / ``executemany``.
"""

import dataclasses
import datetime as dt
import json
from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from guanxi.commerce.models import (
    Category,
    Event,
    ImportRun,
    Order,
    OrderLine,
    Product,
    Shipment,
)
from guanxi.core.bulk import allocate_ids, bulk_insert, insert_rows
from guanxi.customers import services as customer_services
from guanxi.customers.services import BatchRejected, ItemError

# Guanxi's canonical order-line layout (one row per line; an order is its lines' order_id).
ORDER_LINE_COLUMNS: dict[str, bool] = {
    # column: required
    "order_id": True,
    "placed_at": True,
    "customer_id": False,
    "sku": True,
    "product_name": False,
    "category": False,
    "quantity": True,
    "unit_price": True,
    "currency": False,
    "kind": False,
    "status": False,
    "country": False,
    "email": False,
    "first_name": False,
    "last_name": False,
}
MAX_STORED_ERRORS = 1000
ID_CHUNK = 5000


@dataclasses.dataclass
class RowError:
    """One bad input row: where it is, which field, what value, and what was expected."""

    row: int
    field: str
    value: str | None
    reason: str
    label: str = ""

    def __str__(self) -> str:
        where = f"{self.label}, row {self.row}" if self.label else f"row {self.row}"
        return f"{where}, field {self.field!r}, value {self.value!r}: {self.reason}"

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "field": self.field, "value": self.value, "reason": self.reason}


@dataclasses.dataclass
class ImportResult:
    run_id: int | None = None
    rows_total: int = 0
    rows_rejected: int = 0
    orders_created: int = 0
    orders_existing: int = 0
    orders_skipped: int = 0
    lines_created: int = 0
    customers_created: int = 0
    products_created: int = 0
    errors: list[RowError] = dataclasses.field(default_factory=list)


class ImportRejected(Exception):
    """The input had bad rows and the policy is to reject it: nothing was written."""

    def __init__(self, result: ImportResult):
        first = result.errors[0] if result.errors else "no detail"
        super().__init__(f"{result.rows_rejected} bad row(s), nothing imported; first: {first}")
        self.result = result


class Progress:
    """A thin adapter so services can report progress without knowing about terminals."""

    def stage(self, name: str, total: int | None = None) -> None:  # pragma: no cover - no-op
        pass

    def advance(self, n: int) -> None:  # pragma: no cover - no-op
        pass

    def close(self) -> None:  # pragma: no cover - no-op
        pass


# --- Catalogue --------------------------------------------------------------------------------


def _existing_ids(model, source: str, external_ids: Iterable[str]) -> dict[str, int]:
    """external_id → id of the rows of ``model`` already stored for ``source``."""
    ids = list(external_ids)
    if not ids or not model.objects.filter(source=source).exists():
        return {}  # first delivery from this source: nothing to look up
    table = connection.ops.quote_name(model._meta.db_table)
    found: dict[str, int] = {}
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # One array parameter instead of thousands of placeholders.
            cursor.execute(
                f"SELECT external_id, id FROM {table} "  # noqa: S608
                "WHERE source = %s AND external_id = ANY(%s)",
                [source, ids],
            )
            found.update(cursor.fetchall())
            return found
        for start in range(0, len(ids), ID_CHUNK):
            chunk = ids[start : start + ID_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            cursor.execute(
                f"SELECT external_id, id FROM {table} "  # noqa: S608
                f"WHERE source = %s AND external_id IN ({marks})",
                [source, *chunk],
            )
            found.update(cursor.fetchall())
    return found


@transaction.atomic
def upsert_categories(rows: list[Mapping[str, Any]], *, source: str) -> dict[str, int]:
    """Create missing categories (and link parents); returns external_id → id for all rows."""
    ids = _existing_ids(Category, source, (r["external_id"] for r in rows))
    new = [
        Category(
            source=source, external_id=r["external_id"], name=r.get("name") or r["external_id"]
        )
        for r in rows
        if r["external_id"] not in ids
    ]
    Category.objects.bulk_create(new, batch_size=2000)
    ids.update({c.external_id: c.pk for c in new})
    with_parent = [r for r in rows if r.get("parent_external_id")]
    if with_parent:
        by_pk = Category.objects.in_bulk([ids[r["external_id"]] for r in with_parent])
        changed = []
        for r in with_parent:
            category = by_pk[ids[r["external_id"]]]
            parent_id = ids.get(r["parent_external_id"])
            if parent_id and category.parent_id != parent_id:
                category.parent_id = parent_id
                changed.append(category)
        Category.objects.bulk_update(changed, ["parent"], batch_size=2000)
    return ids


def _money(value: Any, field: str, index: int) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise BatchRejected([ItemError(index, field, "is not a number", value)]) from None
    if not amount.is_finite():
        raise BatchRejected([ItemError(index, field, "is not a number", value)])
    return amount.quantize(Decimal("0.0001"))


@transaction.atomic
def upsert_products(rows: list[Mapping[str, Any]], *, source: str) -> dict[str, int]:
    """Create missing products and update name/price/stock of known ones; external_id → id."""
    category_keys = {r["category_external_id"] for r in rows if r.get("category_external_id")}
    categories = _existing_ids(Category, source, category_keys)
    missing = category_keys - set(categories)
    if missing:
        categories.update(
            upsert_categories([{"external_id": k, "name": k} for k in missing], source=source)
        )
    ids = _existing_ids(Product, source, (r["external_id"] for r in rows))
    new, changed = [], []
    known = Product.objects.in_bulk(
        [ids[r["external_id"]] for r in rows if r["external_id"] in ids]
    )
    for i, r in enumerate(rows):
        values = {
            "sku": r.get("sku") or r["external_id"],
            "name": (r.get("name") or r.get("sku") or r["external_id"])[:300],
            "category_id": categories.get(r.get("category_external_id")),
            "price": _money(r.get("price"), "price", i),
            "currency": r.get("currency") or settings.GUANXI_DEFAULT_CURRENCY,
            "in_stock": bool(r.get("in_stock", True)),
        }
        if r["external_id"] in ids:
            product = known[ids[r["external_id"]]]
            if any(getattr(product, k) != v for k, v in values.items()):
                for k, v in values.items():
                    setattr(product, k, v)
                changed.append(product)
        else:
            new.append(Product(source=source, external_id=r["external_id"], **values))
    Product.objects.bulk_create(new, batch_size=2000)
    Product.objects.bulk_update(
        changed, ["sku", "name", "category", "price", "currency", "in_stock"], batch_size=1000
    )
    ids.update({p.external_id: p.pk for p in new})
    return ids


# --- Order lines ------------------------------------------------------------------------------


def _varchar_frame(con: duckdb.DuckDBPyConnection, table: pa.Table, row_numbers: pa.Array | None):
    """Register ``table`` as ``raw``: every canonical column as VARCHAR plus ``_row``."""
    cols = {}
    for name in ORDER_LINE_COLUMNS:
        if name in table.column_names:
            column = table.column(name)
            if not pa.types.is_string(column.type) and not pa.types.is_large_string(column.type):
                column = column.cast(pa.string()) if not pa.types.is_null(column.type) else None
            cols[name] = column if column is not None else pa.nulls(table.num_rows, pa.string())
        else:
            cols[name] = pa.nulls(table.num_rows, pa.string())
    if row_numbers is None:
        row_numbers = pa.array(range(1, table.num_rows + 1), pa.int64())
    cols["_row"] = row_numbers
    con.register("raw", pa.table(cols))


_TYPED_SQL = """
CREATE TABLE typed AS
SELECT
    _row,
    NULLIF(trim(order_id), '') AS order_id_raw,
    placed_at AS placed_at_raw,
    CASE
        WHEN placed_at IS NULL THEN NULL
        WHEN regexp_matches(trim(placed_at), '(Z|[+-][0-9]{2}(:?[0-9]{2})?)$')
            THEN TRY_CAST(trim(placed_at) AS TIMESTAMPTZ)
        ELSE timezone($tz, TRY_CAST(trim(placed_at) AS TIMESTAMP))
    END AS placed_at,
    NULLIF(regexp_replace(trim(customer_id), '\\.0+$', ''), '') AS customer_id,
    NULLIF(trim(sku), '') AS sku,
    NULLIF(trim(product_name), '') AS product_name,
    NULLIF(trim(category), '') AS category,
    quantity AS quantity_raw,
    TRY_CAST(TRY_CAST(trim(quantity) AS DOUBLE) AS BIGINT) AS quantity,
    TRY_CAST(trim(quantity) AS DOUBLE) AS quantity_double,
    unit_price AS unit_price_raw,
    TRY_CAST(trim(unit_price) AS DECIMAL(18, 4)) AS unit_price,
    upper(COALESCE(NULLIF(trim(currency), ''), $currency)) AS currency,
    lower(COALESCE(NULLIF(trim(kind), ''), $kind_default)) AS kind,
    lower(COALESCE(NULLIF(trim(status), ''), $status_default)) AS status,
    COALESCE(NULLIF(trim(country), ''), '') AS country,
    NULLIF(trim(email), '') AS email,
    NULLIF(trim(first_name), '') AS first_name,
    NULLIF(trim(last_name), '') AS last_name
FROM raw
"""

_ERRORS_SQL = """
SELECT _row, field, value, reason FROM (
    SELECT _row, 'order_id' AS field, order_id_raw AS value, 'is required' AS reason
        FROM typed WHERE order_id_raw IS NULL
    UNION ALL SELECT _row, 'order_id', order_id_raw, 'is longer than 128 characters'
        FROM typed WHERE length(order_id_raw) > 128
    UNION ALL SELECT _row, 'placed_at', placed_at_raw, 'is required'
        FROM typed WHERE placed_at_raw IS NULL OR trim(placed_at_raw) = ''
    UNION ALL SELECT _row, 'placed_at', placed_at_raw,
            'is not a date and time (expected e.g. 2024-05-01 14:30:00)'
        FROM typed WHERE trim(placed_at_raw) <> '' AND placed_at IS NULL
    UNION ALL SELECT _row, 'sku', NULL, 'is required' FROM typed WHERE sku IS NULL
    UNION ALL SELECT _row, 'quantity', quantity_raw, 'is required'
        FROM typed WHERE quantity_raw IS NULL OR trim(quantity_raw) = ''
    UNION ALL SELECT _row, 'quantity', quantity_raw, 'is not a whole number'
        FROM typed WHERE trim(quantity_raw) <> ''
            AND (quantity_double IS NULL OR quantity_double <> quantity)
    UNION ALL SELECT _row, 'unit_price', unit_price_raw, 'is required'
        FROM typed WHERE unit_price_raw IS NULL OR trim(unit_price_raw) = ''
    UNION ALL SELECT _row, 'unit_price', unit_price_raw, 'is not a number'
        FROM typed WHERE trim(unit_price_raw) <> '' AND unit_price IS NULL
    UNION ALL SELECT _row, 'unit_price', unit_price_raw, 'must not be negative'
        FROM typed WHERE unit_price < 0
    UNION ALL SELECT _row, 'currency', currency, 'is not a 3-letter ISO currency code'
        FROM typed WHERE NOT regexp_full_match(currency, '[A-Z]{3}')
    UNION ALL SELECT _row, 'kind', kind, 'must be order or return'
        FROM typed WHERE kind NOT IN ('order', 'return')
    UNION ALL SELECT _row, 'status', status, 'is not a known order status'
        FROM typed WHERE status NOT IN ({statuses})
    UNION ALL SELECT min(_row), 'customer_id', string_agg(DISTINCT customer_id, ', '),
            'the lines of order ' || order_id_raw || ' name different customers'
        FROM typed WHERE order_id_raw IS NOT NULL
        GROUP BY order_id_raw HAVING count(DISTINCT customer_id) > 1
    UNION ALL SELECT min(_row), 'currency', string_agg(DISTINCT currency, ', '),
            'the lines of order ' || order_id_raw || ' use different currencies'
        FROM typed WHERE order_id_raw IS NOT NULL
        GROUP BY order_id_raw HAVING count(DISTINCT currency) > 1
)
ORDER BY _row, field
"""


def _exec(con: duckdb.DuckDBPyConnection, sql: str, params=None) -> list:
    # DuckDB wants every result consumed before the next statement on the connection.
    return con.execute(sql, params).fetchall() if params else con.execute(sql).fetchall()


def arrow_table(relation) -> pa.Table:
    """A DuckDB relation as an Arrow table (``to_arrow_table`` in DuckDB ≥ 1.4)."""
    fetch = getattr(relation, "to_arrow_table", None) or relation.fetch_arrow_table
    return fetch()


def ingest_order_lines(
    table: pa.Table,
    *,
    source: str,
    policy: str = ImportRun.Policy.REJECT,
    label: str = "<table>",
    row_numbers: pa.Array | None = None,
    kind_default: str = Order.Kind.ORDER,
    status_default: str = Order.Status.COMPLETED,
    currency: str | None = None,
    store_timezone: str | None = None,
    import_run: ImportRun | None = None,
    progress: Progress | None = None,
    actor=None,
) -> ImportResult:
    """Validate and write order lines in Guanxi's canonical layout (see ``ORDER_LINE_COLUMNS``).

    Orders already present for ``(source, order_id)`` are left untouched, so importing the same
    data twice changes nothing, and a re-run after a crash writes exactly what is missing.
    ``policy="reject"``: any bad row rejects everything (``ImportRejected``, nothing written).
    ``policy="skip"``: orders with a bad row are skipped whole and reported; the rest is written.
    Everything is written in one transaction.
    """
    progress = progress or Progress()
    result = ImportResult(rows_total=table.num_rows)
    con = duckdb.connect()
    _exec(con, "SET TimeZone = 'UTC'")
    _varchar_frame(con, table, row_numbers)
    statuses = ", ".join(f"'{s}'" for s in Order.Status.values)
    progress.stage("validate", table.num_rows)
    _exec(
        con,
        _TYPED_SQL,
        {
            "tz": store_timezone or settings.GUANXI_STORE_TIMEZONE,
            "currency": (currency or settings.GUANXI_DEFAULT_CURRENCY).upper(),
            "kind_default": kind_default,
            "status_default": status_default,
        },
    )
    errors = con.execute(_ERRORS_SQL.replace("{statuses}", statuses)).fetchall()
    progress.advance(table.num_rows)
    result.errors = [RowError(r, f, v, why, label) for r, f, v, why in errors]
    result.rows_rejected = len({e.row for e in result.errors})
    if result.errors and policy == ImportRun.Policy.REJECT:
        raise ImportRejected(result)

    bad_rows = pa.table({"_row": pa.array(sorted({e.row for e in result.errors}), pa.int64())})
    con.register("bad_rows", bad_rows)
    _exec(
        con,
        """
        CREATE TABLE lines AS
        SELECT * FROM typed
        WHERE order_id_raw IS NOT NULL AND order_id_raw NOT IN (
            SELECT DISTINCT t.order_id_raw FROM typed t JOIN bad_rows b USING (_row)
            WHERE t.order_id_raw IS NOT NULL
        )
        """,
    )
    result.orders_skipped = (
        con.execute(
            "SELECT count(DISTINCT order_id_raw) FROM typed WHERE order_id_raw IS NOT NULL"
        ).fetchall()[0][0]
        - con.execute("SELECT count(DISTINCT order_id_raw) FROM lines").fetchall()[0][0]
    )

    orders = arrow_table(
        con.sql(
            """
            SELECT order_id_raw AS external_id,
                   min(placed_at) AS placed_at,
                   any_value(customer_id) FILTER (WHERE customer_id IS NOT NULL) AS customer_ext,
                   arg_min(kind, _row) AS kind,
                   arg_min(status, _row) AS status,
                   arg_min(currency, _row) AS currency,
                   arg_min(country, _row) AS country,
                   arg_min(email, _row) FILTER (WHERE email IS NOT NULL) AS email,
                   arg_min(first_name, _row) FILTER (WHERE first_name IS NOT NULL) AS first_name,
                   arg_min(last_name, _row) FILTER (WHERE last_name IS NOT NULL) AS last_name,
                   CAST(sum(quantity * unit_price) AS DECIMAL(18, 4)) AS total,
                   CAST(sum(quantity) AS BIGINT) AS item_count
            FROM lines GROUP BY order_id_raw ORDER BY min(_row)
            """
        )
    )
    with transaction.atomic():
        result = _write_orders(
            con,
            orders,
            result,
            source=source,
            progress=progress,
            import_run=import_run,
            actor=actor,
        )
    return result


def _write_orders(
    con, orders: pa.Table, result: ImportResult, *, source, progress, import_run, actor
) -> ImportResult:
    now = timezone.now()
    external_ids = orders.column("external_id").to_pylist()
    progress.stage("orders already present", len(external_ids))
    existing = _existing_ids(Order, source, external_ids)
    progress.advance(len(external_ids))
    result.orders_existing = len(existing)
    if existing:
        mask = pa.array([e not in existing for e in external_ids])
        orders = orders.filter(mask)
    if orders.num_rows == 0:
        return result

    # Customers of the new orders: known identities are reused, unknown ones created.
    customer_rows: dict[str, dict] = {}
    cols = {
        n: orders.column(n).to_pylist()
        for n in ("customer_ext", "country", "email", "first_name", "last_name")
    }
    for i, ext in enumerate(cols["customer_ext"]):
        if ext is not None and ext not in customer_rows:
            row = {"external_id": ext, "country": cols["country"][i] or None}
            for key in ("email", "first_name", "last_name"):
                if cols[key][i]:
                    row[key] = cols[key][i]
            customer_rows[ext] = row
    progress.stage("customers", len(customer_rows))
    customers = customer_services.ingest_customers(
        list(customer_rows.values()),
        source=source,
        update_existing=False,
        note=f"import {import_run.pk}" if import_run else "import",
        actor=actor,
    )
    progress.advance(len(customer_rows))
    result.customers_created = customers.created

    # Products (and categories) named by the lines of new orders.
    con.register("new_orders", orders.select(["external_id"]))
    products = con.sql(
        """
        SELECT sku, arg_max(product_name, _row) FILTER (WHERE product_name IS NOT NULL) AS name,
               arg_max(category, _row) FILTER (WHERE category IS NOT NULL) AS category,
               arg_max(unit_price, _row) AS price, arg_max(currency, _row) AS currency
        FROM lines WHERE order_id_raw IN (SELECT external_id FROM new_orders) GROUP BY sku
        """
    ).fetchall()
    progress.stage("products", len(products))
    before = Product.objects.filter(source=source).count()
    known = _existing_ids(Product, source, (p[0] for p in products))
    product_ids = dict(known)
    new_products = [
        {
            "external_id": sku,
            "sku": sku,
            "name": name or sku,
            "category_external_id": category,
            "price": price,
            "currency": cur,
        }
        for sku, name, category, price, cur in products
        if sku not in known
    ]
    if new_products:
        product_ids.update(upsert_products(new_products, source=source))
    result.products_created = Product.objects.filter(source=source).count() - before
    progress.advance(len(products))

    # Orders: ids reserved up front, then COPY/executemany; lines refer to those ids.
    new_order_ids = allocate_ids(Order, orders.num_rows)
    ext_col = orders.column("customer_ext").to_pylist()
    order_table = pa.table(
        {
            "id": pa.array(new_order_ids, pa.int64()),
            "source": pa.array([source] * orders.num_rows, pa.string()),
            "external_id": orders.column("external_id"),
            "kind": orders.column("kind"),
            "status": orders.column("status"),
            "customer_id": pa.array(
                [customers.ids.get(e) if e else None for e in ext_col], pa.int64()
            ),
            "guest_email": pa.array(
                [
                    (m or "") if e is None else ""
                    for e, m in zip(ext_col, orders.column("email").to_pylist(), strict=True)
                ],
                pa.string(),
            ),
            "currency": orders.column("currency"),
            "subtotal": orders.column("total"),
            "total": orders.column("total"),
            "item_count": orders.column("item_count"),
            "placed_at": orders.column("placed_at"),
            "country": orders.column("country"),
            "import_run_id": pa.array(
                [import_run.pk if import_run else None] * orders.num_rows, pa.int64()
            ),
            "created_at": pa.array([now] * orders.num_rows, pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array([now] * orders.num_rows, pa.timestamp("us", tz="UTC")),
        }
    )
    progress.stage("orders", order_table.num_rows)
    bulk_insert(Order, order_table, progress=progress.advance)
    result.orders_created = order_table.num_rows
    order_ids = dict(zip(order_table.column("external_id").to_pylist(), new_order_ids, strict=True))

    # Lines: joined to order and product ids in DuckDB, numbered within their order.
    con.register(
        "order_ids",
        pa.table({"external_id": list(order_ids), "order_pk": list(order_ids.values())}),
    )
    con.register(
        "product_ids",
        pa.table({"sku": list(product_ids), "product_pk": list(product_ids.values())}),
    )
    line_table = arrow_table(
        con.sql(
            """
            SELECT o.order_pk AS order_id,
                   CAST(row_number() OVER (PARTITION BY l.order_id_raw ORDER BY l._row) AS BIGINT)
                       AS line_no,
                   p.product_pk AS product_id,
                   l.sku,
                   left(COALESCE(l.product_name, ''), 300) AS name,
                   l.quantity,
                   l.unit_price,
                   l.currency,
                   CAST(l.quantity * l.unit_price AS DECIMAL(18, 4)) AS line_total
            FROM lines l
            JOIN order_ids o ON o.external_id = l.order_id_raw
            LEFT JOIN product_ids p ON p.sku = l.sku
            ORDER BY l._row
            """
        )
    )
    progress.stage("order lines", line_table.num_rows)
    result.lines_created = bulk_insert(OrderLine, line_table, progress=progress.advance)
    return result


# --- Events -----------------------------------------------------------------------------------

EVENT_TYPE_MAX = 32
UTC_MICROS = pa.timestamp("us", tz="UTC")


def _parse_time(value: Any) -> dt.datetime | None:
    if isinstance(value, dt.datetime):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if timezone.is_naive(parsed):
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


@transaction.atomic
def ingest_events(rows: list[Mapping[str, Any]], *, source: str) -> int:
    """Append browse/cart/search events, idempotent on ``(source, external_id)``; returns the
    number of new events. Customers are found by their source identity; unknown customer ids
    and anonymous visitors are kept as anonymous ids. All or nothing (``BatchRejected``)."""
    errors: list[ItemError] = []
    parsed = []
    for i, row in enumerate(rows):
        event_type = row.get("event_type")
        if not isinstance(event_type, str) or not event_type.strip():
            errors.append(ItemError(i, "event_type", "is required", event_type))
        elif len(event_type) > EVENT_TYPE_MAX:
            errors.append(ItemError(i, "event_type", "is longer than 32 characters", event_type))
        occurred = _parse_time(row.get("occurred_at"))
        if occurred is None:
            errors.append(
                ItemError(i, "occurred_at", "is not an ISO 8601 date-time", row.get("occurred_at"))
            )
        ext = row.get("external_id")
        if ext is not None and (not isinstance(ext, str) or len(ext) > 128):
            errors.append(ItemError(i, "external_id", "must be a string of ≤ 128 characters", ext))
        if not row.get("customer_external_id") and not row.get("anonymous_id"):
            errors.append(ItemError(i, "customer_external_id", "or anonymous_id is required", None))
        props = row.get("properties") or {}
        if isinstance(props, str):
            try:
                props = json.loads(props)
            except ValueError:
                errors.append(ItemError(i, "properties", "is not JSON", props))
        if not isinstance(props, dict):
            errors.append(ItemError(i, "properties", "must be an object", props))
        parsed.append((row, occurred, props))
    if errors:
        raise BatchRejected(errors)

    customer_exts = {str(r["customer_external_id"]) for r in rows if r.get("customer_external_id")}
    customers = customer_services.customer_ids_for_identities(source, customer_exts)
    skus = {
        str(r.get("product_external_id") or r.get("sku"))
        for r in rows
        if r.get("product_external_id") or r.get("sku")
    }
    products = _existing_ids(Product, source, skus)
    event_exts = [str(r["external_id"]) for r in rows if r.get("external_id") is not None]
    already = set(_existing_ids(Event, source, event_exts))
    now = timezone.now()
    events = []
    for row, occurred, props in parsed:
        ext = row.get("external_id")
        if ext is not None:
            if ext in already:
                continue  # re-delivery: a no-op
            already.add(ext)
        ext_customer = row.get("customer_external_id")
        customer_id = customers.get(str(ext_customer)) if ext_customer else None
        anonymous = row.get("anonymous_id") or ""
        if ext_customer and customer_id is None:
            props = {**props, "customer_external_id": str(ext_customer)}
        sku = row.get("product_external_id") or row.get("sku")
        events.append(
            {
                "source": source,
                "external_id": row.get("external_id"),
                "event_type": row["event_type"].strip(),
                "customer_id": customer_id,
                "anonymous_id": str(anonymous)[:128],
                "product_id": products.get(str(sku)) if sku else None,
                "properties": props,
                "occurred_at": occurred,
                "received_at": now,
            }
        )
    try:
        with transaction.atomic():
            insert_rows(Event, events)
    except IntegrityError:
        # A concurrent re-delivery won the race for some keys: keep the others, skip those.
        created = Event.objects.bulk_create(
            [Event(**e) for e in events], batch_size=1000, ignore_conflicts=True
        )
        return len(created)
    return len(events)


def _json_object_text(values: pa.Array, errors: list[ItemError]) -> pa.Array:
    """JSON object texts as :func:`ingest_events` would store them (``json.dumps`` of the
    parsed value; null or blank → ``{}``); every distinct text is parsed once."""
    values = values.cast(pa.string())
    values = pc.if_else(_blank(values), pa.scalar(None, pa.string()), values)
    encoded = pc.dictionary_encode(values)
    texts = []
    for text in encoded.dictionary.to_pylist():
        try:
            value = json.loads(text)
        except ValueError:
            value = None
            reason = "is not JSON"
        else:
            reason = None if isinstance(value, dict) else "must be an object"
        if reason is not None:
            bad = pc.equal(values, text)
            errors += [
                ItemError(i, "properties", reason, text)
                for i in pc.indices_nonzero(bad).to_pylist()
            ]
            value = {}
        texts.append(json.dumps(value, ensure_ascii=False))
    normal = pa.array(texts, pa.string())
    indices = pc.fill_null(encoded.indices, -1)
    empty = len(texts)
    normal = pa.concat_arrays([normal, pa.array(["{}"], pa.string())])
    return normal.take(pc.if_else(pc.equal(indices, -1), empty, indices))


def _lookup(keys: pa.Array, found: dict[str, int]) -> pa.Array:
    """The id ``found`` gives each key (null where it gives none)."""
    if not found:
        return pa.nulls(len(keys), pa.int64())
    names = pa.array(list(found), pa.string())
    ids = pa.array(list(found.values()), pa.int64())
    return ids.take(pc.index_in(keys.cast(pa.string()), value_set=names))


def _blank(values: pa.Array) -> pa.Array:
    """True where ``values`` is null or only whitespace."""
    text = values.cast(pa.string())
    return pc.fill_null(pc.equal(pc.utf8_trim_whitespace(text), ""), True)


@transaction.atomic
def ingest_event_table(table: pa.Table, *, source: str) -> int:
    """Append the events of an Arrow table in bulk; returns the number of new events.

    Columns: ``event_type``, ``occurred_at`` (timestamp; naive means UTC) and optionally
    ``external_id``, ``customer_id`` (the customer's id on ``source``), ``anonymous_id``,
    ``sku`` / ``product_external_id`` and ``properties`` (JSON object text) — the layout of
    ``guanxi simulate --out``'s ``events.parquet``. Checks and effects are those of
    :func:`ingest_events` row by row, done column-wise: idempotent on ``(source,
    external_id)``, unknown customer ids kept in the properties, all or nothing
    (``BatchRejected`` naming each bad row by its index), the rows written in table order.
    """
    n = table.num_rows
    if n == 0:
        return 0

    def column(name: str, dtype: pa.DataType | None = None) -> pa.Array:
        if name in table.column_names:
            return table.column(name).combine_chunks()
        return pa.nulls(n, dtype or pa.string())

    errors: list[ItemError] = []

    def flag(mask: pa.Array, field: str, reason: str, values: pa.Array | None) -> None:
        for i in pc.indices_nonzero(pc.fill_null(mask, False)).to_pylist():
            errors.append(
                ItemError(i, field, reason, None if values is None else values[i].as_py())
            )

    event_type = column("event_type").cast(pa.string())
    flag(_blank(event_type), "event_type", "is required", event_type)
    flag(
        pc.greater(pc.utf8_length(event_type), EVENT_TYPE_MAX),
        "event_type",
        "is longer than 32 characters",
        event_type,
    )
    occurred = column("occurred_at", UTC_MICROS)
    if not pa.types.is_timestamp(occurred.type):
        occurred = pa.array([_parse_time(v) for v in occurred.to_pylist()], UTC_MICROS)
    elif occurred.type.tz is None:
        occurred = occurred.cast(pa.timestamp("us")).cast(UTC_MICROS)
    else:
        occurred = occurred.cast(UTC_MICROS)
    flag(pc.is_null(occurred), "occurred_at", "is not an ISO 8601 date-time", column("occurred_at"))
    external = column("external_id").cast(pa.string())
    flag(
        pc.greater(pc.utf8_length(external), 128),
        "external_id",
        "must be a string of ≤ 128 characters",
        external,
    )
    customer_ext = column("customer_id").cast(pa.string())
    anonymous = column("anonymous_id").cast(pa.string())
    flag(
        pc.and_(_blank(customer_ext), _blank(anonymous)),
        "customer_external_id",
        "or anonymous_id is required",
        None,
    )
    properties = _json_object_text(column("properties"), errors)
    if errors:
        errors.sort(key=lambda e: e.index)
        raise BatchRejected(errors)

    # Customers by their identity on the source; products by their id on the source.
    has_customer = pc.invert(_blank(customer_ext))
    wanted = pc.unique(customer_ext.filter(has_customer)).to_pylist()
    customer_id = _lookup(
        customer_ext, customer_services.customer_ids_for_identities(source, wanted)
    )
    sku = column("product_external_id").cast(pa.string())
    sku = pc.if_else(_blank(sku), column("sku").cast(pa.string()), sku)
    sku = pc.if_else(_blank(sku), pa.scalar(None, pa.string()), sku)
    skus = pc.unique(sku.drop_null()).to_pylist()
    product_id = _lookup(sku, _existing_ids(Product, source, skus))

    # Re-deliveries (already stored, or earlier in this table) are skipped.
    keep = np.ones(n, dtype=bool)
    if external.null_count < n:
        codes = pc.dictionary_encode(external)
        present = pc.is_valid(codes.indices)
        rows = np.flatnonzero(present.to_numpy(zero_copy_only=False))
        index = codes.indices.filter(present).to_numpy()
        _, first = np.unique(index, return_index=True)
        keep[rows] = False
        keep[rows[first]] = True
        stored = _existing_ids(Event, source, codes.dictionary.to_pylist())
        if stored:
            known = pc.is_in(codes.dictionary, value_set=pa.array(list(stored), pa.string()))
            keep[rows[known.to_numpy(zero_copy_only=False)[index]]] = False

    # An unknown customer id is kept in the properties (as ingest_events does).
    unknown = pc.and_(has_customer, pc.is_null(customer_id))
    if pc.any(unknown).as_py():
        texts = properties.to_pylist()
        for i in pc.indices_nonzero(unknown).to_pylist():
            value = {**json.loads(texts[i]), "customer_external_id": customer_ext[i].as_py()}
            texts[i] = json.dumps(value, ensure_ascii=False)
        properties = pa.array(texts, pa.string())

    now = timezone.now()
    rows = pa.table(
        {
            "source": pa.array([source] * n, pa.string()),
            "external_id": external,
            "event_type": pc.utf8_trim_whitespace(event_type),
            "customer_id": customer_id,
            "anonymous_id": pc.utf8_slice_codeunits(pc.fill_null(anonymous, ""), 0, 128),
            "product_id": product_id,
            "properties": properties,
            "occurred_at": occurred,
            "received_at": pa.array([now] * n, UTC_MICROS),
        }
    ).filter(pa.array(keep))
    return bulk_insert(Event, rows)


# --- Order updates, shipments, visitor stitching (store webhooks and the tracker) -------------


def order_for(source: str, external_id: str) -> Order | None:
    return Order.objects.filter(source=source, external_id=external_id).first()


@transaction.atomic
def set_order_status(source: str, external_id: str, status: str) -> bool:
    """Change the status of a known order; True when something changed (a replay changes
    nothing). Raises ``ValueError`` for an unknown status or order."""
    if status not in Order.Status.values:
        raise ValueError(f"unknown order status {status!r}")
    order = Order.objects.select_for_update().filter(source=source, external_id=external_id)
    order = order.first()
    if order is None:
        raise ValueError(f"no order {external_id!r} from {source!r}")
    if order.status == status:
        return False
    order.status = status
    order.save(update_fields=["status", "updated_at"])
    return True


@transaction.atomic
def record_shipment(
    *,
    source: str,
    external_id: str,
    order_external_id: str,
    shipped_at: dt.datetime,
    status: str = "",
    carrier: str = "",
    tracking_number: str = "",
    tracking_url: str = "",
    items: list | None = None,
) -> tuple[Shipment, bool]:
    """Record a shipment of a known order (idempotent on ``(source, external_id)``) and mark
    the order shipped unless it is already further along. Returns (shipment, created)."""
    order = order_for(source, order_external_id)
    if order is None:
        raise ValueError(f"no order {order_external_id!r} from {source!r}")
    shipment, created = Shipment.objects.get_or_create(
        source=source,
        external_id=external_id,
        defaults={
            "order": order,
            "status": status[:32],
            "carrier": (carrier or "")[:100],
            "tracking_number": (tracking_number or "")[:128],
            "tracking_url": (tracking_url or "")[:500],
            "items": items or [],
            "shipped_at": shipped_at,
        },
    )
    if created and order.status in (Order.Status.PENDING, Order.Status.PAID):
        order.status = Order.Status.SHIPPED
        order.save(update_fields=["status", "updated_at"])
    return shipment, created


def stitch_anonymous_events(anonymous_id: str, customer_id: int, *, source: str | None = None):
    """Attach a visitor's anonymous events to the customer it turned out to be; returns how
    many events were stitched (a second call stitches nothing new)."""
    if not anonymous_id:
        return 0
    events = Event.objects.filter(anonymous_id=anonymous_id, customer__isnull=True)
    if source is not None:
        events = events.filter(source=source)
    return events.update(customer_id=customer_id)
