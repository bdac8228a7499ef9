"""Store payloads → Guanxi's ingestion rows. Pure functions: no database access here.

Each ``map_*`` returns plain dicts in the layouts of ``commerce.services`` /
``customers.services``, or raises :class:`MappingError` naming the field that is wrong.
"""

import datetime as dt
from decimal import Decimal, InvalidOperation
from typing import Any


class MappingError(ValueError):
    """The payload cannot be mapped; ``field`` names the culprit."""

    def __init__(self, field: str, reason: str, value: Any = None):
        shown = "" if value is None else f" (value {str(value)[:80]!r})"
        super().__init__(f"field {field!r}: {reason}{shown}")
        self.field = field


def _req(data: dict, key: str, where: str = "") -> Any:
    if not isinstance(data, dict):
        raise MappingError(where or key, "must be an object", data)
    value = data.get(key)
    if value is None or value == "":
        raise MappingError(f"{where}{key}", "is required")
    return value


def _time(value: Any, field: str) -> str:
    if not isinstance(value, str) or not value:
        raise MappingError(field, "is required (ISO 8601 date-time)", value)
    text = value.strip().replace("Z", "+00:00")
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:
        raise MappingError(field, "is not an ISO 8601 date-time", value) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).isoformat()


def _money(value: Any, field: str) -> str:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, TypeError):
        raise MappingError(field, "is not a number", value) from None
    if not amount.is_finite():
        raise MappingError(field, "is not a number", value)
    return str(amount)


def _qty(value: Any, field: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise MappingError(field, "is not a whole number", value)
    try:
        return int(value)
    except ValueError:
        raise MappingError(field, "is not a whole number", value) from None


def _address(raw: dict | None) -> dict | None:
    if not isinstance(raw, dict):
        return None
    address = {
        "line1": raw.get("address1") or "",
        "line2": raw.get("address2") or "",
        "city": raw.get("city") or "",
        "region": raw.get("province") or raw.get("state") or "",
        "postcode": raw.get("zip") or raw.get("postcode") or "",
        "country": raw.get("country_code") or raw.get("country") or "",
    }
    address = {k: str(v)[:200] for k, v in address.items()}
    return address if any(address.values()) else None


def _customer_row(
    external_id: Any, email, first, last, phone, address, consent=None, created=None
) -> dict:
    row: dict[str, Any] = {"external_id": str(external_id)}
    if email:
        row["email"] = str(email).strip()
    if first:
        row["first_name"] = str(first)[:150]
    if last:
        row["last_name"] = str(last)[:150]
    if phone:
        row["phone"] = str(phone)
    if address:
        row["address"] = address
    if consent is not None:
        row["consent_email_marketing"] = bool(consent)
    return row


# --- Shopify ----------------------------------------------------------------------------------

SHOPIFY_TOPICS = (
    "orders/create",
    "orders/updated",
    "orders/cancelled",
    "refunds/create",
    "customers/create",
    "customers/update",
    "fulfillments/create",
)


def shopify_order_status(order: dict) -> str:
    if order.get("cancelled_at"):
        return "cancelled"
    financial = order.get("financial_status") or "pending"
    fulfilled = order.get("fulfillment_status") == "fulfilled"
    if financial == "refunded":
        return "refunded"
    if financial == "voided":
        return "cancelled"
    if fulfilled:
        return "shipped"
    if financial in ("paid", "partially_refunded", "partially_paid"):
        return "paid"
    return "pending"


def shopify_customer(raw: dict) -> dict:
    default = raw.get("default_address") or {}
    consent = raw.get("accepts_marketing")
    marketing = raw.get("email_marketing_consent")
    if isinstance(marketing, dict) and marketing.get("state"):
        consent = marketing["state"] == "subscribed"
    return _customer_row(
        _req(raw, "id", "customer."),
        raw.get("email"),
        raw.get("first_name") or default.get("first_name"),
        raw.get("last_name") or default.get("last_name"),
        raw.get("phone") or default.get("phone"),
        _address(default),
        consent,
    )


def shopify_order(order: dict) -> dict:
    """→ {"external_id", "status", "customer": row|None, "lines": [canonical line rows]}."""
    if not isinstance(order, dict):
        raise MappingError("order", "must be an object", order)
    external_id = str(_req(order, "id"))
    placed_at = _time(order.get("created_at") or order.get("processed_at"), "created_at")
    currency = order.get("currency") or order.get("presentment_currency")
    status = shopify_order_status(order)
    customer = shopify_customer(order["customer"]) if order.get("customer") else None
    address = order.get("billing_address") or order.get("shipping_address") or {}
    items = order.get("line_items")
    if not isinstance(items, list) or not items:
        raise MappingError("line_items", "an order needs at least one line", items)
    email = order.get("email") or (customer or {}).get("email")
    lines = []
    for i, item in enumerate(items):
        where = f"line_items[{i}]."
        sku = item.get("sku") or (
            f"variant-{item['variant_id']}" if item.get("variant_id") else None
        )
        sku = sku or f"item-{_req(item, 'id', where)}"
        lines.append(
            {
                "order_id": external_id,
                "placed_at": placed_at,
                "customer_id": customer["external_id"] if customer else None,
                "sku": str(sku),
                "product_name": item.get("name") or item.get("title") or "",
                "quantity": str(_qty(_req(item, "quantity", where), where + "quantity")),
                "unit_price": _money(_req(item, "price", where), where + "price"),
                "currency": currency,
                "kind": "order",
                "status": status,
                "country": address.get("country_code") or address.get("country") or "",
                "email": email,
                "first_name": (customer or {}).get("first_name"),
                "last_name": (customer or {}).get("last_name"),
            }
        )
    codes = [str(d.get("code")) for d in order.get("discount_codes") or [] if isinstance(d, dict)]
    return {
        "external_id": external_id,
        "status": status,
        "customer": customer,
        "lines": lines,
        "discount_codes": [c for c in codes if c and c != "None"],
    }


def shopify_refund(refund: dict) -> dict:
    """→ {"external_id", "order_external_id", "placed_at", "currency", "lines": [...]}: a return
    (credit note) with negative quantities, as the importer stores returns."""
    refund_id = str(_req(refund, "id"))
    order_id = str(_req(refund, "order_id"))
    placed_at = _time(refund.get("created_at") or refund.get("processed_at"), "created_at")
    currency = None
    for txn in refund.get("transactions") or []:
        currency = currency or txn.get("currency")
    lines = []
    for i, item in enumerate(refund.get("refund_line_items") or []):
        where = f"refund_line_items[{i}]."
        line = item.get("line_item") or {}
        sku = line.get("sku") or (
            f"variant-{line['variant_id']}"
            if line.get("variant_id")
            else f"item-{item.get('line_item_id')}"
        )
        lines.append(
            {
                "sku": str(sku),
                "product_name": line.get("name") or line.get("title") or "",
                "quantity": str(-abs(_qty(_req(item, "quantity", where), where + "quantity"))),
                "unit_price": _money(line.get("price", "0"), where + "line_item.price"),
            }
        )
    if not lines:
        amount = sum(
            Decimal(_money(t.get("amount", "0"), "transactions.amount"))
            for t in refund.get("transactions") or []
            if t.get("kind") == "refund"
        )
        if amount <= 0:
            raise MappingError("refund_line_items", "a refund needs lines or a refund amount")
        lines.append(
            {"sku": "REFUND", "product_name": "Refund", "quantity": "-1", "unit_price": str(amount)}
        )
    return {
        "external_id": f"refund-{refund_id}",
        "order_external_id": order_id,
        "placed_at": placed_at,
        "currency": currency,
        "lines": lines,
    }


def shopify_fulfillment(data: dict) -> dict:
    return {
        "external_id": f"fulfillment-{_req(data, 'id')}",
        "order_external_id": str(_req(data, "order_id")),
        "shipped_at": _time(data.get("created_at"), "created_at"),
        "status": str(data.get("status") or ""),
        "carrier": str(data.get("tracking_company") or ""),
        "tracking_number": str(data.get("tracking_number") or ""),
        "tracking_url": str(data.get("tracking_url") or ""),
        "items": [
            {"sku": li.get("sku"), "quantity": li.get("quantity")}
            for li in data.get("line_items") or []
            if isinstance(li, dict)
        ],
    }


# --- WooCommerce ------------------------------------------------------------------------------

WOO_TOPICS = ("order.created", "order.updated", "customer.created", "customer.updated")
WOO_STATUS = {
    "pending": "pending",
    "on-hold": "pending",
    "processing": "paid",
    "completed": "completed",
    "cancelled": "cancelled",
    "failed": "cancelled",
    "refunded": "refunded",
    "trash": "cancelled",
}


def woo_customer(raw: dict) -> dict:
    billing = raw.get("billing") or {}
    return _customer_row(
        _req(raw, "id"),
        raw.get("email") or billing.get("email"),
        raw.get("first_name") or billing.get("first_name"),
        raw.get("last_name") or billing.get("last_name"),
        billing.get("phone"),
        _woo_address(billing),
    )


def _woo_address(raw: dict) -> dict | None:
    if not raw:
        return None
    return _address(
        {
            "address1": raw.get("address_1"),
            "address2": raw.get("address_2"),
            "city": raw.get("city"),
            "state": raw.get("state"),
            "postcode": raw.get("postcode"),
            "country": raw.get("country"),
        }
    )


def woo_order(order: dict) -> dict:
    external_id = str(_req(order, "id"))
    created = order.get("date_created_gmt") or order.get("date_created")
    if isinstance(created, str) and order.get("date_created_gmt") and "+" not in created:
        created = created + "+00:00"
    placed_at = _time(created, "date_created_gmt")
    status = WOO_STATUS.get(str(order.get("status") or "pending"))
    if status is None:
        raise MappingError("status", "is not a WooCommerce order status", order.get("status"))
    billing = order.get("billing") or {}
    customer = None
    if order.get("customer_id"):
        customer = _customer_row(
            order["customer_id"],
            billing.get("email"),
            billing.get("first_name"),
            billing.get("last_name"),
            billing.get("phone"),
            _woo_address(billing),
        )
    items = order.get("line_items")
    if not isinstance(items, list) or not items:
        raise MappingError("line_items", "an order needs at least one line", items)
    lines = []
    for i, item in enumerate(items):
        where = f"line_items[{i}]."
        sku = item.get("sku") or f"product-{_req(item, 'product_id', where)}"
        lines.append(
            {
                "order_id": external_id,
                "placed_at": placed_at,
                "customer_id": customer["external_id"] if customer else None,
                "sku": str(sku),
                "product_name": item.get("name") or "",
                "quantity": str(_qty(_req(item, "quantity", where), where + "quantity")),
                "unit_price": _money(_req(item, "price", where), where + "price"),
                "currency": order.get("currency"),
                "kind": "order",
                "status": status,
                "country": billing.get("country") or "",
                "email": billing.get("email"),
                "first_name": billing.get("first_name"),
                "last_name": billing.get("last_name"),
            }
        )
    codes = [
        str(c.get("code") or "") for c in order.get("coupon_lines") or [] if isinstance(c, dict)
    ]
    return {
        "external_id": external_id,
        "status": status,
        "customer": customer,
        "lines": lines,
        "discount_codes": [c for c in codes if c],
    }
