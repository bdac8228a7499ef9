"""Benchmark: association-rule mining vs mlxtend and vs one plain DuckDB query; offline quality
of the recommendations on a time split vs most-popular; latency of the three endpoints.

    PYTHONPATH=src python bench/recommend.py [--customers 100000] [--parts mining,quality,latency]
        [--rate 50,100,200,300,600 --seconds 20] [--latency-customers 3000]
        [--database-url postgres://…/bench_recommend] [--url http://… --token TOKEN]

The latency part simulates a store into a fresh database (SQLite in a temporary directory, or
``--database-url``), refreshes it, serves it with gunicorn and loads it; ``--url`` measures a
server that is already running instead.

Writes bench/results/recommend.md. The machine is shared (2 cores) with other engineers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import ibis
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from guanxi.analytics import recommend  # noqa: E402
from guanxi.analytics.rules import association_rules  # noqa: E402

RETAIL = ROOT.parent / "shared" / "data" / "uci_online_retail_prefix.parquet"
PLAIN_SQL = """
WITH l AS (SELECT DISTINCT b, i FROM t WHERE b IS NOT NULL AND i IS NOT NULL),
n AS (SELECT COUNT(DISTINCT b) AS n FROM l),
f AS (SELECT i, COUNT(*) AS c FROM l GROUP BY i HAVING COUNT(*) >= CEIL({ms} * (SELECT n FROM n))),
k AS (SELECT l.* FROM l SEMI JOIN f USING (i)),
p AS (SELECT a.i AS ia, c.i AS ic, COUNT(*) AS pc FROM k a JOIN k c ON a.b = c.b AND a.i < c.i
      GROUP BY 1, 2 HAVING COUNT(*) >= CEIL({ms} * (SELECT n FROM n)))
SELECT ia AS antecedent, ic AS consequent, pc / n AS support, pc / fa.c AS confidence,
       pc * n / (fa.c * fc.c) AS lift
FROM p JOIN f fa ON fa.i = ia JOIN f fc ON fc.i = ic, n
UNION ALL
SELECT ic, ia, pc / n, pc / fc.c, pc * n / (fa.c * fc.c)
FROM p JOIN f fa ON fa.i = ia JOIN f fc ON fc.i = ic, n
"""


def best_of(fn, repeat=3):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def mine(table: pa.Table, min_support: float, with_mlxtend: bool = True) -> dict:
    con = ibis.duckdb.connect()
    con.con.register("t", table)
    raw = duckdb.connect()
    raw.register("t", table)

    def run_ours():
        expr = association_rules(con.table("t"), basket="b", item="i", min_support=min_support)
        return expr.to_pyarrow()

    def run_plain():
        return raw.sql(PLAIN_SQL.format(ms=min_support)).to_arrow_table()

    # Interleaved, best of 5 each: the shared machine's load changes from second to second.
    ours_times, plain_times = [], []
    for _ in range(5):
        t, ours = best_of(run_ours, repeat=1)
        ours_times.append(t)
        t, plain = best_of(run_plain, repeat=1)
        plain_times.append(t)
    ours_t, plain_t = min(ours_times), min(plain_times)
    row = {
        "lines": table.num_rows,
        "baskets": pc.count_distinct(table.column("b")).as_py(),
        "items": pc.count_distinct(table.column("i")).as_py(),
        "rules": ours.num_rows,
        "ours": ours_t,
        "plain": plain_t,
        "plain_rules": len(plain),
        "mlxtend": None,
        "same": None,
    }
    if with_mlxtend:
        import pandas as pd
        from mlxtend.frequent_patterns import association_rules as ar
        from mlxtend.frequent_patterns import fpgrowth

        def run_mlxtend():
            df = table.to_pandas().drop_duplicates()
            codes_b, _ = pd.factorize(df["b"])
            codes_i, items = pd.factorize(df["i"])
            import numpy as np

            onehot = np.zeros((codes_b.max() + 1, len(items)), dtype=bool)
            onehot[codes_b, codes_i] = True
            frame = pd.DataFrame(onehot, columns=items)
            fi = fpgrowth(frame, min_support=min_support, use_colnames=True, max_len=2)
            return ar(fi, num_itemsets=len(frame), metric="confidence", min_threshold=0.0)

        row["mlxtend"], theirs = best_of(run_mlxtend, repeat=1)
        pairs = {
            (next(iter(a)), next(iter(c)))
            for a, c in zip(theirs.antecedents, theirs.consequents, strict=True)
        }
        mine_pairs = set(
            zip(
                ours.column("antecedent").to_pylist(),
                ours.column("consequent").to_pylist(),
                strict=True,
            )
        )
        row["same"] = pairs == mine_pairs
    return row


def simulated(customers: int, taste: bool = True):
    from guanxi.simulate.generator import generate_store

    return generate_store(customers, seed=1, taste=taste)


def _utc(*args) -> pa.Scalar:
    return pa.scalar(dt.datetime(*args, tzinfo=dt.UTC), pa.timestamp("us", tz="UTC"))


def quality(
    lines: pa.Table,
    cut,
    label: str,
    customer="customer_id",
    basket="order_id",
    end=None,
    models: dict | None = None,
    rules: bool = True,
) -> list:
    """recall@10 / precision@10 of every method, trained before ``cut`` and tested on what
    was bought from ``cut`` (up to ``end`` when given: the validation window)."""
    ids = pc.unique(lines.column(customer))
    index = lines.schema.get_field_index(customer)
    lines = lines.set_column(
        index, customer, pc.index_in(lines.column(customer), ids).cast(pa.int64())
    )
    codes = pc.unique(lines.column("sku"))
    lines = lines.append_column(
        "product_id", pc.index_in(lines.column("sku"), codes).cast(pa.int64())
    )
    before = lines.filter(pc.less(lines.column("placed_at"), cut))
    after = lines.filter(pc.greater_equal(lines.column("placed_at"), cut))
    if end is not None:
        after = after.filter(pc.less(after.column("placed_at"), end))
    mined = None
    if rules:
        con = ibis.duckdb.connect()
        con.con.register("t", before)
        mined = association_rules(
            con.table("t"), basket=basket, item="product_id", min_support=0.002
        )
        mined = mined.filter(mined.lift > 1).to_pyarrow()
    train = recommend.interactions_from_lines(
        before, customer=customer, time="placed_at", as_of=cut.as_py(), half_life_days=120
    )
    test = recommend.interactions_from_lines(after, customer=customer)
    return [(label, q) for q in recommend.evaluate(train, test, rules=mined, models=models)]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (a gunicorn master and its workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(x) for x in children.read_text().split()]
    total = 0
    for p in pids:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def _machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all processes, all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def latency(
    url: str, token: str, rate: float, seconds: float, paths: list[str], customers, products,
    server_pid: int | None = None,
) -> dict:  # fmt: skip
    """Open-loop load at ``rate`` over the three endpoints (see ``_load.py``)."""
    import random

    from _load import run_load

    rng = random.Random(1)

    def key_of(path: str) -> str:
        return "related" if "/products/" in path else path.rsplit("/", 1)[1]

    def next_request(i: int) -> tuple[str, str]:
        path = paths[i % len(paths)]
        return key_of(path), path.replace("{product}", str(rng.choice(products))).replace(
            "{customer}", str(rng.choice(customers))
        )

    headers = {"Authorization": f"Bearer {token}"}
    # Warm up every worker (imports, URL resolvers, connections, the token cache): not measured.
    run_load(url, 60, 2, next_request, headers)
    load = os.getloadavg()[0]
    cpu = _cpu_seconds(server_pid) if server_pid else None
    busy, started = _machine_busy_seconds(), time.perf_counter()
    out = run_load(url, rate, seconds, next_request, headers)
    busy, elapsed = _machine_busy_seconds() - busy, time.perf_counter() - started
    n = sum(len(v) for v in out["latencies"].values())
    server_s = (_cpu_seconds(server_pid) - cpu) if server_pid else 0.0
    result = {
        "load": load,
        "errors": out["errors"],
        "error_kinds": out["error_kinds"],
        "retried": out["retried"],
        "client_ms": 1000 * out["client_cpu_s"] / n,
        "server_ms": 1000 * server_s / n if server_pid else None,
        # Cores kept busy by everything else on the machine meanwhile (other people's work).
        "others_cores": max(busy - server_s - out["client_cpu_s"], 0.0) / elapsed,
        "endpoints": {},
    }
    for key in dict.fromkeys(key_of(p) for p in paths):
        values = sorted(out["latencies"].get(key, []))
        if values:
            result["endpoints"][key] = (
                len(values),
                1000 * statistics.median(values),
                1000 * values[int(0.99 * (len(values) - 1))],
            )
    return result


class Server:
    """A simulated store served by gunicorn, as in production (or the one at ``--url``)."""

    def __init__(self, args):
        self.args, self.proc, self.workdir = args, None, None
        if args.url:
            self.url, self.token = args.url, args.token
            self.customers = _id_range(args.customer_ids)
            self.products = _id_range(args.product_ids)
            self.label = f"the server at {args.url}"
            return
        from _db import fresh_database, guanxi

        self.workdir = Path(tempfile.mkdtemp(prefix="guanxi-bench-recommend-"))
        env = fresh_database(args.database_url, self.workdir)
        n = args.latency_customers
        print(f"latency: simulating {n:,} customers and refreshing…", flush=True)
        guanxi("migrate", "-v", "0", env=env)
        guanxi("simulate", "--customers", str(n), "--seed", "42", env=env)
        guanxi("analytics", "refresh", env=env)
        if args.database_url:
            import psycopg

            # Planner statistics for every freshly loaded table (the refresh analyses the store
            # tables too; without statistics PostgreSQL scans every order line for "owned").
            with psycopg.connect(args.database_url, autocommit=True) as con:
                con.execute("ANALYZE")
        self.token = guanxi("create_api_token", "bench", "--read-only", env=env).stdout.split()[0]
        ids = guanxi(
            "shell",
            "-c",
            "from guanxi.commerce.models import Product; from guanxi.customers.models import "
            "Customer; print(list(Customer.objects.values_list('id', flat=True))); "
            "print(list(Product.objects.values_list('id', flat=True)))",
            env=env,
        ).stdout.splitlines()
        self.customers, self.products = json.loads(ids[-2]), json.loads(ids[-1])
        port = args.port
        self.url = f"http://127.0.0.1:{port}"
        gunicorn = str(Path(sys.executable).with_name("gunicorn"))
        workers, threads = args.workers, args.threads
        self.proc = subprocess.Popen(
            [gunicorn, "guanxi.wsgi", "-w", str(workers), "--threads", str(threads),
             "-b", f"127.0.0.1:{port}", "--log-level", "warning"],
            env=env,
        )  # fmt: skip
        for _ in range(200):
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).request("GET", "/")
                break
            except OSError:
                time.sleep(0.1)
        db = "PostgreSQL (analysed after loading)" if args.database_url else "SQLite"
        self.label = (
            f"gunicorn ({workers} workers × {threads} threads, `server` extra) on a {db} "
            f"store of {n:,} simulated customers and {len(self.products):,} products"
        )

    def close(self):
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)
        if self.workdir is not None:
            shutil.rmtree(self.workdir, ignore_errors=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--quality-customers", type=int, default=20_000)
    ap.add_argument(
        "--url", default="", help="measure this server (default: simulate a store and serve it)"
    )
    ap.add_argument("--token", default="", help="bearer token for --url")
    ap.add_argument("--latency-customers", type=int, default=3000)
    ap.add_argument("--database-url", default="", help="PostgreSQL for the served store")
    ap.add_argument("--port", type=int, default=8041)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument(
        "--paths",
        default="/api/v1/products/{product}/related,/api/v1/customers/{customer}/recommendations,"
        "/api/v1/customers/{customer}/home",
    )
    ap.add_argument("--customer-ids", default="1:3000", help="with --url: ids to draw from")
    ap.add_argument("--product-ids", default="1:300", help="with --url: ids to draw from")
    ap.add_argument("--parts", default="mining,quality,latency")
    ap.add_argument("--rate", default="50,100,200,300,600", help="requests/s, comma-separated")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--repeat", type=int, default=1, help="latency: run every rate this often")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    head = [
        "# Recommendations benchmark",
        "",
        "Measured on the shared 2-core development machine while other engineers' work runs "
        "on it (the latency tables give the load average at each rate): every timing here is "
        "noisy and pessimistic. `PYTHONPATH=src python bench/recommend.py` reruns it "
        "(`--parts mining,quality,latency`, `--database-url` for the PostgreSQL latency; a "
        "part not rerun keeps its section).",
        "",
    ]
    sections: dict[str, list[str]] = {}
    stamp = f"{dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC"
    if "mining" in parts:
        sections["mining"] = mining_section(args, stamp)
    if "quality" in parts:
        sections["quality"] = quality_section(args, stamp)
    if "latency" in parts:
        key = "latency_pg" if args.database_url and not args.url else "latency"
        sections[key] = latency_section(args, stamp, TITLES[key])
    out = ROOT / "bench" / "results" / "recommend.md"
    old = _old_sections(out)
    md = list(head)
    for name in TITLES:
        md += sections.get(name) or old.get(name) or []
    for name, lines in old.items():
        if name not in TITLES:
            md += ["", *lines] if md and md[-1] else lines
    out.write_text("\n".join(md).rstrip("\n") + "\n")
    print("\n".join(md))


TITLES = {
    "mining": "## Rule mining",
    "quality": "## Offline quality",
    "latency": "## Endpoint latency under load",
    "latency_pg": "## Endpoint latency on PostgreSQL",
}


def _old_sections(path: Path) -> dict[str, list[str]]:
    if not path.exists():
        return {}
    found, current = {}, None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            # Known sections by name; hand-written ones (notes, targets) by their header.
            current = next((k for k, t in TITLES.items() if line.startswith(t)), line)
            found[current] = []
        if current:
            found[current].append(line)
    return found


def mining_section(args, stamp: str) -> list[str]:
    md = [
        "## Rule mining (2-item rules)",
        "",
        f"Run {stamp}. Best of 5 for ours and the plain query, interleaved (the Ibis expression "
        "is built and compiled each time, as in a refresh: about 0.1 s), one run of mlxtend "
        "(dense one-hot built with numpy, `fpgrowth(max_len=2)`, `association_rules`).",
        "",
        "| data | lines | baskets | items | min support | rules | guanxi (Ibis/DuckDB) "
        "| plain DuckDB query | mlxtend (one-hot + fpgrowth + association_rules) "
        "| vs mlxtend | vs plain | same rules as mlxtend |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    cases = []
    if RETAIL.exists():
        t = pq.read_table(RETAIL, columns=["InvoiceNo", "StockCode"]).rename_columns(["b", "i"])
        cases.append(("Online Retail prefix", t, 0.01))
    store = simulated(args.customers)
    lines = store.order_lines
    sim = lines.filter(pc.equal(lines.column("kind"), "order")).select(["order_id", "sku"])
    cases.append(
        (f"simulated, {args.customers:,} customers", sim.rename_columns(["b", "i"]), 0.002)
    )
    for label, table, ms in cases:
        r = mine(table, ms)
        print(label, r, flush=True)
        md.append(
            f"| {label} | {r['lines']:,} | {r['baskets']:,} | {r['items']:,} | {ms} "
            f"| {r['rules']:,} | "
            f"{r['ours']:.3f} s | {r['plain']:.3f} s | {r['mlxtend']:.2f} s | "
            f"{r['mlxtend'] / r['ours']:.1f}× faster | {r['ours'] / r['plain']:.2f}× "
            f"| {r['same']} |"
        )
    return md + [""]


def _retail_lines() -> pa.Table:
    t = pq.read_table(RETAIL)
    t = t.filter(pc.and_(pc.is_valid(t.column("CustomerID")), pc.greater(t.column("Quantity"), 0)))
    return pa.table(
        {
            "order_id": t.column("InvoiceNo"),
            "customer_id": t.column("CustomerID"),
            "sku": t.column("StockCode"),
            "placed_at": t.column("InvoiceDate").cast(pa.timestamp("us", tz="UTC")),
        }
    )


def _simulated_lines(customers: int, taste: bool) -> pa.Table:
    qs = simulated(customers, taste=taste).order_lines
    return qs.filter(
        pc.and_(pc.is_valid(qs.column("customer_id")), pc.equal(qs.column("kind"), "order"))
    )


def _quality_rows(rows: list) -> list[str]:
    md, base = [], {}
    for label, q in rows:
        if q.method == "most popular":
            base[label] = q.recall
        print(label, q, flush=True)
        md.append(
            f"| {label} | {q.method} | {q.customers:,} | {q.recall:.4f} | {q.precision:.4f} | "
            f"{q.hit_rate:.3f} | {q.recall / base[label]:.2f}× |"
        )
    return md


QUALITY_HEADER = [
    "| data | method | customers | recall@10 | precision@10 | hit rate | recall vs most popular |",
    "|---|---|---:|---:|---:|---:|---:|",
]


def quality_section(args, stamp: str) -> list[str]:
    n = args.quality_customers
    sim_label = f"simulated, {n:,} customers"
    # Model selection on a validation window that ends where the test window starts: the
    # model and λ were chosen here, never on the test rows below.
    from guanxi.analytics.recommend import Params

    candidates = {
        "item_item": Params(model="item_item"),
        "ease λ=50": Params(model="ease", ease_l2=50),
        "ease λ=200": Params(model="ease", ease_l2=200),
        "ease λ=500": Params(model="ease", ease_l2=500),
        "als": Params(model="als"),
    }
    validation = []
    if RETAIL.exists():
        validation += quality(
            _retail_lines(),
            _utc(2010, 12, 15),
            "Online Retail prefix (2010-12-15 → 2011-01-12)",
            end=_utc(2011, 1, 12),
            models=candidates,
            rules=False,
        )
    validation += quality(
        _simulated_lines(n, True),
        _utc(2026, 5, 1),
        f"{sim_label} (2026-05-01 → 2026-08-01)",
        end=_utc(2026, 8, 1),
        models=candidates,
        rules=False,
    )
    rows = []
    if RETAIL.exists():
        rows += quality(_retail_lines(), _utc(2011, 1, 12), "Online Retail prefix (cut 2011-01-12)")
    rows += quality(_simulated_lines(n, True), _utc(2026, 8, 1), f"{sim_label} (cut 2026-08-01)")
    rows += quality(
        _simulated_lines(n, False),
        _utc(2026, 8, 1),
        f"{sim_label}, without taste clusters (cut 2026-08-01)",
    )
    return [
        "## Offline quality (time split)",
        "",
        f"Run {stamp}. Train on orders before the cut, test on the products each customer "
        "bought after it that they had not bought before (k = 10). Purchases only (the "
        "served model also uses views). Rules for `+ rules` mined on the training baskets "
        "(min support 0.002, lift > 1). The simulator (seed 1) has taste clusters (price "
        "position, subcategory focus, a repertoire of favourite brands: `docs/simulator.md`); "
        "the last rows are the same store without them (`generate_store(…, taste=False)`, "
        "identical to the simulator before the clusters existed).",
        "",
        "**Model selection** (validation window before the test window; no rules): the served "
        "model and its λ were chosen on these rows.",
        "",
        *QUALITY_HEADER,
        *_quality_rows(validation),
        "",
        "**Test** (`item_item`, `ease` λ = 200 and `als` with their default parameters):",
        "",
        *QUALITY_HEADER,
        *_quality_rows(rows),
        "",
    ]


def _id_range(text: str) -> list[int]:
    low, high = (int(x) for x in text.split(":"))
    return list(range(low, high + 1))


def latency_section(args, stamp: str, title: str) -> list[str]:
    server = Server(args)
    md, summary = [], []
    try:
        pid = server.proc.pid if server.proc else None
        rates = sorted({float(r) for r in str(args.rate).split(",")})
        for run, rate in ((run, rate) for run in range(1, args.repeat + 1) for rate in rates):
            label = f"{rate:.0f} req/s" + (f" (run {run})" if args.repeat > 1 else "")
            lat = latency(
                server.url,
                server.token,
                rate,
                args.seconds,
                args.paths.split(","),
                server.customers,
                server.products,
                server_pid=pid,
            )
            print(rate, lat, flush=True)
            md += [
                f"| {label} | {key} | {n:,} | {p50:.1f} ms | {p99:.1f} ms | {lat['errors']} |"
                for key, (n, p50, p99) in lat["endpoints"].items()
            ]
            server_ms = "–" if lat["server_ms"] is None else f"{lat['server_ms']:.2f} ms"
            kinds = ", ".join(f"{k} × {v}" for k, v in lat["error_kinds"].items()) or "–"
            summary.append(
                f"| {label} | {lat['load']:.2f} | {lat['others_cores']:.2f} "
                f"| {server_ms} | {lat['client_ms']:.2f} ms | {lat['retried']} | {kinds} |"
            )
    finally:
        server.close()
    return [
        title,
        "",
        f"Run {stamp}. Open-loop load for {args.seconds:.0f} s per rate"
        + (f" (all rates in turn, {args.repeat} times)" if args.repeat > 1 else "")
        + ", spread evenly over the "
        "three endpoints with random customers and products (`bench/_load.py`: one asyncio "
        "thread, keep-alive connections opened as needed; latency measured from each request's "
        "scheduled send time, so a stalled server is charged for the queue that builds). "
        f"{server.label[0].upper()}{server.label[1:]}; the load generator on the same 2 shared "
        "cores.",
        "",
        "| rate | endpoint | requests | p50 | p99 | errors (all endpoints) |",
        "|---|---|---:|---:|---:|---:|",
        *md,
        "",
        "Machine and cost per request at each rate (load average: the 1-minute figure when the "
        "rate started, other engineers' work included; others' CPU: cores kept busy meanwhile "
        "by every other process on the machine, of 2; CPU: user + system seconds of the "
        "gunicorn processes and of the load generator over the run, per request; resent: "
        "requests sent again because the server had just closed a kept-alive connection, as "
        "any HTTP client does; the generator also drops connections idle for 1.5 s, gunicorn "
        "closing them after 2 s).",
        "",
        "| rate | load average | others' CPU (cores) | server CPU / request "
        "| load generator CPU / request | resent | errors |",
        "|---|---:|---:|---:|---:|---:|---|",
        *summary,
        "",
    ]


if __name__ == "__main__":
    main()
