"""Incentives (S3.4): single-use coupon codes that a campaign, a flow, a survey or a person hands
out, and their redemption, recorded from the orders that carry them.

* ``issue`` is idempotent: one code per (offer, customer, source key) — a campaign re-sent after a
  crash, or a survey answered twice, hands out the same code again, never a second one.
* A code is valid from issue until ``issued + offer.valid_days`` (or the offer's fixed end,
  whichever is first), for the customer it was issued to, once.
* ``redeem_codes`` records what an order did with the codes it carried (store webhooks and the
  API call it): the first qualifying order redeems the code; every later attempt is kept as a
  refused use with the reason (already used, expired, someone else's, below the minimum).
  Recording the same order again changes nothing.
"""

from __future__ import annotations

import datetime as dt
import secrets
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from guanxi.core.models import AuditEntry
from guanxi.core.services import record_audit
from guanxi.marketing.models import Coupon, CouponUse, Offer

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud, typed from print


class CouponError(ValueError):
    def __init__(self, field: str, reason: str):
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def new_code(prefix: str = "GX") -> str:
    body = "".join(secrets.choice(ALPHABET) for _ in range(8))
    return f"{prefix}-{body[:4]}-{body[4:]}"


def normalize_code(code: str) -> str:
    return "".join(str(code).split()).upper()


def create_offer(
    *,
    name: str,
    kind: str = Offer.Kind.PERCENT,
    value,
    currency: str = "",
    min_order_total=None,
    valid_days: int = 30,
    ends_at: dt.datetime | None = None,
    actor=None,
) -> Offer:
    name = (name or "").strip()
    if not name:
        raise CouponError("name", "is required")
    if kind not in Offer.Kind.values:
        raise CouponError("kind", f"must be one of {', '.join(Offer.Kind.values)}")
    try:
        value = Decimal(str(value))
    except ArithmeticError as exc:
        raise CouponError("value", "must be a number") from exc
    if value <= 0 or (kind == Offer.Kind.PERCENT and value > 100):
        raise CouponError("value", "must be above 0 (and at most 100 for percent off)")
    if kind == Offer.Kind.AMOUNT and not currency:
        raise CouponError("currency", "is required for an amount off")
    if not 1 <= int(valid_days) <= 3650:
        raise CouponError("valid_days", "must be between 1 and 3650")
    if Offer.objects.filter(name=name).exists():
        raise CouponError("name", "an offer with this name exists")
    offer = Offer.objects.create(
        name=name,
        kind=kind,
        value=value,
        currency=(currency or "").upper()[:3],
        min_order_total=min_order_total,
        valid_days=int(valid_days),
        ends_at=ends_at,
    )
    record_audit(
        offer,
        action=AuditEntry.Action.CREATE,
        actor=actor,
        changes={"name": [None, name], "value": [None, str(value)], "kind": [None, kind]},
    )
    return offer


def survey_offer(percent: int) -> Offer:
    """The offer behind the service desk's "N % off for answering" survey coupons."""
    offer, _ = Offer.objects.get_or_create(
        name=f"Survey thank-you: {int(percent)} % off",
        defaults={"kind": Offer.Kind.PERCENT, "value": Decimal(int(percent)), "valid_days": 90},
    )
    return offer


def issue(
    offer: Offer,
    customer,
    *,
    source: str,
    source_key: str = "",
    now: dt.datetime | None = None,
) -> Coupon:
    """The customer's code for ``offer`` from ``source_key`` — created the first time, the same
    one every later time."""
    if not offer.active:
        raise CouponError("offer", "is not active")
    now = now or timezone.now()
    key = source_key or f"{source}:{now:%Y%m%d%H%M%S%f}"
    existing = Coupon.objects.filter(offer=offer, customer=customer, source_key=key).first()
    if existing is not None:
        return existing
    expires = now + dt.timedelta(days=offer.valid_days)
    if offer.ends_at and offer.ends_at < expires:
        expires = offer.ends_at
    for _attempt in range(5):
        try:
            with transaction.atomic():
                return Coupon.objects.create(
                    code=new_code(),
                    offer=offer,
                    customer=customer,
                    source=source,
                    source_key=key,
                    issued_at=now,
                    expires_at=expires,
                )
        except IntegrityError:
            existing = Coupon.objects.filter(offer=offer, customer=customer, source_key=key).first()
            if existing is not None:  # issued concurrently for the same key
                return existing
            # else the random code collided: draw again
    raise CouponError("code", "could not draw a unique code")


def check(code: str, *, customer_id: int | None = None, total=None, at=None) -> tuple[Coupon, str]:
    """(coupon, outcome) for using ``code`` now: ``CouponUse.Outcome.REDEEMED`` if it may be
    used; raises ``CouponError`` when no such code exists."""
    coupon = Coupon.objects.select_related("offer").filter(code=normalize_code(code)).first()
    if coupon is None:
        raise CouponError("code", "no such coupon")
    at = at or timezone.now()
    if coupon.redeemed_at is not None:
        return coupon, CouponUse.Outcome.ALREADY_USED
    if coupon.expires_at and at > coupon.expires_at:
        return coupon, CouponUse.Outcome.EXPIRED
    if coupon.customer_id and customer_id and coupon.customer_id != customer_id:
        return coupon, CouponUse.Outcome.OTHER_CUSTOMER
    minimum = coupon.offer.min_order_total
    if minimum is not None and total is not None and Decimal(str(total)) < minimum:
        return coupon, CouponUse.Outcome.BELOW_MINIMUM
    return coupon, CouponUse.Outcome.REDEEMED


def redeem_codes(order, codes) -> list[CouponUse]:
    """Record the codes an order carried (idempotent per (code, order)); unknown codes are
    ignored (a store's own discount codes are not ours)."""
    uses = []
    for code in dict.fromkeys(normalize_code(c) for c in codes or [] if str(c).strip()):
        with transaction.atomic():
            coupon = Coupon.objects.select_for_update().filter(code=code).first()
            if coupon is None:
                continue
            previous = CouponUse.objects.filter(coupon=coupon, order=order).first()
            if previous is not None:
                uses.append(previous)
                continue
            _coupon, outcome = check(
                code, customer_id=order.customer_id, total=order.total, at=order.placed_at
            )
            use = CouponUse.objects.create(
                coupon=coupon, order=order, outcome=outcome, at=order.placed_at
            )
            if outcome == CouponUse.Outcome.REDEEMED:
                Coupon.objects.filter(pk=coupon.pk, redeemed_at__isnull=True).update(
                    redeemed_at=order.placed_at, redeemed_order=order
                )
            uses.append(use)
    return uses


def offer_stats(offer: Offer) -> dict:
    coupons = Coupon.objects.filter(offer=offer)
    now = timezone.now()
    return {
        "issued": coupons.count(),
        "redeemed": coupons.filter(redeemed_at__isnull=False).count(),
        "expired": coupons.filter(redeemed_at__isnull=True, expires_at__lt=now).count(),
        "refused_uses": CouponUse.objects.filter(coupon__offer=offer)
        .exclude(outcome=CouponUse.Outcome.REDEEMED)
        .count(),
    }
