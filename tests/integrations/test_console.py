"""Console pages for identity resolution and integrations: review, merge, undo, replay,
subscribe."""

import json

import pytest
from django.urls import reverse

from guanxi.commerce.models import Order
from guanxi.customers.models import Customer, CustomerMerge, MatchCandidate
from guanxi.customers.services import create_customer
from guanxi.integrations.models import DeadLetter, WebhookSubscription
from tests.console.factories import make_order
from tests.integrations.conftest import fixture

pytestmark = pytest.mark.django_db


@pytest.fixture
def pair(db):
    a = create_customer(first_name="Mei", last_name="Chen", emails=["mei@example.com"])
    b = create_customer(first_name="Mei", last_name="Chen", emails=["mei.c@example.com"])
    make_order(b, external_id="MP-1")
    return MatchCandidate.objects.create(customer_a=a, customer_b=b, probability=0.92)


def test_review_compare_merge_and_undo(client, make_staff, pair):
    client.force_login(make_staff("agent"))
    queue = client.get(reverse("console:identity_queue"))
    assert queue.status_code == 200 and b"0.920" in queue.content
    page = client.get(reverse("console:identity_compare", args=[pair.pk]))
    assert page.status_code == 200
    assert b"mei.c@example.com" in page.content and b"mei@example.com" in page.content
    assert b'data-testid="merge"' in page.content

    response = client.post(
        reverse("console:identity_decide", args=[pair.pk]), {"decision": "merge"}
    )
    assert response.status_code == 302
    assert Customer.objects.get(pk=pair.customer_b_id).merged_into_id == pair.customer_a_id
    assert Order.objects.get(external_id="MP-1").customer_id == pair.customer_a_id
    history = client.get(reverse("console:identity_merges"))
    assert b'data-testid="undo"' in history.content
    merge = CustomerMerge.objects.get()
    client.post(reverse("console:identity_undo", args=[merge.pk]))
    assert Order.objects.get(external_id="MP-1").customer_id == pair.customer_b_id
    assert MatchCandidate.objects.get().status == "kept_apart"


def test_keep_apart_and_permissions(client, make_staff, pair):
    client.force_login(make_staff("analyst"))  # may look, may not decide
    assert client.get(reverse("console:identity_compare", args=[pair.pk])).status_code == 200
    url = reverse("console:identity_decide", args=[pair.pk])
    assert client.post(url, {"decision": "merge"}).status_code == 403
    client.force_login(make_staff("agent"))
    assert client.get(url).status_code == 405
    client.post(url, {"decision": "keep_apart"})
    assert MatchCandidate.objects.get().status == "kept_apart"
    assert Customer.objects.filter(merged_into__isnull=False).count() == 0


def test_integrations_page_replays_a_dead_letter(admin_user_client, shop, post_hook):
    order = fixture("order")["order"]
    post_hook("orders/create", {**order, "line_items": []}, webhook_id="dl")
    page = admin_user_client.get(reverse("console:integrations"))
    assert page.status_code == 200
    assert b"an order needs at least one line" in page.content
    assert shop.public_key.encode() in page.content  # the tracker snippet
    letter = DeadLetter.objects.get()
    letter.body = json.dumps(order)
    letter.save()
    admin_user_client.post(reverse("console:dead_letter_replay", args=[letter.pk]))
    assert DeadLetter.objects.get().status == "replayed"
    assert Order.objects.filter(external_id="450789469").exists()


def test_webhook_subscriptions_page(admin_user_client):
    response = admin_user_client.post(
        reverse("console:webhook_add"),
        {"url": "https://shop.example.com/hook", "event_types": ["ticket.created", "bogus"]},
    )
    assert response.status_code == 302
    sub = WebhookSubscription.objects.get()
    assert sub.event_types == ["ticket.created"]
    admin_user_client.post(reverse("console:webhook_add"), {"url": "not a url"})
    assert WebhookSubscription.objects.count() == 1
    page = admin_user_client.get(reverse("console:integrations_webhooks"))
    assert page.status_code == 200 and b"https://shop.example.com/hook" in page.content
