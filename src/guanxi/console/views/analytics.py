"""Analytics overview: Pareto curve, tiers, lifecycle stages, churn and CLV distributions,
cohort retention, upcoming periodic purchases and the run log — all from the latest run."""

from django.shortcuts import render
from django.utils import translation
from django.utils.formats import date_format, number_format
from django.utils.text import capfirst
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from guanxi.analytics import selectors
from guanxi.console.views.scores import stage_label
from guanxi.core.permissions import console_view

RUN_LOG_SIZE = 10


def _money_range(low: float, high: float, *, last: bool = False) -> str:
    low_text = number_format(round(low), force_grouping=True)
    if last:
        return f"≥ {low_text}"
    return f"{low_text}–{number_format(round(high), force_grouping=True)}"


def _counts(values: dict) -> list[tuple[str, object]]:
    """The numeric entries of a run's inputs/outputs (lists and notes are left out)."""
    return [
        (key, value)
        for key, value in (values or {}).items()
        if isinstance(value, int | float) and not isinstance(value, bool)
    ]


def _charts(run, currency: str, curve: list[tuple[float, float]]) -> dict:
    tiers = selectors.tier_counts(run)
    stages = selectors.lifecycle_counts(run)
    churn = selectors.churn_histogram(run)
    clv = selectors.clv_histogram(run)
    return {
        "locale": translation.get_language(),
        "pareto": {
            "points": [{"x": x, "y": y} for x, y in curve],
            "x_label": _("Share of buying customers (best first, %)"),
            "y_label": _("Share of net revenue (%)"),
            "line_label": _("Cumulative revenue"),
            "even_label": _("Everyone equal"),
        },
        "tiers": {
            "labels": [capfirst(b.label) for b in tiers],
            "keys": [b.key for b in tiers],
            "counts": [b.count for b in tiers],
            "label": _("Customers"),
        },
        "stages": {
            "labels": [capfirst(stage_label(b.key)) for b in stages],
            "keys": [b.key for b in stages],
            "counts": [b.count for b in stages],
            "label": _("Customers"),
        },
        "churn": {
            "labels": [f"{round(b.low * 100)}–{round(b.high * 100)}%" for b in churn],
            "counts": [b.count for b in churn],
            "label": _("Customers"),
            "x_label": _("Probability of having churned"),
        },
        "clv": {
            "labels": [
                _money_range(b.low, b.high, last=i == len(clv) - 1) for i, b in enumerate(clv)
            ],
            "counts": [b.count for b in clv],
            "label": _("Customers"),
            "x_label": _("Predicted CLV (%(currency)s)") % {"currency": currency},
        },
    }


def _cohort_rows(cohorts) -> list[dict]:
    """Cells of the retention heatmap: the share, and a colour strength scaled to the largest
    repeat share (month 0 is 100% by definition and would wash out every other cell)."""
    repeat = [v for c in cohorts for v in c.retention[1:] if v is not None]
    top = max(repeat, default=0) or 1.0
    rows = []
    for cohort in cohorts:
        cells = []
        for k, value in enumerate(cohort.retention):
            if value is None:
                cells.append(None)
                continue
            strength = 1.0 if k == 0 else min(1.0, value / top)
            cells.append({"value": value * 100, "alpha": round(0.08 + 0.8 * strength, 3)})
        rows.append({"month": cohort.month, "customers": cohort.customers, "cells": cells})
    return rows


@console_view("analytics.view_customerscore")
@require_safe
def analytics(request):
    run = selectors.latest_run()
    user = request.user
    show_runs = user.has_perm("analytics.view_analyticsrun")
    show_periodic = user.has_perm("analytics.view_periodicpattern")
    context = {
        "section": "analytics",
        "run": run,
        "show_runs": show_runs,
        "show_periodic": show_periodic,
        "runs": [
            {"run": r, "inputs": _counts(r.inputs), "outputs": _counts(r.outputs)}
            for r in (selectors.run_log()[:RUN_LOG_SIZE] if show_runs else [])
        ],
    }
    if run is not None:
        overview = selectors.run_overview(run)
        curve = selectors.pareto_curve(run)
        cohorts = selectors.cohort_retention(run)
        context |= {
            "overview": overview,
            "top20_share": selectors.top_share(curve),
            "rfm_groups": selectors.rfm_group_counts(run),
            "churn_bands": selectors.churn_risk_counts(run),
            "cohorts": _cohort_rows(cohorts),
            "cohort_offsets": list(range(len(cohorts[0].retention))) if cohorts else [],
            "charts": _charts(run, overview.currency, curve),
            "run_month": date_format(run.as_of, "YEAR_MONTH_FORMAT"),
        }
        if show_periodic:
            context["upcoming"] = selectors.upcoming_periodic(run)
            context["periodic_counts"] = selectors.periodic_counts(run)
    return render(request, "console/analytics.html", context)
