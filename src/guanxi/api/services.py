"""API tokens: issue, authenticate, revoke. Only a SHA-256 of each token is stored."""

import datetime as dt

from django.conf import settings
from django.core.cache import cache
from django.db import connection, transaction
from django.utils import timezone

from guanxi.api.models import ApiToken, hash_token

LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


@transaction.atomic
def create_api_token(name: str, *, can_write: bool = True, created_by=None) -> tuple[ApiToken, str]:
    """Create a token; returns the row and the raw token, which is shown once and never stored."""
    raw = ApiToken.generate()
    token = ApiToken.objects.create(
        name=name,
        token_hash=hash_token(raw),
        hint=raw[:8],
        can_write=can_write,
        created_by=created_by,
    )
    return token, raw


def _cache_key(token_hash: str) -> str:
    return f"api-token:{token_hash}"


def _lookup(token_hash: str) -> ApiToken | None:
    """The live token with this hash: one indexed query, no model machinery beyond one row."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id, name, can_write, created_by_id, last_used_at FROM api_apitoken "
            "WHERE token_hash = %s AND revoked_at IS NULL",
            [token_hash],
        )
        row = cursor.fetchone()
    if row is None:
        return None
    pk, name, can_write, created_by_id, last_used_at = row
    if isinstance(last_used_at, str):  # SQLite through a plain cursor
        last_used_at = dt.datetime.fromisoformat(last_used_at)
    if last_used_at is not None and timezone.is_naive(last_used_at):
        last_used_at = last_used_at.replace(tzinfo=dt.UTC)
    return ApiToken(
        id=pk,
        name=name,
        token_hash=token_hash,
        can_write=bool(can_write),
        created_by_id=created_by_id,
        last_used_at=last_used_at,
    )


def authenticate_token(raw: str) -> ApiToken | None:
    """The live token for a raw bearer value, or None. Records last use (once a minute).

    A verified token is remembered for ``GUANXI_API_TOKEN_CACHE_SECONDS`` (Django's cache: this
    process's memory, or Redis when configured) so that the API's hot read paths do not pay a
    query for it on every request; revoking a token forgets it (see :func:`revoke_api_token`).
    Unknown and revoked tokens are never cached: they are looked up every time.
    """
    if not raw or not raw.startswith(ApiToken.PREFIX):
        return None
    token_hash = hash_token(raw)
    ttl = getattr(settings, "GUANXI_API_TOKEN_CACHE_SECONDS", 0)
    key = _cache_key(token_hash)
    token = cache.get(key) if ttl > 0 else None
    if token is None:
        token = _lookup(token_hash)
        if token is None:
            return None
        if ttl > 0:
            cache.set(key, token, ttl)
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
        if ttl > 0:
            cache.set(key, token, ttl)
    return token


def forget_api_token(token_hash: str) -> None:
    """Drop a token from the cache of verified tokens (it is looked up again on next use)."""
    cache.delete(_cache_key(token_hash))


def revoke_api_token(token: ApiToken) -> None:
    """Revoke a token: every request with it gets 401 from now on (in other processes, at the
    latest once their cached copy expires: at once with Redis, else within
    ``GUANXI_API_TOKEN_CACHE_SECONDS``)."""
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
    forget_api_token(token.token_hash)
