"""Staff console URLs (``console:`` namespace). Every view declares its permission."""

from django.urls import path

from guanxi.console.views import (
    analytics,
    auth,
    campaigns,
    chains,
    customers,
    home,
    identity,
    integrations,
    orders,
    segments,
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
    path("segments/", segments.segment_list, name="segment_list"),
    path("segments/new/", segments.segment_new, name="segment_new"),
    path("segments/preview/", segments.segment_preview, name="segment_preview"),
    path("segments/<int:pk>/", segments.segment_detail, name="segment_detail"),
    path("segments/<int:pk>/refresh/", segments.segment_refresh, name="segment_refresh"),
    path("segments/<int:pk>/snapshot/", segments.segment_snapshot, name="segment_snapshot"),
    path("segments/<int:pk>/delete/", segments.segment_delete, name="segment_delete"),
    path("groups/new/", segments.group_new, name="group_new"),
    path("groups/<int:pk>/", segments.group_detail, name="group_detail"),
    path("groups/<int:pk>/delete/", segments.group_delete, name="group_delete"),
    path("campaigns/", campaigns.campaign_list, name="campaign_list"),
    path("campaigns/new/", campaigns.campaign_new, name="campaign_new"),
    path("campaigns/<int:pk>/", campaigns.campaign_detail, name="campaign_detail"),
    path("campaigns/<int:pk>/action/", campaigns.campaign_action, name="campaign_action"),
    path("flows/", campaigns.flow_list, name="flow_list"),
    path("flows/<int:pk>/", campaigns.flow_edit, name="flow_edit"),
    path("templates/new/", campaigns.template_new, name="template_new"),
    path("templates/<int:pk>/", campaigns.template_edit, name="template_edit"),
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
    path("analytics/rules/", chains.rules_explorer, name="rules"),
    path("products/<int:pk>/", chains.product_detail, name="product_detail"),
]
