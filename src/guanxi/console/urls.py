"""Staff console URLs (``console:`` namespace). Every view declares its permission."""

from django.urls import path

from guanxi.console.views import (
    analytics,
    auth,
    customers,
    home,
    identity,
    integrations,
    orders,
)

app_name = "console"

urlpatterns = [
    path("login/", auth.ConsoleLoginView.as_view(), name="login"),
    path("logout/", auth.ConsoleLogoutView.as_view(), name="logout"),
    path("", home.home, name="home"),
    path("customers/", customers.customer_list, name="customer_list"),
    path("customers/export.csv", customers.customer_export, name="customer_export"),
    path("customers/<int:pk>/", customers.customer_detail, name="customer_detail"),
    path("customers/<int:pk>/edit/", customers.customer_edit, name="customer_edit"),
    path("orders/", orders.order_list, name="order_list"),
    path("orders/<int:pk>/", orders.order_detail, name="order_detail"),
    path("analytics/", analytics.analytics, name="analytics"),
    path("identity/", identity.review_queue, name="identity_queue"),
    path("identity/pairs/<int:pk>/", identity.compare, name="identity_compare"),
    path("identity/pairs/<int:pk>/decide/", identity.decide, name="identity_decide"),
    path("identity/merges/", identity.merge_history, name="identity_merges"),
    path("identity/merges/<int:pk>/undo/", identity.undo, name="identity_undo"),
    path("integrations/", integrations.integrations, name="integrations"),
    path(
        "integrations/dead-letters/<int:pk>/replay/", integrations.replay, name="dead_letter_replay"
    ),
    path("integrations/webhooks/", integrations.webhooks, name="integrations_webhooks"),
    path("integrations/webhooks/add/", integrations.add_subscription, name="webhook_add"),
    path(
        "integrations/deliveries/<int:pk>/redeliver/",
        integrations.redeliver,
        name="webhook_redeliver",
    ),
]
