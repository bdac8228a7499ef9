"""Writes to customer profiles. Every change is audited (who, what, when, through which channel)."""

import dataclasses
import datetime as dt
import re
from collections.abc import Iterable, Mapping
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.utils import timezone

from guanxi.core.bulk import allocate_ids, insert_rows
from guanxi.core.models import AuditEntry
from guanxi.core.services import diff, json_safe, record_audit, snapshot
from guanxi.customers.models import Address, ContactPoint, Customer, SourceIdentity

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
    """Mark a contact point valid/bouncing/invalid; a profile whose every point is invalid
    becomes unreachable (S3.10) — it leaves every list, and is never deleted."""
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
    # Only *invalid* counts as failed: a bouncing address may still recover (soft bounces).
    points = list(customer.contact_points.values_list("validity", flat=True))
    unreachable = bool(points) and all(v == ContactPoint.Validity.INVALID for v in points)
    wanted = Customer.Reachability.UNREACHABLE if unreachable else Customer.Reachability.REACHABLE
    if customer.reachability != wanted:
        update_customer(customer, actor=actor, channel=channel, reachability=wanted)


# --- Bulk ingestion (importer, batch API, simulator) -----------------------------------------

INGEST_FIELDS = {
    "kind": str,
    "customer_type": str,
    "first_name": str,
    "last_name": str,
    "company_name": str,
    "gender": str,
    "birthday": dt.date,
    "occupation": str,
    "interests": list,
    "attributes": dict,
    "country": str,
    "language": str,
    "time_zone": str,
    "consent_email_marketing": bool,
    "consent_sms_marketing": bool,
}
_CHOICES = {
    "kind": Customer.Kind.values,
    "customer_type": Customer.CustomerType.values,
    "gender": Customer.Gender.values,
}


@dataclasses.dataclass
class ItemError:
    """What is wrong with one item of a batch: its index, the field, the value and why."""

    index: int
    field: str
    reason: str
    value: Any = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "field": self.field,
            "value": self.value,
            "reason": self.reason,
        }


class BatchRejected(Exception):
    """A batch had bad items; nothing of it was written."""

    def __init__(self, errors: list[ItemError]):
        super().__init__(f"{len(errors)} invalid item(s); first: {errors[0].as_dict()}")
        self.errors = errors


@dataclasses.dataclass
class IngestResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    ids: dict[str, int] = dataclasses.field(default_factory=dict)


def _validate_customer_row(index: int, row: Mapping[str, Any]) -> list[ItemError]:
    errors = []
    ext = row.get("external_id")
    if not isinstance(ext, str) or not ext.strip():
        errors.append(ItemError(index, "external_id", "is required", ext))
    elif len(ext) > 128:
        errors.append(ItemError(index, "external_id", "is longer than 128 characters", ext))
    for name, kind in INGEST_FIELDS.items():
        if name not in row or row[name] is None:
            continue
        value = row[name]
        if not isinstance(value, kind) or (kind is dt.date and isinstance(value, dt.datetime)):
            errors.append(ItemError(index, name, f"must be a {kind.__name__}", value))
        elif name in _CHOICES and value not in _CHOICES[name]:
            errors.append(
                ItemError(index, name, f"must be one of {', '.join(_CHOICES[name])}", value)
            )
        elif kind is dt.date and value > timezone.localdate():
            errors.append(ItemError(index, name, "cannot be in the future", str(value)))
    email = row.get("email")
    if email and "@" not in str(email):
        errors.append(ItemError(index, "email", "is not an email address", email))
    return errors


def _insert_new_customers(rows, *, source, ct, actor, label, channel, note, now, ids) -> None:
    """Write new profiles with their identities, contact points, addresses and audit entries
    through the bulk path (ids reserved up front, so nothing is read back)."""
    customer_ids = allocate_ids(Customer, len(rows))
    customers, identities, points, addresses, audits = [], [], [], [], []
    actor_id = actor.pk if label != channel else None
    for row, pk in zip(rows, customer_ids, strict=True):
        ids[row["external_id"]] = pk
        fields = {k: row[k] for k in INGEST_FIELDS if row.get(k) is not None}
        if fields.get("consent_email_marketing") or fields.get("consent_sms_marketing"):
            fields["consent_updated_at"] = now
        customers.append({"id": pk, "created_at": row.get("created_at") or now, **fields})
        identities.append(
            {
                "source": source,
                "external_id": row["external_id"],
                "customer_id": pk,
                "first_seen_at": now,
            }
        )
        for kind, key in ((ContactPoint.Kind.EMAIL, "email"), (ContactPoint.Kind.PHONE, "phone")):
            if row.get(key):
                points.append(
                    {
                        "customer_id": pk,
                        "kind": kind,
                        "value": str(row[key]).strip(),
                        "normalized": normalize_contact(kind, str(row[key])),
                        "is_primary": True,
                    }
                )
        if row.get("address"):
            address = {k: v for k, v in row["address"].items() if v is not None}
            addresses.append({"customer_id": pk, "is_default": True, **address})
        audits.append(
            {
                "occurred_at": now,
                "actor_id": actor_id,
                "actor_label": label,
                "channel": channel,
                "action": AuditEntry.Action.CREATE,
                "content_type_id": ct.pk,
                "object_id": pk,
                "changes": {"source": [None, f"{source}:{row['external_id']}"]},
                "note": note[:500],
            }
        )
    insert_rows(Customer, customers)
    insert_rows(SourceIdentity, identities)
    insert_rows(ContactPoint, points)
    insert_rows(Address, addresses)
    insert_rows(AuditEntry, audits)


@transaction.atomic
def ingest_customers(
    rows: list[Mapping[str, Any]],
    *,
    source: str,
    channel: str = AuditEntry.Channel.IMPORT,
    actor=None,
    update_existing: bool = True,
    note: str = "",
) -> IngestResult:
    """Create or update many profiles keyed by ``(source, external_id)``, all or nothing.

    New profiles get their email/phone contact points, address and source identity; existing
    ones get the changed fields (audited with a diff). Re-sending the same rows changes nothing.
    Raises :class:`BatchRejected` naming every bad item and field before anything is written.
    """
    errors = [e for i, row in enumerate(rows) for e in _validate_customer_row(i, row)]
    seen: dict[str, int] = {}
    for i, row in enumerate(rows):
        ext = row.get("external_id")
        if isinstance(ext, str) and ext in seen:
            errors.append(ItemError(i, "external_id", f"duplicates item {seen[ext]}", ext))
        seen.setdefault(ext, i)
    if errors:
        raise BatchRejected(errors)

    result = IngestResult()
    external_ids = [row["external_id"] for row in rows]
    existing: dict[str, int] = {}
    for start in range(0, len(external_ids), 5000):
        chunk = external_ids[start : start + 5000]
        existing.update(
            SourceIdentity.objects.filter(source=source, external_id__in=chunk).values_list(
                "external_id", "customer_id"
            )
        )
    now = timezone.now()
    ct = ContentType.objects.get_for_model(Customer)
    label = actor.get_username() if getattr(actor, "is_authenticated", False) else channel
    audit_rows: list[AuditEntry] = []

    new_rows = [row for row in rows if row["external_id"] not in existing]
    _insert_new_customers(
        new_rows,
        source=source,
        ct=ct,
        actor=actor,
        label=label,
        channel=channel,
        note=note,
        now=now,
        ids=result.ids,
    )
    result.created = len(new_rows)

    if update_existing:
        old_rows = [row for row in rows if row["external_id"] in existing]
        by_id = Customer.objects.in_bulk([existing[row["external_id"]] for row in old_rows])
        changed_customers, changed_fields = [], set()
        for row in old_rows:
            customer = by_id[existing[row["external_id"]]]
            result.ids[row["external_id"]] = customer.pk
            fields = {k: row[k] for k in INGEST_FIELDS if k in row and row[k] is not None}
            before = snapshot(customer, fields)
            for name, value in fields.items():
                setattr(customer, name, value)
            changes = diff(before, snapshot(customer, fields))
            if row.get("email"):
                add_contact_point(customer, ContactPoint.Kind.EMAIL, row["email"], audit=False)
            if not changes:
                result.unchanged += 1
                continue
            customer.updated_at = now
            changed_customers.append(customer)
            changed_fields.update(changes)
            audit_rows.append(
                AuditEntry(
                    actor=actor if label != channel else None,
                    actor_label=label,
                    channel=channel,
                    action=AuditEntry.Action.UPDATE,
                    content_type=ct,
                    object_id=customer.pk,
                    changes=json_safe(changes),
                    note=note[:500],
                )
            )
        if changed_customers:
            Customer.objects.bulk_update(
                changed_customers, [*sorted(changed_fields), "updated_at"], batch_size=500
            )
        result.updated = len(changed_customers)
    else:
        result.ids.update(existing)
        result.unchanged = len(rows) - len(new_rows)
    AuditEntry.objects.bulk_create(audit_rows, batch_size=5000)
    return result


def customer_ids_for_identities(source: str, external_ids: Iterable[str]) -> dict[str, int]:
    """external_id → customer id for the identities known on ``source`` (others are absent)."""
    ids = list(external_ids)
    found: dict[str, int] = {}
    for start in range(0, len(ids), 5000):
        found.update(
            SourceIdentity.objects.filter(
                source=source, external_id__in=ids[start : start + 5000]
            ).values_list("external_id", "customer_id")
        )
    return found


def mark_unreachable_profiles() -> int:
    """Mark every reachable profile whose contact points have all failed as unreachable, and
    every unreachable one with a working point as reachable again; returns how many changed."""
    failed = [ContactPoint.Validity.INVALID]
    has_points = ContactPoint.objects.filter(customer=OuterRef("pk"))
    has_working = has_points.exclude(validity__in=failed)
    candidates = Customer.objects.filter(merged_into__isnull=True).filter(
        Q(
            reachability=Customer.Reachability.REACHABLE,
            pk__in=Subquery(has_points.values("customer")),
        )
        & ~Exists(has_working)
        | Q(reachability=Customer.Reachability.UNREACHABLE) & Exists(has_working)
    )
    changed = 0
    for customer in candidates.iterator():
        refresh_reachability(customer)
        changed += 1
    return changed
