"""Customers list (search, filters, sort, CSV export), the customer 360 page and its editor."""

import csv
import itertools

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_safe

from guanxi.commerce import selectors as commerce
from guanxi.console.forms import CustomerEditForm, CustomerFilterForm
from guanxi.console.views.chains import recommendations_context
from guanxi.console.views.scores import scores_context
from guanxi.core.models import AuditEntry
from guanxi.core.permissions import console_view
from guanxi.customers import selectors
from guanxi.customers.models import Customer
from guanxi.customers.services import CustomerError, update_customer

PAGE_SIZE = 25
TIMELINE_PAGE_SIZE = 20
CSV_BATCH = 2000


def _search(request):
    form = CustomerFilterForm(request.GET or None, countries=selectors.customer_countries())
    currency = commerce.primary_currency()
    customers = selectors.search_customers(
        form.query(),
        form.filters(),
        request.GET.get("sort") or "-created",
        match_contacts=request.user.has_perm("customers.view_contactpoint"),
        currency=currency,
    )
    return form, customers, currency


@console_view("customers.view_customer")
@require_safe
def customer_list(request):
    form, customers, currency = _search(request)
    page = Paginator(customers, PAGE_SIZE).get_page(request.GET.get("page"))
    page.object_list = selectors.with_list_figures(page.object_list, currency)
    return render(
        request,
        "console/customer_list.html",
        {
            "section": "customers",
            "form": form,
            "page": page,
            "currency": currency,
            "store_is_empty": not page.object_list and not selectors.has_customers(),
            "show_contacts": request.user.has_perm("customers.view_contactpoint"),
        },
    )


def _cell(text: str) -> str:
    """Text as a CSV cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = text or ""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


class _Echo:
    def write(self, value):
        return value


@console_view("customers.view_customer")
@require_safe
def customer_export(request):
    """The current search and filters as CSV (UTF-8 with BOM so spreadsheets read Chinese)."""
    _form, customers, currency = _search(request)
    show_contacts = request.user.has_perm("customers.view_contactpoint")
    header = [
        "id",
        "name",
        "kind",
        "customer_type",
        "company_name",
        "country",
        "reachability",
        "orders",
        f"net_spent_{currency}",
        "last_order_at",
        "created_at",
    ] + (["email"] if show_contacts else [])

    def batches():
        batch = []
        for customer in customers.iterator(chunk_size=CSV_BATCH):
            batch.append(customer)
            if len(batch) == CSV_BATCH:
                yield selectors.with_list_figures(batch, currency)
                batch = []
        if batch:
            yield selectors.with_list_figures(batch, currency)

    def rows():
        yield header
        for c in itertools.chain.from_iterable(batches()):
            row = [
                c.pk,
                _cell(str(c.display_name)),
                c.kind,
                c.customer_type,
                _cell(c.company_name),
                _cell(c.country),
                c.reachability,
                c.order_count,
                f"{c.total_spent:.2f}",
                c.last_order_at.isoformat() if c.last_order_at else "",
                c.created_at.isoformat(),
            ]
            if show_contacts:
                row.append(_cell(c.primary_email))
            yield row

    writer = csv.writer(_Echo())

    def stream():
        yield "\ufeff"
        for row in rows():
            yield writer.writerow(row)

    stamp = timezone.now().strftime("%Y%m%d-%H%M")
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="customers-{stamp}.csv"'
    return response


def _timeline_kinds(user) -> list[str]:
    kinds = ["order", "change"]
    if user.has_perm("commerce.view_event"):
        kinds.insert(1, "event")
    if user.has_perm("service.view_ticket"):
        kinds.append("ticket")
    return kinds


@console_view("customers.view_customer")
@require_safe
def customer_detail(request, pk: int):
    try:
        c360 = selectors.get_customer_360(pk)
    except Customer.DoesNotExist:
        raise Http404(_("No such customer.")) from None
    customer = c360.customer
    if customer.merged_into_id:
        messages.info(
            request,
            _("%(name)s was merged into this profile.") % {"name": customer.display_name},
        )
        return redirect("console:customer_detail", pk=customer.merged_into_id)

    allowed = _timeline_kinds(request.user)
    selected = request.GET.get("tl", "")
    kinds = [selected] if selected in allowed else allowed
    timeline = selectors.customer_timeline(
        customer, request.GET.get("tl_page"), kinds=kinds, per_page=TIMELINE_PAGE_SIZE
    )
    user = request.user
    return render(
        request,
        "console/customer_detail.html",
        {
            "section": "customers",
            "c360": c360,
            "customer": customer,
            "timeline": timeline,
            "timeline_kinds": allowed,
            "timeline_selected": selected if selected in allowed else "",
            "can_edit": user.has_perm("customers.change_customer"),
            "show_contacts": user.has_perm("customers.view_contactpoint"),
            "show_addresses": user.has_perm("customers.view_address"),
            "show_identities": user.has_perm("customers.view_sourceidentity"),
            **scores_context(user, customer.pk),
            **recommendations_context(user, customer),
        },
    )


@console_view("customers.change_customer")
@require_http_methods(["GET", "HEAD", "POST"])
def customer_edit(request, pk: int):
    try:
        customer = selectors.get_customer(pk)
    except Customer.DoesNotExist:
        raise Http404(_("No such customer.")) from None
    if customer.merged_into_id:
        return redirect("console:customer_edit", pk=customer.merged_into_id)
    form = CustomerEditForm(request.POST or None, instance=customer)
    if request.method == "POST" and form.is_valid():
        changed = form.changed_fields()
        try:
            update_customer(
                customer, actor=request.user, channel=AuditEntry.Channel.CONSOLE, **changed
            )
        except CustomerError as error:
            form.add_error(error.field if error.field in form.fields else None, error.message)
        else:
            if changed:
                messages.success(request, _("Profile saved."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect("console:customer_detail", pk=customer.pk)
    return render(
        request,
        "console/customer_edit.html",
        {"section": "customers", "customer": customer, "form": form},
    )
