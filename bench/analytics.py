"""Analytics benchmark: the CLV purchase summary and the CLV model fits, ours vs lifetimes.

    .venv/bin/python bench/analytics.py [--customers 100000] [--seed 7] [--repeats 5]
        [--parts abc] [--refresh-lines 1000000,10000000] [--refresh-engines duckdb]
        [--databases sqlite,postgres://postgres@127.0.0.1:5432/guanxi_bench]
        [--spark-max-lines 1000000] [--store-cache DIR]

Prints a table and writes it to ``bench/results/analytics.md``; a part left out of ``--parts``
keeps its section from the previous results file.

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
(c) the full ``guanxi analytics refresh`` on simulated stores of about 1 M and 10 M order lines:
    for each database of ``--databases`` and each size a fresh database (SQLite in a temporary
    data dir, or the PostgreSQL database of the URL given, dropped and created again) is
    migrated and filled by ``guanxi simulate`` (timed apart, wall time and peak memory, under
    ``/usr/bin/time``; a store of more than 100 K customers is generated and loaded in parts of
    100 K), then
    ``guanxi analytics refresh --quiet`` runs as its own process under ``/usr/bin/time``: wall
    time and peak resident memory of that process (DuckDB computes in-process, so its memory is
    counted; with Spark the JVM's is counted separately, as the largest child). The run's own
    per-step durations come from the ``AnalyticsRun`` it records. With ``--store-cache DIR``
    each simulated store is kept (SQLite: a copy of the file in DIR; PostgreSQL: a template
    database) with its simulate figures, and reused by later runs of the same size and seed,
    so that a refresh can be measured again without simulating 10 M lines again.
"""

import argparse
import datetime as dt
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
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
from _db import database_exists, fresh_database, guanxi, save_database

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
    return "\n".join(lines) + "\n"


# -- (c) the full refresh ----------------------------------------------------------------------

# guanxi simulate writes about this many order lines per customer (24 months, default mix).
LINES_PER_CUSTOMER = 11.3
REFRESH_TARGET_S = 300
REFRESH_TARGET_GIB = 8


def _timed(command: list[str], env: dict) -> tuple[float, float]:
    """Run a ``guanxi`` command under /usr/bin/time; (wall seconds, peak memory in GiB)."""
    program = str(Path(sys.executable).with_name("guanxi"))
    done = subprocess.run(
        ["/usr/bin/time", "-f", "TIME %e %M", program, *command],
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode:
        raise RuntimeError(f"{command[0]} failed:\n{done.stdout}\n{done.stderr}")
    wall, rss_kib = re.search(r"TIME ([\d.]+) (\d+)", done.stderr).groups()
    return float(wall), int(rss_kib) / 2**20


def _store(target_lines: int, seed: int, database_url, workdir: Path, cache: Path | None):
    """A migrated database holding the simulated store (made, or copied from ``cache``);
    returns (environment, simulate figures)."""
    customers = max(1000, round(target_lines / LINES_PER_CUSTOMER))
    key = f"store-{customers}-{seed}"
    meta = cache / f"{key}{'-pg' if database_url else ''}.json" if cache else None
    if meta is not None and meta.exists():
        figures = {**json.loads(meta.read_text()), "cached": True}
        if database_url:
            template = f"{database_url.rsplit('/', 1)[1]}_{key}".replace("-", "_")
            if database_exists(database_url, template):
                print(f"(c) store of {customers:,} customers from the cache …", flush=True)
                return fresh_database(database_url, workdir, template=template), figures
        elif (cache / f"{key}.sqlite3").exists():
            print(f"(c) store of {customers:,} customers from the cache …", flush=True)
            env = fresh_database(None, workdir)
            shutil.copyfile(cache / f"{key}.sqlite3", workdir / "guanxi.sqlite3")
            guanxi("migrate", "--verbosity", "0", env=env)
            return env, figures
    env = fresh_database(database_url, workdir)
    guanxi("migrate", "--verbosity", "0", env=env)
    print(f"(c) simulating {customers:,} customers into the database …", flush=True)
    wall, peak = _timed(
        ["simulate", "--customers", str(customers), "--seed", str(seed), "--no-progress"], env
    )
    figures = {"customers": customers, "load_s": wall, "load_peak_gib": peak}
    print(f"    {wall:.0f} s, {peak:.2f} GiB", flush=True)
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)
        if database_url:
            save_database(database_url, f"{database_url.rsplit('/', 1)[1]}_{key}".replace("-", "_"))
        else:
            import sqlite3

            with sqlite3.connect(workdir / "guanxi.sqlite3") as con:
                con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            shutil.copyfile(workdir / "guanxi.sqlite3", cache / f"{key}.sqlite3")
        meta.write_text(json.dumps(figures))
    return env, figures


def bench_refresh_one(
    target_lines: int, engines: list[str], seed: int, database_url, cache: Path | None = None
) -> list:
    workdir = Path(tempfile.mkdtemp(prefix="guanxi-bench-refresh-"))
    rows = []
    try:
        env, store = _store(target_lines, seed, database_url, workdir, cache)
        for engine in engines:
            print(f"(c) guanxi analytics refresh --engine {engine} …", flush=True)
            wall, peak = _timed(["analytics", "refresh", "--quiet", "--engine", engine], env)
            run = json.loads(
                guanxi(
                    "shell",
                    "-c",
                    "import json; from guanxi.analytics.models import AnalyticsRun; "
                    "r = AnalyticsRun.objects.latest('pk'); "
                    "print(json.dumps({'inputs': r.inputs, 'steps': r.steps, "
                    "'duration_s': r.duration_s, 'status': r.status}))",
                    env=env,
                )
                .stdout.strip()
                .splitlines()[-1]
            )
            rows.append(
                {
                    "target": target_lines,
                    "engine": engine,
                    "database": "PostgreSQL" if database_url else "SQLite",
                    **store,
                    "wall_s": wall,
                    "peak_gib": peak,
                    **run,
                }
            )
            print(f"    {wall:.1f} s, {peak:.2f} GiB", flush=True)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


REFRESH_ROWS = RESULTS.with_name("analytics-refresh.json")
# guanxi.analytics.services.STEPS (not imported: that module needs Django set up).
STEP_ORDER = {
    name: i
    for i, name in enumerate(
        ("load", "scores", "affinities", "clv", "periodic", "recommend", "write")
    )
}


def _merged_rows(rows: list[dict]) -> list[dict]:
    """This run's rows, plus the rows kept from earlier runs for the other (database, size,
    engine) combinations (``bench/results/analytics-refresh.json``), so that a PostgreSQL run
    and a SQLite run can be measured apart and reported together."""
    today = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    for row in rows:
        row["measured"] = today

    def key(row):
        return (row["database"], row["target"], row["engine"])

    new = {key(r) for r in rows}
    kept = json.loads(REFRESH_ROWS.read_text()) if REFRESH_ROWS.exists() else []
    merged = [r for r in kept if key(r) not in new] + rows
    merged.sort(key=lambda r: (r["database"] != "SQLite", r["target"], r["engine"]))
    REFRESH_ROWS.write_text(json.dumps(merged, indent=1, default=str) + "\n")
    return merged


def refresh_report(rows: list[dict], args) -> str:
    lines = [
        "## (c) full refresh",
        "",
        f"`guanxi analytics refresh` as its own process, on a simulated store per size "
        f"(`guanxi simulate --seed {args.seed}`), {platform.machine()} with {os.cpu_count()} "
        "cores (the machine is shared with other work: times are upper bounds; each row says "
        "when it was measured). Target for 10 M "
        f"lines: under {REFRESH_TARGET_S // 60} minutes and {REFRESH_TARGET_GIB} GiB. "
        "`simulate`: generating and loading the store (not part of the refresh); peak memory is "
        "the largest resident set of the process.",
        "",
        "| order lines | customers | database | engine | simulate (s) | simulate peak (GiB) "
        "| refresh (s) | refresh peak (GiB) | steps (s) | measured |",
        "|---:|---:|---|---|---:|---:|---:|---:|---|---|",
    ]
    for row in rows:
        n_lines = row["inputs"].get("order_lines", row["target"])
        # In run order (PostgreSQL's jsonb hands the keys back in its own order).
        ordered = sorted(row["steps"].items(), key=lambda kv: STEP_ORDER.get(kv[0], 99))
        steps = ", ".join(f"{k} {v:.1f}" for k, v in ordered)
        lines.append(
            f"| {n_lines:,} | {row['customers']:,} | {row['database']} | {row['engine']} "
            f"| {row['load_s']:.0f}{' †' if row.get('cached') else ''} "
            f"| {row['load_peak_gib']:.2f} | {row['wall_s']:.1f} "
            f"| {row['peak_gib']:.2f} | {steps} | {row.get('measured', '')} |"
        )
    lines += [
        "",
        "`order lines` is what the refresh read (lines of customers' orders; guest orders are "
        "left out), `customers` how many were simulated. Default settings: the EASE "
        "recommender, `GUANXI_RECOMMENDATION_HISTORY` off (each customer's picks are written "
        "once, in their serving list, not also as `Recommendation` rows).",
    ]
    if any(row["engine"] == "spark" for row in rows):
        lines += [
            "",
            "Spark rows: local mode on the same 2 cores (Spark is the scale-out path, DuckDB the "
            "default on one machine). Their peak memory is the Python process's; the JVM's comes "
            "on top (driver memory `SPARK_DRIVER_MEMORY`, 4g for the 10 M-line run: 4.8 GiB "
            "resident seen with `ps`).",
        ]
    if any(row.get("cached") for row in rows):
        lines += [
            "",
            "† store simulated by an earlier run (`--store-cache`), with the figures measured "
            "then; the refresh ran on a fresh copy of it.",
        ]
    for row in (r for r in rows if r["target"] >= 10_000_000):
        time_ok = row["wall_s"] < REFRESH_TARGET_S
        memory_ok = row["peak_gib"] < REFRESH_TARGET_GIB
        verdict = "met" if time_ok and memory_ok else "MISSED"
        lines += [
            "",
            f"10 M target {verdict} ({row['database']}, {row['engine']}): "
            f"{row['wall_s']:.0f} s of {REFRESH_TARGET_S} s, "
            f"{row['peak_gib']:.2f} GiB of {REFRESH_TARGET_GIB} GiB.",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--parts", default="abc", help="which parts to run: a, b, c")
    parser.add_argument("--refresh-lines", default="1000000,10000000")
    parser.add_argument("--refresh-engines", default="duckdb")
    parser.add_argument(
        "--databases",
        default="sqlite",
        help="(c): comma-separated, 'sqlite' and/or a PostgreSQL URL (that database is recreated)",
    )
    parser.add_argument(
        "--spark-max-lines",
        type=float,
        default=0,
        help="(c): also refresh with --engine spark on the stores of at most this many lines",
    )
    parser.add_argument(
        "--store-cache", type=Path, help="(c): keep the simulated stores here and reuse them"
    )
    args = parser.parse_args()
    warnings.filterwarnings("ignore")
    args.load_before = os.getloadavg()[0]

    head = ""
    if "a" in args.parts or "b" in args.parts:
        head = run_summary_and_fits(args)
    elif RESULTS.exists():
        text = RESULTS.read_text()
        head = text.split("## (c)")[0]
    tail = ""
    if "c" in args.parts:
        rows = []
        for database in args.databases.split(","):
            database_url = None if database.strip() == "sqlite" else database.strip()
            # --refresh-lines "" measures nothing: the table again from the kept rows.
            for target in (int(float(x)) for x in args.refresh_lines.split(",") if x.strip()):
                engines = args.refresh_engines.split(",")
                if target <= args.spark_max_lines and "spark" not in engines:
                    engines.append("spark")
                rows += bench_refresh_one(
                    target, engines, args.seed, database_url, args.store_cache
                )
        tail = refresh_report(_merged_rows(rows), args)
    elif RESULTS.exists() and "## (c)" in RESULTS.read_text():
        text = RESULTS.read_text()
        tail = text[text.index("## (c)") :]
    text = head.rstrip("\n") + "\n\n" + tail
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)
    print(text)


def run_summary_and_fits(args) -> str:
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
    return report(summary, fits, args)


if __name__ == "__main__":
    main()
