"""Association rules: worked by hand, equal to mlxtend on real baskets, same on Spark, the
``guanxi analytics rules`` command."""

import io
import json
from pathlib import Path

import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from guanxi.analytics.rules import association_rules, order_rules
from guanxi.simulate.generator import generate_store

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
RETAIL = DATA / "uci_online_retail_prefix.parquet"
needs_retail = pytest.mark.skipif(
    not RETAIL.exists(), reason=f"shared data set not found at {RETAIL} (../shared/data)"
)


def _duckdb_rules(table: pa.Table, **kwargs) -> list[dict]:
    con = ibis.duckdb.connect()
    con.con.register("t", table)
    return order_rules(association_rules(con.table("t"), **kwargs)).to_pyarrow().to_pylist()


def test_rules_worked_out_by_hand():
    # 5 baskets: {a,b,c} {a,b} {a,c} {b,d} {a,b,d}; the d line of basket 5 repeats (counts once).
    rows = [
        (1, "a"), (1, "b"), (1, "c"),
        (2, "a"), (2, "b"),
        (3, "a"), (3, "c"),
        (4, "b"), (4, "d"),
        (5, "a"), (5, "b"), (5, "d"), (5, "d"),
    ]  # fmt: skip
    table = pa.table({"basket": [r[0] for r in rows], "item": [r[1] for r in rows]})
    found = {
        (r["antecedent"], r["consequent"]): r
        for r in _duckdb_rules(table, min_support=0.4, min_confidence=0.0)
    }
    # Frequent (support ≥ 0.4, i.e. ≥ 2 baskets): a 4, b 4, c 2, d 2; pairs ab 3, ac 2, bd 2.
    assert set(found) == {("a", "b"), ("b", "a"), ("a", "c"), ("c", "a"), ("b", "d"), ("d", "b")}
    ab = found[("a", "b")]
    assert ab["support"] == pytest.approx(3 / 5)
    assert ab["confidence"] == pytest.approx(3 / 4)
    assert ab["lift"] == pytest.approx((3 / 4) / (4 / 5))
    assert (ab["pair_count"], ab["antecedent_count"], ab["baskets"]) == (3, 4, 5)
    ca = found[("c", "a")]
    assert ca["confidence"] == pytest.approx(1.0) and ca["lift"] == pytest.approx(1 / (4 / 5))
    strict = _duckdb_rules(table, min_support=0.4, min_confidence=0.7)
    assert {(r["antecedent"], r["consequent"]) for r in strict} == {
        ("a", "b"), ("b", "a"), ("c", "a"), ("d", "b")
    }  # fmt: skip
    with pytest.raises(ValueError):
        _duckdb_rules(table, min_support=0)


def _mlxtend_rules(table: pa.Table, basket: str, item: str, min_support: float) -> dict:
    pd = pytest.importorskip("pandas")
    frequent_patterns = pytest.importorskip("mlxtend.frequent_patterns")
    df = table.select([basket, item]).to_pandas().drop_duplicates()
    onehot = pd.crosstab(df[basket], df[item]).astype(bool)
    itemsets = frequent_patterns.fpgrowth(
        onehot, min_support=min_support, use_colnames=True, max_len=2
    )
    rules = frequent_patterns.association_rules(
        itemsets, num_itemsets=len(onehot), metric="confidence", min_threshold=0.0
    )
    return {
        (next(iter(a)), next(iter(c))): (s, conf, lift)
        for a, c, s, conf, lift in zip(
            rules.antecedents,
            rules.consequents,
            rules.support,
            rules.confidence,
            rules.lift,
            strict=True,
        )
    }


@needs_retail
@pytest.mark.parametrize("min_support", [0.01, 0.02])
def test_rules_equal_mlxtend_on_online_retail(min_support):
    """Invoice = basket, stock code = item: the same rules with the same numbers."""
    table = pq.read_table(RETAIL, columns=["InvoiceNo", "StockCode"])
    ours = {
        (r["antecedent"], r["consequent"]): (r["support"], r["confidence"], r["lift"])
        for r in _duckdb_rules(table, basket="InvoiceNo", item="StockCode", min_support=min_support)
    }
    theirs = _mlxtend_rules(table, "InvoiceNo", "StockCode", min_support)
    assert len(theirs) >= 40
    assert set(ours) == set(theirs)
    for key, (support, confidence, lift) in theirs.items():
        assert ours[key] == pytest.approx((support, confidence, lift), rel=1e-12, abs=0), key


def _simulated_lines() -> pa.Table:
    lines = generate_store(customers=800, seed=11).order_lines
    return lines.filter(pc.equal(lines.column("kind"), "order")).select(["order_id", "sku"])


def test_rules_equal_mlxtend_on_simulated_baskets():
    table = _simulated_lines()
    ours = {
        (r["antecedent"], r["consequent"]): (r["support"], r["confidence"], r["lift"])
        for r in _duckdb_rules(table, basket="order_id", item="sku", min_support=0.002)
    }
    theirs = _mlxtend_rules(table, "order_id", "sku", 0.002)
    assert theirs and set(ours) == set(theirs)
    for key, numbers in theirs.items():
        assert ours[key] == pytest.approx(numbers, rel=1e-12, abs=0)


@pytest.mark.spark
def test_duckdb_and_spark_rules_are_identical(spark):
    from guanxi.analytics.engine import connect

    tables = {"lines": (_simulated_lines(), 0.002)}
    if RETAIL.exists():
        retail = pq.read_table(RETAIL, columns=["InvoiceNo", "StockCode"])
        tables["retail"] = (retail.rename_columns(["order_id", "sku"]), 0.01)
    for name, (table, min_support) in tables.items():
        results = []
        for engine in ("duckdb", "spark"):
            con = connect(engine, {name: table})
            expr = association_rules(
                con.table(name), basket="order_id", item="sku", min_support=min_support
            )
            results.append(order_rules(expr).to_pyarrow().to_pylist())
        assert results[0], name
        assert results[0] == results[1], name


@needs_retail
def test_rules_command_reads_parquet_and_csv(tmp_path):
    out = io.StringIO()
    call_command(
        "analytics", "rules", str(RETAIL), "--basket", "InvoiceNo", "--item", "StockCode",
        "--min-support", "0.02", "--json", stdout=out,
    )  # fmt: skip
    from_parquet = json.loads(out.getvalue())
    table = pq.read_table(RETAIL, columns=["InvoiceNo", "StockCode"])
    expected = _duckdb_rules(table, basket="InvoiceNo", item="StockCode", min_support=0.02)
    assert [(r["antecedent"], r["consequent"]) for r in from_parquet] == [
        (r["antecedent"], r["consequent"]) for r in expected
    ]
    assert set(from_parquet[0]) == {"antecedent", "consequent", "support", "confidence", "lift"}

    csv = tmp_path / "lines.csv"
    table.to_pandas().to_csv(csv, index=False)
    out = io.StringIO()
    call_command(
        "analytics", "rules", str(csv), "--basket", "InvoiceNo", "--item", "StockCode",
        "--min-support", "0.02", "--min-confidence", "0.5", stdout=out,
    )  # fmt: skip
    text = out.getvalue().splitlines()
    assert text[0].endswith("baskets") and text[1].split() == [
        "antecedent", "consequent", "support", "confidence", "lift"
    ]  # fmt: skip
    strong = [r for r in expected if r["confidence"] >= 0.5]
    assert int(text[0].split()[0]) == len(strong)
    first = text[2].split()
    assert (first[0], first[1]) == (strong[0]["antecedent"], strong[0]["consequent"])


def test_rules_command_errors_name_the_problem(tmp_path):
    csv = tmp_path / "t.csv"
    csv.write_text("order,sku\n1,a\n1,b\n2,a\n")
    with pytest.raises(CommandError, match="no column 'basket'"):
        call_command("analytics", "rules", str(csv), "--basket", "basket", "--item", "sku",
                     "--min-support", "0.5")  # fmt: skip
    with pytest.raises(CommandError, match="no such file"):
        call_command("analytics", "rules", str(tmp_path / "x.csv"), "--basket", "order",
                     "--item", "sku", "--min-support", "0.5")  # fmt: skip
    with pytest.raises(CommandError, match="min_support"):
        call_command("analytics", "rules", str(csv), "--basket", "order", "--item", "sku",
                     "--min-support", "2")  # fmt: skip
    out = io.StringIO()
    call_command("analytics", "rules", str(csv), "--basket", "order", "--item", "sku",
                 "--min-support", "0.5", "--json", stdout=out)  # fmt: skip
    rules = json.loads(out.getvalue())
    assert {(r["antecedent"], r["consequent"]) for r in rules} == {("a", "b"), ("b", "a")}
    assert rules[0]["support"] == 0.5
