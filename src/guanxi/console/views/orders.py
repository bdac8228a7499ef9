"""Orders list and the order page (lines as bought, customer or guest, returns)."""

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from guanxi.commerce import selectors
from guanxi.commerce.models import Order
from guanxi.console.forms import OrderFilterForm
from guanxi.core.permissions import console_view

PAGE_SIZE = 25


@console_view("commerce.view_order")
@require_safe
def order_list(request):
    form = OrderFilterForm(request.GET or None, sources=selectors.order_filter_choices()["sources"])
    orders = selectors.list_orders(
        form.query(), form.filters(), request.GET.get("sort") or "-placed"
    )
    page = Paginator(orders, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/order_list.html",
        {
            "section": "orders",
            "form": form,
            "page": page,
            "store_is_empty": not page.object_list and not selectors.has_orders(),
        },
    )


@console_view("commerce.view_order")
@require_safe
def order_detail(request, pk: int):
    try:
        order = selectors.get_order(pk)
    except Order.DoesNotExist:
        raise Http404(_("No such order.")) from None
    return render(
        request,
        "console/order_detail.html",
        {
            "section": "orders",
            "order": order,
            "lines": list(order.lines.all()),
            "can_view_customer": request.user.has_perm("customers.view_customer"),
        },
    )
