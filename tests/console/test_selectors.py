"""Reads behind the console: money rules, the merged timeline, dashboard figures."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from guanxi.commerce import selectors as commerce
from guanxi.commerce.models import Order
from guanxi.customers import selectors as customers
from guanxi.customers.models import Customer
from guanxi.customers.services import update_customer
from tests.console.factories import make_customer, make_event, make_order

pytestmark = pytest.mark.django_db

UTC = dt.UTC


def at(day: str, hour: int = 12) -> dt.datetime:
    return dt.datetime.fromisoformat(day).replace(hour=hour, tzinfo=UTC)


def test_order_stats_ignore_cancelled_and_subtract_returns_whatever_their_sign():
    c = make_customer()
    make_order(c, lines=[("A", "a", 2, "10.00")], placed_at=at("2026-01-05"))
    make_order(c, lines=[("A", "a", 1, "10.00")], placed_at=at("2026-02-05"), status="cancelled")
    make_order(c, kind="return", lines=[("A", "a", 1, "10.00")], placed_at=at("2026-02-06"))
    # A return stored with a positive total still counts against revenue.
    Order.objects.create(
        source="test",
        external_id="R-positive",
        kind="return",
        customer=c,
        currency="GBP",
        subtotal=Decimal("3"),
        total=Decimal("3"),
        placed_at=at("2026-02-07"),
    )
    make_order(c, lines=[("B", "b", 1, "7.00")], placed_at=at("2026-03-01"), currency="EUR")

    stats = commerce.customer_order_stats(c.pk)
    assert stats.order_count == 3 and stats.return_count == 2 and stats.cancelled_count == 1
    # 20 − 10 − 3 in GBP; 7 in EUR; largest first, ties by currency code.
    assert [(m.currency, m.amount) for m in stats.spent] == [
        ("EUR", Decimal("7.0000")),
        ("GBP", Decimal("7.0000")),
    ]
    assert stats.first_order_at == at("2026-01-05")
    assert stats.last_order_at == at("2026-03-01")

    row = customers.with_list_figures([c], "GBP")[0]
    assert row.order_count == 3
    assert Decimal(row.total_spent).quantize(Decimal("0.01")) == Decimal("7.00")
    assert row.last_order_at == at("2026-03-01")


def test_search_sorts_by_spend_and_keeps_page_order_when_loading_figures():
    low, high, none = make_customer(), make_customer(), make_customer()
    make_order(low, lines=[("A", "a", 1, "5.00")])
    make_order(high, lines=[("A", "a", 1, "50.00")])
    ranked = list(customers.search_customers("", {}, "-spent", currency="GBP"))
    assert ranked[:2] == [high, low] and ranked[2] == none
    loaded = customers.with_list_figures(ranked, "GBP")
    assert loaded == ranked
    assert [row.order_count for row in loaded] == [1, 1, 0]


def test_search_excludes_merged_profiles_and_matches_every_word():
    kept = make_customer(first_name="Wei", last_name="Zhang", company_name="Tea House")
    gone = make_customer(first_name="Wei", last_name="Zhang")
    Customer.objects.filter(pk=gone.pk).update(merged_into=kept)
    assert list(customers.search_customers("wei zhang")) == [kept]
    assert list(customers.search_customers("zhang tea")) == [kept]
    assert list(customers.search_customers("wei coffee")) == []


def test_timeline_is_one_newest_first_list_with_constant_queries(django_assert_num_queries):
    c = make_customer(first_name="Lan")
    make_order(c, external_id="O-1", placed_at=timezone.now() - dt.timedelta(days=2))
    make_event(c, "added_to_cart", occurred_at=timezone.now() - dt.timedelta(days=1))
    update_customer(c, occupation="nurse")

    with django_assert_num_queries(5):  # count, page, then orders, events, audit entries
        page = customers.customer_timeline(c, 1)
    assert [item.kind for item in page.object_list] == ["change", "change", "event", "order"]
    assert page.object_list[0].changes[0].label == "occupation"
    assert page.object_list[0].changes[0].new == "nurse"

    only_orders = customers.customer_timeline(c, 1, kinds=["order"])
    assert [i.obj.external_id for i in only_orders.object_list] == ["O-1"]
    assert customers.customer_timeline(c, 1, kinds=["nonsense"]).paginator.count == 0


def test_describe_changes_uses_labels_and_names():
    rows = customers.describe_changes(
        {
            "customer_type": ["individual", "reseller"],
            "owner": [None, 7],
            "contact:email:a@b.c": ["unverified", "bouncing"],
            "no_longer_a_field": [1, 2],
        },
        {"owner": {7: "li.na"}},
    )
    assert [(r.label, r.old, r.new) for r in rows] == [
        ("customer type", "individual buyer", "reseller"),
        ("owner", None, "li.na"),
        ("email a@b.c", "unverified", "bouncing"),
        ("no_longer_a_field", 1, 2),
    ]
    assert [r.is_contact for r in rows] == [False, False, True, False]


def test_dashboard_summary_months_top_products_and_other_currencies():
    c = make_customer()
    make_order(c, lines=[("MUG", "Mug", 2, "10.00")], placed_at=at("2026-01-10"))
    make_order(c, lines=[("TEA", "Tea", 1, "30.00")], placed_at=at("2026-03-10"))
    make_order(None, lines=[("MUG", "Mug", 1, "10.00")], placed_at=at("2026-03-11"))
    make_order(c, kind="return", lines=[("TEA", "Tea", 1, "30.00")], placed_at=at("2026-03-20"))
    make_order(c, lines=[("TEA", "Tea", 9, "30.00")], placed_at=at("2026-03-21"), currency="USD")
    make_order(c, lines=[("MUG", "Mug", 1, "10.00")], placed_at=at("2025-12-31"))  # outside
    # The latest order decides the primary currency: make it GBP.
    make_order(None, lines=[("MUG", "Mug", 1, "10.00")], placed_at=at("2026-03-31"))

    s = commerce.dashboard_summary(dt.date(2026, 1, 1), dt.date(2026, 3, 31))
    assert s.currency == "GBP"
    assert s.orders == 4 and s.returns == 1
    assert s.revenue == Decimal("40.0000")  # 20 + 30 + 10 + 10 − 30
    assert s.returned == Decimal("30.0000")
    assert s.customers_active == 1
    assert [(m.month, m.revenue, m.orders) for m in s.revenue_by_month] == [
        (dt.date(2026, 1, 1), Decimal("20.0000"), 1),
        (dt.date(2026, 3, 1), Decimal("20.0000"), 3),
    ]
    assert [(p.sku, p.quantity, p.revenue) for p in s.top_products] == [
        ("MUG", 4, Decimal("40.0000")),
        ("TEA", 1, Decimal("30.0000")),
    ]
    assert s.other_currencies == ["USD"]
    assert s.average_order_value == Decimal("10")


def test_list_orders_filters_by_date_kind_and_customer():
    c = make_customer(first_name="Ivy")
    a = make_order(c, placed_at=at("2026-01-01"), external_id="A")
    b = make_order(None, placed_at=at("2026-01-02"), external_id="B", guest_email="g@x.io")
    r = make_order(c, kind="return", placed_at=at("2026-01-03"), external_id="R")
    assert list(commerce.list_orders()) == [r, b, a]
    assert list(commerce.list_orders("", {"placed_to": dt.date(2026, 1, 2)})) == [b, a]
    assert list(commerce.list_orders("", {"placed_from": dt.date(2026, 1, 2)})) == [r, b]
    assert list(commerce.list_orders("", {"kind": "return"})) == [r]
    assert list(commerce.list_orders("", {"customer": c.pk}, "placed")) == [a, r]
    assert list(commerce.list_orders("g@x.io")) == [b]
    assert list(commerce.list_orders("ivy")) == [r, a]
    order = commerce.get_order(a.pk)
    assert [line.line_no for line in order.lines.all()] == [1]
