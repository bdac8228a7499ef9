"""The "rules" and "recommend" steps of an analytics refresh: product and category association
rules (Ibis, on the run's engine), related products, personal recommendations and the segment
best sellers used for the cold start — computed from the run's inputs, written in bulk.

See ``docs/recommendations.md`` for what each number means.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from scipy import sparse

from guanxi.analytics import payloads, recommend, rules
from guanxi.analytics.engine import inputs as engine_inputs
from guanxi.analytics.models import (
    AnalyticsRun,
    ProductRule,
    Recommendation,
    RelatedProduct,
    SegmentPopular,
)
from guanxi.core.bulk import bulk_insert

DEFAULT_RULES = {
    # Baskets holding the pair / all baskets: products are sparse, categories dense.
    "product_min_support": 0.001,
    "category_min_support": 0.005,
    "min_confidence": 0.01,
    # Only rules that make the consequent likelier than usual are kept.
    "min_lift": 1.0,
}
RELATED_PER_PRODUCT = 10
SEGMENT_LIST = 40


def rule_params() -> dict:
    """``GUANXI_RULES`` merged over :data:`DEFAULT_RULES`."""
    return {**DEFAULT_RULES, **(getattr(settings, "GUANXI_RULES", None) or {})}


def recommender_params() -> recommend.Params:
    model = getattr(settings, "GUANXI_RECOMMENDER", "ease") or "ease"
    return recommend.Params(model=model)


@dataclasses.dataclass
class ChainOutputs:
    product_rules: pa.Table
    category_rules: pa.Table
    related: pa.Table
    recommendations: pa.Table
    segments: pa.Table
    stats: dict


def mine_rules(con, order_lines, params: dict) -> tuple[pa.Table, pa.Table]:
    """Product and category rules of the run's baskets, on the run's engine (Ibis)."""
    out = []
    for level, support in (
        ("product", params["product_min_support"]),
        ("category", params["category_min_support"]),
    ):
        expr = rules.association_rules(
            rules.basket_lines(order_lines, level),
            min_support=support,
            min_confidence=params["min_confidence"],
        )
        expr = rules.order_rules(expr.filter(expr.lift > float(params["min_lift"])))
        out.append(_ints(expr.to_pyarrow()))
    return out[0], out[1]


def _ints(table: pa.Table) -> pa.Table:
    columns = []
    for name in table.column_names:
        column = table.column(name)
        if pa.types.is_integer(column.type):
            column = column.cast(pa.int64())
        elif pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


# {scan}: on SQLite one pass over the table (NOT INDEXED) beats walking the (customer, time)
# index with a lookup per event: about 3× faster on the largest table.
_EVENTS_SQL = """
SELECT e.customer_id, e.product_id, COUNT(*)
FROM commerce_event e {scan}
WHERE e.customer_id IS NOT NULL AND e.product_id IS NOT NULL
  AND e.event_type IN ('viewed_product', 'added_to_cart') AND e.occurred_at <= %(as_of)s
GROUP BY e.customer_id, e.product_id
"""
# Flags as 0/1: PostgreSQL's CSV writes booleans as t/f, which Arrow's reader refuses.
_PRODUCTS_SQL = """
SELECT p.id, CASE WHEN p.in_stock THEN 1 ELSE 0 END, CASE WHEN p.is_active THEN 1 ELSE 0 END
FROM commerce_product p
"""
_SEGMENTS_SQL = """
SELECT c.id, c.occupation, c.customer_type FROM customers_customer c
WHERE c.merged_into_id IS NULL
"""
EVENTS_SCHEMA = pa.schema(
    [("customer_id", pa.int64()), ("product_id", pa.int64()), ("n", pa.int64())]
)
PRODUCTS_SCHEMA = pa.schema(
    [("product_id", pa.int64()), ("in_stock", pa.int64()), ("is_active", pa.int64())]
)
SEGMENTS_SCHEMA = pa.schema(
    [("customer_id", pa.int64()), ("occupation", pa.string()), ("customer_type", pa.string())]
)


def _read(sql: str, params: dict, schema: pa.Schema) -> pa.Table:
    return engine_inputs._read(sql, params, schema)


def read_views(as_of: dt.datetime) -> pa.Table:
    """(customer_id, product_id, n): how often each customer viewed or carted each product up
    to ``as_of``, from the events (the largest table; the refresh reads it alongside its other
    steps)."""
    return _read(_EVENTS_SQL, {"as_of": engine_inputs._sqlite_param(as_of)}, EVENTS_SCHEMA)


def compute(con, order_lines, inputs, as_of: dt.datetime, views=None) -> ChainOutputs:
    """Everything the two steps produce, from the run's Ibis tables and Arrow inputs
    (``views``: :func:`read_views`, read here if not given)."""
    params = rule_params()
    product_rules, category_rules = mine_rules(con, order_lines, params)
    p = recommender_params()
    built = _matrices(inputs, as_of, p, read_views(as_of) if views is None else views)
    if built is None:
        return _empty(product_rules, category_rules)
    matrix, bought, excluded, catalogue = built
    customers, products = matrix.customers, matrix.products
    available = (catalogue.column("in_stock").to_numpy() > 0) & (
        catalogue.column("is_active").to_numpy() > 0
    )
    model = recommend.make_model(p).fit(matrix.m)
    rmat = recommend.rule_matrix(product_rules, products)
    ranked = recommend.rank(
        model,
        matrix,
        rules=rmat,
        excluded=excluded,
        available=available,
        n=p.per_customer,
        rule_weight=p.rule_weight,
        purchases=bought.m,
    )
    del matrix, excluded
    recs = _recommendation_rows(ranked, customers, products)
    del ranked
    related = _related(model.sim, bought.m, products)
    segments = _segments(bought, products, available)
    stats = {
        "model": p.model,
        "customers_with_history": int(len(customers)),
        "products": int(len(products)),
    }
    return ChainOutputs(product_rules, category_rules, related, recs, segments, stats)


def _matrices(inputs, as_of: dt.datetime, p: recommend.Params, events: pa.Table):
    """(what each customer bought and viewed, what they bought, what is excluded: bought or
    returned, the catalogue) — or None without history or products. The line and event
    tables they are built from are let go on return (at 10 M lines, gigabytes)."""
    lines = inputs.order_lines
    lines = lines.filter(pc.is_valid(lines.column("product_id")))
    valid = pc.not_equal(lines.column("status"), "cancelled")
    bought_lines = lines.filter(pc.and_(valid, pc.equal(lines.column("kind"), "order")))
    returned_lines = lines.filter(pc.equal(lines.column("kind"), "return"))
    del lines, valid
    purchases = recommend.interactions_from_lines(
        bought_lines, time="placed_at", as_of=as_of, half_life_days=p.half_life_days
    )
    del bought_lines
    views = pa.table(
        {
            "customer_id": events.column("customer_id"),
            "product_id": events.column("product_id"),
            # A product viewed many times still counts at most as much as one purchase.
            "weight": pc.multiply(
                pc.min_element_wise(events.column("n"), pa.scalar(4, pa.int64())).cast(
                    pa.float64()
                ),
                p.view_weight,
            ),
        }
    )
    del events
    catalogue = _read(_PRODUCTS_SQL, {}, PRODUCTS_SCHEMA).sort_by("product_id")
    products = catalogue.column("product_id").to_numpy()
    known = pa.concat_tables([purchases, views])
    del views
    customers = np.unique(known.column("customer_id").to_numpy()) if known.num_rows else None
    if customers is None or len(products) == 0:
        return None
    matrix = recommend.build_matrix(known, customers, products)
    del known
    bought = recommend.build_matrix(purchases, customers, products)
    del purchases
    returned = recommend.build_matrix(
        recommend.interactions_from_lines(returned_lines), customers, products
    )
    excluded = ((bought.m > 0) + (returned.m > 0)).astype(np.float64).tocsr()
    return matrix, bought, excluded, catalogue


REASONS = pa.array([recommend.REASON_SIMILAR, recommend.REASON_RULE], pa.string())


def _recommendation_rows(
    ranked: recommend.Ranked, customers: np.ndarray, products: np.ndarray
) -> pa.Table:
    return pa.table(
        {
            "customer_id": pa.array(customers[ranked.rows], pa.int64()),
            "product_id": pa.array(products[ranked.cols], pa.int64()),
            "rank": pa.array(ranked.rank, pa.int64()),
            "score": pa.array(np.round(ranked.score, 6), pa.float64()),
            # Two reasons for millions of rows: dictionary-encoded (bulk_insert decodes).
            "reason": pa.DictionaryArray.from_arrays(
                pa.array(ranked.by_rule.astype(np.int8)), REASONS
            ),
            "because_of_id": pa.array(
                np.where(ranked.because >= 0, products[np.maximum(ranked.because, 0)], 0),
                pa.int64(),
                mask=ranked.because < 0,
            ),
            "strength": pa.array(np.round(ranked.strength, 6), pa.float64()),
        }
    )


def _empty(product_rules, category_rules) -> ChainOutputs:
    empty = pa.table({})
    return ChainOutputs(product_rules, category_rules, empty, empty, empty, {})


def _related(sim: np.ndarray, bought: sparse.csr_matrix, products: np.ndarray) -> pa.Table:
    """Each product's most similar products (collaborative filter), with the customers who
    bought both."""
    k = min(RELATED_PER_PRODUCT, max(sim.shape[1] - 1, 0))
    if k == 0:
        return pa.table({})
    b = (bought > 0).astype(np.float64).tocsr()
    top = np.argpartition(-sim, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(sim, top, axis=1)
    order = np.lexsort((top, -vals), axis=1)
    top, vals = np.take_along_axis(top, order, axis=1), np.take_along_axis(vals, order, axis=1)
    rows, pos = np.nonzero(vals > 0)
    cols = top[rows, pos]
    # Customers who bought both: the products' co-purchase counts (exact small integers).
    both = np.asarray((b.T @ b)[rows, cols], np.float64).ravel().astype(np.int64)
    return pa.table(
        {
            "product_id": pa.array(products[rows], pa.int64()),
            "related_id": pa.array(products[cols], pa.int64()),
            "rank": pa.array(pos + 1, pa.int64()),
            "similarity": pa.array(np.round(vals[rows, pos], 6), pa.float64()),
            "customers_both": pa.array(both, pa.int64()),
        }
    )


def _segments(bought: recommend.Matrix, products: np.ndarray, available: np.ndarray) -> pa.Table:
    """Best sellers (distinct buyers, available products only) per occupation, per customer
    type and for the whole store."""
    seg = _read(_SEGMENTS_SQL, {}, SEGMENTS_SCHEMA)
    ids = seg.column("customer_id").to_numpy()
    order = np.argsort(ids)
    ids_sorted = ids[order]
    pos = np.searchsorted(ids_sorted, bought.customers)
    pos = np.minimum(pos, max(len(ids_sorted) - 1, 0))
    found = (ids_sorted[pos] == bought.customers) if len(ids_sorted) else np.zeros(0, bool)
    m = bought.m.multiply(available[None, :].astype(np.float64)).tocsr()
    rows = []
    for kind, column in (
        (SegmentPopular.SegmentKind.OCCUPATION, "occupation"),
        (SegmentPopular.SegmentKind.CUSTOMER_TYPE, "customer_type"),
    ):
        values = np.asarray(seg.column(column).to_pylist(), dtype=object)[order]
        labels = np.where(found, values[pos], "") if len(values) else np.array([], object)
        labels = np.array(["" if v is None else str(v).strip() for v in labels], object)
        lists = recommend.popular(
            recommend.Matrix(m, bought.customers, products),
            labels,
            n=SEGMENT_LIST,
            min_buyers=recommend.Params().segment_min_buyers,
        )
        for label, (cols, counts, buyers) in lists.items():
            if label is None:
                continue
            rows.extend(
                (kind.value, str(label), int(products[c]), i + 1, int(n), buyers)
                for i, (c, n) in enumerate(zip(cols, counts, strict=True))
            )
    cols, counts, buyers = recommend.popular(
        recommend.Matrix(m, bought.customers, products), n=SEGMENT_LIST
    )[None]
    rows.extend(
        (SegmentPopular.SegmentKind.STORE.value, "", int(products[c]), i + 1, int(n), buyers)
        for i, (c, n) in enumerate(zip(cols, counts, strict=True))
    )
    names = ["segment_kind", "segment", "product_id", "rank", "buyers", "segment_buyers"]
    if not rows:
        return pa.table({})
    return pa.table(dict(zip(names, map(list, zip(*rows, strict=True)), strict=True)))


def write(run: AnalyticsRun, out: ChainOutputs) -> dict:
    """Bulk-insert the step's rows for ``run``; the counts for the run's outputs."""

    def with_run(table: pa.Table) -> pa.Table:
        return table.append_column("run_id", pa.array([run.pk] * table.num_rows, pa.int64()))

    def rule_rows(table: pa.Table, level: str) -> pa.Table:
        n = table.num_rows
        none = pa.nulls(n, pa.int64())
        a, c = (
            table.column("antecedent").cast(pa.int64()),
            table.column("consequent").cast(pa.int64()),
        )
        is_product = level == ProductRule.Level.PRODUCT
        return with_run(
            pa.table(
                {
                    "level": pa.array([level] * n, pa.string()),
                    "antecedent_product_id": a if is_product else none,
                    "consequent_product_id": c if is_product else none,
                    "antecedent_category_id": none if is_product else a,
                    "consequent_category_id": none if is_product else c,
                    "support": table.column("support"),
                    "confidence": table.column("confidence"),
                    "lift": table.column("lift"),
                    "pair_count": table.column("pair_count"),
                    "antecedent_count": table.column("antecedent_count"),
                    "baskets": table.column("baskets"),
                }
            )
        )

    counts = {
        "product_rules": bulk_insert(
            ProductRule, rule_rows(out.product_rules, ProductRule.Level.PRODUCT)
        ),
        "category_rules": bulk_insert(
            ProductRule, rule_rows(out.category_rules, ProductRule.Level.CATEGORY)
        ),
        "related_products": 0,
        "recommendations": 0,
        "segment_popular": 0,
    }
    if out.related.num_rows:
        counts["related_products"] = bulk_insert(RelatedProduct, with_run(out.related))
    # The picks go into the customers' serving lists (payloads), which is what the count says;
    # as Recommendation rows (their history in SQL) only when asked for.
    counts["recommendations"] = out.recommendations.num_rows
    if out.recommendations.num_rows and settings.GUANXI_RECOMMENDATION_HISTORY:
        bulk_insert(Recommendation, with_run(out.recommendations))
    if out.segments.num_rows:
        counts["segment_popular"] = bulk_insert(SegmentPopular, with_run(out.segments))
    return counts


_CATEGORIES_SQL = "SELECT c.id, c.name FROM commerce_category c"
CATEGORIES_SCHEMA = pa.schema([("category_id", pa.int64()), ("name", pa.string())])


def serving_lists(
    out: ChainOutputs, patterns: pa.Table | None, affinities: pa.Table
) -> Iterator[pa.Table]:
    """The run's ready-to-serve lists (:mod:`guanxi.analytics.payloads`), in parts, from this
    step's outputs and the run's periodic patterns and category affinities."""
    return payloads.build(
        product_rules=out.product_rules,
        related=out.related,
        recommendations=out.recommendations,
        segments=out.segments,
        patterns=patterns,
        affinities=affinities,
        category_names=_read(_CATEGORIES_SQL, {}, CATEGORIES_SCHEMA),
    )


__all__ = [
    "DEFAULT_RULES",
    "ChainOutputs",
    "compute",
    "mine_rules",
    "rule_params",
    "serving_lists",
    "write",
]
