"""The scores card of the customer 360 page: the numbers behind tier, stage and health, turned
into sentences a store owner can read (the explanation JSON holds only numbers and keys)."""

from __future__ import annotations

from django.utils.formats import number_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext, pgettext_lazy

from guanxi.analytics import selectors
from guanxi.analytics.models import CustomerScore

# Stage names with a context: "active" alone is already "enabled" (a product that is active).
STAGE_LABELS = {
    "prospect": pgettext_lazy("lifecycle stage", "prospect"),
    "new": pgettext_lazy("lifecycle stage", "new"),
    "active": pgettext_lazy("lifecycle stage", "active"),
    "at_risk": pgettext_lazy("lifecycle stage", "at risk"),
    "lapsed": pgettext_lazy("lifecycle stage", "lapsed"),
    "won_back": pgettext_lazy("lifecycle stage", "won back"),
}


def stage_label(stage: str) -> str:
    """The lifecycle stage's name in the current language ("" for none)."""
    return str(STAGE_LABELS.get(stage, stage)) if stage else ""


HEALTH_FACTORS = {
    "recency": gettext_lazy("Recency"),
    "frequency_trend": gettext_lazy("Frequency trend"),
    "returns": gettext_lazy("Returns"),
    "service": gettext_lazy("Service experience"),
}


def _pct(value) -> str:
    return f"{number_format(100 * float(value), 1)}%"


def tier_why(score: CustomerScore) -> list[str]:
    """Why the customer is in their tier: rank, the revenue share ranked above, thresholds."""
    tier = (score.explanation or {}).get("tier") or {}
    if score.tier == CustomerScore.Tier.NONE or not tier:
        return [_("No purchases yet, so no value tier.")]
    thresholds = tier.get("thresholds") or []
    figures = {
        "rank": number_format(tier.get("revenue_rank") or 0, force_grouping=True),
        "revenue": number_format(score.revenue, 2, force_grouping=True),
        "currency": score.currency,
        "share": _pct(tier.get("share_before") or 0),
    }
    if (tier.get("revenue_rank") or 0) <= 1:
        parts = [_("The top buyer by net revenue (%(revenue)s %(currency)s).") % figures]
    else:
        parts = [
            _(
                "Ranked %(rank)s among buyers by net revenue (%(revenue)s %(currency)s); "
                "customers ranked above bring %(share)s of all revenue."
            )
            % figures
        ]
    if len(thresholds) == 3:
        parts.append(
            _(
                "VIP: the customers who bring the first %(vip)s of revenue; gold up to "
                "%(gold)s; silver up to %(silver)s; standard the rest."
            )
            % {
                "vip": _pct(thresholds[0]),
                "gold": _pct(thresholds[1]),
                "silver": _pct(thresholds[2]),
            }
        )
    return parts


def stage_why(score: CustomerScore) -> list[str]:
    """The numbers behind the lifecycle stage."""
    stage = (score.explanation or {}).get("stage") or {}
    lines = []
    if score.orders_count == 0:
        return [_("No order yet.")]
    if stage.get("recency_days") is not None:
        lines.append(_("Last order %(days)s days ago.") % {"days": stage["recency_days"]})
    if stage.get("days_since_first_order") is not None:
        lines.append(
            _("First order %(days)s days ago.") % {"days": stage["days_since_first_order"]}
        )
    if stage.get("at_risk_after_days") is not None:
        lines.append(
            _("Counts as at risk after %(days)s days without an order.")
            % {"days": number_format(stage["at_risk_after_days"], 0)}
        )
    previous = stage.get("previous_stage")
    if previous and previous != score.lifecycle_stage:
        lines.append(_("Previous run: %(stage)s.") % {"stage": stage_label(previous)})
    return lines


def health_factors(score: CustomerScore) -> list[dict]:
    """Health score factors: label, value (0–100 or None when not measured), weight, note."""
    factors = ((score.explanation or {}).get("health") or {}).get("factors") or {}
    rows = []
    for key, label in HEALTH_FACTORS.items():
        factor = factors.get(key)
        if factor is None:
            continue
        value = factor.get("value")
        note = ""
        if key == "service" and value is None:
            note = _("not measured until tickets exist; left out")
        elif key == "frequency_trend" and factor.get("recent_orders") is not None:
            recent = factor.get("recent_orders") or 0
            note = ngettext(
                "%(recent)s order in the last %(days)s days, %(prior)s in the ones before",
                "%(recent)s orders in the last %(days)s days, %(prior)s in the ones before",
                recent,
            ) % {
                "recent": recent,
                "prior": factor.get("prior_orders"),
                "days": factor.get("window_days"),
            }
        rows.append(
            {
                "label": label,
                "value": None if value is None else round(100 * float(value)),
                "weight": factor.get("weight"),
                "note": note,
            }
        )
    return rows


def scores_context(user, customer_id: int) -> dict:
    """Context of the scores card for ``user`` (empty when they may not see scores)."""
    if not user.has_perm("analytics.view_customerscore"):
        return {}
    data = selectors.customer_analytics(
        customer_id,
        affinities=5 if user.has_perm("analytics.view_categoryaffinity") else 0,
        patterns=user.has_perm("analytics.view_periodicpattern"),
        stage_changes=5 if user.has_perm("analytics.view_lifecyclechange") else 0,
    )
    context = {"show_scores": True, "scores": data}
    score = data.score if data else None
    if score is not None:
        explanation = score.explanation or {}
        context |= {
            "score": score,
            "tier_why": tier_why(score),
            "stage_why": stage_why(score),
            "stage_label": stage_label(score.lifecycle_stage),
            "stage_changes": [
                {
                    "at": change.changed_at,
                    "from": stage_label(change.from_stage),
                    "to": stage_label(change.to_stage),
                }
                for change in data.stage_changes
            ],
            "health_factors": health_factors(score),
            "rfm": explanation.get("rfm") or {},
            "enough_data": score.churn_risk != CustomerScore.ChurnRisk.NOT_ENOUGH_DATA,
            "churn_pct": None if score.p_alive is None else round(100 * (1 - score.p_alive)),
        }
    return context
