"""REST API v1: one NinjaAPI, one router per app."""

from ninja import NinjaAPI

api = NinjaAPI(
    title="Guanxi API",
    version="1.0.0",
    description="Customers, orders and events of a Guanxi CRM.",
    urls_namespace="api-v1",
)
