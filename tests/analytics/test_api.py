"""API: a customer's scores and the analytics run log, read-only, bearer token required."""

import datetime as dt

import pytest

from guanxi.api.services import create_api_token
from tests.analytics.test_views import analysed, make_run  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth():
    _row, raw = create_api_token("analytics-reader")
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


@pytest.mark.parametrize("path", ["/api/v1/customers/1/scores", "/api/v1/analytics/runs"])
def test_a_token_is_required(client, path):
    assert client.get(path).status_code == 401
    assert client.get(path, HTTP_AUTHORIZATION="Bearer gx_wrong").status_code == 401


def test_scores_with_explanation_affinities_and_patterns(client, auth, analysed):  # noqa: F811
    ann = analysed["ann"]
    response = client.get(f"/api/v1/customers/{ann.pk}/scores", **auth)
    assert response.status_code == 200
    body = response.json()
    assert body["customer_id"] == ann.pk
    assert body["run_id"] == analysed["run"].pk
    assert body["tier"] == "vip"
    assert (body["r_score"], body["f_score"], body["m_score"]) == (5, 4, 5)
    assert body["explanation"]["tier"]["revenue_rank"] == 3
    assert body["churn_risk"] == "low" and body["p_alive"] == 0.93
    assert body["next_order_date"] == "2026-11-20"
    assert [a["category"] for a in body["affinities"]] == ["Gifts"]
    pattern = body["periodic_patterns"][0]
    assert pattern["kind"] == "yearly" and pattern["month"] == 5 and pattern["sku"] == "GIFT-1"
    assert body["stage_changes"][0]["to_stage"] == "active"


def test_scores_404_without_a_run_or_score(client, auth, analysed):  # noqa: F811
    assert client.get("/api/v1/customers/999999/scores", **auth).status_code == 404


def test_scores_404_before_any_run(client, auth):
    assert client.get("/api/v1/customers/1/scores", **auth).status_code == 404


def test_scores_are_read_only(client, auth, analysed):  # noqa: F811
    path = f"/api/v1/customers/{analysed['ann'].pk}/scores"
    assert client.post(path, **auth).status_code == 405
    assert client.delete(path, **auth).status_code == 405


def test_run_log_is_paginated_newest_first(client, auth):
    for i in range(25):
        make_run(duration_s=float(i), as_of=dt.datetime(2026, 1, 1 + i, tzinfo=dt.UTC))
    make_run(status="failed", error="boom")
    first = client.get("/api/v1/analytics/runs", **auth).json()
    assert first["count"] == 26
    assert len(first["items"]) == 20
    assert first["items"][0]["status"] == "failed" and first["items"][0]["error"] == "boom"
    assert first["items"][1]["duration_s"] == 24.0
    assert set(first["items"][1]) >= {"engine", "inputs", "outputs", "steps", "as_of"}
    second = client.get("/api/v1/analytics/runs?page=2", **auth).json()
    assert len(second["items"]) == 6
