"""Loading a simulated store through the ingestion services, and the ``simulate`` command."""

import json

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command

from guanxi.commerce.models import Category, Event, Order, OrderLine, Product
from guanxi.customers.models import Customer, SourceIdentity
from guanxi.simulate.generator import DUPLICATE_SOURCE, MAIN_SOURCE, generate_store
from guanxi.simulate.services import load_store, simulate_store, truth_rows, write_truth


def _counts():
    return {
        "customers": Customer.objects.count(),
        "identities": SourceIdentity.objects.count(),
        "categories": Category.objects.count(),
        "products": Product.objects.count(),
        "orders": Order.objects.count(),
        "lines": OrderLine.objects.count(),
        "events": Event.objects.count(),
    }


@pytest.mark.django_db
def test_loading_a_store_creates_everything_once():
    store = generate_store(200, seed=5, months=12)
    orders = len(pc.unique(store.order_lines["order_id"]))

    loaded = load_store(store, progress=False)

    counts = _counts()
    assert counts == {
        "customers": store.customers.num_rows,
        "identities": store.customers.num_rows,
        "categories": 2 * store.categories.num_rows,
        "products": 2 * store.products.num_rows,
        "orders": orders,
        "lines": store.order_lines.num_rows,
        "events": store.events.num_rows,
    }
    assert loaded["orders_created"] == orders
    assert loaded["lines_created"] == store.order_lines.num_rows
    assert loaded["events_created"] == store.events.num_rows
    assert Order.objects.filter(source=DUPLICATE_SOURCE).exists()
    assert Order.objects.filter(kind="return").exists()
    assert not Order.objects.filter(customer__isnull=True, guest_email="").exists()
    # Marketplace orders belong to the marketplace identities, not to new customers.
    twin_ids = set(
        SourceIdentity.objects.filter(source=DUPLICATE_SOURCE).values_list("customer_id", flat=True)
    )
    mp_buyers = set(
        Order.objects.filter(source=DUPLICATE_SOURCE).values_list("customer_id", flat=True)
    )
    assert mp_buyers <= twin_ids
    # Sign-up time and profile fields come through.
    first = store.customers_for(MAIN_SOURCE).to_pylist()[0]
    customer = SourceIdentity.objects.get(
        source=MAIN_SOURCE, external_id=first["external_id"]
    ).customer
    assert customer.created_at == first["signed_up_at"]
    assert customer.last_name == first["last_name"]
    assert customer.contact_points.filter(kind="email", value=first["email"]).exists()
    # Events are linked to customers and products.
    assert Event.objects.filter(customer__isnull=False, product__isnull=False).exists()

    again = load_store(store, progress=False)

    assert _counts() == counts
    assert again["orders_created"] == 0 and again["orders_existing"] == orders
    assert again["lines_created"] == 0 and again["events_created"] == 0
    assert again["customers_created"] == 0 and again["customers_updated"] == 0


@pytest.mark.django_db
def test_simulate_store_summary():
    summary = simulate_store(60, seed=2, months=6, progress=False)
    assert summary["customers"] == 60
    assert summary["loaded"]["orders_created"] == summary["orders"]
    assert Order.objects.count() == summary["orders"]
    assert 0 < summary["top_customer_revenue_share"] < 1


def test_command_writes_parquet_and_truth_without_the_database(tmp_path):
    out = tmp_path / "store"
    truth = tmp_path / "truth.json"
    call_command(
        "simulate", "--customers", "80", "--seed", "3", "--months", "12",
        "--out", str(out), "--truth", str(truth), "--no-progress",
    )  # fmt: skip
    names = {p.name for p in out.iterdir()}
    assert names == {
        "categories.parquet",
        "products.parquet",
        "customers.parquet",
        "order_lines.parquet",
        "events.parquet",
    }
    lines = pq.read_table(out / "order_lines.parquet")
    assert lines.equals(generate_store(80, seed=3, months=12).order_lines)
    data = json.loads(truth.read_text())
    assert data["seed"] == 3 and data["customers"] == 80


def test_truth_as_parquet_is_one_long_table(tmp_path):
    store = generate_store(100, seed=8, months=12)
    path = write_truth(store.truth, tmp_path / "truth.parquet")
    table = pq.read_table(path)
    kinds = set(table["kind"].to_pylist())
    assert {"meta", "pareto", "churner", "duplicate", "review_ring_account"} <= kinds
    assert {"periodic_yearly", "periodic_interval", "chain_basket", "chain_sequence"} <= kinds
    assert table.num_rows == len(truth_rows(store.truth))
    for detail in table["detail"].to_pylist():
        json.loads(detail)


@pytest.mark.django_db
def test_command_loads_the_database(capsys):
    call_command("simulate", "--customers", "40", "--seed", "9", "--months", "6", "--no-progress")
    output = capsys.readouterr().out
    assert "customers: 40" in output
    assert "of revenue" in output
    assert Customer.objects.count() >= 40


@pytest.mark.django_db
def test_a_store_in_parts_loads_once_and_again_changes_nothing(tmp_path):
    truth = tmp_path / "truth.json"
    summary = simulate_store(
        600, seed=4, months=12, progress=False, part_customers=200, truth_path=truth
    )

    counts = _counts()
    assert summary["parts"] == 3
    assert summary["customers"] == 600
    assert counts["customers"] == 600 + summary["duplicate_identities"]
    assert counts["orders"] == summary["orders"] == summary["loaded"]["orders_created"]
    assert counts["lines"] == summary["order_lines"] == summary["loaded"]["lines_created"]
    assert counts["events"] == summary["events"] == summary["loaded"]["events_created"]
    assert counts["products"] == 2 * summary["products"]
    data = json.loads(truth.read_text())
    assert data["customers"] == 600 and data["counts"]["orders"] == summary["orders"]

    again = simulate_store(600, seed=4, months=12, progress=False, part_customers=200)

    assert _counts() == counts
    assert again["loaded"]["orders_created"] == 0 and again["loaded"]["events_created"] == 0
    assert again["loaded"]["customers_created"] == 0


def test_a_store_in_parts_writes_one_file_per_table(tmp_path):
    summary = simulate_store(
        500, seed=6, months=6, progress=False, part_customers=200, out_dir=tmp_path
    )
    lines = pq.read_table(tmp_path / "order_lines.parquet")
    events = pq.read_table(tmp_path / "events.parquet")
    assert lines.num_rows == summary["order_lines"]
    assert events.num_rows == summary["events"]
    assert (
        pq.read_table(tmp_path / "customers.parquet").num_rows
        == 500 + summary["duplicate_identities"]
    )
    assert pq.read_table(tmp_path / "products.parquet").num_rows == summary["products"]
    assert len(pc.unique(lines["order_id"])) == summary["orders"]
