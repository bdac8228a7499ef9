"""Ready-to-serve lists: the "write" side of the recommendation fast path (S3.13).

At the end of a refresh every product, customer and segment gets one :class:`ServingList` row
holding, as compact JSON, everything its endpoint needs from the run, in serving order:

* ``product`` (key: product id) — ``{"rules": [[consequent, support, confidence, lift,
  baskets with both], …], "neighbours": [[product, similarity, customers who bought both], …]}``:
  the product's rules by confidence, then its collaborative-filter neighbours by rank;
* ``customer`` (key: customer id) — ``{"items": [[product, reason, score, because of,
  strength], …], "due": [[product, period days, next due, confidence], …], "categories":
  [[category, name, share, affinity], …]}``: personal picks by rank, periodic purchases by due
  date, the three top categories;
* ``segment`` (key: ``"<kind>:<value>"``) — ``{"buyers": n, "items": [[product, buyers], …]}``.

A request then reads one row by its unique key (two for a customer who needs the segment's best
sellers) and one query for the live state of the listed products: stock, active flag and
whether the customer has bought or returned them since. Lists hold every candidate whatever its
stock at refresh time, so that the read-time check decides (a product back in stock is served).

The lists are built on DuckDB from the run's Arrow tables (a group-by per kind), written in bulk
in the run's write transaction, and dropped for runs older than the previous successful one.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import duckdb
import numpy as np
import pyarrow as pa

from guanxi.analytics.models import AnalyticsRun, ServingList
from guanxi.core.bulk import bulk_insert

# Rules kept per product: the API serves at most 50, the rest are spares for products that go
# out of stock before the next refresh.
RULES_PER_PRODUCT = 100
TOP_CATEGORIES = 3
# Customers whose lists are built (and written) together.
CUSTOMERS_PER_PART = 100_000

_PRODUCTS_SQL = """
WITH rules AS (
    SELECT antecedent AS product_id,
           list(json_array(consequent, support, confidence, lift, pair_count)
                ORDER BY confidence DESC, lift DESC, consequent)[1:{rules}] AS rules
    FROM product_rules GROUP BY antecedent
), neighbours AS (
    SELECT product_id,
           list(json_array(related_id, similarity, customers_both) ORDER BY rank) AS neighbours
    FROM related GROUP BY product_id
)
SELECT CAST(COALESCE(r.product_id, n.product_id) AS VARCHAR) AS key,
       to_json({{'rules': COALESCE(r.rules, []), 'neighbours': COALESCE(n.neighbours, [])}})
           ::VARCHAR AS payload
FROM rules r FULL OUTER JOIN neighbours n ON n.product_id = r.product_id
"""

_CUSTOMERS_SQL = """
WITH items AS (
    SELECT customer_id,
           list(json_array(product_id, reason, score, because_of_id, strength) ORDER BY rank)
               AS items
    FROM recommendations WHERE customer_id BETWEEN $lo AND $hi GROUP BY customer_id
), due AS (
    SELECT customer_id,
           list(json_array(product_id, period_days, CAST(next_due AS VARCHAR), confidence)
                ORDER BY next_due, product_id) AS due
    FROM patterns WHERE product_id IS NOT NULL AND customer_id BETWEEN $lo AND $hi
    GROUP BY customer_id
), categories AS (
    SELECT customer_id,
           list(json_array(a.category_id, COALESCE(c.name, ''), a.share, a.score)
                ORDER BY a.score DESC, a.category_id)[1:{top}] AS categories
    FROM affinities a LEFT JOIN category_names c ON c.category_id = a.category_id
    WHERE a.customer_id BETWEEN $lo AND $hi
    GROUP BY customer_id
), everyone AS (
    SELECT customer_id FROM items UNION SELECT customer_id FROM due
    UNION SELECT customer_id FROM categories
)
SELECT CAST(e.customer_id AS VARCHAR) AS key,
       to_json({{'items': COALESCE(i.items, []), 'due': COALESCE(d.due, []),
                 'categories': COALESCE(c.categories, [])}})::VARCHAR AS payload
FROM everyone e
LEFT JOIN items i ON i.customer_id = e.customer_id
LEFT JOIN due d ON d.customer_id = e.customer_id
LEFT JOIN categories c ON c.customer_id = e.customer_id
"""

_SEGMENTS_SQL = """
SELECT segment_kind || ':' || segment AS key,
       to_json({'buyers': max(segment_buyers),
                'items': list(json_array(product_id, buyers) ORDER BY rank)})::VARCHAR AS payload
FROM segments GROUP BY segment_kind, segment
"""

_EMPTY = {
    "product_rules": [("antecedent", pa.int64()), ("consequent", pa.int64())]
    + [(c, pa.float64()) for c in ("support", "confidence", "lift")]
    + [("pair_count", pa.int64())],
    "related": [
        ("product_id", pa.int64()),
        ("related_id", pa.int64()),
        ("rank", pa.int64()),
        ("similarity", pa.float64()),
        ("customers_both", pa.int64()),
    ],
    "recommendations": [
        ("customer_id", pa.int64()),
        ("product_id", pa.int64()),
        ("rank", pa.int64()),
        ("score", pa.float64()),
        ("reason", pa.string()),
        ("because_of_id", pa.int64()),
        ("strength", pa.float64()),
    ],
    "segments": [
        ("segment_kind", pa.string()),
        ("segment", pa.string()),
        ("product_id", pa.int64()),
        ("rank", pa.int64()),
        ("buyers", pa.int64()),
        ("segment_buyers", pa.int64()),
    ],
    "patterns": [
        ("customer_id", pa.int64()),
        ("product_id", pa.int64()),
        ("period_days", pa.float64()),
        ("next_due", pa.date32()),
        ("confidence", pa.float64()),
    ],
    "affinities": [
        ("customer_id", pa.int64()),
        ("category_id", pa.int64()),
        ("share", pa.float64()),
        ("score", pa.float64()),
    ],
    "category_names": [("category_id", pa.int64()), ("name", pa.string())],
}


def _table(name: str, table: pa.Table | None) -> pa.Table:
    """``table`` with the columns the queries use (an empty one when the step wrote none)."""
    schema = pa.schema(_EMPTY[name])
    if table is None or table.num_rows == 0 or not set(schema.names) <= set(table.column_names):
        return schema.empty_table()
    return pa.table(
        [table.column(f.name).cast(f.type) for f in schema], names=schema.names
    ).combine_chunks()


def build(
    *,
    product_rules: pa.Table | None,
    related: pa.Table | None,
    recommendations: pa.Table | None,
    segments: pa.Table | None,
    patterns: pa.Table | None,
    affinities: pa.Table | None,
    category_names: pa.Table | None,
    customers_per_part: int | None = None,
) -> Iterator[pa.Table]:
    """The run's serving lists as (kind, key, payload) tables, from its output tables: products
    and segments first, then customers a range of ids at a time (at 885 K customers the lists
    of all of them at once took ~5 GB more memory than a part)."""
    per_part = customers_per_part or CUSTOMERS_PER_PART
    con = duckdb.connect()
    try:
        for name, table in (
            ("product_rules", product_rules),
            ("related", related),
            ("recommendations", recommendations),
            ("segments", segments),
            ("patterns", patterns),
            ("affinities", affinities),
            ("category_names", category_names),
        ):
            con.register(name, _table(name, table))
        yield _lists(con, ServingList.Kind.PRODUCT, _PRODUCTS_SQL.format(rules=RULES_PER_PRODUCT))
        yield _lists(con, ServingList.Kind.SEGMENT, _SEGMENTS_SQL)
        ids = _customer_ids(recommendations, patterns, affinities)
        for start in range(0, len(ids), per_part):
            part = ids[start : start + per_part]
            yield _lists(
                con,
                ServingList.Kind.CUSTOMER,
                _CUSTOMERS_SQL.format(top=TOP_CATEGORIES),
                {"lo": int(part[0]), "hi": int(part[-1])},
            )
    finally:
        con.close()


def _customer_ids(*tables: pa.Table | None) -> np.ndarray:
    """The sorted distinct customer ids of ``tables``."""
    found = [
        t.column("customer_id").to_numpy()
        for t in tables
        if t is not None and t.num_rows and "customer_id" in t.column_names
    ]
    return np.unique(np.concatenate(found).astype(np.int64)) if found else np.zeros(0, np.int64)


def _lists(con, kind: str, sql: str, params: dict | None = None) -> pa.Table:
    t = con.execute(sql, params or {}).to_arrow_table()
    return pa.table(
        {
            "kind": pa.array([str(kind)] * t.num_rows, pa.string()),
            "key": t.column("key").cast(pa.string()),
            "payload": t.column("payload").cast(pa.string()),
        }
    )


def write(run: AnalyticsRun, lists: Iterable[pa.Table]) -> int:
    """Bulk-insert ``lists`` (:func:`build`'s parts) for ``run``, inside the run's write
    transaction; the number of lists written."""
    written = 0
    for part in lists:
        if part.num_rows:
            run_ids = pa.array(np.full(part.num_rows, run.pk, np.int64))
            written += bulk_insert(ServingList, part.append_column("run_id", run_ids))
    return written


def prune(current: AnalyticsRun) -> int:
    """Drop the lists of runs older than the one before ``current`` (a request that looked up
    the previous run a moment ago still finds its lists)."""
    keep = list(
        AnalyticsRun.objects.filter(status=AnalyticsRun.Status.SUCCEEDED)
        .exclude(pk=current.pk)
        .order_by("-finished_at", "-started_at", "-id")
        .values_list("pk", flat=True)[:1]
    )
    deleted, _ = ServingList.objects.exclude(run_id__in=[current.pk, *keep]).delete()
    return deleted


__all__ = ["RULES_PER_PRODUCT", "build", "prune", "write"]
