"""Chains and recommendations on a simulated store: planted chains recovered, exclusions, cold
start, every item explained."""

import datetime as dt

import pytest

from guanxi.analytics import services
from guanxi.analytics.models import ProductRule, Recommendation, RelatedProduct, SegmentPopular
from guanxi.analytics.serving import customer_home, customer_recommendations, related_products
from guanxi.commerce.models import Order, OrderLine, Product
from guanxi.customers.models import Customer
from guanxi.simulate import catalogue as cat
from guanxi.simulate.generator import DEFAULT_END, generate_store
from guanxi.simulate.services import load_store


@pytest.fixture
def store_run(db, monkeypatch, settings):
    """A 1,500-customer simulated store and one refresh (CLV left out: not needed here), with
    the picks also kept as Recommendation rows."""
    settings.GUANXI_RECOMMENDATION_HISTORY = True
    monkeypatch.setattr(services, "_clv_scores", lambda *a, **k: None)
    load_store(generate_store(customers=1500, seed=5), progress=False)
    return services.refresh_analytics(as_of=DEFAULT_END)


@pytest.fixture
def larger_store_run(db, monkeypatch):
    """5,000 customers: enough laptop buyers (about 130) for the planted sequence chain to
    stand out from what their taste clusters buy and browse anyway (1,500 customers give about
    40, and the camera then comes second to fourth)."""
    monkeypatch.setattr(services, "_clv_scores", lambda *a, **k: None)
    load_store(generate_store(customers=5000, seed=5), progress=False)
    return services.refresh_analytics(as_of=DEFAULT_END)


def _webshop(sku):
    return Product.objects.get(sku=sku, source="webshop")


def test_planted_basket_chain_is_recovered_as_rules(store_run):
    bottle = _webshop(cat.BABY_BOTTLE)
    rules = {
        r.consequent_product.sku: r
        for r in ProductRule.objects.filter(
            run=store_run, level="product", antecedent_product=bottle
        ).select_related("consequent_product")
    }
    for sku in cat.BABY_CHAIN_CONSEQUENTS:
        assert sku in rules, sku
        assert rules[sku].lift > 5 and rules[sku].confidence > 0.15
    # Strongest rules of the bottle are exactly the planted consequents.
    top = sorted(rules.values(), key=lambda r: -r.lift)[:3]
    assert {r.consequent_product.sku for r in top} == set(cat.BABY_CHAIN_CONSEQUENTS)
    assert ProductRule.objects.filter(run=store_run, level="category").exists()
    related = related_products(bottle, limit=5)
    assert [i.product.sku for i in related.items[:3]] and {
        i.product.sku for i in related.items[:3]
    } == set(cat.BABY_CHAIN_CONSEQUENTS)
    assert related.items[0].reason == "bought_together"
    assert "baskets" in related.items[0].explanation


def test_planted_sequence_chain_is_recovered_across_baskets(larger_store_run):
    """Laptop → camera / home theatre were never in one basket: the collaborative filter links
    them, and laptop buyers without a camera are offered one far more often than others."""
    laptop, camera = _webshop(cat.LAPTOP), _webshop(cat.CAMERA)
    theatre = _webshop(cat.HOME_THEATRE)
    store_run = larger_store_run
    assert not ProductRule.objects.filter(
        run=store_run, antecedent_product=laptop, consequent_product=camera
    ).exists()
    neighbours = list(
        RelatedProduct.objects.filter(run=store_run, product=laptop)
        .order_by("rank")
        .values_list("related__sku", flat=True)
    )
    assert cat.CAMERA in neighbours[:3] and cat.HOME_THEATRE in neighbours
    related = related_products(laptop, limit=10)
    reasons = {i.product.pk: i.reason for i in related.items}
    assert reasons.get(camera.pk) == "similar_customers" and theatre.pk in reasons

    # A customer whose history is one laptop is offered the camera first, the home theatre too.
    newcomer = Customer.objects.create(first_name="Lap", last_name="Top")
    order = Order.objects.create(
        source="test", external_id="laptop-only", customer=newcomer, currency="USD",
        subtotal=899, total=899, placed_at=DEFAULT_END_DT() - dt.timedelta(days=20),
    )  # fmt: skip
    OrderLine.objects.create(
        order=order, line_no=1, product=laptop, sku=laptop.sku, quantity=1, unit_price=899,
        currency="USD", line_total=899,
    )  # fmt: skip
    run = services.refresh_analytics(as_of=DEFAULT_END)
    picks = customer_recommendations(newcomer, limit=10, run=run)
    skus = [i.product.sku for i in picks.items]
    assert skus[0] == cat.CAMERA and cat.HOME_THEATRE in skus, skus
    camera_pick = next(i for i in picks.items if i.product == camera)
    assert camera_pick.reason == "similar_customers" and camera_pick.because_of == laptop
    assert laptop.name in camera_pick.explanation


def test_recommendations_exclude_bought_returned_and_out_of_stock(store_run):
    owned = {}
    for customer_id, product_id in OrderLine.objects.filter(
        order__customer__isnull=False, product__isnull=False
    ).values_list("order__customer_id", "product_id"):
        owned.setdefault(customer_id, set()).add(product_id)
    out_of_stock = set(Product.objects.filter(in_stock=False).values_list("id", flat=True))
    assert out_of_stock  # the simulator has some
    rows = list(
        Recommendation.objects.filter(run=store_run).values_list("customer_id", "product_id")
    )
    assert len(rows) > 1000
    for customer_id, product_id in rows:
        assert product_id not in owned.get(customer_id, set())
        assert product_id not in out_of_stock
    returners = Order.objects.filter(kind="return").values_list("customer_id", flat=True)[:20]
    for customer_id in returners:
        returned = set(
            OrderLine.objects.filter(
                order__customer_id=customer_id, order__kind="return"
            ).values_list("product_id", flat=True)
        )
        recommended = {i.product.pk for i in customer_recommendations(
            Customer.objects.get(pk=customer_id), limit=20).items}  # fmt: skip
        assert returned and not returned & recommended

    # After the run: a recommended product goes out of stock, another one is bought.
    customer = Customer.objects.get(pk=rows[0][0])
    first = customer_recommendations(customer, limit=10).items
    assert len(first) == 10 and all(i.reason and i.explanation for i in first)
    gone, bought = first[0].product, first[1].product
    Product.objects.filter(pk=gone.pk).update(in_stock=False)
    order = Order.objects.create(
        source="test", external_id="late", customer=customer, currency="USD", subtotal=1,
        total=1, placed_at=DEFAULT_END_DT(),
    )  # fmt: skip
    OrderLine.objects.create(
        order=order, line_no=1, product=bought, sku=bought.sku, quantity=1, unit_price=1,
        currency="USD", line_total=1,
    )  # fmt: skip
    again = {i.product.pk for i in customer_recommendations(customer, limit=10).items}
    assert gone.pk not in again and bought.pk not in again and len(again) == 10


def DEFAULT_END_DT():  # noqa: N802
    return dt.datetime.combine(DEFAULT_END, dt.time(12), tzinfo=dt.UTC)


def test_cold_start_uses_segment_then_store_best_sellers(store_run):
    occupation_list = SegmentPopular.objects.filter(run=store_run, segment_kind="occupation")
    assert occupation_list.exists()
    occupation = occupation_list.first().segment
    newcomer = Customer.objects.create(first_name="New", occupation=occupation)
    result = customer_recommendations(newcomer, limit=10)
    assert result.cold_start and len(result.items) == 10
    assert result.segment["kind"] == "occupation" and result.segment["value"] == occupation
    assert result.items[0].reason == "popular_in_segment"
    expected = [
        r.product_id
        for r in occupation_list.filter(segment=occupation)
        .order_by("rank")
        .select_related("product")
        if r.product.in_stock and r.product.is_active
    ][:10]
    assert [i.product.pk for i in result.items] == expected

    stranger = Customer.objects.create(first_name="Other", occupation="Astronaut, lunar")
    result = customer_recommendations(stranger, limit=5)
    assert result.cold_start and result.segment["kind"] == "customer_type"
    assert "individual buyer" in result.items[0].explanation


def test_home_feed_puts_due_purchases_first(store_run):
    from guanxi.analytics.models import PeriodicPattern

    pattern = (
        PeriodicPattern.objects.filter(run=store_run, product__in_stock=True)
        .order_by("next_due")
        .first()
    )
    assert pattern is not None
    PeriodicPattern.objects.filter(pk=pattern.pk).update(next_due=DEFAULT_END)
    feed, categories = customer_home(pattern.customer, limit=12)
    assert feed.items[0].reason == "due_again" and feed.items[0].product == pattern.product
    assert len(feed.items) == 12 and len({i.product.pk for i in feed.items}) == 12
    assert {i.reason for i in feed.items[1:]} <= {
        "bought_together", "similar_customers", "popular_in_segment", "popular"
    }  # fmt: skip
    assert categories


def test_serving_lists_hold_the_runs_rows_and_only_recent_runs_keep_them(store_run):
    """Each customer's list is their recommendation rows in rank order; each product's, its
    rules by confidence then its neighbours; after more runs only the last two keep lists."""
    import json

    from guanxi.analytics.models import ServingList

    customer_id = Recommendation.objects.filter(run=store_run).values_list(
        "customer_id", flat=True
    )[0]
    mine = json.loads(
        ServingList.objects.get(run=store_run, kind="customer", key=str(customer_id)).payload
    )
    rows = Recommendation.objects.filter(run=store_run, customer_id=customer_id).order_by("rank")
    assert [i[0] for i in mine["items"]] == [r.product_id for r in rows]
    assert [i[1] for i in mine["items"]] == [r.reason for r in rows]

    bottle = _webshop(cat.BABY_BOTTLE)
    lists = json.loads(
        ServingList.objects.get(run=store_run, kind="product", key=str(bottle.pk)).payload
    )
    rules = ProductRule.objects.filter(
        run=store_run, level="product", antecedent_product=bottle
    ).order_by("-confidence", "-lift", "consequent_product_id")
    assert [r[0] for r in lists["rules"]] == [r.consequent_product_id for r in rules]
    neighbours = RelatedProduct.objects.filter(run=store_run, product=bottle).order_by("rank")
    assert [n[0] for n in lists["neighbours"]] == [n.related_id for n in neighbours]
    assert ServingList.objects.filter(run=store_run, kind="segment", key="store:").exists()

    second = services.refresh_analytics(as_of=DEFAULT_END)
    third = services.refresh_analytics(as_of=DEFAULT_END)
    kept = set(ServingList.objects.values_list("run_id", flat=True).distinct())
    assert kept == {second.pk, third.pk}
    assert Recommendation.objects.filter(run=store_run).exists()  # the history stays


def test_picks_are_served_from_the_lists_without_the_rows_by_default(db, monkeypatch):
    """By default a run writes no Recommendation rows; the customers' lists still hold their
    picks, built a range of customers at a time (parts of 100 here), and the API serves them."""
    import json

    from guanxi.analytics import payloads, serving
    from guanxi.analytics.models import ServingList

    monkeypatch.setattr(services, "_clv_scores", lambda *a, **k: None)
    monkeypatch.setattr(payloads, "CUSTOMERS_PER_PART", 100)
    built = []
    lists = payloads._lists
    monkeypatch.setattr(
        payloads, "_lists", lambda con, kind, *a: built.append(kind) or lists(con, kind, *a)
    )
    load_store(generate_store(customers=600, seed=5), progress=False)
    run = services.refresh_analytics(as_of=DEFAULT_END)
    assert not Recommendation.objects.exists()
    lists = ServingList.objects.filter(run=run, kind="customer")
    keys = list(lists.values_list("key", flat=True))
    assert len(keys) == len(set(keys)) > 300  # one list per customer across the parts
    assert built.count(ServingList.Kind.CUSTOMER) >= 4
    with_items = [
        (int(row.key), json.loads(row.payload)["items"])
        for row in lists
        if json.loads(row.payload)["items"]
    ]
    assert len(with_items) > 300
    assert run.outputs["recommendations"] == sum(len(items) for _, items in with_items)
    customer_id, items = with_items[0]
    served = serving.serve_recommendations(customer_id, limit=5)
    personal = [
        e.pid for e in served.entries if e.reason == Recommendation.Reason.SIMILAR_CUSTOMERS
    ]
    assert personal and set(personal) <= {i[0] for i in items}
