"""``/api/v1/campaigns``: create a draft, test it, send it, follow the results; a read-only
token may look but not send; impossible transitions answer 409."""

import json

import pytest

from guanxi.api.services import create_api_token
from guanxi.customers.models import Customer
from guanxi.marketing.models import Delivery, EmailTemplate
from guanxi.segments.services import create_segment
from tests.factories import make_customer

pytestmark = pytest.mark.django_db


@pytest.fixture
def call(client):
    _row, token = create_api_token("crm")

    def _call(method, path, body=None, token=token):
        kwargs = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(client, method)(f"/api/v1{path}", **kwargs)

    return _call


def test_a_campaign_through_the_api(call, smtp_sink, settings):
    settings.GUANXI_QUIET_HOURS_START = settings.GUANXI_QUIET_HOURS_END = 0
    for name in ("Ann", "Bob"):
        c = make_customer(first_name=name, emails=[f"{name.lower()}@example.com"])
        Customer.objects.filter(pk=c.pk).update(consent_email_marketing=True)
    template = EmailTemplate.objects.create(name="T", subject_en="Hi {{ first_name }}", body_en="B")
    segment = create_segment(name="All", rule={"match": "all", "conditions": []})

    bad = call("post", "/campaigns", {"name": "X", "template_id": template.pk, "segment_id": 999})
    assert bad.status_code == 422 and bad.json()["detail"][0]["field"] == "segment_id"
    made = call(
        "post",
        "/campaigns",
        {"name": "News", "template_id": template.pk, "segment_id": segment.pk, "per_minute": 100},
    )
    assert made.status_code == 201 and made.json()["status"] == "draft"
    cid = made.json()["id"]

    _row, read_only = create_api_token("reader", can_write=False)
    assert call("post", f"/campaigns/{cid}/send", token=read_only).status_code == 403
    assert call("get", f"/campaigns/{cid}", token=read_only).status_code == 200

    test = call("post", f"/campaigns/{cid}/test", {"to": "me@shop.example"})
    assert test.status_code == 200
    assert smtp_sink.to("me@shop.example")[0]["Subject"] == "[TEST] Hi Test"
    assert Delivery.objects.count() == 0  # a test is recorded nowhere

    sent = call("post", f"/campaigns/{cid}/send")
    assert sent.json() == {"status": "sending", "queued": 2}
    assert call("post", f"/campaigns/{cid}/send").status_code == 409  # not a draft any more
    from guanxi.marketing.services import send_due

    send_due()
    results = call("get", f"/campaigns/{cid}/results").json()
    assert results["sent"] == 2 and results["recipients"] == 2 and results["bounced"] == 0
    assert call("get", f"/campaigns/{cid}").json()["status"] == "sent"
    assert call("post", f"/campaigns/{cid}/cancel").status_code == 409
    listed = call("get", "/campaigns").json()
    assert [c["name"] for c in listed["items"]] == ["News"]
