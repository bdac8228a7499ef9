"""CLV: the purchase summary equals lifetimes', the fits reproduce the published CDNOW results,
per-customer scores follow the documented rules (docs/clv.md)."""

import datetime as dt
import io
import json
import types
from pathlib import Path

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from guanxi.analytics import clv
from guanxi.analytics.management.commands import _fit_clv
from guanxi.simulate.generator import generate_store

DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
CDNOW = DATA / "cdnow_sample.parquet"
needs_cdnow = pytest.mark.skipif(
    not CDNOW.exists(), reason=f"shared data set not found at {CDNOW} (../shared/data)"
)
CALIBRATION_END = dt.date(1997, 9, 30)
# Fader, Hardie & Lee (2005) BG/NBD; Fader & Hardie (2013) Gamma-Gamma on the 946 repeat buyers.
PUBLISHED = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "p": 6.25,
    "q": 3.74,
    "gamma": 15.44,
}
# Fader, Hardie & Lee (2005), "A Note on Deriving the Pareto/NBD Model and Related Expressions":
# Pareto/NBD on the same sample and calibration period, LL = -9,594.98.
PUBLISHED_PARETO_NBD = {"r": 0.5533, "alpha": 10.5776, "s": 0.6061, "beta": 11.6650}
SUMMARY_COLUMNS = ["frequency", "recency", "T", "monetary_value"]


def relative_difference(ours: np.ndarray, theirs: np.ndarray) -> float:
    """Max |ours - theirs| / max(|theirs|, 1): relative, amounts under 1 compared absolutely.

    The floor matters only for values that cancel to ~0 (an order returned the same day): there
    the two libraries add the same numbers in another order and differ by ~1e-14.
    """
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    if not len(ours):
        return 0.0
    return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1.0)))


def assert_same_as_lifetimes(ours: pd.DataFrame, theirs: pd.DataFrame, columns) -> None:
    ours = ours.set_index("customer_id")
    assert sorted(ours.index) == sorted(theirs.index)
    ours = ours.loc[theirs.index]
    for column in columns:
        assert relative_difference(ours[column], theirs[column]) < 1e-9, column


@pytest.fixture(scope="module")
def cdnow() -> pa.Table:
    return pq.read_table(CDNOW)


@pytest.fixture(scope="module")
def cdnow_pandas(cdnow) -> pd.DataFrame:
    df = cdnow.to_pandas()
    df["date"] = pd.to_datetime(df["date"])
    return df


@pytest.fixture(scope="module")
def store_lines() -> pa.Table:
    lines = generate_store(customers=1500, seed=11).order_lines
    value = pc.multiply(pc.cast(lines["quantity"], pa.float64()), lines["unit_price"])
    return pa.table(
        {"customer_id": lines["customer_id"], "placed_at": lines["placed_at"], "value": value}
    )


def summarise(table: pa.Table, con=None, **kwargs) -> pd.DataFrame:
    con = con or ibis.duckdb.connect()
    con.con.register("transactions", table)
    expr = clv.transaction_summary(con.table("transactions"), **kwargs)
    return con.to_pyarrow(expr).to_pandas()


# -- summary -----------------------------------------------------------------------------------


@needs_cdnow
@pytest.mark.parametrize("freq", ["D", "W"])
def test_summary_equals_lifetimes_on_cdnow(cdnow, cdnow_pandas, freq):
    from lifetimes.utils import summary_data_from_transaction_data

    ours = summarise(
        cdnow,
        customer_col="customer_id",
        date_col="date",
        value_col="dollar_value",
        observation_end=CALIBRATION_END,
        freq=freq,
    )
    theirs = summary_data_from_transaction_data(
        cdnow_pandas,
        "customer_id",
        "date",
        "dollar_value",
        observation_period_end=str(CALIBRATION_END),
        freq=freq,
    )
    assert len(ours) == 2357
    assert_same_as_lifetimes(ours, theirs, SUMMARY_COLUMNS)
    if freq == "D":
        assert (ours["frequency"] > 0).sum() == 946


@needs_cdnow
def test_calibration_and_holdout_equal_lifetimes_on_cdnow(cdnow, cdnow_pandas):
    from lifetimes.utils import calibration_and_holdout_data

    ours = summarise(
        cdnow,
        customer_col="customer_id",
        date_col="date",
        value_col="dollar_value",
        observation_end=dt.date(1998, 6, 30),
        calibration_end=CALIBRATION_END,
    )
    theirs = calibration_and_holdout_data(
        cdnow_pandas,
        "customer_id",
        "date",
        calibration_period_end=str(CALIBRATION_END),
        observation_period_end="1998-06-30",
        monetary_value_col="dollar_value",
    )
    theirs.columns = [c.removesuffix("_cal") for c in theirs.columns]
    assert_same_as_lifetimes(
        ours,
        theirs,
        [*SUMMARY_COLUMNS, "frequency_holdout", "monetary_value_holdout", "duration_holdout"],
    )


@pytest.mark.parametrize("freq", ["D", "W"])
def test_summary_equals_lifetimes_on_a_simulated_store(store_lines, freq):
    from lifetimes.utils import summary_data_from_transaction_data

    end = dt.date(2026, 10, 31)
    ours = summarise(
        store_lines,
        customer_col="customer_id",
        date_col="placed_at",
        value_col="value",
        observation_end=end,
        freq=freq,
    )
    df = store_lines.to_pandas()
    df["placed_at"] = df["placed_at"].dt.tz_localize(None)
    theirs = summary_data_from_transaction_data(
        df, "customer_id", "placed_at", "value", observation_period_end=str(end), freq=freq
    )
    assert_same_as_lifetimes(ours, theirs, SUMMARY_COLUMNS)
    first = df.groupby("customer_id")["placed_at"].agg(["min", "max"])
    ours = ours.set_index("customer_id").loc[first.index]
    assert (ours["first_order_at"].dt.tz_localize(None) == first["min"]).all()
    assert (ours["last_order_at"].dt.tz_localize(None) == first["max"]).all()


def test_summary_leaves_out_guests_and_later_periods():
    lines = pa.table(
        {
            "who": ["a", "a", "a", None, "b", "b"],
            "at": pa.array(
                [
                    dt.datetime(2025, 1, 1, 9),
                    dt.datetime(2025, 1, 1, 18),  # same day: one purchase period
                    dt.datetime(2025, 1, 11, 8),
                    dt.datetime(2025, 1, 5),
                    dt.datetime(2025, 1, 20),
                    dt.datetime(2025, 2, 1),  # after the end
                ],
                pa.timestamp("us"),
            ),
            "amount": [10.0, 5.0, 30.0, 99.0, 7.0, 8.0],
        }
    )
    out = summarise(
        lines,
        customer_col="who",
        date_col="at",
        value_col="amount",
        observation_end=dt.date(2025, 1, 31),
    ).set_index("customer_id")
    assert sorted(out.index) == ["a", "b"]
    assert out.loc["a", SUMMARY_COLUMNS].tolist() == [1.0, 10.0, 30.0, 30.0]
    assert out.loc["b", SUMMARY_COLUMNS].tolist() == [0.0, 0.0, 11.0, 0.0]


@pytest.mark.spark
@pytest.mark.parametrize(
    ("freq", "calibration_end"), [("D", None), ("W", None), ("D", dt.date(2026, 6, 30))]
)
def test_summary_is_the_same_on_spark(store_lines, freq, calibration_end):
    pytest.importorskip("pyspark")
    from guanxi.analytics.engine.backends import connect

    kwargs = {
        "customer_col": "customer_id",
        "date_col": "placed_at",
        "value_col": "value",
        "observation_end": dt.date(2026, 10, 31),
        "freq": freq,
        "calibration_end": calibration_end,
    }
    duck = connect("duckdb", {"transactions": store_lines})
    spark = connect("spark", {"transactions": store_lines})
    on_duck = duck.to_pyarrow(clv.transaction_summary(duck.table("transactions"), **kwargs))
    on_spark = spark.to_pyarrow(clv.transaction_summary(spark.table("transactions"), **kwargs))
    a = on_duck.to_pandas().set_index("customer_id").sort_index()
    b = on_spark.to_pandas().set_index("customer_id").sort_index()
    assert list(a.index) == list(b.index)
    assert list(a.columns) == list(b.columns)
    for column in a.columns:
        if column.endswith("_at"):
            # Spark hands timestamps back without their zone (in its UTC session time).
            naive = [
                c.dt.tz_convert("UTC").dt.tz_localize(None) if c.dt.tz else c
                for c in (a[column], b[column])
            ]
            assert (naive[0] == naive[1]).all(), column
        else:
            assert relative_difference(a[column], b[column]) < 1e-9, column


# -- fits --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def cdnow_fit(cdnow):
    summary = summarise(
        cdnow,
        customer_col="customer_id",
        date_col="date",
        value_col="dollar_value",
        observation_end=CALIBRATION_END,
    )
    summary["recency"] /= 7
    summary["T"] /= 7
    return clv.fit_clv_models(summary), summary


@needs_cdnow
def test_fits_reproduce_the_published_cdnow_parameters(cdnow_fit):
    fit, _ = cdnow_fit
    for name, published in PUBLISHED.items():
        assert getattr(fit, name) == pytest.approx(published, rel=0.01), name
    assert fit.customers == 2357
    assert fit.repeat_buyers == 946
    # Fader, Hardie & Lee report LL = -9582.4 for the BG/NBD on this sample.
    assert fit.bgnbd_log_likelihood == pytest.approx(-9582.4, abs=0.5)


@needs_cdnow
def test_fits_agree_with_lifetimes(cdnow_fit):
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    fit, summary = cdnow_fit
    bg = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    repeat = summary[summary["frequency"] > 0]
    gg = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    theirs = {**bg.params_.to_dict(), **gg.params_.rename({"v": "gamma"}).to_dict()}
    for name in PUBLISHED:
        assert getattr(fit, name) == pytest.approx(theirs[name], rel=1e-3), name


@needs_cdnow
def test_pareto_nbd_reproduces_the_published_cdnow_parameters(cdnow_fit):
    from lifetimes import ParetoNBDFitter

    _, summary = cdnow_fit
    fit = clv.fit_pareto_nbd_parameters(summary)
    for name, published in PUBLISHED_PARETO_NBD.items():
        assert getattr(fit, name) == pytest.approx(published, rel=0.01), name
    assert fit.log_likelihood == pytest.approx(-9594.98, abs=0.5)
    theirs = ParetoNBDFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    for name in PUBLISHED_PARETO_NBD:
        assert getattr(fit, name) == pytest.approx(theirs.params_[name], rel=2e-3), name


@needs_cdnow
def test_fit_clv_fits_pareto_nbd_on_request():
    out = json.loads(
        run_fit_clv(
            str(CDNOW),
            "--customer=customer_id",
            "--date=date",
            "--value=dollar_value",
            "--calibration-end=1997-09-30",
            "--time-unit=week",
            "--model=pareto-nbd",
            "--json",
        )
    )
    assert out["model"] == "pareto-nbd"
    for name, published in PUBLISHED_PARETO_NBD.items():
        assert out[name] == pytest.approx(published, rel=0.01), name
    assert out["log_likelihood"]["pareto_nbd"] == pytest.approx(-9594.98, abs=0.5)


@needs_cdnow
def test_closed_form_expected_purchases_equal_pymc_marketing(cdnow_fit):
    fit, summary = cdnow_fit
    model = clv.fit_bgnbd(summary)
    theirs = model.expected_purchases(summary, future_t=52).mean(("chain", "draw")).values
    ours = clv.expected_purchases(
        fit, summary["frequency"], summary["recency"], summary["T"], np.full(len(summary), 52.0)
    )
    assert np.allclose(ours, theirs, rtol=1e-6)


# -- scores ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def store_scores(store_lines):
    summary = summarise(
        store_lines,
        customer_col="customer_id",
        date_col="placed_at",
        value_col="value",
        observation_end=dt.date(2026, 10, 31),
    )
    as_of = dt.datetime(2026, 10, 31, 23, 59, tzinfo=dt.UTC)
    scores = clv.score_customers(pa.Table.from_pandas(summary, preserve_index=False), as_of)
    return summary.set_index("customer_id"), scores.to_pandas().set_index("customer_id"), as_of


def test_scores_follow_the_documented_rules(store_scores):
    summary, scores, as_of = store_scores
    assert scores.index.is_unique and sorted(scores.index) == sorted(summary.index)
    summary = summary.loc[scores.index]
    enough = (summary["frequency"] >= 1) & (summary["T"] >= clv.MIN_DAYS_OBSERVED)
    assert enough.sum() > 100
    assert (scores.loc[~enough, "churn_risk"] == "not_enough_data").all()
    assert scores.loc[~enough].drop(columns="churn_risk").isna().all().all()

    scored = scores.loc[enough]
    assert scored[["p_alive", "expected_orders_90d", "clv"]].notna().all().all()
    assert scored["p_alive"].between(0, 1).all()
    bands = np.select([scored["p_alive"] < 0.3, scored["p_alive"] < 0.7], ["high", "medium"], "low")
    assert (scored["churn_risk"] == bands).all()
    assert {"low", "high"} <= set(scored["churn_risk"])
    assert (scored["expected_orders_365d"] >= scored["expected_orders_90d"]).all()
    assert (scored["expected_value_90d"] >= 0).all()
    assert (scored["expected_value_365d"] >= scored["expected_value_90d"]).all()
    # Discounted 12 months is a little below the undiscounted 365-day value.
    assert (scored["clv"] <= scored["expected_value_365d"] * 1.0001).all()

    dates = scored["next_order_date"].dropna()
    assert len(dates) > 0
    assert (dates > as_of.date()).all()
    assert scored.loc[scored["churn_risk"] == "high", "next_order_date"].isna().all()


def test_next_order_date_is_where_one_purchase_is_expected(store_scores):
    summary, scores, as_of = store_scores
    row = scores.dropna(subset=["next_order_date"]).iloc[0]
    history = summary.loc[row.name]
    fit = clv.fit_clv_models(summary.reset_index())  # the same fit: MAP is deterministic
    days = (row["next_order_date"] - as_of.date()).days
    expected = clv.expected_purchases(
        fit,
        [history["frequency"]] * 2,
        [history["recency"]] * 2,
        [history["T"]] * 2,
        [days - 1.0, float(days)],
    )
    assert expected[0] < 1.0 <= expected[1]


def test_a_tiny_store_is_not_enough_data_for_everyone():
    summary = pa.table(
        {
            "customer_id": ["a", "b", "c"],
            "frequency": [2.0, 0.0, 1.0],
            "recency": [40.0, 0.0, 10.0],
            "T": [90.0, 60.0, 80.0],
            "monetary_value": [20.0, 0.0, 15.0],
        }
    )
    scores = clv.score_customers(summary, dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert scores.column("churn_risk").to_pylist() == ["not_enough_data"] * 3
    assert scores.column("p_alive").null_count == 3
    assert scores.schema == clv.SCORE_SCHEMA

    empty = clv.score_customers(summary.slice(0, 0), dt.datetime(2025, 1, 1, tzinfo=dt.UTC))
    assert empty.num_rows == 0


def test_churn_bands():
    assert [clv.churn_risk_band(p) for p in (0.0, 0.29, 0.3, 0.69, 0.7, 1.0, None)] == [
        "high",
        "high",
        "medium",
        "medium",
        "low",
        "low",
        "not_enough_data",
    ]


# -- fit-clv command ---------------------------------------------------------------------------


def run_fit_clv(*args: str) -> str:
    import argparse

    parser = argparse.ArgumentParser()
    _fit_clv.add_arguments(parser)
    options = vars(parser.parse_args(args))
    command = types.SimpleNamespace(stdout=_Lines())
    _fit_clv.handle(command, **options)
    return command.stdout.text()


class _Lines(io.StringIO):
    def write(self, text: str) -> int:  # like OutputWrapper: one line per write
        return super().write(text + "\n")

    def text(self) -> str:
        return self.getvalue()


@needs_cdnow
def test_fit_clv_reproduces_cdnow_from_the_parquet_file():
    out = json.loads(
        run_fit_clv(
            str(CDNOW),
            "--customer=customer_id",
            "--date=date",
            "--value=dollar_value",
            "--calibration-end=1997-09-30",
            "--time-unit=week",
            "--json",
        )
    )
    for name, published in PUBLISHED.items():
        assert out[name] == pytest.approx(published, rel=0.01), name
    assert out["log_likelihood"]["bgnbd"] == pytest.approx(-9582.4, abs=0.5)
    assert out["customers"] == 2357 and out["repeat_buyers"] == 946


def test_fit_clv_reads_csv_and_prints_a_table(tmp_path, store_lines):
    path = tmp_path / "orders.csv"
    df = store_lines.to_pandas()
    df["placed_at"] = df["placed_at"].dt.strftime("%Y-%m-%d %H:%M:%S")
    df.rename(columns={"customer_id": "Customer ID"}).to_csv(path, index=False)
    out = run_fit_clv(
        str(path), "--customer", "Customer ID", "--date", "placed_at", "--value", "value"
    )
    for name in ("r", "alpha", "a", "b", "p", "q", "gamma", "log-likelihood"):
        assert name in out


def test_fit_clv_names_a_missing_column(tmp_path):
    from django.core.management.base import CommandError

    path = tmp_path / "orders.csv"
    path.write_text("who,when,amount\na,2025-01-01,3\n")
    with pytest.raises(CommandError, match=r"orders.csv: no column 'customer' \(--customer\)"):
        run_fit_clv(str(path), "--customer=customer", "--date=when", "--value=amount")


@needs_cdnow
def test_fit_clv_through_the_analytics_command():
    from django.core.management import call_command

    out = io.StringIO()
    call_command(
        "analytics",
        "fit-clv",
        str(CDNOW),
        "--customer=customer_id",
        "--date=date",
        "--value=dollar_value",
        "--calibration-end=1997-09-30",
        "--time-unit=week",
        "--json",
        stdout=out,
    )
    params = json.loads(out.getvalue())
    assert sorted(k for k in params if k in PUBLISHED) == sorted(PUBLISHED)
    assert params["b"] == pytest.approx(PUBLISHED["b"], rel=0.01)
