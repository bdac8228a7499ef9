"""Merging two profiles of the same person, and undoing it. Nothing is ever deleted.

Every row of every app that points at the merged profile (orders, events, contact points,
addresses, identities, scores, tickets — whatever exists) is found through
``Customer._meta.related_objects`` and re-pointed to the kept profile; the merge records each
table's moved primary keys so :func:`undo_merge` puts exactly those rows back. A row that cannot
move (a unique constraint: the same email on both profiles) stays on the merged profile, which is
kept with ``merged_into`` set — so the row count of every table is the same before a merge, after
it and after its undo.
"""

from __future__ import annotations

from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from guanxi.core.models import AuditEntry
from guanxi.core.services import json_safe, record_audit
from guanxi.customers.models import Customer, CustomerMerge, MatchCandidate
from guanxi.customers.signals import customers_merged

# Profile fields a merge fills in on the kept profile when it has none and the other has one.
FILL_FIELDS = (
    "first_name",
    "last_name",
    "company_name",
    "gender",
    "birthday",
    "occupation",
    "country",
    "language",
)
CHUNK = 2000


class MergeError(ValueError):
    pass


def customer_relations() -> list[tuple[type[models.Model], models.Field]]:
    """(model, foreign key) for every table that points at a customer, in any app, except the
    merge bookkeeping itself and the ``merged_into`` link."""
    skip = {MatchCandidate, CustomerMerge}
    out = []
    for rel in Customer._meta.related_objects:
        if rel.many_to_many:
            continue  # its through table's foreign key is listed separately
        field = rel.field
        model = rel.related_model
        if model in skip or not field.concrete:
            continue
        if model is Customer and field.name == "merged_into":
            continue
        out.append((model, field))
    return out


def _key(model, field) -> str:
    return f"{model._meta.label}.{field.name}"


def _resolve(key: str):
    label, field_name = key.rsplit(".", 1)
    model = apps.get_model(label)
    return model, model._meta.get_field(field_name)


def _move(model, field, pks: list, to_id: int) -> list:
    """Re-point rows ``pks`` to ``to_id``; returns the pks that moved (all, unless a unique
    constraint keeps some where they are)."""
    manager = model._base_manager
    moved = []
    for start in range(0, len(pks), CHUNK):
        chunk = pks[start : start + CHUNK]
        try:
            with transaction.atomic():
                manager.filter(pk__in=chunk).update(**{field.attname: to_id})
            moved.extend(chunk)
        except IntegrityError:
            for pk in chunk:  # one by one: keep the ones that clash
                try:
                    with transaction.atomic():
                        manager.filter(pk=pk).update(**{field.attname: to_id})
                    moved.append(pk)
                except IntegrityError:
                    pass
    return moved


@transaction.atomic
def merge_customers(
    winner: Customer | int,
    loser: Customer | int,
    *,
    actor=None,
    candidate: MatchCandidate | None = None,
    probability: float | None = None,
    automatic: bool = False,
    channel: str = AuditEntry.Channel.SYSTEM,
) -> CustomerMerge:
    """Fold ``loser`` into ``winner``; returns the recorded merge."""
    ids = sorted({getattr(winner, "pk", winner), getattr(loser, "pk", loser)})
    if len(ids) != 2:
        raise MergeError("a profile cannot be merged into itself")
    locked = Customer.objects.select_for_update().in_bulk(ids)
    winner = locked.get(getattr(winner, "pk", winner))
    loser = locked.get(getattr(loser, "pk", loser))
    if winner is None or loser is None:
        raise MergeError("both profiles must exist")
    if winner.merged_into_id or loser.merged_into_id:
        raise MergeError("one of the profiles was already merged into another")
    moved: dict[str, list] = {}
    for model, field in customer_relations():
        pks = list(
            model._base_manager.filter(**{field.attname: loser.pk}).values_list("pk", flat=True)
        )
        if pks:
            done = _move(model, field, pks, winner.pk)
            if done:
                moved[_key(model, field)] = json_safe(done)
    filled = {}
    for name in FILL_FIELDS:
        mine, theirs = getattr(winner, name), getattr(loser, name)
        if mine in ("", None) and theirs not in ("", None):
            filled[name] = json_safe([mine, theirs])
            setattr(winner, name, theirs)
    if filled:
        winner.save(update_fields=[*filled, "updated_at"])
    loser.merged_into = winner
    loser.save(update_fields=["merged_into", "updated_at"])
    merge = CustomerMerge.objects.create(
        winner=winner,
        loser=loser,
        candidate=candidate,
        probability=probability
        if probability is not None
        else getattr(candidate, "probability", None),
        automatic=automatic,
        moved=moved,
        filled=filled,
        merged_by=actor if getattr(actor, "is_authenticated", False) else None,
    )
    if candidate is not None:
        candidate.status = (
            MatchCandidate.Status.AUTO_MERGED if automatic else MatchCandidate.Status.MERGED
        )
        candidate.decided_at = timezone.now()
        candidate.decided_by = merge.merged_by
        candidate.save(update_fields=["status", "decided_at", "decided_by"])
    summary = {k: len(v) for k, v in moved.items()}
    record_audit(
        winner,
        action=AuditEntry.Action.MERGE,
        actor=actor,
        channel=channel,
        changes={"absorbed": [None, loser.pk], "moved": [None, summary], **filled},
        note=f"merge {merge.pk}",
    )
    record_audit(
        loser,
        action=AuditEntry.Action.MERGE,
        actor=actor,
        channel=channel,
        changes={"merged_into": [None, winner.pk]},
        note=f"merge {merge.pk}",
    )
    transaction.on_commit(lambda: customers_merged.send(sender=CustomerMerge, merge=merge))
    return merge


@transaction.atomic
def undo_merge(
    merge: CustomerMerge | int, *, actor=None, channel: str = AuditEntry.Channel.SYSTEM
) -> CustomerMerge:
    """Put back exactly the rows the merge moved and separate the two profiles again. The pair
    is then marked "kept apart" so identity resolution does not merge it again by itself."""
    merge = CustomerMerge.objects.select_for_update().get(pk=getattr(merge, "pk", merge))
    if merge.undone_at is not None:
        raise MergeError("this merge was already undone")
    locked = Customer.objects.select_for_update().in_bulk([merge.winner_id, merge.loser_id])
    winner, loser = locked[merge.winner_id], locked[merge.loser_id]
    if winner.merged_into_id:
        raise MergeError("the kept profile was merged again since; undo that merge first")
    for key, pks in merge.moved.items():
        model, field = _resolve(key)
        for start in range(0, len(pks), CHUNK):
            model._base_manager.filter(
                pk__in=pks[start : start + CHUNK], **{field.attname: winner.pk}
            ).update(**{field.attname: loser.pk})
    restored = []
    for name, (old, new) in merge.filled.items():
        if json_safe(getattr(winner, name)) == new:
            field = Customer._meta.get_field(name)
            setattr(winner, name, field.to_python(old) if old is not None else old)
            restored.append(name)
    if restored:
        winner.save(update_fields=[*restored, "updated_at"])
    loser.merged_into = None
    loser.save(update_fields=["merged_into", "updated_at"])
    merge.undone_at = timezone.now()
    merge.undone_by = actor if getattr(actor, "is_authenticated", False) else None
    merge.save(update_fields=["undone_at", "undone_by"])
    if merge.candidate_id:
        MatchCandidate.objects.filter(pk=merge.candidate_id).update(
            status=MatchCandidate.Status.KEPT_APART,
            decided_at=timezone.now(),
            decided_by=merge.undone_by,
        )
    for target, other in ((winner, loser), (loser, winner)):
        record_audit(
            target,
            action=AuditEntry.Action.UPDATE,
            actor=actor,
            channel=channel,
            changes={"merge undone": [merge.pk, None], "other": [other.pk, other.pk]},
            note=f"undo merge {merge.pk}",
        )
    return merge


@transaction.atomic
def keep_apart(candidate: MatchCandidate, *, actor=None) -> MatchCandidate:
    candidate.status = MatchCandidate.Status.KEPT_APART
    candidate.decided_at = timezone.now()
    candidate.decided_by = actor if getattr(actor, "is_authenticated", False) else None
    candidate.save(update_fields=["status", "decided_at", "decided_by"])
    return candidate


def merge_candidate(candidate: MatchCandidate, *, actor=None, channel=AuditEntry.Channel.CONSOLE):
    """Merge a reviewed pair: the older profile (lower id) is kept."""
    winner, loser = sorted([candidate.customer_a_id, candidate.customer_b_id])
    return merge_customers(winner, loser, actor=actor, candidate=candidate, channel=channel)
