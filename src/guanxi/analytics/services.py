"""Analytics writes: one refresh computes every score and writes them back in bulk.

``refresh_analytics`` reads the database into Arrow once (:mod:`guanxi.analytics.engine`), runs
the Ibis expressions of :mod:`guanxi.analytics.scoring` (and the CLV and periodic-purchase steps
when their modules are present) on DuckDB or Spark, and writes ``CustomerScore``,
``CategoryAffinity``, ``PeriodicPattern`` and ``LifecycleChange`` rows for a new
``AnalyticsRun``. Each run records its engine, input and output row counts, step durations,
status and, on failure, the error.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import logging
import math
import time
import traceback
from collections.abc import Callable, Iterator

import pyarrow as pa
import pyarrow.compute as pc
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from guanxi.analytics import chains, payloads, scoring
from guanxi.analytics.engine import connect, engine_name, load_inputs, normalise_as_of
from guanxi.analytics.engine.inputs import TIMESTAMP, Background
from guanxi.analytics.models import (
    AnalyticsRun,
    CategoryAffinity,
    CustomerScore,
    LifecycleChange,
    PeriodicPattern,
)
from guanxi.analytics.signals import run_finished
from guanxi.core.bulk import bulk_insert

log = logging.getLogger("guanxi.analytics")

STEPS = ("load", "scores", "affinities", "clv", "periodic", "recommend", "write")
Progress = Callable[[str, int, int], None]

PREVIOUS_SCHEMA = pa.schema([("customer_id", pa.int64()), ("prev_stage", pa.string())])
SERVICE_NOTE = "placeholder until tickets exist: unknown, left out of the score (neutral)"
MARGIN_NOTE = "margin unknown until product costs are imported; revenue is net of returns"


def refresh_analytics(
    engine: str | None = None,
    as_of: dt.datetime | dt.date | None = None,
    triggered_by: str = "command",
    progress: Progress | None = None,
) -> AnalyticsRun:
    """Compute every customer score as of ``as_of`` (default now) and write a new run.

    ``engine`` is "duckdb" or "spark" (default ``settings.GUANXI_ANALYTICS_ENGINE``).
    ``progress(step, index, total)`` is called as each step starts. On failure the run is saved
    as failed with the error, and the exception is raised again.
    """
    name = engine_name(engine)
    as_of = normalise_as_of(as_of)
    params = {
        "tier_thresholds": list(scoring.tier_thresholds()),
        "lifecycle_rules": scoring.lifecycle_rules(),
        "health_weights": scoring.health_weights(),
    }
    run = AnalyticsRun.objects.create(
        engine=name,
        status=AnalyticsRun.Status.RUNNING,
        as_of=as_of,
        triggered_by=triggered_by,
        params=params,
    )
    started = time.perf_counter()
    steps: dict[str, float] = {}

    @contextlib.contextmanager
    def step(label: str) -> Iterator[None]:
        if progress is not None:
            progress(label, STEPS.index(label), len(STEPS))
        t0 = time.perf_counter()
        try:
            yield
        finally:
            steps[label] = round(time.perf_counter() - t0, 3)

    try:
        # The events (the largest table) are read alongside the steps before "recommend".
        views = Background(chains.read_views, as_of)
        with step("load"):
            inputs = load_inputs(as_of)
            previous_run, previous = _previous_stages(as_of)
            run.inputs = {**inputs.row_counts(), "previous_run": previous_run}
            con = connect(name, {**inputs.tables(), "previous_stages": previous})
        customers, orders = con.table("customers"), con.table("orders")
        order_lines = con.table("order_lines")
        with step("scores"):
            expr = scoring.customer_scores(
                customers,
                orders,
                con.table("previous_stages"),
                as_of,
                thresholds=tuple(params["tier_thresholds"]),
                rules=params["lifecycle_rules"],
                weights=params["health_weights"],
            )
            scores = _normalise(expr.order_by("customer_id").to_pyarrow())
            by_type = _normalise(scoring.profitability_by_customer_type(expr).to_pyarrow())
        with step("affinities"):
            trend_days = int(params["lifecycle_rules"]["trend_days"])
            affinities = _normalise(
                scoring.category_affinities(order_lines, as_of, trend_days=trend_days)
                .order_by(["customer_id", "category_id"])
                .to_pyarrow()
            )
        with step("clv"):
            clv = _clv_scores(orders, scores, as_of)
        with step("periodic"):
            patterns = _periodic_patterns(order_lines, as_of)
        with step("recommend"):
            chain_outputs = chains.compute(con, order_lines, inputs, as_of, views.result())
            run.params = {
                **run.params,
                "rules": chains.rule_params(),
                "recommender": chains.recommender_params().as_dict(),
            }
        # Writing needs none of the inputs: let them go (gigabytes at 10 M order lines).
        del inputs, con, customers, orders, order_lines, expr, previous, views
        with step("write"), _write_cache(), transaction.atomic():
            outputs = _write(run, scores, clv, affinities, patterns, previous_run, as_of)
            outputs.update(chains.write(run, chain_outputs))
            lists = chains.serving_lists(chain_outputs, patterns, affinities)
            outputs["serving_lists"] = payloads.write(run, lists)
        outputs["profitability_by_customer_type"] = _profitability_rows(by_type)
        run.outputs = outputs
        run.status = AnalyticsRun.Status.SUCCEEDED
    except Exception:
        run.status = AnalyticsRun.Status.FAILED
        run.error = traceback.format_exc()
        _finish(run, steps, started)
        log.exception("analytics run %s failed", run.pk)
        raise
    _finish(run, steps, started)
    payloads.prune(run)
    _analyze_outputs()
    run_finished.send(sender=AnalyticsRun, run=run)
    return run


def _analyze_outputs() -> None:
    """Fresh planner statistics for the tables a run just filled and the store tables it read
    (segments query both; a refresh usually follows a large import)."""
    from guanxi.commerce.importers import analyze_store_tables
    from guanxi.core.bulk import analyze

    analyze(CustomerScore, CategoryAffinity, PeriodicPattern)
    analyze_store_tables()


# SQLite page cache while a run writes its rows (KiB). With SQLite's default 2 MB, the
# millions of rows of one transaction go through the WAL page by page: at 10 M order lines a
# bigger cache makes the write step ~40% faster.
WRITE_CACHE_KIB = 512 * 1024


@contextlib.contextmanager
def _write_cache() -> Iterator[None]:
    """A bigger SQLite page cache for the write step, the connection's own size afterwards."""
    if connection.vendor != "sqlite":
        yield
        return
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA cache_size")
        before = cursor.fetchone()[0]
        cursor.execute(f"PRAGMA cache_size = -{WRITE_CACHE_KIB}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"PRAGMA cache_size = {int(before)}")


def _finish(run: AnalyticsRun, steps: dict[str, float], started: float) -> None:
    run.steps = steps
    run.finished_at = timezone.now()
    run.duration_s = round(time.perf_counter() - started, 3)
    run.save()


def _previous_stages(as_of: dt.datetime) -> tuple[int | None, pa.Table]:
    """The latest successful run up to ``as_of``: its id and (customer_id, prev_stage) rows."""
    last = (
        AnalyticsRun.objects.filter(status=AnalyticsRun.Status.SUCCEEDED, as_of__lte=as_of)
        .order_by("-as_of", "-id")
        .values_list("id", flat=True)
        .first()
    )
    if last is None:
        return None, PREVIOUS_SCHEMA.empty_table()
    table = CustomerScore._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT customer_id, lifecycle_stage FROM {table} WHERE run_id = %s",  # noqa: S608
            [last],
        )
        rows = cursor.fetchall()
    if not rows:
        return last, PREVIOUS_SCHEMA.empty_table()
    ids, stages = zip(*rows, strict=True)
    return last, pa.table(
        [pa.array(ids, pa.int64()), pa.array(stages, pa.string())], schema=PREVIOUS_SCHEMA
    )


def _normalise(table: pa.Table) -> pa.Table:
    """Same types whichever engine produced the table: int64, float64, UTC timestamps."""
    columns = []
    for column in table.columns:
        if pa.types.is_integer(column.type):
            column = column.cast(pa.int64())
        elif pa.types.is_floating(column.type) or pa.types.is_decimal(column.type):
            column = column.cast(pa.float64())
        elif pa.types.is_timestamp(column.type) and column.type.tz is None:
            column = column.cast(pa.timestamp("us")).cast(TIMESTAMP)
        elif pa.types.is_large_string(column.type):
            column = column.cast(pa.string())
        columns.append(column)
    return pa.table(columns, names=table.column_names)


def _optional(module: str, *names: str):
    """The module if it is there with every one of ``names``, else None (logged)."""
    try:
        found = importlib.import_module(f"guanxi.analytics.{module}")
    except ImportError:
        log.info("analytics: guanxi.analytics.%s is not available yet; step skipped", module)
        return None
    if not all(hasattr(found, n) for n in names):
        log.info("analytics: guanxi.analytics.%s lacks %s; step skipped", module, names)
        return None
    return found


def _clv_scores(orders, scores: pa.Table, as_of: dt.datetime) -> pa.Table | None:
    """BG/NBD + Gamma-Gamma per customer from the CLV module, if it is there."""
    clv = _optional("clv", "score_customers", "transaction_summary")
    if clv is None:
        return None
    valid = scoring.valid_orders(orders, as_of)
    bought = valid.filter(valid.kind == "order")
    transactions = bought.select("customer_id", "placed_at", value=bought.units / 10_000)
    summary = clv.transaction_summary(
        transactions,
        customer_col="customer_id",
        date_col="placed_at",
        value_col="value",
        observation_end=as_of,
        freq="D",
    )
    summary = _normalise(summary.to_pyarrow())
    if "first_order_at" not in summary.column_names:
        times = scores.select(["customer_id", "first_ts", "last_ts"])
        summary = summary.join(times, "customer_id", join_type="left outer")
        summary = summary.append_column(
            "first_order_at", _epoch_to_ts(summary.column("first_ts"))
        ).append_column("last_order_at", _epoch_to_ts(summary.column("last_ts")))
        summary = summary.drop_columns(["first_ts", "last_ts"])
    return _int_ids(_normalise(clv.score_customers(summary, as_of)))


def _int_ids(table: pa.Table) -> pa.Table:
    """``customer_id`` as int64 (a step may hand ids back as text)."""
    index = table.schema.get_field_index("customer_id")
    return table.set_column(index, "customer_id", table.column(index).cast(pa.int64()))


def _periodic_patterns(order_lines, as_of: dt.datetime) -> pa.Table | None:
    periodic = _optional("periodic", "detect_periodic_purchases")
    if periodic is None:
        return None
    return _int_ids(_normalise(periodic.detect_periodic_purchases(order_lines, as_of).to_pyarrow()))


def _epoch_to_ts(column) -> pa.ChunkedArray | pa.Array:
    micro = pc.multiply(column.cast(pa.int64()), 1_000_000)
    return micro.cast(pa.timestamp("us")).cast(TIMESTAMP)


def _money(units) -> pa.Array:
    return pc.divide(units.cast(pa.float64()), 10_000.0)


def _stage_reason(base_stage, recency_days, tenure_days, at_risk_after_days, rules) -> str:
    if base_stage == "prospect":
        return "no order yet"
    if base_stage == "lapsed":
        return f"no order for {recency_days} days > {rules['lapsed_days']}"
    if base_stage == "at_risk":
        return f"no order for {recency_days} days > {at_risk_after_days:.0f}"
    if base_stage == "new":
        return f"first order {tenure_days} days ago ≤ {rules['new_days']}"
    return f"ordered {recency_days} days ago ≤ {at_risk_after_days:.0f}"


def _json_value(value) -> str:
    """``json.dumps(value, ensure_ascii=False)``, quicker for the plain numbers that dominate."""
    kind = type(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)
    if value is None:
        return "null"
    return json.dumps(value, ensure_ascii=False)


def _json_texts(values: list) -> list[str]:
    """:func:`_json_value` of each value; numbers and nulls (nearly all of them) in one pass."""
    kinds = set(map(type, values))
    if kinds <= {int, float, type(None)} and (
        float not in kinds or all(map(math.isfinite, (v for v in values if v is not None)))
    ):
        if type(None) not in kinds:
            return list(map(repr, values))
        return ["null" if v is None else repr(v) for v in values]
    return list(map(_json_value, values))


def _json_r4_texts(values: list) -> list[str]:
    """:func:`_json_value` of ``round(float(value), 4)`` (null stays null) of each value."""
    return _json_texts([None if v is None else round(float(v), 4) for v in values])


def _json_money_texts(units: list) -> list[str]:
    """:func:`_json_value` of each amount in ten-thousandths as currency units."""
    return _json_texts([u / 10_000 for u in units])


def _explanations(scores: pa.Table, params: dict) -> list[str]:
    """The numbers behind tier, RFM group, lifecycle stage and health, one JSON per customer.

    Each text is exactly ``json.dumps(explanation, ensure_ascii=False)`` of this nested dict
    (keys in this order; rfm, tier and health only for buyers)::

        {"summary": {"orders", "gross_revenue", "returns", "revenue", "currency",
                     "recency_days"},
         "stage": {"stage", "reason", "previous_stage", "recency_days",
                   "days_since_first_order", "at_risk_after_days"},
         "profitability": {"revenue", "margin": null, "note"},
         "rfm": {"r", "f", "m", "group", "rule"},
         "tier": {"tier", "revenue_rank", "share_before", "cumulative_share", "thresholds"},
         "health": {"score", "factors": {"recency": {"value", "weight"},
                    "frequency_trend": {"value", "weight", "recent_orders", "prior_orders",
                                        "window_days"},
                    "returns": {"value", "weight"}, "service": {"value", "weight", "note"}}}}

    It is filled into a text template, the constant parts encoded once and each column's
    values converted in one pass: building ~30 small dicts per customer was most of a large
    run's write step.
    """
    rules, weights = params["lifecycle_rules"], params["health_weights"]
    j = _json_value

    def const(value) -> str:  # a constant, encoded and escaped for %-formatting
        return j(value).replace("%", "%%")

    head = (
        '{"summary": {"orders": %s, "gross_revenue": %s, "returns": %s, "revenue": %s, '
        f'"currency": {const(settings.GUANXI_DEFAULT_CURRENCY)}, "recency_days": %s}}, '
        '"stage": {"stage": %s, "reason": %s, "previous_stage": %s, "recency_days": %s, '
        '"days_since_first_order": %s, "at_risk_after_days": %s}, '
        '"profitability": {"revenue": %s, "margin": null, '
        f'"note": {const(MARGIN_NOTE)}}}'
    )
    buyer = head + (
        ', "rfm": {"r": %s, "f": %s, "m": %s, "group": %s, "rule": %s}, '
        '"tier": {"tier": %s, "revenue_rank": %s, "share_before": %s, "cumulative_share": %s, '
        f'"thresholds": {const(params["tier_thresholds"])}}}, '
        '"health": {"score": %s, "factors": {'
        f'"recency": {{"value": %s, "weight": {const(weights["recency"])}}}, '
        f'"frequency_trend": {{"value": %s, "weight": {const(weights["frequency_trend"])}, '
        f'"recent_orders": %s, "prior_orders": %s, "window_days": {const(rules["trend_days"])}}}, '
        f'"returns": {{"value": %s, "weight": {const(weights["returns"])}}}, '
        f'"service": {{"value": null, "weight": {const(weights["service"])}, '
        f'"note": {const(SERVICE_NOTE)}}}}}}}}}'
    )
    prospect = head + "}"
    text_of: dict = {}

    def texts(name: str) -> list[str]:  # stages, groups, tiers: few values, each encoded once
        out = []
        for value in scores.column(name).to_pylist():
            found = text_of.get(value)
            if found is None:
                found = text_of[value] = j(value)
            out.append(found)
        return out

    def raw(name: str) -> list:
        return scores.column(name).to_pylist()

    rule_of = {group: j(rule) for group, rule in scoring.RFM_RULES}
    recency, tenure, at_risk = raw("recency_days"), raw("tenure_days"), raw("at_risk_after_days")
    orders, stage, prev = raw("orders_count"), raw("lifecycle_stage"), raw("prev_stage")
    reasons = []
    for base, days, first, after, now, was in zip(
        raw("base_stage"), recency, tenure, at_risk, stage, prev, strict=True
    ):
        reason = _stage_reason(base, days, first, after, rules)
        if now == "won_back":
            reason = f"{reason}; was {was} in the previous run"
        reasons.append(reason)
    is_buyer = [n > 0 for n in orders]
    revenue = _json_money_texts(raw("revenue_units"))
    common = zip(
        _json_texts(orders),
        _json_money_texts(raw("gross_units")),
        _json_money_texts(raw("returns_units")),
        revenue,
        _json_texts(recency),
        texts("lifecycle_stage"),
        list(map(j, reasons)),
        texts("prev_stage"),
        _json_texts(recency),
        _json_texts(tenure),
        [t if b else "null" for t, b in zip(_json_r4_texts(at_risk), is_buyer, strict=True)],
        revenue,
        strict=True,
    )
    groups = raw("rfm_group")
    extra = zip(
        _json_texts(raw("r_score")),
        _json_texts(raw("f_score")),
        _json_texts(raw("m_score")),
        texts("rfm_group"),
        [rule_of.get(g, '""') for g in groups],
        texts("tier"),
        _json_texts(raw("revenue_rank")),
        _json_r4_texts(raw("share_before")),
        _json_r4_texts(raw("cumulative_share")),
        _json_texts(raw("health_score")),
        _json_r4_texts(raw("h_recency")),
        _json_r4_texts(raw("h_frequency_trend")),
        _json_texts(raw("recent_orders")),
        _json_texts(raw("prior_orders")),
        _json_r4_texts(raw("h_returns")),
        strict=True,
    )
    return [
        buyer % (*head_values, *tail_values) if b else prospect % head_values
        for b, head_values, tail_values in zip(is_buyer, common, extra, strict=True)
    ]


SCORE_SLICE = 100_000


def _score_rows(run: AnalyticsRun, scores: pa.Table, clv: pa.Table | None) -> pa.Table:
    """CustomerScore rows of ``scores`` (and the CLV numbers), in the same order; the
    explanations are added by the caller."""
    n = scores.num_rows
    currency = settings.GUANXI_DEFAULT_CURRENCY
    columns = {
        "run_id": pa.array([run.pk] * n, pa.int64()),
        "customer_id": scores.column("customer_id"),
        "currency": pa.array([currency] * n, pa.string()),
        "orders_count": scores.column("orders_count"),
        "revenue": _money(scores.column("revenue_units")),
        "first_order_at": _epoch_to_ts(scores.column("first_ts")),
        "last_order_at": _epoch_to_ts(scores.column("last_ts")),
        "recency_days": scores.column("recency_days"),
        "r_score": scores.column("r_score"),
        "f_score": scores.column("f_score"),
        "m_score": scores.column("m_score"),
        "rfm_group": scores.column("rfm_group"),
        "tier": scores.column("tier"),
        "cumulative_revenue_share": scores.column("cumulative_share"),
        "lifecycle_stage": scores.column("lifecycle_stage"),
        "health_score": scores.column("health_score"),
    }
    churn = pa.array(["not_enough_data"] * n, pa.string())
    if clv is not None and clv.num_rows:
        wanted = [
            "p_alive",
            "churn_risk",
            "expected_orders_90d",
            "expected_orders_365d",
            "expected_value_90d",
            "expected_value_365d",
            "clv",
            "next_order_date",
        ]
        present = [c for c in wanted if c in clv.column_names]
        matched = scores.select(["customer_id"]).join(
            clv.select(["customer_id", *present]), "customer_id", join_type="left outer"
        )
        matched = matched.sort_by("customer_id")  # scores are sorted by customer_id too
        for name in present:
            column = matched.column(name)
            if name == "churn_risk":
                churn = pc.fill_null(column.cast(pa.string()), "not_enough_data")
                continue
            if name == "next_order_date":
                column = column.cast(pa.date32())
            elif name.startswith("expected_value") or name == "clv":
                column = pc.round(column.cast(pa.float64()), 4)
            columns[name] = column
    columns["churn_risk"] = churn
    return pa.table(columns)


def _write(
    run: AnalyticsRun,
    scores: pa.Table,
    clv: pa.Table | None,
    affinities: pa.Table,
    patterns: pa.Table | None,
    previous_run: int | None,
    as_of: dt.datetime,
) -> dict:
    # Explanations are built and written a slice at a time: as one list they would be the
    # largest thing in memory at 10 M order lines.
    rows, written = _score_rows(run, scores, clv), 0
    for start in range(0, rows.num_rows, SCORE_SLICE):
        texts = _explanations(scores.slice(start, SCORE_SLICE), run.params)
        part = rows.slice(start, SCORE_SLICE)
        part = part.append_column("explanation", pa.array(texts, pa.string()))
        written += bulk_insert(CustomerScore, part)
    outputs = {"customer_scores": written}

    # Stage changes against the previous successful run (none on the very first run).
    changes = 0
    if previous_run is not None:
        prev, stage = scores.column("prev_stage"), scores.column("lifecycle_stage")
        changed = pc.fill_null(pc.not_equal(prev, stage), True)
        moved = scores.filter(changed)
        changes = bulk_insert(
            LifecycleChange,
            pa.table(
                {
                    "customer_id": moved.column("customer_id"),
                    "run_id": pa.array([run.pk] * moved.num_rows, pa.int64()),
                    "from_stage": pc.fill_null(moved.column("prev_stage"), ""),
                    "to_stage": moved.column("lifecycle_stage"),
                    "changed_at": pa.array([as_of] * moved.num_rows, TIMESTAMP),
                }
            ),
        )
    outputs["lifecycle_changes"] = changes

    outputs["category_affinities"] = bulk_insert(
        CategoryAffinity,
        pa.table(
            {
                "run_id": pa.array([run.pk] * affinities.num_rows, pa.int64()),
                "customer_id": affinities.column("customer_id"),
                "category_id": affinities.column("category_id"),
                "share": affinities.column("share"),
                "score": affinities.column("score"),
                "trend": affinities.column("trend"),
            }
        ),
    )

    written = 0
    if patterns is not None and patterns.num_rows:
        n = patterns.num_rows
        names = patterns.column_names

        def col(name, dtype, default=None):
            if name in names:
                return patterns.column(name).cast(dtype)
            return pa.array([default] * n, dtype)

        last = col("last_purchase_at", TIMESTAMP)
        written = bulk_insert(
            PeriodicPattern,
            pa.table(
                {
                    "run_id": pa.array([run.pk] * n, pa.int64()),
                    "customer_id": patterns.column("customer_id").cast(pa.int64()),
                    "kind": col("kind", pa.string()),
                    "product_id": col("product_id", pa.int64()),
                    "sku": pc.fill_null(col("sku", pa.string()), ""),
                    "category_id": col("category_id", pa.int64()),
                    "period_days": col("period_days", pa.float64()),
                    "month": col("month", pa.int64()),
                    "occurrences": col("occurrences", pa.int64()),
                    "confidence": col("confidence", pa.float64()),
                    "last_purchase_at": last,
                    "next_due": col("next_due", pa.date32()),
                }
            ),
        )
    outputs["periodic_patterns"] = written
    outputs["clv_scored"] = 0 if clv is None else clv.num_rows
    return outputs


def _profitability_rows(by_type: pa.Table) -> list[dict]:
    rows = []
    for row in by_type.to_pylist():
        revenue = row["revenue_units"] / 10_000
        rows.append(
            {
                "customer_type": row["customer_type"],
                "customers": row["customers"],
                "buyers": row["buyers"],
                "orders": row["orders"],
                "gross_revenue": row["gross_units"] / 10_000,
                "returns": row["returns_units"] / 10_000,
                "revenue": revenue,
                "revenue_per_buyer": round(revenue / row["buyers"], 4) if row["buyers"] else None,
                "margin": None,
            }
        )
    return rows


__all__ = ["STEPS", "refresh_analytics"]
