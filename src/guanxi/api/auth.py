"""Bearer-token auth and the API's own errors."""

from ninja.errors import HttpError
from ninja.security import HttpBearer

from guanxi.api.services import authenticate_token


class BearerToken(HttpBearer):
    """``Authorization: Bearer gx_…``; the token is available as ``request.auth``."""

    def authenticate(self, request, token):
        return authenticate_token(token)


def require_write(request) -> None:
    """Explicit permission for endpoints that change data: read-only tokens get 403."""
    if not request.auth.can_write:
        raise HttpError(403, "This API token is read-only.")
