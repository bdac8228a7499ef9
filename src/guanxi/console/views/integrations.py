"""Store integrations in the console: stores and their tracker snippet, dead letters (replay),
inbound webhook log, outbound webhook subscriptions and their delivery log."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from guanxi.core.permissions import console_view
from guanxi.integrations import selectors, services
from guanxi.integrations.models import DeadLetter, EventKind, WebhookDelivery

PAGE_SIZE = 20


@console_view("integrations.view_store")
@require_safe
def integrations(request):
    letters = Paginator(selectors.dead_letters(), PAGE_SIZE).get_page(request.GET.get("dl"))
    inbound = Paginator(selectors.inbound_log(), PAGE_SIZE).get_page(request.GET.get("in"))
    return render(
        request,
        "console/integrations.html",
        {
            "section": "integrations",
            "tab": "stores",
            "stores": list(selectors.stores()),
            "letters": letters,
            "inbound": inbound,
            "crm_origin": request.build_absolute_uri("/").rstrip("/"),
            "can_replay": request.user.has_perm("integrations.change_deadletter"),
        },
    )


@console_view("integrations.change_deadletter")
@require_POST
def replay(request, pk: int):
    letter = get_object_or_404(DeadLetter, pk=pk)
    if services.replay_dead_letter(letter):
        messages.success(request, _("Replayed: the payload is now in Guanxi."))
    else:
        messages.error(request, _("Still cannot be mapped: %(reason)s") % {"reason": letter.reason})
    return redirect("console:integrations")


@console_view("integrations.view_webhooksubscription")
@require_safe
def webhooks(request):
    page = Paginator(selectors.deliveries(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/integrations_webhooks.html",
        {
            "section": "integrations",
            "tab": "webhooks",
            "subscriptions": list(selectors.subscriptions()),
            "page": page,
            "event_kinds": EventKind.choices,
            "can_add": request.user.has_perm("integrations.add_webhooksubscription"),
            "can_redeliver": request.user.has_perm("integrations.change_webhookdelivery"),
        },
    )


@console_view("integrations.add_webhooksubscription")
@require_POST
def add_subscription(request):
    url = request.POST.get("url", "").strip()
    kinds = [k for k in request.POST.getlist("event_types") if k in EventKind.values]
    try:
        sub = services.create_subscription(url, kinds)
    except ValueError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("Subscribed %(url)s. Signing secret (shown once here, kept in Guanxi): %(secret)s")
            % {"url": sub.url, "secret": sub.secret},
        )
    return redirect("console:integrations_webhooks")


@console_view("integrations.change_webhookdelivery")
@require_POST
def redeliver(request, pk: int):
    services.redeliver(get_object_or_404(WebhookDelivery, pk=pk))
    messages.success(request, _("Sent again."))
    return redirect("console:integrations_webhooks")
