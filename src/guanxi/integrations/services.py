"""Store integrations: verified webhooks in (→ commerce/customers ingestion), dead letters,
the tracker's collection, and outbound webhooks (signed, retried with back-off, logged)."""

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pyarrow as pa
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from guanxi.commerce import services as commerce
from guanxi.commerce.services import ImportRejected
from guanxi.customers import selectors as customer_selectors
from guanxi.customers import services as customer_services
from guanxi.customers.services import BatchRejected, CustomerError
from guanxi.integrations import mapping
from guanxi.integrations.mapping import MappingError
from guanxi.integrations.models import (
    DeadLetter,
    EventKind,
    InboundWebhook,
    Store,
    Visitor,
    WebhookDelivery,
    WebhookSubscription,
)

log = logging.getLogger("guanxi.integrations")

# Errors that mean "this payload cannot be mapped" (→ dead letter), never a 500.
UNMAPPABLE = (MappingError, BatchRejected, ImportRejected, CustomerError, ValueError, TypeError)


def store_secret(store: Store) -> str:
    """The webhook secret: ``GUANXI_WEBHOOK_SECRETS[shop_domain]`` from the environment wins
    over the one stored on the store."""
    return settings.GUANXI_WEBHOOK_SECRETS.get(store.shop_domain) or store.webhook_secret


def sign_base64(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body, as Shopify and WooCommerce sign webhooks."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_base64(secret: str, body: bytes, signature: str | None) -> bool:
    if not secret or not signature:
        return False
    return hmac.compare_digest(sign_base64(secret, body), signature.strip())


# --- Webhooks in ------------------------------------------------------------------------------


@dataclass
class WebhookOutcome:
    http_status: int
    status: str
    detail: str = ""


PLATFORM_HEADERS = {
    # platform: (domain header, signature header, topic header, id header)
    "shopify": (
        "X-Shopify-Shop-Domain",
        "X-Shopify-Hmac-Sha256",
        "X-Shopify-Topic",
        "X-Shopify-Webhook-Id",
    ),
    "woocommerce": (
        "X-WC-Webhook-Source",
        "X-WC-Webhook-Signature",
        "X-WC-Webhook-Topic",
        "X-WC-Webhook-Delivery-ID",
    ),
}


def _domain(value: str | None) -> str:
    value = (value or "").strip()
    if "//" in value:
        value = urlsplit(value).netloc
    return value.split("/")[0].lower()


def receive_webhook(platform: str, headers, body: bytes, remote_addr: str = "") -> WebhookOutcome:
    """Verify and process one webhook delivery.

    401 for an unknown store or a bad signature (logged); 200 for everything verified: processed,
    a re-delivery (no-op), an ignored topic, or a payload kept as a dead letter.
    """
    domain_header, sig_header, topic_header, id_header = PLATFORM_HEADERS[platform]
    domain = _domain(headers.get(domain_header))
    topic = (headers.get(topic_header) or "")[:64]
    webhook_id = (headers.get(id_header) or "")[:128]
    store = Store.objects.filter(shop_domain=domain, platform=platform, is_active=True).first()

    def record(status, reason="", store=store):
        InboundWebhook.objects.create(
            store=store,
            platform=platform,
            topic=topic,
            webhook_id=webhook_id,
            status=status,
            reason=reason[:500],
            remote_addr=remote_addr[:64],
        )

    if store is None:
        log.warning("webhook refused: unknown %s store %r from %s", platform, domain, remote_addr)
        record(InboundWebhook.Status.REJECTED, f"unknown store {domain!r}", store=None)
        return WebhookOutcome(401, "rejected", "unknown store")
    if not verify_base64(store_secret(store), body, headers.get(sig_header)):
        log.warning(
            "webhook refused: bad signature for %s (%s) from %s", domain, topic, remote_addr
        )
        record(InboundWebhook.Status.REJECTED, "bad signature")
        return WebhookOutcome(401, "rejected", "bad signature")
    if platform == "woocommerce" and not topic and body.startswith(b"webhook_id="):
        record(InboundWebhook.Status.IGNORED, "ping")  # WooCommerce's test delivery
        return WebhookOutcome(200, "ignored", "ping")
    if (
        webhook_id
        and InboundWebhook.objects.filter(
            store=store,
            webhook_id=webhook_id,
            status__in=[InboundWebhook.Status.PROCESSED, InboundWebhook.Status.DEAD_LETTER],
        ).exists()
    ):
        record(InboundWebhook.Status.DUPLICATE)
        return WebhookOutcome(200, "duplicate")
    handler = HANDLERS.get((platform, topic))
    if handler is None:
        record(InboundWebhook.Status.IGNORED, f"topic {topic!r} is not handled")
        return WebhookOutcome(200, "ignored", f"topic {topic!r} is not handled")
    try:
        apply_payload(store, topic, body)
    except UNMAPPABLE as exc:
        reason = str(exc)
        DeadLetter.objects.create(
            store=store,
            topic=topic,
            webhook_id=webhook_id,
            body=body.decode("utf-8", "replace"),
            reason=reason,
        )
        log.warning("webhook %s %s kept as a dead letter: %s", topic, webhook_id, reason)
        record(InboundWebhook.Status.DEAD_LETTER, reason)
        return WebhookOutcome(200, "dead_letter", reason)
    record(InboundWebhook.Status.PROCESSED)
    return WebhookOutcome(200, "processed")


def apply_payload(store: Store, topic: str, body: bytes | str) -> None:
    """Map one payload and write it, all or nothing (raises one of ``UNMAPPABLE``)."""
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise MappingError("body", f"is not JSON ({exc})") from None
    if not isinstance(data, dict):
        raise MappingError("body", "must be a JSON object")
    handler = HANDLERS.get((store.platform, topic))
    if handler is None:
        raise MappingError("topic", "is not handled", topic)
    with transaction.atomic():
        handler(store, data)


def _unwrap(data: dict, key: str) -> dict:
    # Webhooks send the bare object; the REST API (and the fixtures) wrap it: {"order": {...}}.
    inner = data.get(key)
    return inner if isinstance(inner, dict) and len(data) == 1 else data


def upsert_order(store: Store, order: dict, *, update: bool = True) -> None:
    """Create the order (with its customer) or, when known and ``update``, bring its status up
    to date (a re-sent *create* of a known order changes nothing)."""
    if order["customer"]:
        customer_services.ingest_customers(
            [order["customer"]], source=store.source, update_existing=False, note=store.name
        )
    if commerce.order_for(store.source, order["external_id"]) is not None:
        if update:
            commerce.set_order_status(store.source, order["external_id"], order["status"])
    else:
        commerce.ingest_order_lines(
            pa.Table.from_pylist(order["lines"]), source=store.source, label=store.name
        )
    if order.get("discount_codes"):  # our coupons among them are redeemed (once per order)
        from guanxi.marketing import coupons

        coupons.redeem_codes(
            commerce.order_for(store.source, order["external_id"]), order["discount_codes"]
        )


def _shopify_order(store, data):
    upsert_order(store, mapping.shopify_order(_unwrap(data, "order")), update=False)


def _shopify_order_updated(store, data):
    upsert_order(store, mapping.shopify_order(_unwrap(data, "order")))


def _shopify_cancelled(store, data):
    order = mapping.shopify_order(_unwrap(data, "order"))
    order["status"] = "cancelled"
    for line in order["lines"]:
        line["status"] = "cancelled"
    upsert_order(store, order)


def _customer(store, row):
    customer_services.ingest_customers([row], source=store.source, note=store.name)


def _shopify_customer(store, data):
    _customer(store, mapping.shopify_customer(_unwrap(data, "customer")))


def _shopify_refund(store, data):
    refund = mapping.shopify_refund(_unwrap(data, "refund"))
    if commerce.order_for(store.source, refund["external_id"]) is not None:
        return  # already recorded
    original = commerce.order_for(store.source, refund["order_external_id"])
    if original is None:
        raise MappingError(
            "order_id", "the refunded order is not known (yet)", refund["order_external_id"]
        )
    customer_ext = None
    if original.customer_id:
        customer_ext = customer_selectors.identity_external_id(original.customer_id, store.source)
    rows = [
        {
            **line,
            "order_id": refund["external_id"],
            "placed_at": refund["placed_at"],
            "customer_id": customer_ext,
            "currency": refund["currency"] or original.currency,
            "kind": "return",
            "status": "refunded",
            "country": original.country,
            "email": original.guest_email or None,
        }
        for line in refund["lines"]
    ]
    commerce.ingest_order_lines(pa.Table.from_pylist(rows), source=store.source, label=store.name)


def _shopify_fulfillment(store, data):
    shipment = mapping.shopify_fulfillment(_unwrap(data, "fulfillment"))
    commerce.record_shipment(source=store.source, **shipment)


def _woo_order(store, data):
    upsert_order(store, mapping.woo_order(data), update=False)


def _woo_order_updated(store, data):
    upsert_order(store, mapping.woo_order(data))


def _woo_customer(store, data):
    _customer(store, mapping.woo_customer(data))


HANDLERS = {
    ("shopify", "orders/create"): _shopify_order,
    ("shopify", "orders/updated"): _shopify_order_updated,
    ("shopify", "orders/paid"): _shopify_order_updated,
    ("shopify", "orders/cancelled"): _shopify_cancelled,
    ("shopify", "refunds/create"): _shopify_refund,
    ("shopify", "customers/create"): _shopify_customer,
    ("shopify", "customers/update"): _shopify_customer,
    ("shopify", "fulfillments/create"): _shopify_fulfillment,
    ("woocommerce", "order.created"): _woo_order,
    ("woocommerce", "order.updated"): _woo_order_updated,
    ("woocommerce", "customer.created"): _woo_customer,
    ("woocommerce", "customer.updated"): _woo_customer,
}


def replay_dead_letter(letter: DeadLetter) -> bool:
    """Try a dead letter again (after the mapping or the data was fixed). True when it went
    through; otherwise the new reason is kept and it stays pending."""
    if letter.status == DeadLetter.Status.REPLAYED:
        return True
    try:
        apply_payload(letter.store, letter.topic, letter.body)
    except UNMAPPABLE as exc:
        letter.attempts += 1
        letter.reason = str(exc)
        letter.save(update_fields=["attempts", "reason", "updated_at"])
        return False
    letter.attempts += 1
    letter.status = DeadLetter.Status.REPLAYED
    letter.replayed_at = timezone.now()
    letter.save(update_fields=["attempts", "status", "replayed_at", "updated_at"])
    return True


def replay_dead_letters(ids=None) -> tuple[int, int]:
    """Replay pending dead letters (all, or those in ``ids``); returns (replayed, still failing)."""
    letters = DeadLetter.objects.filter(status=DeadLetter.Status.PENDING).select_related("store")
    if ids:
        letters = letters.filter(pk__in=ids)
    ok = failed = 0
    for letter in letters.order_by("created_at", "id"):
        if replay_dead_letter(letter):
            ok += 1
        else:
            failed += 1
    return ok, failed


# --- Tracker ----------------------------------------------------------------------------------

TRACKER_TYPES = {
    "viewed_product": "viewed_product",
    "added_to_cart": "added_to_cart",
    "searched": "searched",
    "page_view": "page_view",
    "identify": "identified",
}


class TrackerError(ValueError):
    pass


def store_for_key(public_key: str) -> Store | None:
    return Store.objects.filter(public_key=public_key, is_active=True).first()


def collect(store: Store, payload: Any) -> dict[str, int]:
    """Store a batch of tracker events from one visitor: ``{"anonymous_id": "...", "events":
    [{"id", "type", "at", "product", "query", "properties", "email", "customer_id", ...}]}``.
    ``identify`` links the visitor to a customer and stitches its earlier events."""
    if not isinstance(payload, dict):
        raise TrackerError("body must be a JSON object")
    anonymous_id = str(payload.get("anonymous_id") or "")[:128]
    if not anonymous_id:
        raise TrackerError("anonymous_id is required")
    events = payload.get("events")
    if not isinstance(events, list) or not events or len(events) > 100:
        raise TrackerError("events must be a list of 1 to 100 events")
    rows, identifies = [], []
    now = timezone.now().isoformat()
    for i, event in enumerate(events):
        if not isinstance(event, dict) or event.get("type") not in TRACKER_TYPES:
            raise TrackerError(f"events[{i}].type must be one of {', '.join(TRACKER_TYPES)}")
        props = event.get("properties") if isinstance(event.get("properties"), dict) else {}
        if event.get("query"):
            props = {**props, "query": str(event["query"])[:200]}
        if event.get("url"):
            props = {**props, "url": str(event["url"])[:500]}
        if event["type"] == "identify":
            identifies.append(event)
            props = {**props, "email": str(event.get("email") or "")[:254]}
        event_id = str(event.get("id") or uuid.uuid4())[:100]
        rows.append(
            {
                "external_id": f"t:{event_id}",
                "event_type": TRACKER_TYPES[event["type"]],
                "anonymous_id": anonymous_id,
                "sku": str(event["product"])[:128] if event.get("product") else None,
                "properties": props,
                "occurred_at": event.get("at") or now,
            }
        )
    with transaction.atomic():
        customer_id = None
        for event in identifies:
            customer_id = identify(store, anonymous_id, event)
        try:
            created = commerce.ingest_events(rows, source=store.source)
        except BatchRejected as exc:
            first = exc.errors[0]
            raise TrackerError(f"events[{first.index}].{first.field} {first.reason}") from None
        linked = Visitor.objects.filter(store=store, anonymous_id=anonymous_id).first()
        stitched = 0
        if linked is not None:
            customer_id = linked.customer_id
            stitched = commerce.stitch_anonymous_events(anonymous_id, customer_id)
    return {"received": len(rows), "created": created, "stitched": stitched}


def identify(store: Store, anonymous_id: str, event: dict) -> int:
    """Find (or create) the customer a visitor says it is: by the store's customer id, then by
    email; remember the link. Returns the customer id."""
    email = str(event.get("email") or "").strip()
    ext = str(event.get("customer_id") or "").strip()
    if not email and not ext:
        raise TrackerError("identify needs an email or a customer_id")
    if email and "@" not in email:
        raise TrackerError("identify: email is not an email address")
    customer_id = None
    if ext:
        customer_id = customer_services.customer_ids_for_identities(store.source, [ext]).get(ext)
    if customer_id is None and email:
        customer_id = customer_selectors.customer_id_for_email(email)
    if customer_id is None:
        row = {"external_id": ext or f"email:{email.lower()}"[:128]}
        if email:
            row["email"] = email
        for key in ("first_name", "last_name"):
            if event.get(key):
                row[key] = str(event[key])[:150]
        result = customer_services.ingest_customers(
            [row], source=store.source, note="tracker identify"
        )
        customer_id = result.ids[row["external_id"]]
    Visitor.objects.update_or_create(
        store=store, anonymous_id=anonymous_id, defaults={"customer_id": customer_id}
    )
    return customer_id


def rate_limited(key: str, remote_addr: str) -> bool:
    """At most GUANXI_TRACKER_RATE_LIMIT requests per minute per (store key, client address)."""
    from django.core.cache import cache

    bucket = f"gx-t:{key}:{remote_addr}:{int(time.time() // 60)}"
    if cache.add(bucket, 1, timeout=90):
        return False
    try:
        count = cache.incr(bucket)
    except ValueError:
        return False
    return count > settings.GUANXI_TRACKER_RATE_LIMIT


# --- Outbound webhooks ------------------------------------------------------------------------


def sign_outbound(secret: str, timestamp: int, body: bytes) -> str:
    """``X-Guanxi-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
    message = str(timestamp).encode() + b"." + body
    return "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def publish_event(kind: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """Queue ``kind`` (one of :class:`EventKind`) with ``payload`` for every active subscription
    that wants it; each delivery runs on the job queue after the current transaction commits.
    This is the one entry point other apps (or their signal receivers) call."""
    if kind not in EventKind.values:
        raise ValueError(f"unknown event kind {kind!r}")
    event_id = str(uuid.uuid4())
    body = {"id": event_id, "type": kind, "created_at": timezone.now().isoformat(), "data": payload}
    deliveries = [
        WebhookDelivery.objects.create(
            subscription=sub,
            event_id=event_id,
            kind=kind,
            payload=json.loads(json.dumps(body, default=str)),
            next_attempt_at=timezone.now(),
        )
        for sub in WebhookSubscription.objects.filter(is_active=True)
        if sub.wants(kind)
    ]
    if deliveries:
        from guanxi.integrations.tasks import deliver_webhook

        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: [deliver_webhook(pk) for pk in ids])
    return deliveries


def backoff_seconds(attempt: int) -> float:
    """Delay before retry number ``attempt`` (1, 2, …): base × 2^(attempt−1), capped."""
    base = settings.GUANXI_WEBHOOK_RETRY_BASE_SECONDS
    return min(base * 2 ** (attempt - 1), 6 * 3600)


def attempt_delivery(delivery: WebhookDelivery) -> float | None:
    """POST the delivery once. Returns the delay before the next try, or None when done
    (delivered, or given up after GUANXI_WEBHOOK_MAX_ATTEMPTS)."""
    if delivery.status != WebhookDelivery.Status.PENDING:
        return None
    sub = delivery.subscription
    body = json.dumps(delivery.payload, separators=(",", ":")).encode()
    timestamp = int(time.time())
    request = urllib.request.Request(  # noqa: S310 - subscriptions are http(s) URLs
        sub.url,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Guanxi-Webhooks/1",
            "X-Guanxi-Event": delivery.kind,
            "X-Guanxi-Delivery": str(delivery.pk),
            "X-Guanxi-Event-Id": delivery.event_id,
            "X-Guanxi-Timestamp": str(timestamp),
            "X-Guanxi-Signature": sign_outbound(sub.secret, timestamp, body),
        },
    )
    delivery.attempts += 1
    code, error = None, ""
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310
            code = response.status
    except urllib.error.HTTPError as exc:
        code, error = exc.code, f"HTTP {exc.code}"
    except (urllib.error.URLError, OSError) as exc:
        error = str(getattr(exc, "reason", exc))
    delivery.last_status_code = code
    delivery.last_error = error[:500]
    delay = None
    if code is not None and 200 <= code < 300:
        delivery.status = WebhookDelivery.Status.SUCCEEDED
        delivery.delivered_at = timezone.now()
        delivery.next_attempt_at = None
    elif delivery.attempts >= settings.GUANXI_WEBHOOK_MAX_ATTEMPTS:
        delivery.status = WebhookDelivery.Status.FAILED
        delivery.next_attempt_at = None
    else:
        delay = backoff_seconds(delivery.attempts)
        delivery.next_attempt_at = timezone.now() + timezone.timedelta(seconds=delay)
    delivery.save()
    return delay


def redeliver(delivery: WebhookDelivery) -> None:
    """Send a failed (or delivered) delivery again from the console: a fresh round of tries."""
    delivery.status = WebhookDelivery.Status.PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = timezone.now()
    delivery.save()
    from guanxi.integrations.tasks import deliver_webhook

    deliver_webhook(delivery.pk)


def create_store(
    *,
    name: str,
    platform: str,
    shop_domain: str,
    source: str | None = None,
    origins=(),
    webhook_secret: str = "",
) -> Store:
    domain = _domain(shop_domain)
    if platform not in Store.Platform.values:
        raise ValueError(f"platform must be one of {', '.join(Store.Platform.values)}")
    if not domain:
        raise ValueError("shop domain is required")
    return Store.objects.create(
        name=name,
        platform=platform,
        shop_domain=domain,
        source=(source or domain)[:64],
        allowed_origins="\n".join(origins),
        webhook_secret=webhook_secret,
    )


def create_subscription(url: str, event_types=(), store: Store | None = None):
    from django.core.exceptions import ValidationError
    from django.core.validators import URLValidator

    try:
        URLValidator(schemes=["http", "https"])(url)
    except ValidationError:
        raise ValueError(f"{url!r} is not an http(s) URL") from None
    unknown = set(event_types) - set(EventKind.values)
    if unknown:
        raise ValueError(f"unknown event kind(s): {', '.join(sorted(unknown))}")
    return WebhookSubscription.objects.create(url=url, event_types=list(event_types), store=store)


def deactivate_subscription(subscription: WebhookSubscription) -> WebhookSubscription:
    subscription.is_active = False
    subscription.save(update_fields=["is_active", "updated_at"])
    return subscription
