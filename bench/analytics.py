"""Analytics benchmark: the CLV purchase summary and the CLV model fits, ours vs lifetimes.

    .venv/bin/python bench/analytics.py [--customers 100000] [--seed 7] [--repeats 5]

Prints a table and writes it to ``bench/results/analytics.md``.

(a) transactions → per-customer summary (frequency, recency, T, monetary_value) on ~1 M
    simulated order lines (``generate_store(customers=100000, seed=7)``, value = quantity ×
    unit price), all from the same in-memory Arrow table:
    * ours: ``guanxi.analytics.clv.transaction_summary`` (one Ibis expression) on DuckDB, the
      Arrow table registered zero-copy, result fetched as Arrow;
    * lifetimes: ``summary_data_from_transaction_data`` on the table as a pandas DataFrame (the
      Arrow → pandas conversion is not counted);
    * plain DuckDB: one hand-written SQL query over the same registered table, fetched as Arrow.
    Best of ``--repeats`` runs after one warm-up, the four run in turn. Max relative difference
    vs lifetimes is |ours − lifetimes| / max(|lifetimes|, 1) (amounts under one currency unit
    are compared absolutely: net values that cancel to ~0 differ by ~1e-14 from the order of
    additions).
(b) model fits: BG/NBD and Gamma-Gamma on CDNOW (published setting: daily purchases,
    calibration end 1997-09-30, time in weeks) and on the 1 M-line summary (days): ours
    (PyMC-Marketing, flat priors, MAP) vs lifetimes' ``BetaGeoFitter`` / ``GammaGammaFitter``.
    Ours is timed in a fresh process state for the first fit (PyTensor compiles the model
    graph, cached on disk afterwards) and again for a second fit.
(c) the full ``guanxi analytics refresh``: a placeholder filled by the lead.
"""

import argparse
import datetime as dt
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import duckdb
import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results" / "analytics.md"
CDNOW = ROOT.parent / "shared" / "data" / "cdnow_sample.parquet"
END = dt.date(2026, 10, 31)
PUBLISHED = {
    "r": 0.243,
    "alpha": 4.414,
    "a": 0.793,
    "b": 2.426,
    "p": 6.25,
    "q": 3.74,
    "gamma": 15.44,
}
PARAMS = list(PUBLISHED)

PLAIN_SQL = """
WITH per_day AS (
    SELECT customer_id, placed_at::DATE AS day, SUM(value) AS value,
           MIN(placed_at) AS first_at, MAX(placed_at) AS last_at
    FROM lines
    WHERE customer_id IS NOT NULL AND placed_at::DATE <= DATE '{end}'
    GROUP BY customer_id, day
), per_customer AS (
    SELECT customer_id, COUNT(*) - 1 AS repeats, MIN(day) AS first_day, MAX(day) AS last_day,
           SUM(value) AS total, arg_min(value, day) AS first_value,
           MIN(first_at) AS first_order_at, MAX(last_at) AS last_order_at
    FROM per_day GROUP BY customer_id
)
SELECT customer_id, repeats::DOUBLE AS frequency, (last_day - first_day)::DOUBLE AS recency,
       (DATE '{end}' - first_day)::DOUBLE AS "T",
       CASE WHEN repeats > 0 THEN (total - first_value) / repeats ELSE 0 END AS monetary_value,
       first_order_at, last_order_at
FROM per_customer
"""


def interleaved(functions: dict, repeats: int) -> dict[str, tuple[float, float]]:
    """(best, median) seconds of each function, run in turn so that load drift hits all alike."""
    for fn in functions.values():
        fn()  # warm-up
    times = {name: [] for name in functions}
    for _ in range(repeats):
        for name, fn in functions.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: (min(t), statistics.median(t)) for name, t in times.items()}


def relative_difference(ours, theirs) -> float:
    ours, theirs = np.asarray(ours, float), np.asarray(theirs, float)
    return float(np.max(np.abs(ours - theirs) / np.maximum(np.abs(theirs), 1.0)))


def simulated_lines(customers: int, seed: int) -> pa.Table:
    from guanxi.simulate.generator import generate_store

    lines = generate_store(customers=customers, seed=seed).order_lines
    value = pc.multiply(pc.cast(lines["quantity"], pa.float64()), lines["unit_price"])
    # UTC wall time without a zone, so that all three cut days the same way.
    placed_at = pc.cast(lines["placed_at"], pa.timestamp("us"))
    return pa.table({"customer_id": lines["customer_id"], "placed_at": placed_at, "value": value})


def bench_summary(lines: pa.Table, repeats: int) -> tuple[dict, pd.DataFrame]:
    from lifetimes.utils import summary_data_from_transaction_data

    from guanxi.analytics.clv import transaction_summary

    con = ibis.duckdb.connect()
    con.con.register("lines", lines)
    expr = transaction_summary(
        con.table("lines"),
        customer_col="customer_id",
        date_col="placed_at",
        value_col="value",
        observation_end=END,
    )
    ours_result = {}

    def ours():
        ours_result["table"] = con.to_pyarrow(expr)

    plain_con = duckdb.connect()
    plain_con.register("lines", lines)
    sql = PLAIN_SQL.format(end=END.isoformat())

    def plain():
        return plain_con.execute(sql).to_arrow_table()

    # The same without first/last order timestamps (frequency, recency, T, monetary only).
    bare_sql = (
        sql.replace(",\n           MIN(placed_at) AS first_at, MAX(placed_at) AS last_at", "")
        .replace(",\n           MIN(first_at) AS first_order_at, MAX(last_at) AS last_order_at", "")
        .replace(",\n       first_order_at, last_order_at", "")
    )
    assert "first_at" not in bare_sql and "last_order_at" not in bare_sql

    def bare():
        return plain_con.execute(bare_sql).to_arrow_table()

    frame = lines.to_pandas()
    lifetimes_result = {}

    def lifetimes():
        lifetimes_result["frame"] = summary_data_from_transaction_data(
            frame, "customer_id", "placed_at", "value", observation_period_end=str(END)
        )

    timings = interleaved(
        {"ours": ours, "lifetimes": lifetimes, "plain": plain, "bare": bare}, repeats
    )
    ours_df = ours_result["table"].to_pandas().set_index("customer_id")
    theirs = lifetimes_result["frame"]
    ours_df = ours_df.loc[theirs.index]
    diffs = {
        c: relative_difference(ours_df[c], theirs[c])
        for c in ("frequency", "recency", "T", "monetary_value")
    }
    plain_df = plain().to_pandas().set_index("customer_id").loc[theirs.index]
    plain_diff = max(
        relative_difference(plain_df[c], theirs[c])
        for c in ("frequency", "recency", "T", "monetary_value")
    )
    return {
        "lines": lines.num_rows,
        "customers": len(theirs),
        "timings": timings,
        "diffs": diffs,
        "plain_diff": plain_diff,
    }, ours_df.reset_index()


def cdnow_summary() -> pd.DataFrame:
    from guanxi.analytics.clv import transaction_summary

    con = ibis.duckdb.connect()
    con.con.register("cdnow", pq.read_table(CDNOW))
    summary = con.to_pyarrow(
        transaction_summary(
            con.table("cdnow"),
            customer_col="customer_id",
            date_col="date",
            value_col="dollar_value",
            observation_end=dt.date(1997, 9, 30),
        )
    ).to_pandas()
    summary["recency"] /= 7
    summary["T"] /= 7
    return summary


def bench_fits(summary: pd.DataFrame) -> dict:
    from lifetimes import BetaGeoFitter, GammaGammaFitter

    from guanxi.analytics.clv import _point, _spenders, fit_bgnbd, fit_gamma_gamma

    repeat = summary[_spenders(summary)]
    out = {}
    times = []
    for _ in range(2):
        start = time.perf_counter()
        bg = _point(fit_bgnbd(summary), "r", "alpha", "a", "b")
        middle = time.perf_counter()
        gg = _point(fit_gamma_gamma(summary), "p", "q", "v")
        times.append((middle - start, time.perf_counter() - middle))
    out["ours"] = {**bg, "p": gg["p"], "q": gg["q"], "gamma": gg["v"]}
    out["ours_times"] = times

    start = time.perf_counter()
    bgf = BetaGeoFitter().fit(summary["frequency"], summary["recency"], summary["T"])
    middle = time.perf_counter()
    ggf = GammaGammaFitter().fit(repeat["frequency"], repeat["monetary_value"])
    out["lifetimes_times"] = (middle - start, time.perf_counter() - middle)
    out["lifetimes"] = {**bgf.params_.to_dict(), **ggf.params_.rename({"v": "gamma"}).to_dict()}
    out["customers"] = len(summary)
    out["repeat_buyers"] = len(repeat)
    return out


def fmt_params(params: dict) -> str:
    return ", ".join(f"{k} {params[k]:.4g}" for k in PARAMS)


def report(summary: dict, fits: dict, args) -> str:
    t = summary["timings"]
    ours, lifetimes, plain = t["ours"][0], t["lifetimes"][0], t["plain"][0]
    diff = max(summary["diffs"].values())
    lines = [
        "# Analytics benchmark",
        "",
        f"Measured {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on "
        f"{platform.node() or 'this machine'}: "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}, DuckDB "
        f"{duckdb.__version__}, ibis {ibis.__version__}, pandas {pd.__version__}; load average "
        f"{args.load_before:.1f} before, {os.getloadavg()[0]:.1f} after (other work on the "
        "machine slows every column alike, but adds noise). "
        f"`{' '.join(['.venv/bin/python', 'bench/analytics.py', *sys.argv[1:]])}`.",
        "",
        "## (a) transactions → per-customer summary",
        "",
        f"{summary['lines']:,} simulated order lines (`generate_store(customers={args.customers}, "
        f"seed={args.seed})`), {summary['customers']:,} customers with orders; frequency, recency, "
        "T (days) and monetary_value as `lifetimes.utils.summary_data_from_transaction_data`. "
        f"Best of {args.repeats} runs after a warm-up, the four run in turn (median in brackets).",
        "",
        "| | time (s) | vs lifetimes | vs plain DuckDB | max relative difference vs lifetimes |",
        "|---|---:|---:|---:|---:|",
        f"| ours: `transaction_summary` (Ibis → DuckDB) | {ours:.3f} ({t['ours'][1]:.3f}) | "
        f"{lifetimes / ours:.1f}× faster | {ours / plain:.2f}× | {diff:.1e} |",
        "| lifetimes `summary_data_from_transaction_data` | "
        f"{lifetimes:.3f} ({t['lifetimes'][1]:.3f}) | 1 | – | 0 |",
        f"| one plain DuckDB SQL query | {plain:.3f} ({t['plain'][1]:.3f}) | "
        f"{lifetimes / plain:.1f}× faster | 1 | {summary['plain_diff']:.1e} |",
        f"| plain DuckDB SQL without first/last order timestamps | {t['bare'][0]:.3f} "
        f"({t['bare'][1]:.3f}) | {lifetimes / t['bare'][0]:.1f}× faster | "
        f"{t['bare'][0] / plain:.2f}× | – |",
        "",
        "Targets: relative difference < 1e-9 "
        f"({'met' if diff < 1e-9 else 'NOT met'}), ≥ 5× faster than lifetimes "
        f"({'met' if lifetimes / ours >= 5 else 'NOT met'}: {lifetimes / ours:.1f}×), "
        "within 1.5× of the plain query "
        f"({'met' if ours / plain <= 1.5 else 'NOT met'}: {ours / plain:.2f}×). "
        "Per column: "
        + ", ".join(f"{k} {v:.1e}" for k, v in summary["diffs"].items())
        + " (|ours − lifetimes| / max(|lifetimes|, 1)). The plain query is the one in this file "
        "(`PLAIN_SQL`): the same two group-bys, written by hand.",
        "",
        "## (b) model fits",
        "",
        "Ours: PyMC-Marketing `BetaGeoModel` and `GammaGammaModel`, flat (`HalfFlat`) priors, "
        '`fit(method="map")`, i.e. maximum likelihood. First fit in the process includes '
        "PyTensor's graph compilation; the second reuses it. lifetimes: `BetaGeoFitter`, "
        "`GammaGammaFitter` (scipy minimize).",
        "",
        "| data | fitter | BG/NBD fit (s) | Gamma-Gamma fit (s) | parameters |",
        "|---|---|---:|---:|---|",
    ]
    for name, fit in fits.items():
        first, second = fit["ours_times"]
        lines += [
            f"| {name} | ours, first fit | {first[0]:.2f} | {first[1]:.2f} | "
            f"{fmt_params(fit['ours'])} |",
            f"| {name} | ours, second fit | {second[0]:.2f} | {second[1]:.2f} | same |",
            f"| {name} | lifetimes | {fit['lifetimes_times'][0]:.2f} | "
            f"{fit['lifetimes_times'][1]:.2f} | {fmt_params(fit['lifetimes'])} |",
        ]
    lines += [
        "",
        f"`score_customers` on the simulated summary ({summary['customers']:,} customers, "
        f"{summary['scored']:,} with enough data): {summary['score_s']:.1f} s for both fits, "
        "P(alive), expected orders and value, CLV and the next-order search.",
    ]
    if "CDNOW" in "".join(fits):
        cd = next(v for k, v in fits.items() if "CDNOW" in k)
        worst = max(abs(cd["ours"][k] / PUBLISHED[k] - 1) for k in PARAMS)
        lines += [
            "",
            f"CDNOW published: {fmt_params(PUBLISHED)}; ours differ from them by at most "
            f"{worst:.2%} (the published values have 3–4 significant digits), "
            f"{cd['customers']:,} customers, {cd['repeat_buyers']} repeat buyers.",
        ]
    lines += [
        "",
        "## (c) full refresh",
        "",
        "_To be filled by the lead: `guanxi analytics refresh` on 1 M and 10 M simulated order "
        "lines (time, peak memory; target < 5 minutes and < 8 GiB for 10 M)._",
        "",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    args.load_before = os.getloadavg()[0]

    print(f"simulating {args.customers:,} customers …", flush=True)
    lines = simulated_lines(args.customers, args.seed)
    print(f"(a) summary on {lines.num_rows:,} order lines …", flush=True)
    summary, store_summary = bench_summary(lines, args.repeats)
    fits = {}
    if CDNOW.exists():
        print("(b) fits on CDNOW …", flush=True)
        fits["CDNOW sample (weeks)"] = bench_fits(cdnow_summary())
    else:
        print(f"(b) CDNOW skipped: {CDNOW} not found", flush=True)
    print("(b) fits on the simulated summary …", flush=True)
    fits[f"simulated, {summary['lines'] / 1e6:.1f} M lines (days)"] = bench_fits(store_summary)

    print("(b) score_customers on the simulated summary …", flush=True)
    from guanxi.analytics.clv import score_customers

    start = time.perf_counter()
    scores = score_customers(
        pa.Table.from_pandas(store_summary, preserve_index=False),
        dt.datetime.combine(END, dt.time(23, 59), tzinfo=dt.UTC),
    )
    summary["score_s"] = time.perf_counter() - start
    summary["scored"] = (
        scores.num_rows - pc.sum(pc.equal(scores["churn_risk"], "not_enough_data")).as_py()
    )
    text = report(summary, fits, args)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
