"""Public links in emails (no login: the signed token is the permission).

``/t/u/<token>/``  unsubscribe: GET shows a page with one button, POST unsubscribes (also the
                   RFC 8058 one-click POST a mail client sends); CSRF-exempt, the token is signed
``/t/p/<token>/``  preferences: marketing email on/off
``/t/confirm/<token>/``  double opt-in confirmation (valid 7 days)
``/t/o/<token>.gif``  open pixel;  ``/t/c/<token>/``  click redirect (only to URLs we signed)
"""

import base64
import contextlib

from django.core import signing
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from guanxi.core.models import AuditEntry
from guanxi.customers.models import Customer
from guanxi.marketing import services

PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


def _invalid(request):
    return render(request, "marketing/link_invalid.html", status=400)


@csrf_exempt
@never_cache
@require_http_methods(["GET", "POST"])
def unsubscribe(request, token):
    try:
        payload = services.read_token(token, services.UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return _invalid(request)
    if request.method == "POST":
        try:
            customer = services.unsubscribe(token, channel=AuditEntry.Channel.SYSTEM)
        except Customer.DoesNotExist:  # a test send's link, or an erased profile
            return _invalid(request)
        return render(request, "marketing/unsubscribed.html", {"customer": customer})
    return render(
        request, "marketing/unsubscribe.html", {"token": token, "customer_id": payload["c"]}
    )


@never_cache
@require_http_methods(["GET", "POST"])
def preferences(request, token):
    try:
        payload = services.read_token(token, services.PREFERENCES_SALT)
        customer = Customer.objects.get(pk=payload["c"])
    except (signing.BadSignature, Customer.DoesNotExist):
        return _invalid(request)
    saved = False
    if request.method == "POST":
        services.set_marketing_consent(customer, request.POST.get("marketing") == "on")
        customer.refresh_from_db()
        saved = True
    return render(request, "marketing/preferences.html", {"customer": customer, "saved": saved})


@never_cache
@require_safe
def confirm(request, token):
    try:
        customer = services.confirm_opt_in(token)
    except signing.SignatureExpired:
        return render(request, "marketing/link_invalid.html", {"expired": True}, status=400)
    except signing.BadSignature:
        return _invalid(request)
    return render(request, "marketing/confirmed.html", {"customer": customer})


@never_cache
@require_safe
def open_pixel(request, token):
    with contextlib.suppress(signing.BadSignature):  # a forged pixel records nothing
        services.record_open(token)
    return HttpResponse(PIXEL, content_type="image/gif")


@never_cache
@require_safe
def click(request, token):
    try:
        url = services.record_click(token)
    except signing.BadSignature:
        return _invalid(request)
    return HttpResponseRedirect(url)
