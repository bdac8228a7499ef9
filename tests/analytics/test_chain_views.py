"""Console: the rules explorer, a product's chains and the 360 recommendations card."""

import pytest

from guanxi.analytics import services
from guanxi.commerce.models import OrderLine, Product
from guanxi.simulate import catalogue as cat
from guanxi.simulate.generator import DEFAULT_END, generate_store
from guanxi.simulate.services import load_store


@pytest.fixture
def run(db, monkeypatch):
    monkeypatch.setattr(services, "_clv_scores", lambda *a, **k: None)
    load_store(generate_store(customers=500, seed=4), progress=False)
    return services.refresh_analytics(as_of=DEFAULT_END)


def test_pages_need_their_permission(client, make_staff, db):
    client.force_login(make_staff("agent"))
    assert client.get("/console/analytics/rules/").status_code == 403
    client.force_login(make_staff("marketer", username="m"))
    assert client.get("/console/analytics/rules/").status_code == 200


def test_rules_explorer_filters_and_product_page(admin_user_client, run):
    page = admin_user_client.get("/console/analytics/rules/?min_lift=5")
    assert page.status_code == 200
    rules = list(page.context["page"].object_list)
    assert rules and all(r.lift >= 5 for r in rules)
    assert b"Anti-Colic Baby Bottle" in page.content
    categories = admin_user_client.get("/console/analytics/rules/?level=category&min_support=0.01")
    assert all(r.support >= 0.01 for r in categories.context["page"].object_list)
    bottle = Product.objects.get(sku=cat.BABY_BOTTLE, source="webshop")
    detail = admin_user_client.get(f"/console/products/{bottle.pk}/")
    assert detail.status_code == 200
    together = [i.product.sku for i in detail.context["together"]]
    assert set(together[:3]) == set(cat.BABY_CHAIN_CONSEQUENTS)
    assert admin_user_client.get("/console/products/999999/").status_code == 404


def test_customer_360_shows_recommendations(admin_user_client, run):
    customer_id = OrderLine.objects.filter(order__customer__isnull=False).values_list(
        "order__customer_id", flat=True
    )[0]
    page = admin_user_client.get(f"/console/customers/{customer_id}/")
    assert page.status_code == 200
    assert b'data-testid="recommendations-card"' in page.content
    items = page.context["recommendations"].items
    assert len(items) == 8 and page.content.count(b'data-testid="recommendation"') == 8
