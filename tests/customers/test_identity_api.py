"""``/api/v1/identity``: review queue, merge, keep apart, history, undo, resolve."""

import json

import pytest

from guanxi.api.services import create_api_token
from guanxi.customers.models import Customer, MatchCandidate
from guanxi.customers.services import create_customer
from tests.console.factories import make_order


@pytest.fixture
def api(client, db):
    _row, token = create_api_token("identity-client")
    _row, read_only = create_api_token("reader", can_write=False)

    def call(method, path, body=None, token=token):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(client, method)(f"/api/v1{path}", **kwargs)

    call.read_only = read_only
    return call


def test_queue_merge_undo_keep_apart(api):
    a = create_customer(first_name="Ann", emails=["ann@example.com"])
    b = create_customer(first_name="Anne", emails=["ann@example.org"])
    c = create_customer(first_name="Bo")
    make_order(b, external_id="B1")
    one = MatchCandidate.objects.create(customer_a=a, customer_b=b, probability=0.93)
    two = MatchCandidate.objects.create(customer_a=a, customer_b=c, probability=0.85)

    queue = api("get", "/identity/candidates").json()
    assert [item["id"] for item in queue["items"]] == [one.pk, two.pk]
    assert (
        api("post", f"/identity/candidates/{one.pk}/merge", token=api.read_only).status_code == 403
    )
    merged = api("post", f"/identity/candidates/{one.pk}/merge").json()
    assert (merged["winner"], merged["loser"]) == (a.pk, b.pk)
    assert len(merged["moved"]["commerce.Order.customer"]) == 1
    assert api("get", "/identity/candidates").json()["count"] == 1
    assert api("post", f"/identity/candidates/{two.pk}/keep-apart").json()["status"] == "kept_apart"
    assert api("get", "/identity/candidates").json()["count"] == 0

    history = api("get", "/identity/merges").json()["items"]
    assert [m["id"] for m in history] == [merged["id"]]
    undone = api("post", f"/identity/merges/{merged['id']}/undo").json()
    assert undone["undone_at"] is not None
    assert Customer.objects.get(pk=b.pk).orders.count() == 1
    assert api("post", f"/identity/merges/{merged['id']}/undo").status_code == 409

    manual = api("post", "/identity/merges", {"winner_id": c.pk, "loser_id": b.pk})
    assert manual.status_code == 201 and Customer.objects.get(pk=b.pk).merged_into_id == c.pk
    assert (
        api("post", "/identity/merges", {"winner_id": c.pk, "loser_id": 99999}).status_code == 404
    )
    assert api("post", "/identity/merges", {"winner_id": c.pk, "loser_id": c.pk}).status_code == 409


def test_resolve_endpoint(api):
    for i in range(3):
        create_customer(first_name=f"P{i}", last_name="Solo", emails=[f"p{i}@example.com"])
    result = api("post", "/identity/resolve").json()
    assert result == {"profiles": 3, "pairs": 0, "auto_merged": 0, "queued": 0, "skipped": 0}
    assert api("get", "/identity/candidates").status_code == 200
    assert api("get", "/identity/candidates", token="gx_nope").status_code == 401
