"""Segment benchmark: evaluating segment rules over a store of 1 M customers.

    .venv/bin/python bench/segments.py [--customers 1000000] [--months 3] [--seed 7]
        [--database-url postgres://postgres@127.0.0.1:5432/guanxi_bench_segments] [--repeats 5]

A fresh database (SQLite in a temporary data dir, or the PostgreSQL database of
``--database-url``, dropped and created again) is filled by ``guanxi simulate`` (a short history,
``--months``, keeps the order tables small enough to load quickly; the customer table has the
full size) and scored by ``guanxi analytics refresh``. Then each rule below is compiled and
counted (``rules.members(rule).count()``, one SQL statement) — first run cold, then the best of
``--repeats``. Target (issue 5): under 1 s on PostgreSQL for 1 M customers.
Writes ``bench/results/segments.md``.
"""

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path

from _db import fresh_database, guanxi

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
RESULTS = ROOT / "bench" / "results" / "segments.md"
TARGET_S = 1.0


def rules_to_time(top_category: int) -> dict[str, dict]:
    return {
        "profile: women aged 25–40": {
            "match": "all",
            "conditions": [
                {"field": "gender", "op": "in", "value": ["female"]},
                {"field": "age", "op": "between", "value": [25, 40]},
            ],
        },
        "score: VIP or gold tier": {
            "match": "all",
            "conditions": [{"field": "tier", "op": "in", "value": ["vip", "gold"]}],
        },
        "score: at risk, CLV ≥ 100": {
            "match": "all",
            "conditions": [
                {"field": "lifecycle_stage", "op": "in", "value": ["at_risk", "lapsed"]},
                {"field": "clv", "op": "gte", "value": 100},
            ],
        },
        "behaviour: bought in a category, last 90 days": {
            "match": "all",
            "conditions": [
                {
                    "field": "bought",
                    "op": "has",
                    "value": {"category": top_category, "within_days": 90},
                }
            ],
        },
        "behaviour: viewed ≥ 2 products in 30 days, no order": {
            "match": "all",
            "conditions": [
                {
                    "field": "event",
                    "op": "has",
                    "value": {"type": "viewed_product", "within_days": 30, "min_count": 2},
                },
                {"field": "orders", "op": "has", "value": {"max_count": 0, "within_days": 30}},
            ],
        },
        "mixed: (women or consent) and not VIP and usable email": {
            "match": "all",
            "conditions": [
                {
                    "match": "any",
                    "conditions": [
                        {"field": "gender", "op": "in", "value": ["female"]},
                        {"field": "email_marketing_consent", "op": "is_true"},
                    ],
                },
                {"field": "tier", "op": "not_in", "value": ["vip"]},
                {"field": "has_usable_email", "op": "is_true"},
            ],
        },
    }


def timed(func, repeats: int) -> tuple[float, float, object]:
    start = time.perf_counter()
    result = func()
    cold = time.perf_counter() - start
    best = cold
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return cold, best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--database-url", help="PostgreSQL database to (re)create and use")
    parser.add_argument(
        "--reuse-database",
        action="store_true",
        help="time the rules on the --database-url store an earlier run left (no reload)",
    )
    args = parser.parse_args()
    if args.reuse_database and not args.database_url:
        parser.error("--reuse-database needs --database-url")

    workdir = Path(tempfile.mkdtemp(prefix="guanxi-bench-segments-"))
    try:
        if args.reuse_database:
            env = {**os.environ, "DATABASE_URL": args.database_url, "GUANXI_DATA_DIR": str(workdir)}
            env.setdefault("SECRET_KEY", "bench-only")
            load_s = float("nan")
        else:
            env = fresh_database(args.database_url, workdir)
            guanxi("migrate", "--verbosity", "0", env=env)
            print(f"simulating {args.customers:,} customers, {args.months} months …", flush=True)
            start = time.perf_counter()
            guanxi(
                "simulate",
                "--customers",
                str(args.customers),
                "--months",
                str(args.months),
                "--seed",
                str(args.seed),
                env=env,
            )
            load_s = time.perf_counter() - start
            print("scoring …", flush=True)
            guanxi("analytics", "refresh", "--quiet", env=env)
        os.environ.update(env)
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "guanxi.settings")
        import django

        django.setup()
        from django.db import connection

        from guanxi.commerce.models import Category, OrderLine
        from guanxi.customers.models import Customer
        from guanxi.segments import rules

        top = (
            OrderLine.objects.values("product__category__parent_id")
            .exclude(product__category__parent_id=None)
            .order_by()
            .first()
        )
        top_category = (top or {}).get(
            "product__category__parent_id"
        ) or Category.objects.first().pk
        customers = Customer.objects.count()
        lines = OrderLine.objects.count()
        rows = []
        for name, rule in rules_to_time(top_category).items():
            cold, best, count = timed(lambda rule=rule: rules.members(rule).count(), args.repeats)
            rows.append((name, count, cold, best))
            print(f"  {name}: {count:,} in {best * 1000:.0f} ms (cold {cold * 1000:.0f} ms)")
        vendor = connection.vendor
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    database = "PostgreSQL" if args.database_url else "SQLite"
    loaded = "loaded by an earlier run" if args.reuse_database else f"loaded in {load_s:.0f} s"
    text = [
        f"## {database}",
        "",
        f"{customers:,} customers, {lines:,} order lines (`guanxi simulate --customers "
        f"{args.customers} --months {args.months} --seed {args.seed}`, {loaded}), "
        f"scored by `guanxi analytics refresh`; {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} (shared machine: times are upper bounds). "
        f"Count = `rules.members(rule).count()`, one SQL statement on {vendor}; best of "
        f"{args.repeats} after a cold run. Target: under {TARGET_S:.0f} s on PostgreSQL.",
        "",
        "| rule | members | cold (ms) | best (ms) |",
        "|---|---:|---:|---:|",
    ]
    text += [
        f"| {n} | {c:,} | {cold * 1000:.0f} | {best * 1000:.0f} |" for n, c, cold, best in rows
    ]
    worst = max(best for *_, best in rows)
    text += [
        "",
        f"Slowest rule: {worst * 1000:.0f} ms (target {'met' if worst < TARGET_S else 'MISSED'}).",
    ]
    section = "\n".join(text) + "\n"

    # One section per database; a run replaces its own section and keeps the other.
    header = "# Segment evaluation\n\nWritten by `bench/segments.py`.\n\n"
    sections = {}
    if RESULTS.exists():
        for part in RESULTS.read_text().split("\n## ")[1:]:
            title = part.split("\n", 1)[0]
            sections[title] = "## " + part.rstrip("\n") + "\n"
    sections[database] = section
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(header + "\n".join(sections[k] for k in sorted(sections)))
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
