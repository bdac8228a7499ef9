"""``ingest_event_table``: events written column-wise with the effects of ``ingest_events``."""

import datetime as dt
import json

import pyarrow as pa
import pytest

from guanxi.commerce.models import Event
from guanxi.commerce.services import (
    ingest_event_table,
    ingest_events,
    upsert_products,
)
from guanxi.customers.services import BatchRejected, ingest_customers

UTC = dt.UTC


def _rows():
    at = dt.datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
    return [
        # A known customer viewing a known product.
        {
            "external_id": "e1",
            "event_type": "viewed_product",
            "customer_external_id": "c1",
            "sku": "SKU-1",
            "properties": '{"source": "search"}',
            "occurred_at": at,
        },
        # An anonymous visitor searching (no product, properties written compactly).
        {
            "external_id": "e2",
            "event_type": " searched ",
            "anonymous_id": "anon-1",
            "properties": '{"query":"茶叶"}',
            "occurred_at": at + dt.timedelta(minutes=1),
        },
        # A customer id the store never sent: kept in the properties.
        {
            "external_id": "e3",
            "event_type": "added_to_cart",
            "customer_external_id": "stranger",
            "sku": "SKU-2",
            "occurred_at": at + dt.timedelta(minutes=2),
        },
        # The same event delivered twice in one batch, and an event without an id.
        {
            "external_id": "e1",
            "event_type": "viewed_product",
            "customer_external_id": "c1",
            "sku": "SKU-1",
            "occurred_at": at,
        },
        {"event_type": "page_view", "anonymous_id": "anon-2", "occurred_at": at},
    ]


def _table(rows):
    columns = {
        "external_id": pa.string(),
        "event_type": pa.string(),
        "customer_id": pa.string(),
        "anonymous_id": pa.string(),
        "sku": pa.string(),
        "properties": pa.string(),
        "occurred_at": pa.timestamp("us", tz="UTC"),
    }
    key = {"customer_id": "customer_external_id"}
    return pa.table(
        {
            name: pa.array([r.get(key.get(name, name)) for r in rows], t)
            for name, t in columns.items()
        }
    )


def _stored():
    return [
        (
            e.external_id,
            e.event_type,
            e.customer_id,
            e.anonymous_id,
            e.product_id,
            e.properties,
            e.occurred_at,
        )
        for e in Event.objects.order_by("id")
    ]


def _setup():
    ingest_customers([{"external_id": "c1", "first_name": "Mei"}], source="shop")
    upsert_products(
        [{"external_id": s, "sku": s, "name": s, "price": 1} for s in ("SKU-1", "SKU-2")],
        source="shop",
    )


@pytest.mark.django_db
def test_table_ingestion_stores_what_row_ingestion_stores():
    _setup()
    assert ingest_events(_rows(), source="shop") == 4
    by_rows = _stored()
    Event.objects.all().delete()

    assert ingest_event_table(_table(_rows()), source="shop") == 4

    assert _stored() == by_rows
    stranger = Event.objects.get(external_id="e3")
    assert stranger.customer_id is None
    assert stranger.properties == {"customer_external_id": "stranger"}
    assert Event.objects.get(external_id="e2").properties == {"query": "茶叶"}
    assert Event.objects.get(external_id="e2").event_type == "searched"


@pytest.mark.django_db
def test_table_ingestion_is_idempotent():
    _setup()
    table = _table(_rows())
    assert ingest_event_table(table, source="shop") == 4
    # Events with an id are not written again; one without an id is a new event each time.
    assert ingest_event_table(table.slice(0, 4), source="shop") == 0
    assert Event.objects.count() == 4


@pytest.mark.django_db
def test_a_bad_row_rejects_the_whole_table():
    _setup()
    rows = _rows()
    rows[1]["properties"] = "[1, 2]"
    rows[2]["event_type"] = ""
    rows[4]["anonymous_id"] = None

    with pytest.raises(BatchRejected) as rejected:
        ingest_event_table(_table(rows), source="shop")

    problems = [(e.index, e.field, e.reason) for e in rejected.value.errors]
    assert problems == [
        (1, "properties", "must be an object"),
        (2, "event_type", "is required"),
        (4, "customer_external_id", "or anonymous_id is required"),
    ]
    assert not Event.objects.exists()
    assert json.loads(json.dumps(rejected.value.errors[0].as_dict()))["value"] == "[1, 2]"
