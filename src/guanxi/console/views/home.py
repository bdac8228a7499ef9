"""Console home: today's numbers and the chosen period's revenue, months and top products."""

from django.shortcuts import render
from django.utils import formats, timezone, translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from guanxi.commerce import selectors as commerce
from guanxi.console.forms import DateRangeForm
from guanxi.core.permissions import console_view


@console_view("commerce.view_order")
@require_safe
def home(request):
    today = timezone.now().astimezone(commerce.store_timezone()).date()
    form = DateRangeForm(request.GET or None)
    start, end = form.range(default_end=commerce.last_order_date() or today)
    summary = commerce.dashboard_summary(start, end)
    chart = {
        "currency": summary.currency,
        "locale": translation.get_language(),
        "revenue_label": _("Net revenue (%(currency)s)") % {"currency": summary.currency},
        "orders_label": _("Orders"),
        "labels": [
            formats.date_format(m.month, "YEAR_MONTH_FORMAT") for m in summary.revenue_by_month
        ],
        "revenue": [float(m.revenue) for m in summary.revenue_by_month],
        "orders": [m.orders for m in summary.revenue_by_month],
    }
    return render(
        request,
        "console/home.html",
        {
            "section": "home",
            "form": form,
            "summary": summary,
            "today": commerce.dashboard_summary(today, today, top=0),
            "revenue_chart": chart,
            "has_orders": bool(summary.orders or summary.returns) or commerce.has_orders(),
        },
    )
