"""Writes shared by every app: the audit log and idempotency keys."""

import datetime as dt
import decimal
import hashlib
import json
from collections.abc import Iterable
from typing import Any

from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction

from guanxi.core.models import AuditEntry, IdempotencyKey


def json_safe(value: Any) -> Any:
    """A value as it should appear in an audit diff (JSON-serialisable, readable)."""
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    return value


def snapshot(instance: models.Model, fields: Iterable[str]) -> dict[str, Any]:
    """The current values of ``fields`` (FKs by id) for a later :func:`diff`."""
    out = {}
    for name in fields:
        field = instance._meta.get_field(name)
        out[name] = json_safe(getattr(instance, field.attname))
    return out


def diff(before: dict[str, Any], after: dict[str, Any]) -> dict[str, list[Any]]:
    return {k: [before.get(k), v] for k, v in after.items() if before.get(k) != v}


def record_audit(
    target: models.Model,
    *,
    action: str,
    actor=None,
    channel: str = AuditEntry.Channel.SYSTEM,
    changes: dict | None = None,
    note: str = "",
) -> AuditEntry:
    """Append one entry to the audit log for ``target``."""
    label = ""
    if actor is not None and getattr(actor, "is_authenticated", False):
        label = actor.get_username()
    elif actor is not None:
        actor = None
    return AuditEntry.objects.create(
        actor=actor,
        actor_label=label or channel,
        channel=channel,
        action=action,
        content_type=ContentType.objects.get_for_model(type(target)),
        object_id=target.pk,
        changes=json_safe(changes or {}),
        note=note[:500],
    )


def request_fingerprint(payload: Any) -> str:
    return hashlib.sha256(
        json.dumps(payload, sort_keys=True, default=str).encode("utf-8")
    ).hexdigest()


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was reused with a different request body."""


def find_idempotent_response(scope: str, key: str, fingerprint: str) -> IdempotencyKey | None:
    stored = IdempotencyKey.objects.filter(scope=scope, key=key).first()
    if stored is not None and stored.request_hash != fingerprint:
        raise IdempotencyConflict(key)
    return stored


def store_idempotent_response(
    scope: str, key: str, fingerprint: str, status_code: int, response: Any
) -> None:
    """Remember the response for ``key``; a concurrent duplicate simply loses the race."""
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                scope=scope,
                key=key,
                request_hash=fingerprint,
                status_code=status_code,
                response=json_safe(response),
            )
    except IntegrityError:
        pass
