"""API: related products, personal recommendations and the home feed — token required, 404s,
every item explained, exclusions and cold start visible over HTTP."""

import pytest

from guanxi.analytics import services
from guanxi.api.recommendations import HomeOut, RecommendationsOut, RelatedOut
from guanxi.api.services import create_api_token
from guanxi.commerce.models import OrderLine, Product
from guanxi.customers.models import Customer
from guanxi.simulate import catalogue as cat
from guanxi.simulate.generator import DEFAULT_END, generate_store
from guanxi.simulate.services import load_store

PATHS = [
    "/api/v1/products/{id}/related",
    "/api/v1/customers/{id}/recommendations",
    "/api/v1/customers/{id}/home",
]


@pytest.fixture
def auth(db):
    _row, raw = create_api_token("recommendations-reader")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.fixture
def store(db, monkeypatch):
    monkeypatch.setattr(services, "_clv_scores", lambda *a, **k: None)
    load_store(generate_store(customers=600, seed=8), progress=False)
    return services.refresh_analytics(as_of=DEFAULT_END)


@pytest.mark.parametrize("path", PATHS)
def test_a_token_is_required_and_unknown_ids_are_404(client, auth, path):
    assert client.get(path.format(id=1)).status_code == 401
    assert client.get(path.format(id=999999), **auth).status_code == 404


def test_before_any_run_lists_are_empty(client, auth):
    customer = Customer.objects.create(first_name="A")
    body = client.get(f"/api/v1/customers/{customer.pk}/recommendations", **auth).json()
    assert body["run_id"] is None and body["items"] == []


def test_related_is_explained_by_its_rule(client, auth, store):
    bottle = Product.objects.get(sku=cat.BABY_BOTTLE, source="webshop")
    body = client.get(f"/api/v1/products/{bottle.pk}/related?limit=5", **auth).json()
    assert body["run_id"] == store.pk and len(body["items"]) == 5
    first = body["items"][0]
    assert first["reason"] == "bought_together"
    assert first["product"]["sku"] in cat.BABY_CHAIN_CONSEQUENTS
    numbers = first["numbers"]
    assert numbers["lift"] > 1 and 0 < numbers["support"] <= numbers["confidence"] <= 1
    assert "baskets" in first["explanation"]
    assert [i["rank"] for i in body["items"]] == [1, 2, 3, 4, 5]
    RelatedOut.model_validate(body)


def test_recommendations_and_home_over_http(client, auth, store):
    buyer_id = OrderLine.objects.filter(order__customer__isnull=False).values_list(
        "order__customer_id", flat=True
    )[0]
    owned = set(
        OrderLine.objects.filter(order__customer_id=buyer_id).values_list("product_id", flat=True)
    )
    body = client.get(f"/api/v1/customers/{buyer_id}/recommendations", **auth).json()
    assert body["customer_id"] == buyer_id and not body["cold_start"]
    assert len(body["items"]) == 10
    for item in body["items"]:
        assert item["product"]["id"] not in owned and item["product"]["in_stock"]
        assert item["reason"] in {
            "bought_together", "similar_customers", "popular_in_segment", "popular"
        }  # fmt: skip
        assert item["explanation"]
    RecommendationsOut.model_validate(body)  # the documented schema holds
    home = client.get(f"/api/v1/customers/{buyer_id}/home?limit=15", **auth).json()
    HomeOut.model_validate(home)
    assert len(home["items"]) == 15 and home["top_categories"]
    assert len({i["product"]["id"] for i in home["items"]}) == 15

    newcomer = Customer.objects.create(first_name="New", customer_type="reseller")
    cold = client.get(f"/api/v1/customers/{newcomer.pk}/recommendations?limit=3", **auth).json()
    assert cold["cold_start"] and cold["segment"]["kind"] == "customer_type"
    assert cold["segment"]["value"] == "reseller" and len(cold["items"]) == 3
    assert {i["reason"] for i in cold["items"]} == {"popular_in_segment"}
