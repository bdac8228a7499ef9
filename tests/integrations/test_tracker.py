"""The tracker's collection endpoint: keys, origins, rate limit, identify and stitching."""

import json

from guanxi.commerce.models import Event
from guanxi.customers.models import Customer, SourceIdentity
from guanxi.customers.services import create_customer
from guanxi.integrations.models import Visitor


def send(client, key, payload, origin=None):
    headers = {"Origin": origin} if origin else {}
    return client.post(
        f"/t/{key}/collect", data=json.dumps(payload), content_type="text/plain", headers=headers
    )


def test_bad_keys_are_rejected(shop, client):
    event = {"anonymous_id": "a1", "events": [{"type": "searched", "query": "ipod"}]}
    assert send(client, "gxpk_nope", event).status_code == 401
    shop.is_active = False
    shop.save()
    assert send(client, shop.public_key, event).status_code == 401
    assert Event.objects.count() == 0


def test_origins_and_cors(shop, client):
    event = {"anonymous_id": "a1", "events": [{"type": "searched", "query": "ipod"}]}
    assert send(client, shop.public_key, event, origin="https://evil.example").status_code == 403
    ok = send(client, shop.public_key, event, origin="http://127.0.0.1:8999")
    assert ok.status_code == 202
    assert ok["Access-Control-Allow-Origin"] == "http://127.0.0.1:8999"
    preflight = client.options(
        f"/t/{shop.public_key}/collect", headers={"Origin": "http://127.0.0.1:8999"}
    )
    assert preflight.status_code == 204 and "POST" in preflight["Access-Control-Allow-Methods"]


def test_bad_payloads_are_400_not_500(shop, client):
    key = shop.public_key
    assert client.post(f"/t/{key}/collect", data="{", content_type="text/plain").status_code == 400
    assert send(client, key, {"events": [{"type": "searched"}]}).status_code == 400
    assert send(client, key, {"anonymous_id": "a", "events": [{"type": "hack"}]}).status_code == 400
    bad_time = {"anonymous_id": "a", "events": [{"type": "searched", "at": "yesterday"}]}
    response = send(client, key, bad_time)
    assert response.status_code == 400 and "occurred_at" in response.json()["error"]
    no_id = {"anonymous_id": "a", "events": [{"type": "identify"}]}
    assert send(client, key, no_id).status_code == 400
    assert Event.objects.count() == 0


def test_rate_limit(shop, client, settings):
    settings.GUANXI_TRACKER_RATE_LIMIT = 3
    event = {"anonymous_id": "rl", "events": [{"type": "page_view"}]}
    codes = [send(client, shop.public_key, event).status_code for _ in range(5)]
    assert codes == [202, 202, 202, 429, 429]


def test_identify_stitches_anonymous_events(shop, client):
    key = shop.public_key
    browse = {
        "anonymous_id": "visitor-7",
        "events": [
            {"id": "e1", "type": "viewed_product", "product": "IPOD2008GREEN"},
            {"id": "e2", "type": "added_to_cart", "product": "IPOD2008GREEN"},
            {"id": "e3", "type": "searched", "query": "nano"},
        ],
    }
    assert send(client, key, browse).json() == {"received": 3, "created": 3, "stitched": 0}
    assert send(client, key, browse).json()["created"] == 0  # re-sent: idempotent by event id
    assert Event.objects.filter(customer__isnull=True, anonymous_id="visitor-7").count() == 3
    other = {"anonymous_id": "someone-else", "events": [{"id": "o1", "type": "searched"}]}
    send(client, key, other)

    # The visitor logs in: an existing profile is found by email, its events are stitched.
    mei = create_customer(first_name="Mei", emails=["mei@example.com"])
    login = {
        "anonymous_id": "visitor-7",
        "events": [{"id": "e4", "type": "identify", "email": "MEI@example.com"}],
    }
    # The three earlier events and the identify event itself.
    assert send(client, key, login).json() == {"received": 1, "created": 1, "stitched": 4}
    assert Event.objects.filter(customer=mei).count() == 4
    assert Event.objects.get(external_id="t:e3").properties["query"] == "nano"
    assert Event.objects.get(anonymous_id="someone-else").customer_id is None
    # Later anonymous events of the same visitor belong to Mei straight away.
    later = {"anonymous_id": "visitor-7", "events": [{"id": "e5", "type": "viewed_product"}]}
    assert send(client, key, later).json()["stitched"] == 1
    assert Event.objects.filter(customer=mei).count() == 5
    assert Visitor.objects.get(anonymous_id="visitor-7").customer_id == mei.pk


def test_identify_with_a_new_store_customer_creates_the_profile(shop, client):
    payload = {
        "anonymous_id": "v9",
        "events": [
            {"id": "a", "type": "viewed_product", "product": "X"},
            {
                "id": "b",
                "type": "identify",
                "customer_id": "207119551",
                "email": "bob@example.com",
                "first_name": "Bob",
            },
        ],
    }
    assert send(client, shop.public_key, payload).json()["stitched"] == 2
    bob = SourceIdentity.objects.get(source=shop.source, external_id="207119551").customer
    assert bob.first_name == "Bob" and Customer.objects.count() == 1
    assert set(Event.objects.values_list("customer_id", flat=True)) == {bob.pk}
