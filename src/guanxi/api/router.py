"""REST API v1: one NinjaAPI, one router per app, bearer-token auth on every endpoint."""

from ninja import NinjaAPI

from guanxi.api import (
    analytics,
    customers,
    events,
    identity,
    marketing,
    orders,
    recommendations,
    segments,
    service,
    webhooks,
)
from guanxi.api.auth import BearerToken

api = NinjaAPI(
    title="Guanxi API",
    version="1.0.0",
    description=(
        "Customers, orders and events of a Guanxi CRM. Authenticate with "
        "`Authorization: Bearer <token>` (create one with `guanxi create_api_token NAME`). "
        "Batch endpoints accept up to 1,000 items, are all-or-nothing, idempotent by "
        "(source, external_id) and by an optional `Idempotency-Key` header, and answer 422 "
        "with one entry per bad item."
    ),
    auth=BearerToken(),
    urls_namespace="api-v1",
)
# The recommendation endpoints first: they are the hot read paths, and Django tries the
# routes in order (their paths overlap no other router's).
api.add_router("", recommendations.router)
api.add_router("", customers.router)
api.add_router("", orders.router)
api.add_router("", events.router)
api.add_router("", analytics.router)
api.add_router("", segments.router)
api.add_router("", identity.router)
api.add_router("", webhooks.router)
api.add_router("", service.router)
api.add_router("", marketing.router)
