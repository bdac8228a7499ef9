"""The engine: bulk reads into Arrow, and the same expressions giving the same numbers on DuckDB
and on Spark."""

import datetime as dt

import pyarrow as pa
import pytest

from guanxi.analytics import scoring
from guanxi.analytics.engine import connect, engine_name, load_inputs
from guanxi.analytics.models import CustomerScore
from guanxi.analytics.services import _normalise, refresh_analytics
from guanxi.customers.models import Customer
from guanxi.simulate.generator import DEFAULT_END, generate_store
from guanxi.simulate.services import load_store
from tests.analytics.conftest import AS_OF, add_order
from tests.factories import make_customer, make_order


def test_load_inputs_reads_customers_orders_and_lines_into_arrow(hand_store):
    c1 = hand_store["c1"]
    absorbed = make_customer(first_name="Old", emails=["old@example.com"])
    add_order(absorbed, 10, 30)
    Customer.objects.filter(pk=absorbed.pk).update(merged_into=c1)
    make_order(None, external_id="GUEST-1", placed_at=AS_OF - dt.timedelta(days=2))
    add_order(c1, -5, 70)  # after as_of

    inputs = load_inputs(AS_OF)

    assert inputs.as_of == AS_OF
    # 11 customers (not the merged one); 35 of their orders (incl. a return and a cancelled
    # order); no guest order, nothing after as_of, nothing of the merged customer.
    assert inputs.row_counts() == {"customers": 11, "orders": 35, "order_lines": 0}
    assert inputs.orders.schema.field("placed_at").type == pa.timestamp("us", tz="UTC")
    first = sorted(
        (r for r in inputs.orders.to_pylist() if r["customer_id"] == c1.pk),
        key=lambda r: r["placed_at"],
    )[0]
    assert first["placed_at"] == AS_OF - dt.timedelta(days=305)
    assert first["total"] == 100.0 and first["kind"] == "order" and first["currency"] == "USD"


def test_load_inputs_reads_order_lines_with_categories(db):
    load_store(generate_store(customers=60, seed=3), progress=False)
    inputs = load_inputs(DEFAULT_END)
    lines = inputs.order_lines
    assert lines.num_rows > 0
    assert lines.column("category_id").null_count == 0
    assert set(lines.column("kind").to_pylist()) <= {"order", "return"}
    assert lines.schema.field("line_total").type == pa.float64()


def test_engine_comes_from_settings_or_argument(settings):
    settings.GUANXI_ANALYTICS_ENGINE = "spark"
    assert engine_name() == "spark"
    assert engine_name("duckdb") == "duckdb"
    with pytest.raises(ValueError, match="unknown analytics engine 'flink'"):
        engine_name("flink")


def _compute(engine: str, inputs) -> dict[str, list[dict]]:
    previous = pa.table(
        {"customer_id": pa.array([], pa.int64()), "prev_stage": pa.array([], pa.string())}
    )
    con = connect(engine, {**inputs.tables(), "previous_stages": previous})
    scores = scoring.customer_scores(
        con.table("customers"), con.table("orders"), con.table("previous_stages"), inputs.as_of
    )
    affinities = scoring.category_affinities(con.table("order_lines"), inputs.as_of)
    tables = {
        "scores": scores.order_by("customer_id"),
        "affinities": affinities.order_by(["customer_id", "category_id"]),
        "by_type": scoring.profitability_by_customer_type(scores),
    }
    return {name: _normalise(expr.to_pyarrow()).to_pylist() for name, expr in tables.items()}


@pytest.mark.spark
def test_duckdb_and_spark_give_identical_scores(db, spark):
    """Every column of every score, affinity and profitability row, compared exactly (money is
    summed in integer ten-thousandths and ties are broken by id, so no tolerance is needed)."""
    load_store(generate_store(customers=300, seed=1), progress=False)
    inputs = load_inputs(DEFAULT_END)

    on_duckdb = _compute("duckdb", inputs)
    on_spark = _compute("spark", inputs)

    assert len(on_duckdb["scores"]) == inputs.customers.num_rows
    assert len(on_duckdb["affinities"]) > 0
    for name in on_duckdb:
        assert on_spark[name] == on_duckdb[name], name


@pytest.mark.spark
def test_a_spark_refresh_writes_the_same_scores(hand_store, spark):
    fields = [
        "customer_id", "orders_count", "revenue", "first_order_at", "last_order_at",
        "recency_days", "r_score", "f_score", "m_score", "rfm_group", "tier",
        "cumulative_revenue_share", "lifecycle_stage", "health_score", "explanation",
    ]  # fmt: skip
    on_spark = refresh_analytics(engine="spark", as_of=AS_OF)
    # Same as_of: the second run sees the first as its previous run, which only shows in the
    # explanation's previous_stage (left out below); the stages themselves are the same.
    on_duckdb = refresh_analytics(engine="duckdb", as_of=AS_OF)
    assert on_spark.engine == "spark" and on_spark.status == "succeeded"

    def rows(run):
        out = {}
        for row in CustomerScore.objects.filter(run=run).values(*fields):
            row["explanation"]["stage"].pop("previous_stage")
            out[row["customer_id"]] = row
        return out

    assert rows(on_spark) == rows(on_duckdb)
