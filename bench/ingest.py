"""Ingestion benchmark: ``guanxi import`` of ~1 M simulated order lines vs the fastest raw bulk
load of the same rows into the same database, and the events batch API's throughput.

    .venv/bin/python bench/ingest.py [--lines 1000000] [--skip-postgres] [--skip-api]

Prints a table and writes it to ``bench/results/ingest.md``.

* ours: ``import_file(--format parquet)`` into a freshly migrated database: validation on
  DuckDB, customers, products, orders and lines written in one transaction.
* raw: the same rows, as they are in the file, into one plain table with no constraints:
  SQLite ``executemany`` in one transaction; PostgreSQL ``COPY … FROM STDIN`` (CSV).
* events API: ``POST /api/v1/events/batch`` with 1,000 events per request from 4 client
  threads against gunicorn (2 workers); afterwards the events are counted in the database.
"""

import argparse
import datetime as dt
import http.client
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "ingest.md"
PG_ADMIN = "postgres://postgres@127.0.0.1:5432/postgres"
PG_BENCH = "postgres://postgres@127.0.0.1:5432/guanxi_bench"


# --- data ---------------------------------------------------------------------------------------


def make_lines(path: Path, lines: int, seed: int) -> int:
    """Simulate a store and keep whole orders until ``lines`` order lines; write Parquet."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from guanxi.simulate.generator import generate_store

    customers = max(1000, lines // 14)
    table = generate_store(customers=customers, seed=seed, months=24).order_lines
    while table.num_rows < lines:
        customers = int(customers * 1.3)
        table = generate_store(customers=customers, seed=seed, months=24).order_lines
    # Cut at an order boundary so no order is half in the file.
    last_order = table.column("order_id")[lines - 1].as_py()
    end = lines
    ids = table.column("order_id")
    while end < table.num_rows and ids[end].as_py() == last_order:
        end += 1
    table = table.slice(0, end)
    assert pc.count_distinct(table["order_id"]).as_py() > 0
    pq.write_table(table.combine_chunks(), path, compression="zstd")
    return table.num_rows


# --- one database, in a subprocess (settings are per process) -----------------------------------


def worker(kind: str, file: str) -> None:
    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
    django.setup()
    import pyarrow.parquet as pq
    from django.core.management import call_command
    from django.db import connection

    from guanxi.commerce.importers import import_file
    from guanxi.commerce.models import Order, OrderLine

    call_command("migrate", verbosity=0)
    t0 = time.perf_counter()
    result = import_file(file, file_format="parquet", source="bench")
    ours = time.perf_counter() - t0
    counted = (Order.objects.count(), OrderLine.objects.count())

    table = pq.read_table(file)
    t0 = time.perf_counter()
    raw_rows = raw_load(kind, connection, table)
    raw = time.perf_counter() - t0
    print(
        json.dumps(
            {
                "ours": ours,
                "raw": raw,
                "rows": table.num_rows,
                "orders": result.orders_created,
                "lines": result.lines_created,
                "customers": result.customers_created,
                "counted_orders": counted[0],
                "counted_lines": counted[1],
                "raw_rows": raw_rows,
            }
        )
    )


def raw_load(kind: str, connection, table) -> int:
    import io

    import pyarrow.csv as pacsv

    columns = {
        "order_id": "text",
        "placed_at": "timestamp with time zone" if kind == "postgres" else "text",
        "customer_id": "text",
        "sku": "text",
        "product_name": "text",
        "category": "text",
        "quantity": "bigint",
        "unit_price": "numeric(18,4)",
        "currency": "text",
        "kind": "text",
        "status": "text",
        "country": "text",
        "email": "text",
    }
    table = table.select([c for c in columns if c in table.column_names])
    ddl = ", ".join(f"{c} {columns[c]}" for c in table.column_names)
    names = ", ".join(table.column_names)
    with connection.cursor() as cursor:
        cursor.execute("DROP TABLE IF EXISTS raw_lines")
        cursor.execute(f"CREATE TABLE raw_lines ({ddl})")
    if kind == "postgres":
        raw = connection.connection
        with raw.transaction(), raw.cursor() as cursor:
            buf = io.BytesIO()
            pacsv.write_csv(table, buf, write_options=pacsv.WriteOptions(include_header=False))
            with cursor.copy(f"COPY raw_lines ({names}) FROM STDIN WITH (FORMAT csv)") as copy:
                copy.write(buf.getvalue())
    else:
        import sqlite3

        path = connection.settings_dict["NAME"]
        connection.close()
        db = sqlite3.connect(path, isolation_level=None)
        values = [table.column(c).to_pylist() for c in table.column_names]
        values = [
            [v.isoformat(" ") if isinstance(v, dt.datetime) else v for v in col] for col in values
        ]
        marks = ", ".join("?" * len(values))
        db.execute("BEGIN")
        db.executemany(
            f"INSERT INTO raw_lines ({names}) VALUES ({marks})", zip(*values, strict=True)
        )
        db.execute("COMMIT")
        db.close()
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM raw_lines")
        return cursor.fetchone()[0]


def run_worker(kind: str, file: Path, env: dict) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--worker", kind, "--file", str(file)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def reset_postgres() -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN, autocommit=True) as con:
        con.execute("DROP DATABASE IF EXISTS guanxi_bench WITH (FORCE)")
        con.execute("CREATE DATABASE guanxi_bench")


# --- events API ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def events_api(env: dict, batches: int, batch_size: int, threads: int) -> dict:
    guanxi = str(Path(sys.executable).with_name("guanxi"))
    subprocess.run([guanxi, "migrate", "-v0"], env=env, check=True)
    token = subprocess.run(
        [guanxi, "create_api_token", f"bench-{time.time_ns()}"],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    port = free_port()
    server = subprocess.Popen(
        [
            str(Path(sys.executable).with_name("gunicorn")),
            "guanxi.wsgi:application",
            "-w",
            "2",
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        env=env,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        base = dt.datetime(2026, 11, 11, tzinfo=dt.UTC)
        bodies = []
        for b in range(batches):
            items = [
                {
                    "external_id": f"ev-{b}-{i}",
                    "event_type": ("viewed_product", "added_to_cart", "searched")[i % 3],
                    "anonymous_id": f"visitor-{(b * batch_size + i) % 5000}",
                    "sku": f"SKU-{i % 500}",
                    "properties": {"page": i % 7},
                    "occurred_at": (base + dt.timedelta(seconds=b * batch_size + i)).isoformat(),
                }
                for i in range(batch_size)
            ]
            bodies.append(json.dumps({"source": "bench", "items": items}).encode())
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        statuses: list[int] = []
        lock = threading.Lock()

        def send(chunk):
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            for body in chunk:
                conn.request("POST", "/api/v1/events/batch", body, headers)
                response = conn.getresponse()
                response.read()
                with lock:
                    statuses.append(response.status)
            conn.close()

        # Warm-up request (imports, connections) outside the timed window.
        send([json.dumps({"source": "warmup", "items": []}).encode()])
        statuses.clear()
        workers = [
            threading.Thread(target=send, args=(bodies[i::threads],)) for i in range(threads)
        ]
        t0 = time.perf_counter()
        for w in workers:
            w.start()
        for w in workers:
            w.join()
        elapsed = time.perf_counter() - t0
    finally:
        server.terminate()
        server.wait()
    counted = subprocess.run(
        [
            sys.executable,
            "-c",
            "import django,os;os.environ.setdefault('DJANGO_SETTINGS_MODULE','guanxi.settings');"
            "django.setup();from guanxi.commerce.models import Event;"
            "print(Event.objects.filter(source='bench').count())",
        ],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    sent = batches * batch_size
    return {
        "sent": sent,
        "stored": int(counted),
        "ok": sum(s == 200 for s in statuses),
        "requests": len(statuses),
        "seconds": elapsed,
        "rate": sent / elapsed,
    }


# --- main ---------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--batches", type=int, default=200)
    parser.add_argument("--worker")
    parser.add_argument("--file")
    args = parser.parse_args()
    if args.worker:
        worker(args.worker, args.file)
        return

    sys.path.insert(0, str(ROOT / "src"))
    tmp = Path(tempfile.mkdtemp(prefix="guanxi-bench-"))
    base_env = {**os.environ, "GUANXI_DATA_DIR": str(tmp), "SECRET_KEY": "bench", "DEBUG": "0"}
    base_env.pop("DATABASE_URL", None)
    os.environ.update({"GUANXI_DATA_DIR": str(tmp), "DJANGO_SETTINGS_MODULE": "guanxi.settings"})
    import django

    django.setup()
    file = tmp / "order_lines.parquet"
    t0 = time.perf_counter()
    rows = make_lines(file, args.lines, args.seed)
    print(f"simulated {rows:,} order lines in {time.perf_counter() - t0:.1f} s → {file}")

    results = {}
    env = {**base_env, "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}"}
    results["SQLite"] = run_worker("sqlite", file, env)
    print("SQLite", results["SQLite"])
    if not args.skip_postgres:
        reset_postgres()
        results["PostgreSQL"] = run_worker("postgres", file, {**base_env, "DATABASE_URL": PG_BENCH})
        print("PostgreSQL", results["PostgreSQL"])

    api = {}
    if not args.skip_api:
        api_env = {**base_env, "DATABASE_URL": f"sqlite:///{tmp / 'api.sqlite3'}"}
        api["SQLite"] = events_api(api_env, args.batches, 1000, 4)
        print("events API SQLite", api["SQLite"])
        if not args.skip_postgres:
            reset_postgres()
            api["PostgreSQL"] = events_api(
                {**base_env, "DATABASE_URL": PG_BENCH}, args.batches, 1000, 4
            )
            print("events API PostgreSQL", api["PostgreSQL"])

    lines = [
        "# Ingestion benchmark",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on {platform.node()} "
        f"({os.cpu_count()} CPUs, Python {platform.python_version()}), `bench/ingest.py "
        f"--lines {args.lines}`. Same simulated file (seed {args.seed}), same database, same run.",
        "",
        "## File import vs raw bulk load (target: ≤ 3×)",
        "",
        "| database | rows | orders | guanxi import (s) | raw load (s) | ratio | rows/s (import) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in results.items():
        peer = "COPY" if name == "PostgreSQL" else "executemany, 1 transaction"
        assert r["counted_lines"] == r["rows"] == r["raw_rows"], r  # nothing lost, nothing doubled
        lines.append(
            f"| {name} (raw: {peer}) | {r['rows']:,} | {r['orders']:,} | {r['ours']:.2f} | "
            f"{r['raw']:.2f} | {r['ours'] / r['raw']:.2f}× | {r['rows'] / r['ours']:,.0f} |"
        )
    if api:
        lines += [
            "",
            "## Events batch API (target: ≥ 10,000 events/s, none lost)",
            "",
            "gunicorn, 2 sync workers; 4 client threads on the same 2-core machine; "
            "1,000 events per request.",
            "",
            "| database | events sent | HTTP 200 | events stored | seconds | events/s |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for name, a in api.items():
            lines.append(
                f"| {name} | {a['sent']:,} | {a['ok']}/{a['requests']} | {a['stored']:,} | "
                f"{a['seconds']:.2f} | {a['rate']:,.0f} |"
            )
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text)


if __name__ == "__main__":
    main()
