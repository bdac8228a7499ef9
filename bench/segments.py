"""Segment and sending benchmark: evaluating segment rules over a store of 1 M customers, and
campaign send throughput to a local SMTP sink.

    .venv/bin/python bench/segments.py [--parts eval,send] [--customers 1000000] [--months 3]
        [--seed 7] [--database-url postgres://postgres@127.0.0.1:5432/guanxi_bench_segments]
        [--repeats 5] [--recipients 10000]

A fresh database (SQLite in a temporary data dir, or the PostgreSQL database of
``--database-url``, dropped and created again) is filled by ``guanxi simulate`` (a short history,
``--months``, keeps the order tables small enough to load quickly; the customer table has the
full size) and scored by ``guanxi analytics refresh``. Then each rule below is compiled and
counted (``rules.members(rule).count()``, one SQL statement) — first run cold, then the best of
``--repeats``. Target (issue 5): under 1 s on PostgreSQL for 1 M customers.

Sending (``--parts send``): a fresh database with ``--recipients`` consenting customers and one
campaign to all of them, queued; then ``guanxi marketing send`` (one process: every rule checked
per person — consent, reachability, quiet hours, frequency cap, throttle — state committed before
and after each SMTP hand-off, tracked links, coupon-free) against an in-process aiosmtpd sink, vs
Django's ``send_messages`` of the same number of already-rendered messages in one connection (no
bookkeeping: the framework's own ceiling), vs a bare ``smtplib`` loop (the wire's ceiling). Every
message is counted at the sink.

Writes ``bench/results/segments.md`` (one section per database and part; a run replaces only its
own sections).
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


SEND_SETUP = """
from guanxi.customers.services import ingest_customers
from guanxi.marketing.models import Campaign, EmailTemplate
from guanxi.marketing.services import queue_campaign
from guanxi.segments.services import create_segment
rows = [{{"external_id": f"c{{i}}", "first_name": f"C{{i}}", "email": f"c{{i}}@example.com",
          "consent_email_marketing": True}} for i in range({n})]
for start in range(0, len(rows), 1000):
    ingest_customers(rows[start:start + 1000], source="bench")
template = EmailTemplate.objects.create(
    name="Sale", subject_en="Sale for {{{{ first_name }}}}",
    body_en="Hi {{{{ first_name }}}}, see https://shop.example/sale\\n{{{{ unsubscribe_url }}}}",
)
segment = create_segment(name="All", rule={{"match": "all", "conditions": []}})
campaign = Campaign.objects.create(name="Sale", template=template, segment=segment)
print("queued", queue_campaign(campaign))
"""

DJANGO_PEER = """
import time
from django.core.mail import EmailMultiAlternatives, get_connection
messages = [
    EmailMultiAlternatives(
        subject=f"Sale for C{{i}}", body=f"Hi C{{i}}, see https://shop.example/sale",
        to=[f"c{{i}}@example.com"], headers={{"Message-ID": f"<peer{{i}}@bench>"}},
    )
    for i in range({n})
]
for m in messages:
    m.attach_alternative(f"<p>Hi C{{m.to[0]}}</p>", "text/html")
start = time.perf_counter()
connection = get_connection()
connection.open()
connection.send_messages(messages)
connection.close()
print("seconds", time.perf_counter() - start)
"""


def send_throughput(args) -> tuple[str, str]:
    """Messages per second handed to a local SMTP sink: ours vs Django alone vs smtplib."""
    import smtplib
    import subprocess
    from email.message import EmailMessage

    from aiosmtpd.controller import Controller

    sys.path.insert(0, str(ROOT))
    from tests.smtp import Sink, free_port

    n = args.recipients
    sink = Sink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    workdir = Path(tempfile.mkdtemp(prefix="guanxi-bench-send-"))
    url = args.database_url and args.database_url.rsplit("/", 1)[0] + "/guanxi_bench_send"
    try:
        env = fresh_database(url, workdir)
        env.update(
            EMAIL_URL=f"smtp://127.0.0.1:{port}",
            GUANXI_QUIET_HOURS_START="0",
            GUANXI_QUIET_HOURS_END="0",
        )
        guanxi("migrate", "--verbosity", "0", env=env)
        print(f"queueing a campaign to {n:,} recipients …", flush=True)
        guanxi("shell", "-c", SEND_SETUP.format(n=n), env=env)

        print("sending (guanxi marketing send) …", flush=True)
        start = time.perf_counter()
        out = guanxi("marketing", "send", "--batch", "500", env=env)
        ours_s = time.perf_counter() - start
        ours_n = len(sink.messages)
        ids = {m["Message-ID"] for m in sink.messages}
        print(f"  {out.stdout.strip()} in {ours_s:.1f} s", flush=True)

        sink.messages.clear()
        peer = subprocess.run(
            [str(Path(sys.executable).with_name("guanxi")), "shell", "-c", DJANGO_PEER.format(n=n)],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
        django_s = float(peer.stdout.split("seconds", 1)[1])
        django_n = len(sink.messages)

        sink.messages.clear()
        start = time.perf_counter()
        with smtplib.SMTP("127.0.0.1", port) as smtp:
            for i in range(n):
                message = EmailMessage()
                message["From"], message["To"] = "shop@example.com", f"c{i}@example.com"
                message["Subject"], message["Message-ID"] = f"Sale for C{i}", f"<raw{i}@bench>"
                message.set_content(f"Hi C{i}, see https://shop.example/sale")
                smtp.send_message(message)
        raw_s = time.perf_counter() - start
        raw_n = len(sink.messages)
    finally:
        controller.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    database = "PostgreSQL" if args.database_url else "SQLite"
    rows = [
        ("guanxi marketing send (rules, state committed per message)", ours_n, ours_s),
        ("Django send_messages, pre-rendered, one connection (no bookkeeping)", django_n, django_s),
        ("smtplib loop, pre-built messages (the wire)", raw_n, raw_s),
    ]
    text = [
        f"## {database}: campaign sending",
        "",
        f"{n:,} consenting recipients, one campaign queued to all (`Delivery` rows), sent to an "
        f"in-process aiosmtpd sink on 127.0.0.1; {platform.machine()}, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} (shared machine). Ours includes starting the "
        "command (Django set-up, about 1 s). Messages counted at the sink; "
        f"{len(ids):,} distinct Message-IDs from ours.",
        "",
        "| sender | messages at the sink | seconds | messages / s |",
        "|---|---:|---:|---:|",
    ]
    text += [f"| {name} | {got:,} | {sec:.1f} | {got / sec:,.0f} |" for name, got, sec in rows]
    text += [
        "",
        f"Ours: {ours_n / ours_s:,.0f} messages/s, {ours_s / django_s:.1f}× the time of Django "
        "alone (the difference is the per-person rules and the two committed state changes per "
        "message that make a crash re-send at most what was in flight).",
    ]
    return f"{database}: campaign sending", "\n".join(text) + "\n"


def evaluate(args) -> tuple[str, str]:
    workdir = Path(tempfile.mkdtemp(prefix="guanxi-bench-segments-"))
    try:
        if args.reuse_database:
            env = {**os.environ, "GUANXI_DATA_DIR": args.data_dir or str(workdir)}
            if args.database_url:
                env["DATABASE_URL"] = args.database_url
            else:
                env.pop("DATABASE_URL", None)
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
        f"## {database}: segment evaluation",
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
    return f"{database}: segment evaluation", "\n".join(text) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", default="eval,send", help="eval, send or both")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--months", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--database-url", help="PostgreSQL database to (re)create and use")
    parser.add_argument(
        "--reuse-database",
        action="store_true",
        help="time the rules on the store an earlier run left (no reload): the PostgreSQL "
        "database of --database-url, or the SQLite database in --data-dir",
    )
    parser.add_argument("--data-dir", help="GUANXI_DATA_DIR of a SQLite store to reuse")
    args = parser.parse_args()
    if args.reuse_database and not (args.database_url or args.data_dir):
        parser.error("--reuse-database needs --database-url or --data-dir")
    parts = {p.strip() for p in args.parts.split(",") if p.strip()}
    if not parts <= {"eval", "send"}:
        parser.error("--parts takes eval, send or both")

    new = {}
    if "send" in parts:  # first: it needs no Django set-up in this process
        title, section = send_throughput(args)
        new[title] = section
        print(section)
    if "eval" in parts:
        title, section = evaluate(args)
        new[title] = section

    # One section per database and part; a run replaces its own sections and keeps the others.
    header = "# Segment evaluation and campaign sending\n\nWritten by `bench/segments.py`.\n\n"
    sections = {}
    if RESULTS.exists():
        for part in RESULTS.read_text().split("\n## ")[1:]:
            title = part.split("\n", 1)[0]
            sections[title] = "## " + part.rstrip("\n") + "\n"
    sections.update(new)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(header + "\n".join(sections[k] for k in sorted(sections)))
    print(RESULTS.read_text())


if __name__ == "__main__":
    main()
