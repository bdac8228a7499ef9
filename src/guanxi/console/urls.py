"""Staff console URLs (``console:`` namespace). Every view declares its permission."""

from django.urls import path

from guanxi.console.views import analytics, auth, chains, customers, home, orders

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
    path("analytics/rules/", chains.rules_explorer, name="rules"),
    path("products/<int:pk>/", chains.product_detail, name="product_detail"),
]
