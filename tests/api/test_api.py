"""REST API v1: auth, batch ingestion (idempotency, 422 detail, all-or-nothing), reads."""

import json

import pytest

from guanxi.api.services import create_api_token, revoke_api_token
from guanxi.commerce.models import Event, Order, OrderLine
from guanxi.core.models import AuditEntry, IdempotencyKey
from guanxi.customers.models import Customer


@pytest.fixture
def token(db):
    _row, raw = create_api_token("test-client")
    return raw


@pytest.fixture
def api(client, token):
    def call(method, path, body=None, **headers):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        kwargs.update({f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(client, method)(f"/api/v1{path}", **kwargs)

    return call


def customer_items(n, offset=0):
    return [
        {
            "external_id": f"c{offset + i}",
            "first_name": f"Name{offset + i}",
            "email": f"p{offset + i}@example.com",
            "birthday": "1990-05-17",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "method,path",
    [
        ("get", "/customers"),
        ("get", "/orders"),
        ("post", "/customers/batch"),
        ("post", "/orders/batch"),
        ("post", "/events/batch"),
    ],
)
def test_every_endpoint_requires_a_token(client, db, method, path):
    response = getattr(client, method)(f"/api/v1{path}")
    assert response.status_code == 401
    bad = getattr(client, method)(f"/api/v1{path}", HTTP_AUTHORIZATION="Bearer gx_wrong")
    assert bad.status_code == 401


def test_revoked_and_read_only_tokens(client, db):
    row, raw = create_api_token("ro", can_write=False)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {raw}"}
    assert client.get("/api/v1/customers", **auth).status_code == 200
    body = json.dumps({"items": customer_items(1)})
    write = client.post("/api/v1/customers/batch", body, content_type="application/json", **auth)
    assert write.status_code == 403 and Customer.objects.count() == 0
    revoke_api_token(row)
    assert client.get("/api/v1/customers", **auth).status_code == 401


def test_customer_batch_creates_then_is_idempotent(api):
    first = api("post", "/customers/batch", {"source": "shop", "items": customer_items(3)})
    assert first.status_code == 200, first.content
    assert first.json()["created"] == 3
    again = api("post", "/customers/batch", {"source": "shop", "items": customer_items(3)})
    assert again.json() == {**first.json(), "created": 0, "unchanged": 3}
    assert Customer.objects.count() == 3
    changed = customer_items(1)
    changed[0]["occupation"] = "teacher"
    update = api("post", "/customers/batch", {"source": "shop", "items": changed})
    assert update.json()["updated"] == 1
    entry = AuditEntry.objects.filter(action="update").get()
    assert entry.channel == "api" and entry.changes == {"occupation": ["", "teacher"]}


def test_customer_batch_422_names_item_and_field_and_writes_nothing(api):
    items = customer_items(3)
    items[1]["gender"] = "robot"
    items[2]["email"] = "not-an-email"
    response = api("post", "/customers/batch", {"source": "shop", "items": items})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {(d["index"], d["field"]) for d in detail} == {(1, "gender"), (2, "email")}
    assert Customer.objects.count() == 0


def test_batch_size_limit(api, settings):
    settings.GUANXI_API_BATCH_LIMIT = 2
    response = api("post", "/customers/batch", {"items": customer_items(3)})
    assert response.status_code == 422 and response.json()["detail"][0]["field"] == "items"
    assert Customer.objects.count() == 0


def test_idempotency_key_replays_first_response(api):
    body = {"source": "shop", "items": customer_items(2)}
    first = api("post", "/customers/batch", body, **{"Idempotency-Key": "abc"})
    Customer.objects.all().delete()  # even if the data changed since, the answer is replayed
    second = api("post", "/customers/batch", body, **{"Idempotency-Key": "abc"})
    assert second.status_code == 200 and second.json() == first.json()
    assert Customer.objects.count() == 0 and IdempotencyKey.objects.count() == 1
    other = api("post", "/customers/batch", {"items": []}, **{"Idempotency-Key": "abc"})
    assert other.status_code == 409


def order(ext, customer="c0", lines=None, **extra):
    return {
        "external_id": ext,
        "placed_at": "2025-11-11T00:05:00+08:00",
        "customer_external_id": customer,
        "currency": "CNY",
        "lines": lines or [{"sku": "TEA-1", "name": "Tea", "quantity": 2, "unit_price": "19.90"}],
        **extra,
    }


def test_order_batch_ingests_links_and_is_idempotent(api):
    api("post", "/customers/batch", {"source": "shop", "items": customer_items(1)})
    body = {"source": "shop", "items": [order("o1"), order("o2", customer=None, email="g@x.cn")]}
    response = api("post", "/orders/batch", body)
    assert response.status_code == 200, response.content
    assert response.json() == {"created": 2, "existing": 0, "lines": 2, "customers_created": 0}
    o1 = Order.objects.get(external_id="o1")
    assert o1.customer.first_name == "Name0" and str(o1.total) == "39.8000"
    assert o1.placed_at.isoformat() == "2025-11-10T16:05:00+00:00"
    assert Order.objects.get(external_id="o2").guest_email == "g@x.cn"
    again = api("post", "/orders/batch", body)
    assert again.json()["created"] == 0 and again.json()["existing"] == 2
    assert OrderLine.objects.count() == 2


def test_order_batch_422_points_at_the_line(api):
    bad_line = [
        {"sku": "A", "quantity": 1, "unit_price": "1"},
        {"sku": "B", "quantity": 1, "unit_price": "-5"},
    ]
    items = [order("o1"), order("o2", lines=bad_line), order("o1")]
    response = api("post", "/orders/batch", {"items": items})
    assert response.status_code == 422
    assert response.json()["detail"] == [
        {"index": 2, "field": "external_id", "value": "o1", "reason": "duplicates item 0"}
    ]
    response = api("post", "/orders/batch", {"items": items[:2]})
    detail = response.json()["detail"]
    assert detail == [
        {
            "index": 1,
            "field": "lines[1].unit_price",
            "value": "-5",
            "reason": "must not be negative",
        }
    ]
    assert Order.objects.count() == 0


def test_event_batch_idempotent_and_linked(api):
    api("post", "/customers/batch", {"source": "shop", "items": customer_items(1)})
    events = [
        {
            "external_id": f"e{i}",
            "event_type": "viewed_product",
            "customer_external_id": "c0" if i % 2 else None,
            "anonymous_id": "anon-1",
            "sku": "TEA-1",
            "occurred_at": "2025-11-11T10:00:00Z",
        }
        for i in range(10)
    ]
    first = api("post", "/events/batch", {"source": "shop", "items": events})
    assert first.json() == {"received": 10, "created": 10}
    again = api("post", "/events/batch", {"source": "shop", "items": events + events[:1]})
    assert again.json() == {"received": 11, "created": 0}
    assert Event.objects.count() == 10
    assert Event.objects.filter(customer__first_name="Name0").count() == 5
    bad = api("post", "/events/batch", {"items": [{"event_type": "x", "occurred_at": "nope"}]})
    assert bad.status_code == 422


def test_create_get_update_customer(api):
    created = api(
        "post",
        "/customers",
        {"first_name": "Wei", "last_name": "Zhang", "email": "w@x.cn", "birthday": "1988-02-29"},
    )
    assert created.status_code == 201, created.content
    cid = created.json()["id"]
    assert created.json()["contact_points"][0]["value"] == "w@x.cn"
    assert isinstance(created.json()["age"], int)
    patched = api("patch", f"/customers/{cid}", {"occupation": "engineer"})
    assert patched.json()["occupation"] == "engineer" and patched.json()["first_name"] == "Wei"
    future = api("patch", f"/customers/{cid}", {"birthday": "2999-01-01"})
    assert future.status_code == 422 and future.json()["detail"][0]["field"] == "birthday"
    listed = api("get", "/customers?q=zhang")
    assert listed.json()["count"] == 1 and listed.json()["items"][0]["id"] == cid
    assert api("get", "/customers/999999").status_code == 404


def test_openapi_schema_lists_the_batch_endpoints(client, db):
    schema = client.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/customers/batch", "/api/v1/orders/batch", "/api/v1/events/batch"):
        assert path in schema["paths"]
