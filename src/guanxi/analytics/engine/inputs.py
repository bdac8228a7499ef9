"""Read the tables analytics need from the database into Arrow, in bulk.

PostgreSQL streams ``COPY (SELECT …) TO STDOUT`` as CSV into Arrow's CSV reader; SQLite fetches
the whole result with one cursor ``fetchall`` and builds Arrow columns from it. Nothing goes
row by row through the ORM: at a million order lines that would be most of a run's time.

Times arrive as UTC ``timestamp[us, tz=UTC]``; money as ``float64`` (the scoring code sums it
in integer ten-thousandths, so both engines add exactly the same numbers).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import io
import threading

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from django.db import connection
from django.utils import timezone

TIMESTAMP = pa.timestamp("us", tz="UTC")

CUSTOMERS_SCHEMA = pa.schema(
    [
        ("customer_id", pa.int64()),
        ("created_at", TIMESTAMP),
        ("customer_type", pa.string()),
        ("kind", pa.string()),
    ]
)
ORDERS_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("placed_at", TIMESTAMP),
        ("kind", pa.string()),
        ("status", pa.string()),
        ("total", pa.float64()),
        ("currency", pa.string()),
    ]
)
ORDER_LINES_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("customer_id", pa.int64()),
        ("placed_at", TIMESTAMP),
        ("product_id", pa.int64()),
        ("sku", pa.string()),
        ("category_id", pa.int64()),
        ("quantity", pa.int64()),
        ("line_total", pa.float64()),
        ("kind", pa.string()),
        ("status", pa.string()),
    ]
)

# {ts} marks a timestamp column: PostgreSQL sends epoch microseconds, SQLite its text.
_CUSTOMERS_SQL = """
SELECT c.id, {ts(c.created_at)}, c.customer_type, c.kind
FROM customers_customer c
WHERE c.merged_into_id IS NULL
"""
# Orders are read in one pass ({scan}: NOT INDEXED on SQLite, whose planner would rather
# walk the customers and look each one's orders up: ~4× slower at 5 M orders) and kept to the
# customers read above in Arrow.
_ORDERS_SQL = """
SELECT o.id, o.customer_id, {ts(o.placed_at)}, o.kind, o.status, o.total, o.currency
FROM commerce_order o {scan}
WHERE o.customer_id IS NOT NULL AND o.placed_at <= %(as_of)s
"""
# Lines and products are read without joins and joined in Arrow: SQLite's nested-loop joins
# over a million lines cost several times the plain scans.
_LINES_SQL = """
SELECT l.order_id, l.product_id, l.sku, l.quantity, l.line_total
FROM commerce_orderline l
"""
_PRODUCTS_SQL = """
SELECT p.id, p.category_id FROM commerce_product p
"""
RAW_LINES_SCHEMA = pa.schema(
    [
        ("order_id", pa.int64()),
        ("product_id", pa.int64()),
        ("sku", pa.string()),
        ("quantity", pa.int64()),
        ("line_total", pa.float64()),
    ]
)
PRODUCTS_SCHEMA = pa.schema([("product_id", pa.int64()), ("category_id", pa.int64())])


@dataclasses.dataclass(frozen=True)
class Inputs:
    """What one analytics run reads: Arrow tables plus the moment they describe."""

    as_of: dt.datetime
    customers: pa.Table
    orders: pa.Table
    order_lines: pa.Table

    def tables(self) -> dict[str, pa.Table]:
        return {
            "customers": self.customers,
            "orders": self.orders,
            "order_lines": self.order_lines,
        }

    def row_counts(self) -> dict[str, int]:
        return {name: table.num_rows for name, table in self.tables().items()}


def _sql(template: str) -> str:
    """Fill ``{ts(col)}`` for this database (epoch microseconds on PostgreSQL, text on
    SQLite) and ``{scan}`` (``NOT INDEXED`` on SQLite: read the table in one pass)."""
    out, rest = [], template
    while "{ts(" in rest:
        head, _, tail = rest.partition("{ts(")
        column, _, rest = tail.partition(")}")
        if connection.vendor == "postgresql":
            out.append(f"{head}(EXTRACT(EPOCH FROM {column}) * 1000000)::bigint")
        else:
            # An expression has no declared type, so Django's converters leave the text alone.
            out.append(f"{head}CAST({column} AS TEXT)")
    out.append(rest)
    scan = "NOT INDEXED" if connection.vendor == "sqlite" else ""
    return "".join(out).replace("{scan}", scan)


def _read_postgres(sql: str, params: dict, schema: pa.Schema) -> pa.Table:
    ts_columns = [f.name for f in schema if pa.types.is_timestamp(f.type)]
    read_types = {f.name: (pa.int64() if f.name in ts_columns else f.type) for f in schema}
    with connection.cursor() as cursor:
        raw = cursor.cursor
        # COPY takes no bind parameters: let psycopg render them client-side, safely quoted.
        from psycopg import sql as pgsql

        query = pgsql.SQL(sql.replace("%(as_of)s", "{as_of}")).format(
            as_of=pgsql.Literal(params.get("as_of"))
        )
        buf = io.BytesIO()
        with raw.copy(pgsql.SQL("COPY ({}) TO STDOUT WITH (FORMAT csv)").format(query)) as copy:
            for block in copy:
                buf.write(block)
    if buf.tell() == 0:
        return schema.empty_table()
    buf.seek(0)
    table = pacsv.read_csv(
        buf,
        read_options=pacsv.ReadOptions(column_names=schema.names),
        convert_options=pacsv.ConvertOptions(
            column_types=read_types, strings_can_be_null=True, quoted_strings_can_be_null=False
        ),
    )
    columns = []
    for field in schema:
        column = table.column(field.name)
        if field.name in ts_columns:
            column = column.cast(pa.int64()).cast(pa.timestamp("us")).cast(TIMESTAMP)
        columns.append(column.cast(field.type))
    return pa.table(columns, schema=schema)


# SQLite rows fetched per block (each one line of text, see _read_sqlite).
SQLITE_BLOCK_ROWS = 250_000


def _read_sqlite(sql: str, params: dict, schema: pa.Schema) -> pa.Table:
    """SQLite → Arrow with one Python object per row rather than one per value: SQLite writes
    each row as one line of CSV text (strings quoted by ``quote()``, numbers as text, both in
    C) and Arrow's CSV reader parses a block of lines at a time.

    Numbers keep their value: integers exactly, reals through SQLite's 15 significant digits,
    which is exact for Decimal(18, 4) money below 10^11 (what these tables hold).
    """
    names = [f"c{i}" for i in range(len(schema))]
    values = []
    for name, field in zip(names, schema, strict=True):
        if pa.types.is_string(field.type) or pa.types.is_timestamp(field.type):
            values.append(f"quote({name})")  # 'text' with quotes doubled; NULL as NULL
        else:
            values.append(f"ifnull(CAST({name} AS TEXT), 'NULL')")
    line = " || ',' || ".join(values)
    wrapped = f"WITH q({', '.join(names)}) AS ({sql}) SELECT {line} FROM q"  # noqa: S608
    read_types = {
        name: pa.string() if pa.types.is_timestamp(field.type) else field.type
        for name, field in zip(names, schema, strict=True)
    }
    blocks = []
    with connection.cursor() as cursor:
        cursor.execute(wrapped, params)
        while rows := cursor.fetchmany(SQLITE_BLOCK_ROWS):
            text = "\n".join([row[0] for row in rows]).encode()
            blocks.append(
                pacsv.read_csv(
                    io.BytesIO(text),
                    read_options=pacsv.ReadOptions(column_names=names),
                    parse_options=pacsv.ParseOptions(
                        quote_char="'", double_quote=True, newlines_in_values=True
                    ),
                    convert_options=pacsv.ConvertOptions(
                        column_types=read_types,
                        null_values=["NULL"],
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=False,
                    ),
                )
            )
    if not blocks:
        return schema.empty_table()
    table = pa.concat_tables(blocks)
    columns = []
    for name, field in zip(names, schema, strict=True):
        column = table.column(name)
        if pa.types.is_timestamp(field.type):
            # Django's SQLite text: naive UTC "YYYY-MM-DD HH:MM:SS[.ffffff]".
            column = column.cast(pa.timestamp("us")).cast(TIMESTAMP)
        columns.append(column.cast(field.type))
    return pa.table(columns, schema=schema).combine_chunks()


def _read(template: str, params: dict, schema: pa.Schema) -> pa.Table:
    sql = _sql(template)
    if connection.vendor == "postgresql":
        return _read_postgres(sql, params, schema)
    return _read_sqlite(sql, params, schema)


def _sqlite_param(when: dt.datetime):
    if connection.vendor == "postgresql":
        return when
    # Stored text compares as text: use the same naive-UTC format Django writes.
    return when.astimezone(dt.UTC).replace(tzinfo=None).isoformat(sep=" ")


class Background:
    """``fn(*args)`` (a read) in a thread of its own, with its own database connection, so a
    second core reads while this one works; :meth:`result` waits for it.

    Inside a transaction (a caller's, or a test's) another connection would not see what the
    transaction wrote: then it simply runs here, at once.
    """

    def __init__(self, fn, *args):
        self._result = self._error = None
        self._thread = None
        if connection.in_atomic_block:
            self._result = fn(*args)
            return

        def work() -> None:
            try:
                self._result = fn(*args)
            except BaseException as exc:  # handed to the caller by result()
                self._error = exc
            finally:
                connection.close()  # this thread's own connection

        self._thread = threading.Thread(target=work, name="guanxi-analytics-read", daemon=True)
        self._thread.start()

    def result(self):
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._error is not None:
            raise self._error
        return self._result


def load_inputs(as_of: dt.datetime | dt.date | None = None) -> Inputs:
    """Read customers (not merged away), their orders and order lines placed up to ``as_of``.

    ``as_of`` defaults to now; a date means the end of that day (UTC). Guest orders are left
    out: analytics describe customers.
    """
    as_of = normalise_as_of(as_of)
    params = {"as_of": _sqlite_param(as_of)}
    lines = Background(_read, _LINES_SQL, {}, RAW_LINES_SCHEMA)  # the largest read, alongside
    customers = _read(_CUSTOMERS_SQL, {}, CUSTOMERS_SCHEMA)
    orders = _read(_ORDERS_SQL, params, ORDERS_SCHEMA)
    orders = orders.filter(
        pc.is_in(orders.column("customer_id"), value_set=customers.column("customer_id"))
    )
    # A defined order (by customer, then time), whatever plan the database chose.
    orders = orders.sort_by(
        [("customer_id", "ascending"), ("placed_at", "ascending"), ("order_id", "ascending")]
    )
    products = _read(_PRODUCTS_SQL, {}, PRODUCTS_SCHEMA)
    order_lines = _join_lines(lines.result(), orders, products)
    # A customer created after as_of did not exist yet at that moment — unless they have orders
    # by then (an import may stamp the import time on customers with older orders).
    existed = pc.or_(
        pc.less_equal(customers.column("created_at"), pa.scalar(as_of, TIMESTAMP)),
        pc.is_in(customers.column("customer_id"), value_set=orders.column("customer_id")),
    )
    customers = customers.filter(existed)
    return Inputs(as_of=as_of, customers=customers, orders=orders, order_lines=order_lines)


def _join_lines(lines: pa.Table, orders: pa.Table, products: pa.Table) -> pa.Table:
    """Lines of the given orders, with the order's customer, time, kind and status and the
    product's category."""
    heads = orders.select(["order_id", "customer_id", "placed_at", "kind", "status"])
    joined = lines.join(heads, "order_id", join_type="inner")
    if joined.num_rows == 0:
        return ORDER_LINES_SCHEMA.empty_table()
    joined = joined.join(products, "product_id", join_type="left outer")
    return joined.select(ORDER_LINES_SCHEMA.names).cast(ORDER_LINES_SCHEMA)


def normalise_as_of(as_of: dt.datetime | dt.date | None) -> dt.datetime:
    """``None`` → now; a date → the end of that day in UTC; a naive datetime → UTC."""
    if as_of is None:
        return timezone.now().astimezone(dt.UTC).replace(microsecond=0)
    if not isinstance(as_of, dt.datetime):
        return dt.datetime.combine(as_of, dt.time(23, 59, 59), tzinfo=dt.UTC)
    if timezone.is_naive(as_of):
        return as_of.replace(tzinfo=dt.UTC)
    return as_of.astimezone(dt.UTC)
