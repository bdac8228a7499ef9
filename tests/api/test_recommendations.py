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


def test_a_verified_token_is_remembered_and_forgotten_when_revoked(
    client, auth, db, django_assert_num_queries
):
    """The fast path does not look the token up on every request, yet a token revoked in the
    admin (a model save) or through the service is refused from the next request on."""
    from django.utils import timezone

    from guanxi.api.models import ApiToken

    customer = Customer.objects.create(first_name="A")
    path = f"/api/v1/customers/{customer.pk}/recommendations"
    assert client.get(path, **auth).status_code == 200  # verified (and last use recorded)
    # Now: the customer with the run and their lists in one query, nothing for the token.
    with django_assert_num_queries(1):
        assert client.get(path, **auth).status_code == 200
    token = ApiToken.objects.get(name="recommendations-reader")
    token.revoked_at = timezone.now()
    token.save()  # as the admin does
    assert client.get(path, **auth).status_code == 401

    row, raw = create_api_token("second-reader")
    second = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get(path, **second).status_code == 200
    from guanxi.api.services import revoke_api_token

    revoke_api_token(row)
    assert client.get(path, **second).status_code == 401


def test_each_endpoint_reads_its_list_and_the_live_products(
    client, auth, store, django_assert_max_num_queries
):
    """One row for the run's list (with the customer's segments' lists) and one query for the
    live state of the listed products, when nothing listed has been excluded since."""
    bottle = Product.objects.get(sku=cat.BABY_BOTTLE, source="webshop")
    buyer_id = OrderLine.objects.filter(order__customer__isnull=False).values_list(
        "order__customer_id", flat=True
    )[0]
    newcomer = Customer.objects.create(first_name="New")
    client.get(f"/api/v1/products/{bottle.pk}/related", **auth)  # the token is verified once
    for path, most in (
        (f"/api/v1/products/{bottle.pk}/related", 2),
        (f"/api/v1/customers/{buyer_id}/recommendations", 2),
        (f"/api/v1/customers/{buyer_id}/home", 3),
        (f"/api/v1/customers/{newcomer.pk}/recommendations", 2),
    ):
        with django_assert_max_num_queries(most):
            response = client.get(path, **auth)
        assert response.status_code == 200 and response.json()["items"], path


def test_a_product_back_in_stock_is_served_again(client, auth, store):
    """Lists keep every candidate: stock is decided when the request comes, both ways."""
    bottle = Product.objects.get(sku=cat.BABY_BOTTLE, source="webshop")
    path = f"/api/v1/products/{bottle.pk}/related?limit=3"
    first = client.get(path, **auth).json()["items"][0]["product"]["id"]
    Product.objects.filter(pk=first).update(in_stock=False)
    assert first not in [i["product"]["id"] for i in client.get(path, **auth).json()["items"]]
    Product.objects.filter(pk=first).update(in_stock=True)
    assert client.get(path, **auth).json()["items"][0]["product"]["id"] == first
