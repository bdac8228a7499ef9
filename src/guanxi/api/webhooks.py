"""``/api/v1/webhooks/…``: outbound webhook subscriptions (a store's systems subscribe to
Guanxi's events) and their delivery log."""

import datetime as dt

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from guanxi.api.auth import require_write
from guanxi.integrations import selectors, services
from guanxi.integrations.models import EventKind, WebhookSubscription

router = Router(tags=["webhooks"])


class SubscriptionIn(Schema):
    url: str = Field(..., max_length=500)
    event_types: list[str] = Field(
        [], description=f"any of {', '.join(EventKind.values)}; empty = all"
    )


class SubscriptionOut(Schema):
    id: int
    url: str
    event_types: list[str]
    is_active: bool
    created_at: dt.datetime


class SubscriptionCreatedOut(SubscriptionOut):
    secret: str = Field(..., description="HMAC-SHA256 key of X-Guanxi-Signature; shown once")


class DeliveryOut(Schema):
    id: int
    subscription_id: int
    event_id: str
    kind: str
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class ProblemOut(Schema):
    detail: str


@router.get("/webhooks/subscriptions", response=list[SubscriptionOut], summary="Subscriptions")
def list_subscriptions(request):
    return list(selectors.subscriptions())


@router.post(
    "/webhooks/subscriptions",
    response={201: SubscriptionCreatedOut, 422: ProblemOut},
    summary="Subscribe a URL to Guanxi events (signed, retried with back-off)",
)
def subscribe(request, payload: SubscriptionIn):
    require_write(request)
    try:
        sub = services.create_subscription(payload.url, payload.event_types)
    except ValueError as exc:
        return Status(422, {"detail": str(exc)})
    return Status(201, sub)


@router.delete(
    "/webhooks/subscriptions/{int:subscription_id}",
    response={204: None},
    summary="Stop a subscription (its delivery log is kept)",
)
def unsubscribe(request, subscription_id: int):
    require_write(request)
    sub = get_object_or_404(WebhookSubscription, pk=subscription_id)
    services.deactivate_subscription(sub)
    return Status(204, None)


@router.get("/webhooks/deliveries", response=list[DeliveryOut], summary="Delivery log")
@paginate(PageNumberPagination, page_size=50)
def list_deliveries(request, status: str = "", subscription_id: int | None = None):
    deliveries = selectors.deliveries()
    if status:
        deliveries = deliveries.filter(status=status)
    if subscription_id:
        deliveries = deliveries.filter(subscription_id=subscription_id)
    return deliveries
