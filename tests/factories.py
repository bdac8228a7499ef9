"""Plain-function factories: real rows through the real services."""

import datetime as dt
from decimal import Decimal

from guanxi.commerce.models import Order
from guanxi.customers import services as customer_services


def make_customer(**fields):
    fields.setdefault("first_name", "Mei")
    fields.setdefault("last_name", "Chen")
    emails = fields.pop("emails", ["mei.chen@example.com"])
    return customer_services.create_customer(emails=emails, **fields)


def make_order(customer=None, *, external_id="A-1", total="10.00", placed_at=None, **fields):
    return Order.objects.create(
        source=fields.pop("source", "webshop"),
        external_id=external_id,
        customer=customer,
        currency=fields.pop("currency", "USD"),
        subtotal=Decimal(total),
        total=Decimal(total),
        placed_at=placed_at or dt.datetime(2025, 5, 1, 12, tzinfo=dt.UTC),
        **fields,
    )
