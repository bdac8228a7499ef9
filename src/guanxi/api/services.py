"""API tokens: issue, authenticate, revoke. Only a SHA-256 of each token is stored."""

import datetime as dt

from django.db import transaction
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


def authenticate_token(raw: str) -> ApiToken | None:
    """The live token for a raw bearer value, or None. Records last use (once a minute)."""
    if not raw or not raw.startswith(ApiToken.PREFIX):
        return None
    token = ApiToken.objects.filter(token_hash=hash_token(raw), revoked_at__isnull=True).first()
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def revoke_api_token(token: ApiToken) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(revoked_at=timezone.now())
