"""The file importer against the real UCI Online Retail prefix and hand-made broken files."""

import csv
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from django.core.management import CommandError, call_command

from guanxi.commerce.importers import import_file
from guanxi.commerce.models import Event, ImportRun, Order, OrderLine, Product
from guanxi.commerce.services import ImportRejected
from guanxi.customers.models import Customer, SourceIdentity

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
RETAIL = DATA / "uci_online_retail_prefix.parquet"
needs_data = pytest.mark.skipif(
    not RETAIL.exists(), reason=f"shared data set not found at {RETAIL} (../shared/data)"
)


def counts():
    return {
        "customers": Customer.objects.count(),
        "identities": SourceIdentity.objects.count(),
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "products": Product.objects.count(),
        "events": Event.objects.count(),
    }


def expected_retail_numbers():
    """Independent of the importer: straight from the Parquet file with pyarrow + Python."""
    table = pq.read_table(RETAIL, columns=["InvoiceNo", "CustomerID", "StockCode"])
    invoices = table.column("InvoiceNo").to_pylist()
    customers = {c for c in table.column("CustomerID").to_pylist() if c is not None}
    guest_invoices = {
        i
        for i, c in zip(invoices, table.column("CustomerID").to_pylist(), strict=True)
        if c is None
    }
    return {
        "lines": table.num_rows,
        "orders": len(set(invoices)),
        "returns": len({i for i in invoices if i.startswith("C")}),
        "customers": len(customers),
        "guest_orders": len(guest_invoices),
        "products": len(set(table.column("StockCode").to_pylist())),
    }


@needs_data
@pytest.mark.django_db(transaction=True)
def test_online_retail_import_counts_and_idempotency():
    expected = expected_retail_numbers()
    assert expected["lines"] == 73_532 and expected["orders"] == 3_229  # the data README's numbers

    result = import_file(RETAIL, file_format="online-retail")

    assert result.orders_created == expected["orders"]
    assert result.lines_created == expected["lines"]
    assert Order.objects.count() == expected["orders"]
    assert OrderLine.objects.count() == expected["lines"]
    assert Order.objects.filter(kind=Order.Kind.RETURN).count() == expected["returns"]
    assert Order.objects.filter(customer__isnull=True).count() == expected["guest_orders"]
    assert Customer.objects.count() == expected["customers"]
    assert Product.objects.count() == expected["products"]
    # Returns carry their negative quantities and a negative total; currency is the file's.
    credit = Order.objects.filter(kind=Order.Kind.RETURN).first()
    assert credit.total < 0 and credit.status == Order.Status.RETURNED
    assert set(Order.objects.values_list("currency", flat=True).distinct()) == {"GBP"}
    # One known invoice, checked line by line against the file.
    table = pq.read_table(RETAIL).to_pylist()
    first = [r for r in table if r["InvoiceNo"] == table[0]["InvoiceNo"]]
    order = Order.objects.get(source="online-retail", external_id=first[0]["InvoiceNo"])
    lines = list(order.lines.order_by("line_no"))
    assert [(line.sku, line.quantity) for line in lines] == [
        (r["StockCode"], r["Quantity"]) for r in first
    ]
    assert float(order.total) == pytest.approx(sum(r["Quantity"] * r["UnitPrice"] for r in first))
    assert order.customer.identities.get().external_id == str(first[0]["CustomerID"])

    before = counts()
    again = import_file(RETAIL, file_format="online-retail")
    assert again.orders_created == 0 and again.orders_existing == expected["orders"]
    assert counts() == before
    assert ImportRun.objects.filter(status=ImportRun.Status.SUCCEEDED).count() == 2


def write_csv(path: Path, rows: list[dict]) -> Path:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


def retail_rows(n=6):
    return [
        {
            "InvoiceNo": f"5000{i // 3}",
            "StockCode": f"SKU{i}",
            "Description": f"Thing {i}",
            "Quantity": str(i + 1),
            "InvoiceDate": "2011-01-05 10:00:00",
            "UnitPrice": "2.50",
            "CustomerID": "12345.0" if i < 3 else "",
            "Country": "United Kingdom",
        }
        for i in range(n)
    ]


@pytest.mark.django_db(transaction=True)
def test_corrupted_row_rejects_the_whole_file_and_names_it(tmp_path):
    rows = retail_rows()
    rows[4]["Quantity"] = "seven"  # row 6 of the file (row 1 is the header)
    path = write_csv(tmp_path / "broken.csv", rows)
    before = counts()

    with pytest.raises(ImportRejected) as info:
        import_file(path, file_format="online-retail")

    error = info.value.result.errors[0]
    assert (error.row, error.field, error.value) == (6, "quantity", "seven")
    assert "broken.csv, row 6, field 'quantity', value 'seven'" in str(error)
    assert counts() == before  # nothing half-written
    run = ImportRun.objects.get()
    assert run.status == ImportRun.Status.REJECTED and run.errors[0]["row"] == 6


@pytest.mark.django_db(transaction=True)
def test_skip_policy_skips_whole_orders_and_reports(tmp_path):
    rows = retail_rows()
    rows[4]["InvoiceDate"] = "not a date"
    path = write_csv(tmp_path / "partly.csv", rows)

    result = import_file(path, file_format="online-retail", policy="skip")

    assert result.orders_skipped == 1 and result.orders_created == 1
    assert Order.objects.get().external_id == "50000"
    assert OrderLine.objects.count() == 3  # the bad order's other lines are not half-imported
    assert result.errors[0].field == "placed_at"
    # After the file is fixed, the re-run imports exactly what was missing.
    rows[4]["InvoiceDate"] = "2011-01-05 10:00:00"
    write_csv(path, rows)
    again = import_file(path, file_format="online-retail")
    assert (again.orders_created, again.orders_existing) == (1, 1)
    assert OrderLine.objects.count() == 6


@pytest.mark.django_db(transaction=True)
def test_import_command_reports_and_fails(tmp_path, capsys):
    rows = retail_rows()
    rows[1]["UnitPrice"] = "-3"
    path = write_csv(tmp_path / "neg.csv", rows)
    with pytest.raises(CommandError, match="nothing was imported"):
        call_command("import", str(path), "--format", "online-retail", "--no-progress")
    assert "row 3, field 'unit_price', value '-3': must not be negative" in capsys.readouterr().err
    with pytest.raises(CommandError, match="missing required column"):
        call_command("import", str(path), "--format", "orders-csv", "--no-progress")


@pytest.mark.django_db(transaction=True)
def test_canonical_excel_import(tmp_path):
    from openpyxl import Workbook

    workbook = Workbook()
    sheet = workbook.active
    sheet.append(
        [
            "order_id",
            "placed_at",
            "customer_id",
            "sku",
            "quantity",
            "unit_price",
            "currency",
            "email",
        ]
    )
    sheet.append(["X1", "2025-03-01T09:30:00+08:00", "c-1", "TEA", 2, 12.5, "CNY", "a@b.cn"])
    sheet.append(["X1", "2025-03-01T09:30:00+08:00", "c-1", "CUP", 1, 30, "CNY", "a@b.cn"])
    path = tmp_path / "orders.xlsx"
    workbook.save(path)

    result = import_file(path, file_format="orders-csv", source="tmall")

    order = Order.objects.get(source="tmall", external_id="X1")
    assert result.lines_created == 2 and str(order.total) == "55.0000"
    assert order.placed_at.isoformat() == "2025-03-01T01:30:00+00:00"  # stored in UTC
    assert order.customer.contact_points.get().normalized == "a@b.cn"
