"""Public integration endpoints, included at the site root (``/hooks/…`` and ``/t/…``)."""

from django.urls import path

from guanxi.integrations import views

app_name = "integrations"

urlpatterns = [
    path("hooks/shopify/", views.shopify_webhook, name="shopify_webhook"),
    path("hooks/woocommerce/", views.woocommerce_webhook, name="woocommerce_webhook"),
    path("t/<str:public_key>/collect", views.collect, name="collect"),
]
