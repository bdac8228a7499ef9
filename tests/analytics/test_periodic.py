"""Periodic purchases (S3.11): measured on the simulator's planted buyers, DuckDB vs Spark."""

import datetime as dt

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from guanxi.analytics.periodic import OUTPUT_COLUMNS, detect_periodic_purchases
from guanxi.simulate.generator import generate_store

AS_OF = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def _lines(store) -> pa.Table:
    """The store's order lines in the detector's input layout, with integer product/category ids."""
    lines = store.order_lines
    skus = pc.unique(lines["sku"])
    categories = pc.unique(lines["category"])
    return pa.table(
        {
            "customer_id": lines["customer_id"],
            "placed_at": lines["placed_at"],
            "sku": lines["sku"],
            "product_id": pc.add(pc.index_in(lines["sku"], skus), 1).cast(pa.int64()),
            "category_id": pc.add(pc.index_in(lines["category"], categories), 1).cast(pa.int64()),
            "quantity": lines["quantity"],
            "kind": lines["kind"],
        }
    )


def _detect_duckdb(lines: pa.Table) -> pa.Table:
    con = ibis.duckdb.connect()
    return con.to_pyarrow(detect_periodic_purchases(ibis.memtable(lines), AS_OF))


@pytest.mark.parametrize("seed", [7, 2024])
def test_precision_and_recall_on_planted_buyers(seed):
    store = generate_store(customers=3000, seed=seed)
    found = _detect_duckdb(_lines(store)).to_pylist()
    planted = {
        (p["customer_id"], p["sku"], p["kind"]): p
        for p in store.truth["periodic_buyers"]
        if p["occurrences"] >= 2  # one purchase is no pattern
    }
    detected = {(r["customer_id"], r["sku"], r["kind"]) for r in found}
    hits = len(detected & planted.keys())
    precision, recall = hits / len(detected), hits / len(planted)
    assert precision >= 0.9, (precision, sorted(detected - planted.keys())[:10])
    assert recall >= 0.9, (recall, sorted(planted.keys() - detected)[:10])

    for row in found:
        truth = planted.get((row["customer_id"], row["sku"], row["kind"]))
        if truth is None:
            continue
        assert 0 < row["confidence"] <= 1
        assert row["next_due"] > row["last_purchase_at"].date()
        if row["kind"] == "yearly":
            assert row["month"] == truth["month"]
            assert abs(row["period_days"] - 365.25) <= 6
        else:
            assert row["month"] is None
            assert abs(row["period_days"] - truth["interval_days"]) <= 3
            assert row["occurrences"] == truth["occurrences"]


def test_rules_on_a_hand_made_history():
    day = dt.timedelta(days=1)
    start = dt.datetime(2025, 1, 10, 9, tzinfo=dt.UTC)
    rows = []

    def buy(customer, sku, when, kind="order", quantity=1):
        rows.append(
            {
                "customer_id": customer,
                "placed_at": when,
                "sku": sku,
                "product_id": 1,
                "category_id": 2,
                "quantity": quantity,
                "kind": kind,
            }
        )

    for i in range(8):  # a refill every 30 days, split over two orders on one day once
        buy("refill", "FILTER", start + i * 30 * day)
    buy("refill", "FILTER", start + 7 * 30 * day + dt.timedelta(hours=2))
    buy("refill", "FILTER", start + 30 * day, kind="return", quantity=-1)
    for i in range(6):  # random gaps: not a pattern
        buy("random", "FILTER", start + [0, 3, 40, 41, 120, 300][i] * day)
    for i in range(8):  # stopped buying long ago: the pattern is over
        buy("stopped", "FILTER", start - 400 * day + i * 30 * day)
    for customer in ("g1", "g2", "g3"):  # three yearly gift buyers of one product
        for year in (2024, 2025):
            buy(customer, "BOUQUET", dt.datetime(year, 5, 10, 12, tzinfo=dt.UTC))
    buy("once", "BOUQUET", dt.datetime(2025, 5, 10, tzinfo=dt.UTC))
    buy("lonely", "BOOK", dt.datetime(2024, 3, 1, tzinfo=dt.UTC))  # a year apart, but alone
    buy("lonely", "BOOK", dt.datetime(2025, 3, 1, tzinfo=dt.UTC))

    as_of = start + 8 * 30 * day
    con = ibis.duckdb.connect()
    found = con.to_pyarrow(
        detect_periodic_purchases(ibis.memtable(pa.Table.from_pylist(rows)), as_of)
    )
    assert tuple(found.column_names) == OUTPUT_COLUMNS
    by_customer = {r["customer_id"]: r for r in found.to_pylist()}
    assert set(by_customer) == {"refill", "g1", "g2", "g3"}

    refill = by_customer["refill"]
    assert refill["kind"] == "interval"
    assert refill["occurrences"] == 8
    assert refill["period_days"] == 30.0
    assert refill["confidence"] == pytest.approx(1 - 0.5**7, abs=1e-3)
    assert refill["next_due"] == (start + 8 * 30 * day).date()
    assert (refill["product_id"], refill["category_id"]) == (1, 2)

    gift = by_customer["g1"]
    assert gift["kind"] == "yearly"
    assert gift["month"] == 5
    assert gift["occurrences"] == 2
    assert gift["next_due"] == dt.date(2026, 5, 10)
    # One gap a quarter day from a year (regularity 1 - 0.25/14), evidence 1 gap + the product.
    assert gift["confidence"] == pytest.approx((1 - 0.25 / 14) * 0.75, abs=1e-3)


@pytest.fixture(scope="module")
def spark(tmp_path_factory):
    pyspark = pytest.importorskip("pyspark.sql")
    session = (
        pyspark.SparkSession.builder.master("local[2]")
        .appName("guanxi-tests")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.sql.warehouse.dir", str(tmp_path_factory.mktemp("spark-warehouse")))
        .getOrCreate()
    )
    session.conf.set("spark.sql.session.timeZone", "UTC")
    return session


def _normalised(table: pa.Table) -> list[dict]:
    rows = table.to_pylist()
    for row in rows:
        when = row["last_purchase_at"]
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
        row["last_purchase_at"] = when
    return sorted(rows, key=lambda r: (r["customer_id"], r["sku"], r["kind"]))


@pytest.mark.spark
def test_spark_gives_identical_output(spark):
    lines = _lines(generate_store(customers=1000, seed=11))
    expected = _normalised(_detect_duckdb(lines))
    con = ibis.pyspark.connect(spark)
    # A temporary view: nothing is written to a warehouse directory.
    spark.createDataFrame(lines.to_pandas()).createOrReplaceTempView("periodic_order_lines")
    table = con.table("periodic_order_lines")
    got = _normalised(con.to_pyarrow(detect_periodic_purchases(table, AS_OF)))
    assert len(expected) > 10
    assert got == expected
