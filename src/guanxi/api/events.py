"""``/api/v1/events/batch``: browse, cart and search events from the store."""

import datetime as dt
from typing import Any

from ninja import Field, Router, Schema

from guanxi.api.auth import require_write
from guanxi.api.batch import run_batch
from guanxi.api.customers import ErrorsOut
from guanxi.commerce.services import ingest_events

router = Router(tags=["events"])


class EventIn(Schema):
    external_id: str | None = Field(None, max_length=128)
    event_type: str = Field(..., max_length=32)
    customer_external_id: str | None = None
    anonymous_id: str | None = None
    sku: str | None = None
    properties: dict[str, Any] = {}
    occurred_at: dt.datetime


class EventBatchIn(Schema):
    source: str = Field("api", max_length=64)
    items: list[EventIn]


class EventBatchOut(Schema):
    received: int
    created: int


@router.post(
    "/events/batch",
    response={200: EventBatchOut, 422: ErrorsOut},
    summary="Append up to 1,000 events, idempotent by (source, external_id)",
)
def batch_events(request, payload: EventBatchIn):
    require_write(request)

    def work():
        rows = [item.dict() for item in payload.items]
        created = ingest_events(rows, source=payload.source)
        return {"received": len(rows), "created": created}

    return run_batch(request, "events.batch", payload.dict(), work)
