"""Console pages for segments and groups: save with validation, live preview, groups by hand."""

import json

import pytest
from django.urls import reverse

from guanxi.segments.models import Group, Segment
from tests.factories import make_customer

pytestmark = pytest.mark.django_db

NURSES = {"match": "all", "conditions": [{"field": "occupation", "op": "eq", "value": "nurse"}]}


@pytest.fixture
def marketer(client, make_staff):
    client.force_login(make_staff("marketer"))
    return client


@pytest.fixture
def nurses():
    return [
        make_customer(first_name=f"N{i}", occupation="nurse", emails=[f"n{i}@example.com"])
        for i in range(3)
    ]


def test_preview_counts_and_samples(marketer, nurses):
    response = marketer.post(
        reverse("console:segment_preview"), {"rule": NURSES}, content_type="application/json"
    )
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert {s["id"] for s in body["sample"]} == {n.pk for n in nurses}


def test_preview_names_the_bad_clause(marketer):
    rule = {"match": "all", "conditions": [{"field": "age", "op": "gte", "value": "old"}]}
    response = marketer.post(
        reverse("console:segment_preview"), {"rule": rule}, content_type="application/json"
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["path"] == "conditions[0].value"


def test_saving_a_segment_and_seeing_its_members(marketer, nurses):
    response = marketer.post(
        reverse("console:segment_new"),
        {"name": "Nurses", "description": "care workers", "rule": json.dumps(NURSES)},
    )
    segment = Segment.objects.get(name="Nurses")
    assert response.status_code == 302
    page = marketer.get(reverse("console:segment_detail", args=[segment.pk]))
    assert page.status_code == 200
    for nurse in nurses:
        assert nurse.display_name in page.content.decode()


def test_an_invalid_segment_is_not_saved_and_the_page_says_why(marketer):
    rule = {"match": "all", "conditions": [{"field": "tier", "op": "in", "value": ["diamond"]}]}
    response = marketer.post(
        reverse("console:segment_new"), {"name": "Diamonds", "rule": json.dumps(rule)}
    )
    assert response.status_code == 422
    assert "conditions[0].value" in response.content.decode()
    assert not Segment.objects.filter(name="Diamonds").exists()


def test_snapshot_then_edit_the_group_by_hand(marketer, nurses):
    marketer.post(reverse("console:segment_new"), {"name": "Nurses", "rule": json.dumps(NURSES)})
    segment = Segment.objects.get(name="Nurses")
    marketer.post(reverse("console:segment_snapshot", args=[segment.pk]), {"name": "Nurses, Nov"})
    group = Group.objects.get(name="Nurses, Nov")
    assert group.members.count() == 3
    extra = make_customer(first_name="Zed", emails=["zed@example.com"])
    marketer.post(
        reverse("console:group_detail", args=[group.pk]),
        {"customers": "zed@example.com\nnobody@example.com"},
    )
    assert group.members.filter(customer=extra).exists()
    marketer.post(reverse("console:group_detail", args=[group.pk]), {"remove": [nurses[0].pk]})
    assert group.members.count() == 3


def test_an_analyst_sees_segments_but_cannot_change_them(client, make_staff, nurses):
    client.force_login(make_staff("analyst"))
    advocates = Segment.objects.get(builtin="advocates")
    page = client.get(reverse("console:segment_detail", args=[advocates.pk]))
    assert page.status_code == 200
    assert "Save segment" not in page.content.decode()
    response = client.post(
        reverse("console:segment_detail", args=[advocates.pk]),
        {"name": "Mine", "rule": json.dumps(NURSES)},
    )
    assert response.status_code == 403
    advocates.refresh_from_db()
    assert advocates.name != "Mine"
