"""File importers: read CSV, Excel or Parquet, map a known layout onto Guanxi's canonical
order-line columns, and hand the rows to :func:`guanxi.commerce.services.ingest_order_lines`.

Layouts (``--format``):

* ``online-retail`` — UCI Online Retail / Online Retail II: Invoice/InvoiceNo, StockCode,
  Description, Quantity, InvoiceDate, Price/UnitPrice, Customer ID/CustomerID, Country. Invoices
  become orders, invoices starting with ``C`` become returns (credit notes), rows without a
  customer become guest orders.
* ``orders-csv`` / ``parquet`` — Guanxi's canonical layout (``ORDER_LINE_COLUMNS``) in a CSV or
  Parquet file (Excel works too); the simulator writes this layout.
"""

import dataclasses
import hashlib
from pathlib import Path

import duckdb
import pyarrow as pa
from django.utils import timezone

from guanxi.commerce.models import ImportRun, Order
from guanxi.commerce.services import (
    MAX_STORED_ERRORS,
    ORDER_LINE_COLUMNS,
    ImportRejected,
    ImportResult,
    Progress,
    RowError,
    arrow_table,
    ingest_order_lines,
)

FORMATS = ("online-retail", "orders-csv", "parquet")

ONLINE_RETAIL_COLUMNS = {
    "order_id": ("Invoice", "InvoiceNo"),
    "sku": ("StockCode",),
    "product_name": ("Description",),
    "quantity": ("Quantity",),
    "placed_at": ("InvoiceDate",),
    "unit_price": ("Price", "UnitPrice"),
    "customer_id": ("Customer ID", "CustomerID"),
    "country": ("Country",),
}


class ImportFileError(Exception):
    """The file cannot be read at all (missing, wrong type, missing columns)."""


@dataclasses.dataclass
class LoadedFile:
    table: pa.Table  # every column as text
    row_numbers: pa.Array  # the row as a person sees it in the file (header = row 1)


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_table(path: Path) -> LoadedFile:
    """Read a CSV, Excel (.xlsx) or Parquet file into Arrow, every column as text."""
    if not path.exists():
        raise ImportFileError(f"{path}: no such file")
    suffix = path.suffix.lower()
    con = duckdb.connect()
    try:
        if suffix == ".parquet":
            rel = con.read_parquet(str(path))
            first_row = 1
        elif suffix in (".csv", ".txt", ".tsv"):
            rel = con.read_csv(str(path), header=True, all_varchar=True)
            first_row = 2
        elif suffix in (".xlsx", ".xlsm"):
            return _read_excel(path)
        else:
            raise ImportFileError(f"{path}: unsupported file type {suffix!r} (csv, xlsx, parquet)")
        table = arrow_table(rel)
    except duckdb.Error as exc:
        raise ImportFileError(f"{path}: cannot be read: {exc}") from exc
    table = pa.table(
        [c if pa.types.is_string(c.type) else c.cast(pa.string()) for c in table.columns],
        names=table.column_names,
    )
    rows = pa.array(range(first_row, first_row + table.num_rows), pa.int64())
    return LoadedFile(table, rows)


def _read_excel(path: Path) -> LoadedFile:
    from openpyxl import load_workbook

    workbook = load_workbook(path, read_only=True, data_only=True)
    sheet = workbook.worksheets[0]
    rows = sheet.iter_rows(values_only=True)
    header = [str(h).strip() if h is not None else f"column{i}" for i, h in enumerate(next(rows))]
    columns: list[list] = [[] for _ in header]
    numbers = []
    for number, row in enumerate(rows, start=2):
        if row is None or all(v is None for v in row):
            continue
        numbers.append(number)
        for i in range(len(header)):
            value = row[i] if i < len(row) else None
            columns[i].append(None if value is None else str(value))
    workbook.close()
    return LoadedFile(
        pa.table([pa.array(c, pa.string()) for c in columns], names=header),
        pa.array(numbers, pa.int64()),
    )


def map_online_retail(table: pa.Table) -> pa.Table:
    """Online Retail (I or II) → canonical columns; ``C…`` invoices are returns."""
    out = {}
    for target, candidates in ONLINE_RETAIL_COLUMNS.items():
        found = next((c for c in candidates if c in table.column_names), None)
        if found is None:
            raise ImportFileError(
                f"missing column {' or '.join(repr(c) for c in candidates)} "
                f"(Online Retail layout); the file has {', '.join(table.column_names)}"
            )
        out[target] = table.column(found)
    invoices = out["order_id"].to_pylist()
    is_credit = [bool(i) and i.strip().upper().startswith("C") for i in invoices]
    out["kind"] = pa.array(
        [Order.Kind.RETURN if c else Order.Kind.ORDER for c in is_credit], pa.string()
    )
    out["status"] = pa.array(
        [Order.Status.RETURNED if c else Order.Status.COMPLETED for c in is_credit], pa.string()
    )
    return pa.table(out)


def map_canonical(table: pa.Table) -> pa.Table:
    missing = [c for c, required in ORDER_LINE_COLUMNS.items() if required]
    missing = [c for c in missing if c not in table.column_names]
    if missing:
        raise ImportFileError(
            f"missing required column(s) {', '.join(missing)}; "
            f"expected Guanxi's order-line layout: {', '.join(ORDER_LINE_COLUMNS)}"
        )
    return table


def import_file(
    path: str | Path,
    *,
    file_format: str,
    source: str | None = None,
    policy: str = ImportRun.Policy.REJECT,
    currency: str | None = None,
    store_timezone: str | None = None,
    progress: Progress | None = None,
    actor=None,
) -> ImportResult:
    """Import one file; records an :class:`ImportRun` whatever happens.

    Raises :class:`ImportFileError` (unreadable file) or :class:`ImportRejected` (bad rows under
    the reject policy); in both cases nothing but the run record is written.
    """
    if file_format not in FORMATS:
        raise ImportFileError(f"unknown format {file_format!r}; choose one of {', '.join(FORMATS)}")
    path = Path(path)
    source = source or ("online-retail" if file_format == "online-retail" else "import")
    run = ImportRun.objects.create(
        path=str(path),
        file_sha256=file_sha256(path) if path.exists() else "",
        file_format=file_format,
        source=source,
        policy=policy,
        status=ImportRun.Status.RUNNING,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
    )
    try:
        loaded = read_table(path)
        if file_format == "online-retail":
            table = map_online_retail(loaded.table)
            currency = currency or "GBP"  # the UCI data set is a UK retailer's, in pounds
        else:
            table = map_canonical(loaded.table)
        result = ingest_order_lines(
            table,
            source=source,
            policy=policy,
            label=path.name,
            row_numbers=loaded.row_numbers,
            currency=currency,
            store_timezone=store_timezone,
            import_run=run,
            progress=progress,
            actor=actor,
        )
    except ImportRejected as exc:
        _finish(run, exc.result, ImportRun.Status.REJECTED, str(exc))
        raise
    except ImportFileError as exc:
        _finish(run, ImportResult(), ImportRun.Status.FAILED, str(exc))
        raise
    except Exception as exc:
        _finish(run, ImportResult(), ImportRun.Status.FAILED, f"{type(exc).__name__}: {exc}")
        raise
    result.run_id = run.pk
    _finish(run, result, ImportRun.Status.SUCCEEDED, "")
    if result.lines_created:
        analyze_store_tables()
    return result


def analyze_store_tables() -> None:
    """Planner statistics for the tables a large load filled (see ``core.bulk.analyze``)."""
    from guanxi.commerce.models import Event, Order, OrderLine, Product
    from guanxi.core.bulk import analyze
    from guanxi.customers.models import ContactPoint, Customer, SourceIdentity

    analyze(Customer, ContactPoint, SourceIdentity, Product, Order, OrderLine, Event)


def _finish(run: ImportRun, result: ImportResult, status: str, message: str) -> None:
    run.status = status
    run.message = message[:5000]
    run.rows_total = result.rows_total
    run.rows_rejected = result.rows_rejected
    run.orders_created = result.orders_created
    run.orders_existing = result.orders_existing
    run.lines_created = result.lines_created
    run.customers_created = result.customers_created
    run.products_created = result.products_created
    run.errors = [e.as_dict() for e in result.errors[:MAX_STORED_ERRORS]]
    run.finished_at = timezone.now()
    run.save()


__all__ = ["FORMATS", "ImportFileError", "RowError", "import_file", "read_table"]
