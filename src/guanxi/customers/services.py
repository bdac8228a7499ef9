"""Writes to customer profiles. Every change is audited (who, what, when, through which channel)."""

import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.db import transaction
from django.utils import timezone

from guanxi.core.models import AuditEntry
from guanxi.core.services import diff, record_audit, snapshot
from guanxi.customers.models import ContactPoint, Customer, SourceIdentity

_NON_DIGITS = re.compile(r"[^\d+]")


class CustomerError(ValueError):
    """A profile change that cannot be made; ``field`` names the culprit."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def normalize_contact(kind: str, value: str) -> str:
    value = (value or "").strip()
    if kind == ContactPoint.Kind.EMAIL:
        return value.lower()
    if kind in (ContactPoint.Kind.PHONE, ContactPoint.Kind.MOBILE, ContactPoint.Kind.FAX):
        return _NON_DIGITS.sub("", value)
    return value.lower()


def _validate_profile(values: Mapping[str, Any]) -> None:
    birthday = values.get("birthday")
    if birthday is not None and birthday > timezone.localdate():
        raise CustomerError("birthday", "a birthday cannot be in the future")
    if "interests" in values and not isinstance(values["interests"], list):
        raise CustomerError("interests", "must be a list")
    if "attributes" in values and not isinstance(values["attributes"], dict):
        raise CustomerError("attributes", "must be an object")


@transaction.atomic
def create_customer(
    *,
    actor=None,
    channel: str = AuditEntry.Channel.SYSTEM,
    emails: Iterable[str] = (),
    phones: Iterable[str] = (),
    identities: Iterable[tuple[str, str]] = (),
    **fields: Any,
) -> Customer:
    """Create a profile with its contact points and source identities, and audit it."""
    unknown = set(fields) - set(Customer.PROFILE_FIELDS)
    if unknown:
        raise CustomerError(sorted(unknown)[0], "unknown profile field")
    _validate_profile(fields)
    if "consent_email_marketing" in fields or "consent_sms_marketing" in fields:
        fields.setdefault("consent_updated_at", timezone.now())
    customer = Customer.objects.create(**fields)
    for i, email in enumerate(emails):
        add_contact_point(customer, ContactPoint.Kind.EMAIL, email, primary=i == 0, audit=False)
    for i, phone in enumerate(phones):
        add_contact_point(customer, ContactPoint.Kind.PHONE, phone, primary=i == 0, audit=False)
    for source, external_id in identities:
        SourceIdentity.objects.create(customer=customer, source=source, external_id=external_id)
    record_audit(
        customer,
        action=AuditEntry.Action.CREATE,
        actor=actor,
        channel=channel,
        changes={k: [None, v] for k, v in snapshot(customer, fields).items()},
    )
    return customer


@transaction.atomic
def update_customer(
    customer: Customer,
    *,
    actor=None,
    channel: str = AuditEntry.Channel.SYSTEM,
    note: str = "",
    **fields: Any,
) -> Customer:
    """Change profile fields; records a diff of exactly what changed (nothing if nothing did)."""
    unknown = set(fields) - set(Customer.PROFILE_FIELDS)
    if unknown:
        raise CustomerError(sorted(unknown)[0], "unknown profile field")
    _validate_profile(fields)
    customer = Customer.objects.select_for_update().get(pk=customer.pk)
    before = snapshot(customer, fields)
    for name, value in fields.items():
        setattr(customer, name, value)
    after = snapshot(customer, fields)
    changes = diff(before, after)
    if not changes:
        return customer
    if {"consent_email_marketing", "consent_sms_marketing"} & set(changes):
        customer.consent_updated_at = timezone.now()
    customer.save()
    record_audit(
        customer,
        action=AuditEntry.Action.UPDATE,
        actor=actor,
        channel=channel,
        changes=changes,
        note=note,
    )
    return customer


def add_contact_point(
    customer: Customer,
    kind: str,
    value: str,
    *,
    primary: bool = False,
    validity: str = ContactPoint.Validity.UNVERIFIED,
    actor=None,
    channel: str = AuditEntry.Channel.SYSTEM,
    audit: bool = True,
) -> ContactPoint:
    """Attach an email/phone/… to a profile (idempotent on the normalized value)."""
    if kind not in ContactPoint.Kind.values:
        raise CustomerError("kind", f"unknown contact kind {kind!r}")
    normalized = normalize_contact(kind, value)
    if not normalized:
        raise CustomerError(kind, "empty value")
    if kind == ContactPoint.Kind.EMAIL and "@" not in normalized:
        raise CustomerError("email", f"{value!r} is not an email address")
    point, created = ContactPoint.objects.get_or_create(
        customer=customer,
        kind=kind,
        normalized=normalized,
        defaults={"value": value.strip(), "is_primary": primary, "validity": validity},
    )
    if created and audit:
        record_audit(
            customer,
            action=AuditEntry.Action.UPDATE,
            actor=actor,
            channel=channel,
            changes={f"contact:{kind}": [None, point.value]},
        )
    return point


@transaction.atomic
def set_contact_validity(
    point: ContactPoint, validity: str, *, actor=None, channel=AuditEntry.Channel.SYSTEM
) -> ContactPoint:
    """Mark a contact point valid/bouncing/invalid; a profile whose every point failed becomes
    unreachable (S3.10) — it is archived from mailing, never deleted."""
    old = point.validity
    if old == validity:
        return point
    point.validity = validity
    point.validity_changed_at = timezone.now()
    point.save(update_fields=["validity", "validity_changed_at", "updated_at"])
    record_audit(
        point.customer,
        action=AuditEntry.Action.UPDATE,
        actor=actor,
        channel=channel,
        changes={f"contact:{point.kind}:{point.value}": [old, validity]},
    )
    refresh_reachability(point.customer, actor=actor, channel=channel)
    return point


def refresh_reachability(customer: Customer, *, actor=None, channel=AuditEntry.Channel.SYSTEM):
    points = list(customer.contact_points.values_list("validity", flat=True))
    failed = {ContactPoint.Validity.INVALID, ContactPoint.Validity.BOUNCING}
    unreachable = bool(points) and all(v in failed for v in points)
    wanted = (
        Customer.Reachability.UNREACHABLE if unreachable else Customer.Reachability.REACHABLE
    )
    if customer.reachability != wanted:
        update_customer(customer, actor=actor, channel=channel, reachability=wanted)
