"""Shared handling of the ``/…/batch`` endpoints: size limit, Idempotency-Key, 422 detail."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from ninja import Status
from ninja.errors import HttpError

from guanxi.core.services import (
    IdempotencyConflict,
    find_idempotent_response,
    request_fingerprint,
    store_idempotent_response,
)
from guanxi.customers.services import BatchRejected


def run_batch(request, scope: str, payload: dict[str, Any], work: Callable[[], dict]):
    """Run ``work`` once per Idempotency-Key; returns the response ``Status``.

    * more than ``GUANXI_API_BATCH_LIMIT`` items → 422
    * a bad item → 422 ``{"detail": [{"index", "field", "value", "reason"}, …]}``, nothing
      written (the services are all-or-nothing)
    * the same ``Idempotency-Key`` again → the first response, replayed; with another body → 409
    """
    items = payload.get("items") or []
    limit = settings.GUANXI_API_BATCH_LIMIT
    if len(items) > limit:
        reason = f"at most {limit} items per batch"
        error = {"index": None, "field": "items", "value": len(items), "reason": reason}
        return Status(422, {"detail": [error]})
    key = request.headers.get("Idempotency-Key")
    full_scope = f"{scope}:{request.auth.pk}"
    fingerprint = request_fingerprint(payload)
    if key:
        try:
            stored = find_idempotent_response(full_scope, key, fingerprint)
        except IdempotencyConflict:
            raise HttpError(
                409, "Idempotency-Key was already used with a different body."
            ) from None
        if stored is not None:
            return Status(stored.status_code, stored.response)
    try:
        status, body = 200, work()
    except BatchRejected as exc:
        status, body = 422, {"detail": [e.as_dict() for e in exc.errors]}
    if key:
        store_idempotent_response(full_scope, key, fingerprint, status, body)
    return Status(status, body)
