"""Plain-function factories for console tests (orders through the ORM until a service exists)."""

import datetime as dt
import itertools
from decimal import Decimal

from django.utils import timezone

from guanxi.commerce.models import Event, Order, OrderLine, Product
from guanxi.customers.services import create_customer

_seq = itertools.count(1)


def make_customer(**fields):
    """A customer through the customers service (so it is audited like real ones)."""
    fields.setdefault("first_name", "Test")
    fields.setdefault("last_name", f"Customer{next(_seq)}")
    return create_customer(**fields)


def make_product(sku: str, name: str, price: str = "10.00", currency: str = "GBP") -> Product:
    product, _ = Product.objects.get_or_create(
        source="test",
        external_id=sku,
        defaults={"sku": sku, "name": name, "price": Decimal(price), "currency": currency},
    )
    return product


def make_order(
    customer=None,
    *,
    lines=(("SKU-1", "Mug", 1, "10.00"),),
    placed_at: dt.datetime | None = None,
    kind: str = Order.Kind.ORDER,
    status: str = Order.Status.COMPLETED,
    currency: str = "GBP",
    external_id: str | None = None,
    source: str = "test",
    guest_email: str = "",
    with_products: bool = True,
) -> Order:
    """An order with lines ``(sku, name, quantity, unit_price)``; a return negates totals."""
    sign = -1 if kind == Order.Kind.RETURN else 1
    built = []
    for sku, name, quantity, unit_price in lines:
        quantity = sign * abs(int(quantity))
        price = Decimal(unit_price)
        built.append((sku, name, quantity, price, price * quantity))
    total = sum((b[4] for b in built), Decimal("0"))
    order = Order.objects.create(
        source=source,
        external_id=external_id or f"T{next(_seq):06d}",
        kind=kind,
        status=status,
        customer=customer,
        guest_email=guest_email,
        currency=currency,
        subtotal=total,
        total=total,
        item_count=sum(abs(b[2]) for b in built),
        placed_at=placed_at or timezone.now(),
    )
    OrderLine.objects.bulk_create(
        OrderLine(
            order=order,
            line_no=i,
            product=make_product(sku, name, str(price), currency) if with_products else None,
            sku=sku,
            name=name,
            quantity=quantity,
            unit_price=price,
            currency=currency,
            line_total=line_total,
        )
        for i, (sku, name, quantity, price, line_total) in enumerate(built, start=1)
    )
    return order


def make_event(customer, event_type="viewed_product", *, product=None, occurred_at=None, **props):
    return Event.objects.create(
        source="test",
        external_id=f"E{next(_seq):06d}",
        event_type=event_type,
        customer=customer,
        product=product,
        properties=props,
        occurred_at=occurred_at or timezone.now(),
    )
