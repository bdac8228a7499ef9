"""Analytics fixtures: a hand-made store whose scores can be worked out on paper, and Spark."""

import datetime as dt
from decimal import Decimal

import pytest

from guanxi.commerce.models import Order
from guanxi.customers.models import Customer
from tests.factories import make_customer

AS_OF = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

# name: [(days before AS_OF, total, kind, status), ...]. See tests/analytics/test_scoring.py for
# the scores this gives, worked out by hand.
HAND_ORDERS = {
    "c1": [(305, 100), (245, 100), (185, 200), (125, 200), (65, 200), (5, 200)],
    "c2": [(100, 50), (70, 50), (40, 50), (10, 50)],
    "c3": [(210, 10), (185, 10), (160, 10), (135, 10), (110, 20), (85, 20), (60, 20)],
    "c4": [(3, 20)],
    "c5": [(50, 20), (20, 20)],
    "c6": [(80, 30)],
    # 600 bought, 100 returned: 500 net.
    "c7": [(430, 100), (360, 100), (290, 100), (220, 100), (150, 200), (145, -100, "return")],
    "c8": [(600, 20), (500, 20), (400, 20)],
    # The cancelled order counts for nothing: not revenue, not recency.
    "c9": [(260, 5), (200, 5), (1, 999, "order", "cancelled")],
    "c10": [(530, 25), (500, 25)],
    "p": [],  # a prospect: no order
}


def days_before(days: float, as_of: dt.datetime = AS_OF) -> dt.datetime:
    return as_of - dt.timedelta(days=days)


def add_order(customer, days, total, kind="order", status="completed", *, as_of=AS_OF, ref=""):
    return Order.objects.create(
        source="webshop",
        external_id=f"{customer.pk}-{ref or days}-{kind}-{status}",
        customer=customer,
        kind=kind,
        status=status,
        currency="USD",
        subtotal=Decimal(total),
        total=Decimal(total),
        placed_at=days_before(days, as_of),
    )


@pytest.fixture
def hand_store(db) -> dict[str, Customer]:
    """Eleven customers, created in the order of ``HAND_ORDERS`` (so ids rise c1 → p)."""
    customers = {}
    for name, orders in HAND_ORDERS.items():
        customer = make_customer(first_name=name.upper(), emails=[f"{name}@example.com"])
        Customer.objects.filter(pk=customer.pk).update(created_at=days_before(700))
        for order in orders:
            add_order(customer, *order)
        customers[name] = customer
    return customers


@pytest.fixture(scope="session")
def spark():
    """One local Spark session for the whole test session (the engine's own, reused)."""
    pytest.importorskip("pyspark")
    from guanxi.analytics.engine import spark_session

    return spark_session()
