"""Segments and groups: create, change, refresh membership, snapshot, add and remove members.

Every change is audited (``core.services.record_audit``). Rules are validated before they are
stored: a rule that does not compile is never saved (``RuleError`` names each bad clause).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from guanxi.core.models import AuditEntry
from guanxi.core.services import record_audit
from guanxi.segments import rules
from guanxi.segments.models import Group, GroupMember, Segment, SegmentMember
from guanxi.segments.signals import membership_changed
from guanxi.tasks import schedule_job

log = logging.getLogger(__name__)
CHUNK = 5000


class SegmentError(ValueError):
    """A change that cannot be made (a name taken, a customer that does not exist…)."""


def _check_name(model, name: str, exclude_pk=None) -> str:
    name = (name or "").strip()
    if not name:
        raise SegmentError("name: required")
    taken = model.objects.filter(name__iexact=name)
    if exclude_pk is not None:
        taken = taken.exclude(pk=exclude_pk)
    if taken.exists():
        raise SegmentError(f"name: {name!r} is taken")
    return name


def create_segment(
    *, name: str, rule: dict, description: str = "", actor=None, channel=AuditEntry.Channel.CONSOLE
) -> Segment:
    """Validate ``rule`` (raises ``rules.RuleError``) and store a new segment."""
    rules.compile_rule(rule)
    segment = Segment.objects.create(
        name=_check_name(Segment, name),
        rule=rule,
        description=description,
        created_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    record_audit(
        segment,
        action=AuditEntry.Action.CREATE,
        actor=actor,
        channel=channel,
        changes={"rule": [None, rule]},
    )
    return segment


def update_segment(
    segment: Segment, *, actor=None, channel=AuditEntry.Channel.CONSOLE, **changes
) -> Segment:
    """Change ``name``, ``description`` and/or ``rule``; the rule is validated first."""
    allowed = {"name", "description", "rule"}
    unknown = set(changes) - allowed
    if unknown:
        raise SegmentError(f"cannot change {', '.join(sorted(unknown))}")
    if "rule" in changes:
        rules.compile_rule(changes["rule"])
    if "name" in changes:
        changes["name"] = _check_name(Segment, changes["name"], exclude_pk=segment.pk)
    diff = {k: [getattr(segment, k), v] for k, v in changes.items() if getattr(segment, k) != v}
    if not diff:
        return segment
    for key, value in changes.items():
        setattr(segment, key, value)
    segment.save()
    record_audit(
        segment, action=AuditEntry.Action.UPDATE, actor=actor, channel=channel, changes=diff
    )
    return segment


def delete_segment(segment: Segment, *, actor=None, channel=AuditEntry.Channel.CONSOLE) -> None:
    """Delete a segment (groups made from it keep their members and the rule they came from)."""
    record_audit(
        segment,
        action=AuditEntry.Action.DELETE,
        actor=actor,
        channel=channel,
        changes={"name": [segment.name, None], "rule": [segment.rule, None]},
    )
    segment.delete()


@dataclass(frozen=True)
class Refresh:
    members: int
    entered: list[int]
    left: list[int]


def refresh_segment(segment: Segment, *, now=None) -> Refresh:
    """Re-evaluate the rule, store the membership, and report who entered and who left.

    Sends ``membership_changed`` when anyone entered or left (not on the first refresh).
    """
    now = now or timezone.now()
    current = set(rules.members(segment.rule, now=now).values_list("pk", flat=True))
    first = segment.refreshed_at is None
    with transaction.atomic():
        stored = set(
            SegmentMember.objects.filter(segment=segment).values_list("customer_id", flat=True)
        )
        entered = sorted(current - stored)
        left = sorted(stored - current)
        SegmentMember.objects.bulk_create(
            [SegmentMember(segment=segment, customer_id=pk, entered_at=now) for pk in entered],
            batch_size=CHUNK,
        )
        for start in range(0, len(left), CHUNK):
            SegmentMember.objects.filter(
                segment=segment, customer_id__in=left[start : start + CHUNK]
            ).delete()
        segment.member_count = len(current)
        segment.refreshed_at = now
        segment.save(update_fields=["member_count", "refreshed_at", "updated_at"])
    if not first and (entered or left):
        membership_changed.send(sender=Segment, segment=segment, entered=entered, left=left)
    return Refresh(members=len(current), entered=entered, left=left)


@schedule_job("nightly")
def refresh_all_segments() -> dict[str, int]:
    """Refresh every segment (nightly, after the analytics refresh has written new scores)."""
    counts = {}
    for segment in Segment.objects.all():
        try:
            counts[segment.name] = refresh_segment(segment).members
        except rules.RuleError:
            # A field that disappeared, a group deleted: keep the last membership, log it.
            log.exception("segment %s no longer compiles; membership kept", segment.pk)
    return counts


def create_group(
    *,
    name: str,
    description: str = "",
    customer_ids: Iterable[int] = (),
    actor=None,
    channel=AuditEntry.Channel.CONSOLE,
) -> Group:
    with transaction.atomic():
        group = Group.objects.create(
            name=_check_name(Group, name),
            description=description,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        record_audit(group, action=AuditEntry.Action.CREATE, actor=actor, channel=channel)
        ids = list(customer_ids)
        if ids:
            add_to_group(group, ids, actor=actor, channel=channel)
    return group


def snapshot_segment(
    segment: Segment, *, name: str, actor=None, channel=AuditEntry.Channel.CONSOLE
) -> Group:
    """A static group holding the segment's members as of now (and the rule that chose them)."""
    with transaction.atomic():
        group = Group.objects.create(
            name=_check_name(Group, name),
            description=segment.description,
            source_segment=segment,
            source_rule=segment.rule,
            created_by=actor if getattr(actor, "is_authenticated", False) else None,
        )
        ids = list(rules.members(segment.rule).values_list("pk", flat=True))
        GroupMember.objects.bulk_create(
            [GroupMember(group=group, customer_id=pk) for pk in ids], batch_size=CHUNK
        )
        record_audit(
            group,
            action=AuditEntry.Action.CREATE,
            actor=actor,
            channel=channel,
            note=f"snapshot of segment {segment.pk} ({len(ids)} members)",
        )
    return group


def add_to_group(
    group: Group, customer_ids: Iterable[int], *, actor=None, channel=AuditEntry.Channel.CONSOLE
) -> int:
    """Add customers (existing ids only; members already in are skipped); returns how many."""
    from guanxi.customers.models import Customer

    ids = set(customer_ids)
    known = set(Customer.objects.filter(pk__in=ids).values_list("pk", flat=True))
    missing = sorted(ids - known)
    if missing:
        raise SegmentError(f"customer_ids: no customer with id {', '.join(map(str, missing[:10]))}")
    with transaction.atomic():
        present = set(
            GroupMember.objects.filter(group=group, customer_id__in=ids).values_list(
                "customer_id", flat=True
            )
        )
        new = sorted(ids - present)
        GroupMember.objects.bulk_create(
            [GroupMember(group=group, customer_id=pk) for pk in new], batch_size=CHUNK
        )
        if new:
            record_audit(
                group,
                action=AuditEntry.Action.UPDATE,
                actor=actor,
                channel=channel,
                changes={"added": [None, new[:1000]]},
            )
    return len(new)


def remove_from_group(
    group: Group, customer_ids: Iterable[int], *, actor=None, channel=AuditEntry.Channel.CONSOLE
) -> int:
    ids = sorted(set(customer_ids))
    with transaction.atomic():
        removed, _ = GroupMember.objects.filter(group=group, customer_id__in=ids).delete()
        if removed:
            record_audit(
                group,
                action=AuditEntry.Action.UPDATE,
                actor=actor,
                channel=channel,
                changes={"removed": [ids[:1000], None]},
            )
    return removed


def delete_group(group: Group, *, actor=None, channel=AuditEntry.Channel.CONSOLE) -> None:
    members = list(group.members.values_list("customer_id", flat=True))
    record_audit(
        group,
        action=AuditEntry.Action.DELETE,
        actor=actor,
        channel=channel,
        changes={"name": [group.name, None], "members": [members[:1000], None]},
    )
    group.delete()


# -- built-in definitions ----------------------------------------------------------------------

# S0.8 advocates: customers who spend little but speak for the store. What exists today: repeat
# buyers in the lower value tiers who are still active. Reviews, forum answers and referrals are
# added to this rule when those apps register their fields (docs/segments.md).
BUILTIN = {
    "advocates": {
        "name": "Advocates",
        "description": (
            "Low spend, high goodwill (S0.8): repeat buyers in the silver/standard tiers who are "
            "still active. Positive reviews, forum answers and referrals join the rule when the "
            "reviews, community and referral features land."
        ),
        "rule": {
            "match": "all",
            "conditions": [
                {"field": "tier", "op": "in", "value": ["silver", "standard"]},
                {"field": "orders", "op": "has", "value": {"min_count": 2}},
                {"field": "lifecycle_stage", "op": "in", "value": ["active", "won_back", "new"]},
            ],
        },
    },
}


def ensure_builtin_segments() -> list[Segment]:
    """Create the built-in segments that do not exist yet (idempotent; edits are kept)."""
    made = []
    for key, definition in BUILTIN.items():
        if Segment.objects.filter(builtin=key).exists():
            continue
        name = definition["name"]
        if Segment.objects.filter(name__iexact=name).exists():
            name = f"{name} ({key})"
        made.append(
            Segment.objects.create(
                name=name,
                description=definition["description"],
                rule=definition["rule"],
                builtin=key,
            )
        )
    return made
