"""Public endpoints: store webhooks (``/hooks/…``) and the tracker's collection (``/t/…``).

No session, no CSRF: each request proves itself — webhooks with the shop's HMAC signature, the
tracker with the store's public key (and, in browsers, an allowed origin).
"""

import json

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from guanxi.integrations import services

MAX_BODY = 2 * 1024 * 1024


def _client_addr(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def _hook(platform: str):
    @csrf_exempt
    @require_http_methods(["POST"])
    def view(request):
        body = request.body
        if len(body) > MAX_BODY:
            return JsonResponse({"status": "rejected", "detail": "payload too large"}, status=413)
        outcome = services.receive_webhook(platform, request.headers, body, _client_addr(request))
        return JsonResponse(
            {"status": outcome.status, "detail": outcome.detail}, status=outcome.http_status
        )

    view.__name__ = f"{platform}_webhook"
    return view


shopify_webhook = _hook("shopify")
woocommerce_webhook = _hook("woocommerce")


def _cors(response, request, store) -> HttpResponse:
    origin = request.headers.get("Origin", "").rstrip("/")
    if origin and store is not None and origin in store.origins:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Methods"] = "POST, OPTIONS"
        response["Access-Control-Allow-Headers"] = "Content-Type"
        response["Access-Control-Max-Age"] = "86400"
        response["Vary"] = "Origin"
    return response


@csrf_exempt
@require_http_methods(["POST", "OPTIONS"])
def collect(request, public_key: str):
    """``POST /t/<public key>/collect``: tracker events of one visitor (JSON, sent as
    text/plain by the snippet so browsers need no pre-flight)."""
    store = services.store_for_key(public_key)
    if store is None:
        return JsonResponse({"error": "unknown or inactive key"}, status=401)
    origin = request.headers.get("Origin", "").rstrip("/")
    if origin and store.origins and origin not in store.origins:
        return JsonResponse({"error": "origin not allowed"}, status=403)
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204), request, store)
    if services.rate_limited(public_key, _client_addr(request)):
        return _cors(JsonResponse({"error": "rate limited"}, status=429), request, store)
    if len(request.body) > 64 * 1024:
        return _cors(JsonResponse({"error": "payload too large"}, status=413), request, store)
    try:
        payload = json.loads(request.body or b"null")
        result = services.collect(store, payload)
    except ValueError as exc:  # TrackerError, bad JSON
        return _cors(JsonResponse({"error": str(exc)}, status=400), request, store)
    return _cors(JsonResponse(result, status=202), request, store)
