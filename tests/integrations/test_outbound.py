"""Outbound webhooks: signed, retried with exponential back-off, logged — against a real HTTP
receiver on localhost (no mocks)."""

import hashlib
import hmac
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from guanxi.integrations.models import WebhookDelivery, WebhookSubscription
from guanxi.integrations.services import backoff_seconds, publish_event


class Receiver:
    """A local HTTP server that fails the first ``fail`` requests with 503, then accepts."""

    def __init__(self, fail=0):
        self.fail = fail
        self.requests = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                outer.requests.append((dict(self.headers), body))
                code = 503 if len(outer.requests) <= outer.fail else 204
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    servers = []

    def make(fail=0):
        servers.append(Receiver(fail))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def verify(secret: str, headers: dict, body: bytes) -> bool:
    message = headers["X-Guanxi-Timestamp"].encode() + b"." + body
    expected = "sha256=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, headers["X-Guanxi-Signature"])


@pytest.mark.django_db(transaction=True)
def test_deliveries_are_signed_and_retried_until_accepted(receiver, settings):
    settings.GUANXI_WEBHOOK_RETRY_BASE_SECONDS = 0  # retries run at once in immediate mode
    server = receiver(fail=2)
    sub = WebhookSubscription.objects.create(url=server.url, event_types=["ticket.created"])
    WebhookSubscription.objects.create(url=server.url, event_types=["segment.left"])  # not this

    with transaction.atomic():
        publish_event("ticket.created", {"ticket_id": 7, "customer_id": 3})
    assert len(server.requests) == 3  # 503, 503, then 204
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "succeeded" and delivery.attempts == 3
    assert delivery.last_status_code == 204 and delivery.delivered_at is not None
    for headers, body in server.requests:
        assert verify(sub.secret, headers, body)
        assert not verify("another-secret", headers, body)
        assert headers["X-Guanxi-Event"] == "ticket.created"
        payload = json.loads(body)
        assert payload["type"] == "ticket.created" and payload["data"] == {
            "ticket_id": 7,
            "customer_id": 3,
        }
    # The same event id on every attempt, so the receiver can de-duplicate.
    assert len({json.loads(b)["id"] for _, b in server.requests}) == 1


@pytest.mark.django_db(transaction=True)
def test_gives_up_after_max_attempts(receiver, settings):
    settings.GUANXI_WEBHOOK_RETRY_BASE_SECONDS = 0
    settings.GUANXI_WEBHOOK_MAX_ATTEMPTS = 4
    server = receiver(fail=100)
    WebhookSubscription.objects.create(url=server.url)
    publish_event("customer.tier_changed", {"customer_id": 1, "from": "silver", "to": "gold"})
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("failed", 4, 503)
    assert len(server.requests) == 4


@pytest.mark.django_db(transaction=True)
def test_a_failed_attempt_is_scheduled_with_backoff(receiver, settings):
    from guanxi.tasks import huey

    settings.GUANXI_WEBHOOK_RETRY_BASE_SECONDS = 30
    server = receiver(fail=1)
    WebhookSubscription.objects.create(url=server.url)
    before = len(huey.scheduled())
    publish_event("customer.lifecycle_changed", {"customer_id": 1, "to": "active"})
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.attempts == 1
    assert 25 <= (delivery.next_attempt_at - delivery.updated_at).total_seconds() <= 31
    assert len(huey.scheduled()) == before + 1
    assert [backoff_seconds(n) for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    huey.flush()


def test_unknown_event_kind_is_refused(db):
    with pytest.raises(ValueError, match="unknown event kind"):
        publish_event("order.teleported", {})


def test_analytics_runs_publish_tier_and_lifecycle_changes(
    receiver, settings, hand_store, django_capture_on_commit_callbacks
):
    """run_finished → one signed delivery per lifecycle-stage change and per tier change."""
    import datetime as dt

    from guanxi.analytics.models import CustomerScore, LifecycleChange
    from guanxi.analytics.services import refresh_analytics
    from tests.analytics.conftest import AS_OF, add_order

    settings.GUANXI_WEBHOOK_RETRY_BASE_SECONDS = 0
    server = receiver()
    sub = WebhookSubscription.objects.create(
        url=server.url, event_types=["customer.lifecycle_changed", "customer.tier_changed"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        first = refresh_analytics(engine="duckdb", as_of=AS_OF)
    assert server.requests == []  # nothing to compare the first run with
    add_order(hand_store["c9"], -10, 4000)
    with django_capture_on_commit_callbacks(execute=True):
        second = refresh_analytics(engine="duckdb", as_of=AS_OF + dt.timedelta(days=15))
    sent = [json.loads(body) for _, body in server.requests]
    stage_changes = {
        (c.customer_id, c.from_stage, c.to_stage)
        for c in LifecycleChange.objects.filter(run=second)
    }
    assert stage_changes
    assert {
        (e["data"]["customer_id"], e["data"]["from"], e["data"]["to"])
        for e in sent
        if e["type"] == "customer.lifecycle_changed"
    } == stage_changes
    before = dict(CustomerScore.objects.filter(run=first).values_list("customer_id", "tier"))
    after = dict(CustomerScore.objects.filter(run=second).values_list("customer_id", "tier"))
    tier_changes = {(c, before[c], t) for c, t in after.items() if c in before and before[c] != t}
    assert tier_changes
    assert {
        (e["data"]["customer_id"], e["data"]["from"], e["data"]["to"])
        for e in sent
        if e["type"] == "customer.tier_changed"
    } == tier_changes
    assert all(verify(sub.secret, h, b) for h, b in server.requests)


def test_merges_are_published(receiver, settings, db, django_capture_on_commit_callbacks):
    from guanxi.customers.merging import merge_customers
    from guanxi.customers.services import create_customer

    settings.GUANXI_WEBHOOK_RETRY_BASE_SECONDS = 0
    server = receiver()
    WebhookSubscription.objects.create(url=server.url, event_types=["customer.merged"])
    a, b = create_customer(first_name="A"), create_customer(first_name="B")
    with django_capture_on_commit_callbacks(execute=True):
        merge_customers(a, b)
    ((headers, body),) = server.requests
    assert json.loads(body)["data"]["merged_customer_id"] == b.pk


def test_subscriptions_api(client, db):
    from guanxi.api.services import create_api_token

    _row, token = create_api_token("shop")
    _row, reader = create_api_token("reader", can_write=False)

    def call(method, path, body=None, token=token):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if body is not None:
            kwargs["data"] = json.dumps(body)
            kwargs["content_type"] = "application/json"
        return getattr(client, method)(f"/api/v1{path}", **kwargs)

    body = {"url": "https://shop.example.com/hook", "event_types": ["ticket.solved"]}
    assert call("post", "/webhooks/subscriptions", body, token=reader).status_code == 403
    created = call("post", "/webhooks/subscriptions", body)
    assert created.status_code == 201 and created.json()["secret"].startswith("gxws_")
    bad = call("post", "/webhooks/subscriptions", {"url": "ftp://x", "event_types": []})
    assert bad.status_code == 422
    bad = call("post", "/webhooks/subscriptions", {**body, "event_types": ["order.teleported"]})
    assert bad.status_code == 422 and "order.teleported" in bad.json()["detail"]
    listed = call("get", "/webhooks/subscriptions").json()
    assert [s["url"] for s in listed] == ["https://shop.example.com/hook"]
    assert "secret" not in listed[0]
    sub_id = created.json()["id"]
    assert call("delete", f"/webhooks/subscriptions/{sub_id}").status_code == 204
    assert WebhookSubscription.objects.get().is_active is False
    assert publish_event("ticket.solved", {"ticket_id": 1}) == []  # nobody listens now
    assert call("get", "/webhooks/deliveries").json()["count"] == 0


@pytest.mark.django_db(transaction=True)
def test_segment_entries_and_exits_are_published(
    receiver, settings, db, django_capture_on_commit_callbacks
):
    from guanxi.customers.models import Customer
    from guanxi.customers.services import create_customer
    from guanxi.segments.services import create_segment, refresh_segment

    server = receiver()
    sub = WebhookSubscription.objects.create(
        url=server.url, event_types=["segment.entered", "segment.left"]
    )
    ann = create_customer(first_name="Ann", occupation="nurse")
    bo = create_customer(first_name="Bo", occupation="teacher")
    rule = {"conditions": [{"field": "occupation", "op": "eq", "value": "nurse"}]}
    segment = create_segment(name="Nurses", rule=rule)
    refresh_segment(segment)  # the first refresh is the baseline: nothing published
    Customer.objects.filter(pk=bo.pk).update(occupation="nurse")
    Customer.objects.filter(pk=ann.pk).update(occupation="retired")
    with django_capture_on_commit_callbacks(execute=True):
        refresh_segment(segment)
    events = sorted(
        (json.loads(body)["type"], json.loads(body)["data"]["customer_id"])
        for _headers, body in server.requests
    )
    assert events == [("segment.entered", bo.pk), ("segment.left", ann.pk)]
    assert all(verify(sub.secret, headers, body) for headers, body in server.requests)


@pytest.mark.django_db(transaction=True)
def test_tickets_created_and_solved_are_published(
    receiver, settings, db, django_capture_on_commit_callbacks
):
    from guanxi.customers.services import create_customer
    from guanxi.service.models import Ticket
    from guanxi.service.services import create_ticket, set_status

    server = receiver()
    sub = WebhookSubscription.objects.create(
        url=server.url, event_types=["ticket.created", "ticket.solved"]
    )
    ann = create_customer(first_name="Ann")
    with django_capture_on_commit_callbacks(execute=True):
        ticket = create_ticket(
            customer=ann, subject="Broken lid", body="It broke", channel="phone", auto_reply=False
        )
    with django_capture_on_commit_callbacks(execute=True):
        set_status(ticket, Ticket.Status.SOLVED)
    kinds = [json.loads(body)["type"] for _headers, body in server.requests]
    assert kinds == ["ticket.created", "ticket.solved"]
    assert all(json.loads(b)["data"]["ticket_id"] == ticket.pk for _h, b in server.requests)
    assert all(verify(sub.secret, headers, body) for headers, body in server.requests)
