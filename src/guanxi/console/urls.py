"""Staff console URLs (``console:`` namespace). Every view declares its permission."""

from django.urls import path

from guanxi.console.views import analytics, auth, customers, home, orders, service

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
    path("service/", service.inbox, name="service_inbox"),
    path("service/tickets/new/", service.ticket_new, name="service_ticket_new"),
    path("service/tickets/bulk/", service.bulk, name="service_bulk"),
    path("service/tickets/<int:pk>/", service.ticket_detail, name="service_ticket"),
    path("service/tickets/<int:pk>/reply/", service.ticket_reply, name="service_ticket_reply"),
    path("service/tickets/<int:pk>/update/", service.ticket_update, name="service_ticket_update"),
    path("service/tickets/<int:pk>/merge/", service.ticket_merge, name="service_ticket_merge"),
    path("service/attachments/<int:pk>/", service.attachment, name="service_attachment"),
    path("service/kb/", service.kb_list, name="service_kb"),
    path("service/kb/new/", service.kb_new, name="service_kb_new"),
    path("service/kb/<int:pk>/", service.kb_edit, name="service_kb_edit"),
    path("service/reports/sla/", service.sla_report, name="service_sla_report"),
    path("service/reports/feedback/", service.feedback_report, name="service_feedback"),
]
