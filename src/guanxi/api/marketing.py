"""``/api/v1/campaigns``, ``/api/v1/offers``, ``/api/v1/coupons`` and the signed bounce webhook
``/api/v1/marketing/bounces``.

Reads need any live token; writes a token that may write. Sending goes through the same rules as
the console (consent, unreachable profiles, frequency cap, quiet hours, throttle).
"""

import datetime as dt
import hashlib
import hmac
import json
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from guanxi.api.auth import require_write
from guanxi.api.customers import ErrorsOut
from guanxi.customers import selectors as customer_selectors
from guanxi.marketing import bounces, coupons, selectors, services
from guanxi.marketing.models import Campaign, Coupon, EmailTemplate, Offer

router = Router(tags=["marketing"])


def _error(field: str, reason: str, status: int = 422):
    return Status(status, {"detail": [{"index": None, "field": field, "reason": reason}]})


# -- campaigns -------------------------------------------------------------------------------------


class CampaignOut(Schema):
    id: int
    name: str
    template_id: int
    segment_id: int | None
    offer_id: int | None
    status: str
    scheduled_at: dt.datetime | None
    queued_at: dt.datetime | None
    per_minute: int | None
    attribution_days: int
    created_at: dt.datetime


class CampaignIn(Schema):
    name: str
    template_id: int
    segment_id: int
    offer_id: int | None = None
    scheduled_at: dt.datetime | None = None
    per_minute: int | None = None
    attribution_days: int = 7


class StartOut(Schema):
    status: str
    queued: int | None


class TestIn(Schema):
    to: str


@router.get("/campaigns", response=list[CampaignOut], summary="List campaigns, newest first")
@paginate(PageNumberPagination, page_size=50)
def list_campaigns(request):
    return selectors.campaigns()


@router.post(
    "/campaigns", response={201: CampaignOut, 422: ErrorsOut}, summary="Create a draft campaign"
)
def create_campaign(request, payload: CampaignIn):
    require_write(request)
    from guanxi.segments.models import Segment

    if not EmailTemplate.objects.filter(pk=payload.template_id).exists():
        return _error("template_id", "no such template")
    if not Segment.objects.filter(pk=payload.segment_id).exists():
        return _error("segment_id", "no such segment")
    if payload.offer_id is not None and not Offer.objects.filter(pk=payload.offer_id).exists():
        return _error("offer_id", "no such offer")
    if payload.per_minute is not None and payload.per_minute < 1:
        return _error("per_minute", "must be at least 1 (or null: no throttle)")
    if not 0 <= payload.attribution_days <= 365:
        return _error("attribution_days", "must be between 0 and 365")
    campaign = services.create_campaign(
        name=payload.name,
        template_id=payload.template_id,
        segment_id=payload.segment_id,
        offer_id=payload.offer_id,
        scheduled_at=payload.scheduled_at,
        per_minute=payload.per_minute,
        attribution_days=payload.attribution_days,
    )
    return Status(201, campaign)


@router.get("/campaigns/{int:campaign_id}", response=CampaignOut, summary="Get a campaign")
def get_campaign(request, campaign_id: int):
    return get_object_or_404(Campaign, pk=campaign_id)


@router.get(
    "/campaigns/{int:campaign_id}/results",
    response=dict[str, Any],
    summary="Recipients, sent, delivered, bounced, opened, clicked, unsubscribed, complaints, "
    "not sent by reason, coupons, attributed orders and revenue",
)
def campaign_results(request, campaign_id: int):
    results = services.campaign_results(get_object_or_404(Campaign, pk=campaign_id))
    results["revenue"] = str(Decimal(results["revenue"] or 0))
    return results


@router.post(
    "/campaigns/{int:campaign_id}/send",
    response={200: StartOut, 409: ErrorsOut},
    summary="Send a draft now, or schedule it when its send time is ahead",
)
def send_campaign(request, campaign_id: int):
    require_write(request)
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if campaign.status != Campaign.Status.DRAFT:
        return _error("status", f"only a draft can be sent (this one is {campaign.status})", 409)
    queued = services.start_campaign(campaign)
    return {"status": campaign.status, "queued": queued}


@router.post(
    "/campaigns/{int:campaign_id}/cancel",
    response={200: StartOut, 409: ErrorsOut},
    summary="Stop a scheduled or sending campaign (what is not yet sent is not sent)",
)
def cancel_campaign(request, campaign_id: int):
    require_write(request)
    campaign = get_object_or_404(Campaign, pk=campaign_id)
    if campaign.status not in (Campaign.Status.SCHEDULED, Campaign.Status.SENDING):
        return _error("status", f"a {campaign.status} campaign cannot be cancelled", 409)
    services.cancel_campaign(campaign)
    return {"status": campaign.status, "queued": None}


@router.post(
    "/campaigns/{int:campaign_id}/test",
    response={200: dict[str, str], 422: ErrorsOut},
    summary="Send the campaign's message once to a staff address (nothing is recorded)",
)
def test_campaign(request, campaign_id: int, payload: TestIn):
    require_write(request)
    if "@" not in payload.to:
        return _error("to", "not an email address")
    message_id = services.send_test(get_object_or_404(Campaign, pk=campaign_id), payload.to)
    return {"message_id": message_id}


# -- offers and coupons ---------------------------------------------------------------------------


class OfferOut(Schema):
    id: int
    name: str
    kind: str
    value: Decimal
    currency: str
    min_order_total: Decimal | None
    valid_days: int
    ends_at: dt.datetime | None
    active: bool


class OfferIn(Schema):
    name: str
    kind: str = Offer.Kind.PERCENT
    value: Decimal
    currency: str = ""
    min_order_total: Decimal | None = None
    valid_days: int = 30
    ends_at: dt.datetime | None = None


class IssueIn(Schema):
    customer_id: int
    key: str  # your id for this hand-out: asking again with the same key returns the same code


class CouponOut(Schema):
    code: str
    offer_id: int
    customer_id: int | None
    source: str
    issued_at: dt.datetime
    expires_at: dt.datetime | None
    redeemed_at: dt.datetime | None
    redeemed_order_id: int | None


class CheckOut(Schema):
    code: str
    usable: bool
    outcome: str
    offer: OfferOut


class RedeemIn(Schema):
    codes: list[str]
    order_source: str
    order_external_id: str


class UseOut(Schema):
    code: str
    outcome: str


@router.get("/offers", response=list[OfferOut], summary="List coupon offers")
@paginate(PageNumberPagination, page_size=50)
def list_offers(request):
    return Offer.objects.order_by("name")


@router.post("/offers", response={201: OfferOut, 422: ErrorsOut}, summary="Create a coupon offer")
def create_offer(request, payload: OfferIn):
    require_write(request)
    try:
        offer = coupons.create_offer(**payload.dict())
    except coupons.CouponError as exc:
        return _error(exc.field, exc.reason)
    return Status(201, offer)


@router.post(
    "/offers/{int:offer_id}/coupons",
    response={201: CouponOut, 422: ErrorsOut},
    summary="Hand a customer a single-use code (idempotent by `key`)",
)
def issue_coupon(request, offer_id: int, payload: IssueIn):
    require_write(request)
    offer = get_object_or_404(Offer, pk=offer_id)
    try:
        customer = customer_selectors.get_customer(payload.customer_id)
    except customer_selectors.Customer.DoesNotExist:
        return _error("customer_id", "no such customer")
    if not payload.key.strip():
        return _error("key", "is required")
    try:
        coupon = coupons.issue(
            offer, customer, source=Coupon.Source.API, source_key=f"api:{payload.key.strip()}"
        )
    except coupons.CouponError as exc:
        return _error(exc.field, exc.reason)
    return Status(201, coupon)


# Registered before /coupons/{code}: Django would route "redeem" to the code lookup.
@router.post(
    "/coupons/redeem",
    response={200: list[UseOut], 422: ErrorsOut},
    summary="Record the codes an order carried (idempotent per code and order)",
)
def redeem(request, payload: RedeemIn):
    require_write(request)
    from guanxi.commerce import services as commerce_services

    order = commerce_services.order_for(payload.order_source, payload.order_external_id)
    if order is None:
        return _error("order_external_id", "no such order for this source")
    uses = coupons.redeem_codes(order, payload.codes)
    return [{"code": use.coupon.code, "outcome": use.outcome} for use in uses]


@router.get(
    "/coupons/{code}",
    response={200: CheckOut, 404: ErrorsOut},
    summary="May this code be used now? (for a checkout: `customer_id` and `total` optional)",
)
def check_coupon(request, code: str, customer_id: int | None = None, total: Decimal | None = None):
    try:
        coupon, outcome = coupons.check(code, customer_id=customer_id, total=total)
    except coupons.CouponError as exc:
        return _error(exc.field, exc.reason, 404)
    return {
        "code": coupon.code,
        "usable": outcome == "redeemed",
        "outcome": outcome,
        "offer": coupon.offer,
    }


# -- bounces ---------------------------------------------------------------------------------------


class BouncesOut(Schema):
    recorded: int
    duplicates: int
    ignored: int


def verify_bounce_signature(body: bytes, signature: str) -> bool:
    """``X-Guanxi-Signature: sha256=<hex HMAC of the body with GUANXI_BOUNCE_WEBHOOK_SECRET>``."""
    secret = settings.GUANXI_BOUNCE_WEBHOOK_SECRET
    if not secret or not signature:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip())


@router.post(
    "/marketing/bounces",
    auth=None,
    response={200: BouncesOut, 401: dict, 422: ErrorsOut},
    summary="Receive bounces and complaints, signed with X-Guanxi-Signature",
    description=(
        "The body is either one raw report (RFC 3464 delivery status notification or RFC 5965 "
        'abuse report, `Content-Type: message/rfc822`) or JSON `{"events": [{"id", "type": '
        '"bounce"|"complaint", "email", "bounce_type": "hard"|"soft", "status", '
        '"diagnostic", "message_id"}]}`. `X-Guanxi-Signature: sha256=<hex>` is the '
        "HMAC-SHA256 of the body with `GUANXI_BOUNCE_WEBHOOK_SECRET`. A report received twice "
        "counts once."
    ),
)
def receive_bounces(request):
    body = request.body
    if not verify_bounce_signature(body, request.headers.get("X-Guanxi-Signature", "")):
        return HttpResponse(
            b'{"detail": "bad or missing signature"}', status=401, content_type="application/json"
        )
    try:
        if request.content_type == "application/json":
            try:
                data = json.loads(body)
            except ValueError:
                return _error("body", "is not valid JSON")
            events = data.get("events") if isinstance(data, dict) else None
            outcome = bounces.receive_events(events, source="webhook")
        else:
            outcome = bounces.receive(body, source="webhook")
    except bounces.BounceError as exc:
        return _error(exc.field, exc.reason)
    return {
        "recorded": outcome.recorded,
        "duplicates": outcome.duplicates,
        "ignored": outcome.ignored,
    }
