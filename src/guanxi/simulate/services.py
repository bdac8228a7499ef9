"""Run the store simulator: load a simulated store through the ingestion services, or write it
to Parquet, and write its ground truth."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from django.utils.translation import gettext as _

from guanxi.commerce import services as commerce
from guanxi.customers import services as customers_services
from guanxi.simulate.generator import (
    DEFAULT_END,
    DUPLICATE_SOURCE,
    MAIN_SOURCE,
    PART_CUSTOMERS,
    SimulatedStore,
    customer_revenue,
    generate_store_parts,
    merge_truth,
)

CUSTOMER_CHUNK = 5_000
# Events are written column-wise; a chunk is one transaction (a crash loses at most one).
EVENT_CHUNK = 250_000
_PROFILE_COLUMNS = (
    "kind",
    "customer_type",
    "first_name",
    "last_name",
    "company_name",
    "gender",
    "birthday",
    "occupation",
    "interests",
    "country",
    "language",
    "time_zone",
    "consent_email_marketing",
    "email",
    "phone",
)


class _Bar(commerce.Progress):
    """Progress of the ingestion services shown as tqdm bars (or nothing)."""

    def __init__(self, enabled: bool, prefix: str = ""):
        self.enabled = enabled
        self.prefix = prefix
        self._bar = None

    def stage(self, name: str, total: int | None = None) -> None:
        self.close()
        if self.enabled:
            from tqdm import tqdm

            desc = f"{self.prefix}{name}"
            self._bar = tqdm(total=total, desc=desc, unit="row", leave=False)

    def advance(self, n: int) -> None:
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _batches(table: pa.Table, size: int) -> Iterator[pa.Table]:
    for start in range(0, table.num_rows, size):
        yield table.slice(start, size)


def _customer_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Customer table rows in the shape ``ingest_customers`` takes."""
    rows = []
    for r in table.to_pylist():
        row = {k: r[k] for k in _PROFILE_COLUMNS if r.get(k) is not None}
        row["external_id"] = r["external_id"]
        row["created_at"] = r["signed_up_at"]
        row["address"] = {
            "line1": r["street"] or "",
            "city": r["city"] or "",
            "postcode": r["postcode"] or "",
            "region": r["region"] or "",
            "country": r["country"] or "",
        }
        rows.append(row)
    return rows


def load_store(
    store: SimulatedStore, *, progress: bool = True, progress_prefix: str = ""
) -> dict[str, int]:
    """Write a simulated store (or one part of it) into the database through the ingestion
    services.

    The catalogue goes to both sources; customers and order lines to the source they were
    registered / placed on (``webshop`` or ``marketplace``); events to the webshop. Every
    write is keyed by ``(source, external_id)``, so loading the same store twice changes
    nothing. Returns what was created (and what was already there).
    """
    bar = _Bar(progress, progress_prefix)
    counts = dict.fromkeys(
        (
            "categories",
            "products",
            "customers_created",
            "customers_updated",
            "customers_unchanged",
            "orders_created",
            "orders_existing",
            "lines_created",
            "events_created",
        ),
        0,
    )
    try:
        categories = store.categories.to_pylist()
        products = store.products.to_pylist()
        bar.stage(_("catalogue"), 2 * (len(categories) + len(products)))
        for source in (MAIN_SOURCE, DUPLICATE_SOURCE):
            counts["categories"] += len(commerce.upsert_categories(categories, source=source))
            counts["products"] += len(commerce.upsert_products(products, source=source))
            bar.advance(len(categories) + len(products))

        for source in (MAIN_SOURCE, DUPLICATE_SOURCE):
            table = store.customers_for(source)
            bar.stage(_("customers (%(source)s)") % {"source": source}, table.num_rows)
            for batch in _batches(table, CUSTOMER_CHUNK):
                result = customers_services.ingest_customers(
                    _customer_rows(batch), source=source, note="simulator"
                )
                counts["customers_created"] += result.created
                counts["customers_updated"] += result.updated
                counts["customers_unchanged"] += result.unchanged
                bar.advance(batch.num_rows)

        for source in (MAIN_SOURCE, DUPLICATE_SOURCE):
            lines = store.order_lines_for(source)
            if lines.num_rows == 0:
                continue
            result = commerce.ingest_order_lines(
                lines,
                source=source,
                label=_("simulated %(source)s order lines") % {"source": source},
                progress=bar,
            )
            counts["orders_created"] += result.orders_created
            counts["orders_existing"] += result.orders_existing
            counts["lines_created"] += result.lines_created

        bar.stage(_("events"), store.events.num_rows)
        for batch in _batches(store.events, EVENT_CHUNK):
            counts["events_created"] += commerce.ingest_event_table(batch, source=MAIN_SOURCE)
            bar.advance(batch.num_rows)
    finally:
        bar.close()
    return counts


def write_tables(store: SimulatedStore, out_dir: str | Path) -> dict[str, str]:
    """Write each table of ``store`` to ``out_dir/<name>.parquet``; returns name → path."""
    writer = _TableWriter(out_dir)
    writer.write(store)
    return writer.close()


class _TableWriter:
    """Writes one Parquet file per table, a store's parts appended one after another."""

    def __init__(self, out_dir: str | Path):
        self.out = Path(out_dir)
        self.out.mkdir(parents=True, exist_ok=True)
        self._writers: dict[str, pq.ParquetWriter] = {}

    def write(self, store: SimulatedStore, *, catalogue: bool = True) -> None:
        for name, table in store.tables().items():
            if name in ("categories", "products") and not catalogue:
                continue
            writer = self._writers.get(name)
            if writer is None:
                path = self.out / f"{name}.parquet"
                writer = self._writers[name] = pq.ParquetWriter(path, table.schema)
            writer.write_table(table.cast(writer.schema))

    def close(self) -> dict[str, str]:
        for writer in self._writers.values():
            writer.close()
        return {name: str(self.out / f"{name}.parquet") for name in self._writers}


def truth_rows(truth: dict[str, Any]) -> list[dict[str, Any]]:
    """The ground truth as one long table: one row per planted fact, details as JSON."""
    rows: list[dict[str, Any]] = []

    def add(kind: str, detail: Any, **fields: Any) -> None:
        row = dict.fromkeys(
            ("customer_id", "related_id", "sku", "month", "day", "interval_days", "at")
        )
        row.update(fields)
        rows.append({"kind": kind, **row, "detail": json.dumps(detail, ensure_ascii=False)})

    meta = {k: v for k, v in truth.items() if not isinstance(v, list | dict)}
    add("meta", meta | {"sources": truth["sources"], "counts": truth["counts"]})
    add("pareto", truth["pareto"])
    for c in truth["churners"]:
        add("churner", c, customer_id=c["customer_id"], at=c["churned_at"])
    for p in truth["periodic_buyers"]:
        add(
            f"periodic_{p['kind']}",
            p,
            customer_id=p["customer_id"],
            sku=p["sku"],
            month=p.get("month"),
            day=p.get("day"),
            interval_days=p.get("interval_days"),
        )
    for chain in truth["product_chains"]:
        add(
            f"chain_{chain['kind']}",
            chain,
            sku=",".join(chain["antecedent"]),
            related_id=",".join(chain["consequents"]),
        )
    for d in truth["duplicates"]:
        add("duplicate", d, customer_id=d["customer_id"], related_id=d["duplicate_id"])
    ring = truth["review_ring"]
    for account in ring["accounts"]:
        add(
            "review_ring_account",
            ring,
            customer_id=account,
            sku=",".join(ring["target_skus"]),
            at=ring["window_start"],
        )
    return rows


_TRUTH_SCHEMA = pa.schema(
    [
        ("kind", pa.string()),
        ("customer_id", pa.string()),
        ("related_id", pa.string()),
        ("sku", pa.string()),
        ("month", pa.int64()),
        ("day", pa.int64()),
        ("interval_days", pa.int64()),
        ("at", pa.string()),
        ("detail", pa.string()),
    ]
)


def write_truth(truth: dict[str, Any], path: str | Path) -> Path:
    """Write the ground truth as JSON, or as one long Parquet table when ``path`` ends in
    ``.parquet`` (see :func:`truth_rows`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix.lower() == ".parquet":
        pq.write_table(pa.Table.from_pylist(truth_rows(truth), schema=_TRUTH_SCHEMA), path)
    else:
        path.write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def simulate_store(
    customers: int,
    seed: int,
    months: int = 24,
    truth_path: str | Path | None = None,
    out_dir: str | Path | None = None,
    progress: bool = True,
    end: dt.date = DEFAULT_END,
    part_customers: int = PART_CUSTOMERS,
) -> dict[str, Any]:
    """Generate a store and load it (or write it to ``out_dir`` as Parquet instead); write
    the truth to ``truth_path`` if given. Returns a summary of what was made and how long it
    took.

    A store of more than ``part_customers`` customers is generated and written one part at a
    time (:func:`~guanxi.simulate.generator.generate_store_parts`), so memory stays that of
    one part whatever the size; smaller stores are exactly ``generate_store``'s.
    """
    parts = generate_store_parts(
        customers, seed=seed, months=months, end=end, part_customers=part_customers
    )
    total = -(-customers // part_customers)
    writer = _TableWriter(out_dir) if out_dir is not None else None
    generate_s = write_s = 0.0
    made = dict.fromkeys(("customers", "duplicate_identities", "order_lines", "events"), 0)
    loaded: dict[str, int] = {}
    truths, revenue = [], []
    for number in range(1, total + 1):
        started = time.perf_counter()
        store = next(parts)
        generated = time.perf_counter()
        generate_s += generated - started
        made["customers"] += store.customers_for(MAIN_SOURCE).num_rows
        made["duplicate_identities"] += store.customers_for(DUPLICATE_SOURCE).num_rows
        made["order_lines"] += store.order_lines.num_rows
        made["events"] += store.events.num_rows
        products = store.products.num_rows
        truths.append(store.truth)
        if total > 1:
            revenue.append(customer_revenue(store.order_lines))
        if writer is not None:
            writer.write(store, catalogue=number == 1)
        else:
            prefix = _("part %(part)s of %(parts)s: ") % {"part": number, "parts": total}
            counts = load_store(store, progress=progress, progress_prefix=prefix * (total > 1))
            for key, value in counts.items():
                # Every part upserts the same catalogue: count it once.
                once = key in ("categories", "products")
                loaded[key] = value if once else loaded.get(key, 0) + value
        del store
        write_s += time.perf_counter() - generated
    truth = merge_truth(truths, np.concatenate(revenue) if revenue else np.zeros(0))
    summary: dict[str, Any] = {
        **made,
        "products": products,
        "orders": truth["counts"]["orders"],
        "top_customer_revenue_share": truth["pareto"]["revenue_share"],
        "start": truth["start"],
        "end": truth["end"],
        "parts": total,
        "generate_seconds": round(generate_s, 3),
    }
    if writer is not None:
        summary["files"] = writer.close()
    else:
        summary["loaded"] = loaded
    summary["write_seconds"] = round(write_s, 3)
    if truth_path is not None:
        summary["truth_path"] = str(write_truth(truth, truth_path))
    return summary
