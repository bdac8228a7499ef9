"""Template helpers for the console: money, sortable column headers, badges."""

from decimal import Decimal, InvalidOperation

from django import template
from django.template.defaultfilters import floatformat
from django.utils import formats
from django.utils.html import format_html

register = template.Library()

VALIDITY_BADGES = {
    "valid": "ok",
    "unverified": "muted",
    "bouncing": "warn",
    "invalid": "bad",
}
STATUS_BADGES = {
    "pending": "muted",
    "paid": "info",
    "shipped": "info",
    "delivered": "ok",
    "completed": "ok",
    "cancelled": "bad",
    "returned": "warn",
    "refunded": "warn",
    "reachable": "ok",
    "unreachable": "bad",
    # integrations and identity resolution
    "processed": "ok",
    "duplicate": "muted",
    "rejected": "bad",
    "dead_letter": "warn",
    "ignored": "muted",
    "succeeded": "ok",
    "failed": "bad",
    "merged": "ok",
    "auto_merged": "ok",
    "kept_apart": "muted",
}


@register.filter
def money(value, currency: str = "") -> str:
    """``1234.5`` → ``1,234.50 GBP`` (grouped in the active language's style)."""
    if value is None or value == "":
        return "—"
    try:
        value = Decimal(value)
    except (InvalidOperation, TypeError, ValueError):
        return str(value)
    text = floatformat(value, "2g")
    return f"{text} {currency}".strip()


@register.filter
def validity_badge(value: str) -> str:
    return VALIDITY_BADGES.get(value, "muted")


@register.filter
def status_badge(value: str) -> str:
    return STATUS_BADGES.get(value, "muted")


@register.simple_tag(takes_context=True)
def sort_header(context, key: str, label: str, param: str = "sort", default: str = "") -> str:
    """A column header that sorts by ``key``; clicking again reverses; keeps other filters."""
    request = context["request"]
    current = request.GET.get(param) or default
    params = request.GET.copy()
    params.pop("page", None)
    if current == key:
        target, arrow, state = f"-{key}", "▲", "ascending"
    elif current == f"-{key}":
        target, arrow, state = key, "▼", "descending"
    else:
        target, arrow, state = key, "", "none"
    params[param] = target
    return format_html(
        '<a class="sort" href="?{}" aria-sort="{}">{}<span class="sort-arrow">{}</span></a>',
        params.urlencode(),
        state,
        label,
        arrow,
    )


@register.simple_tag(takes_context=True)
def query_with(context, **changes) -> str:
    """The current query string with some parameters replaced (``None`` removes one)."""
    params = context["request"].GET.copy()
    for key, value in changes.items():
        if value is None or value == "":
            params.pop(key, None)
        else:
            params[key] = value
    return "?" + params.urlencode() if params else "?"


@register.filter
def initials(name: str) -> str:
    parts = [p for p in str(name).split() if p]
    if not parts:
        return "?"
    if not parts[0].isascii():
        return parts[0][0]  # a Chinese name: its first character (the family name)
    if len(parts) == 1:
        return parts[0][:2].upper()
    return (parts[0][0] + parts[-1][0]).upper()


@register.filter
def event_label(event_type: str) -> str:
    """A store event's type in words (``viewed_product`` → "viewed product")."""
    from guanxi.commerce.models import Event

    try:
        return Event.Type(event_type).label
    except ValueError:
        return str(event_type).replace("_", " ")


@register.filter
def role_labels(user) -> str:
    """The user's roles in words, e.g. "Marketer, Analyst"."""
    from guanxi.core.roles import ROLE_LABELS

    names = [g.name for g in user.groups.all()]
    return ", ".join(str(ROLE_LABELS.get(n, n)) for n in names)


@register.filter
def share(value, total) -> str:
    """``value`` as a percentage of ``total`` ("0.0"–"100.0", never localised), for CSS widths."""
    try:
        pct = float(value) / float(total) * 100 if total else 0.0
    except (TypeError, ValueError, ZeroDivisionError):
        pct = 0.0
    return f"{max(0.0, min(pct, 100.0)):.1f}"


@register.simple_tag(takes_context=True)
def page_url(context, param: str, number, anchor: str = "") -> str:
    """The current URL's query string with page parameter ``param`` set to ``number``."""
    params = context["request"].GET.copy()
    params[param] = number
    return "?" + params.urlencode() + (f"#{anchor}" if anchor else "")


@register.filter
def audit_value(value) -> str:
    """One side of an audit diff as text: booleans as yes/no, lists joined, empties as ""."""
    from django.utils.translation import gettext

    if value is None or value == "" or value == [] or value == {}:
        return ""
    if isinstance(value, bool):
        return gettext("yes") if value else gettext("no")
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


@register.filter
def percent(value, digits: int = 0) -> str:
    """0.123 → "12%" (localised number); empty for None."""
    if value in (None, ""):
        return ""
    return f"{formats.number_format(float(value) * 100, int(digits))}%"
