from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from guanxi.integrations import services
from guanxi.integrations.models import (
    DeadLetter,
    InboundWebhook,
    Store,
    Visitor,
    WebhookDelivery,
    WebhookSubscription,
)


@admin.register(Store)
class StoreAdmin(admin.ModelAdmin):
    list_display = ["name", "platform", "shop_domain", "source", "public_key", "is_active"]
    list_filter = ["platform", "is_active"]
    search_fields = ["name", "shop_domain", "source"]


@admin.action(description=_("Replay the selected dead letters"))
def replay_dead_letters(modeladmin, request, queryset):
    ok, failed = services.replay_dead_letters(list(queryset.values_list("pk", flat=True)))
    modeladmin.message_user(
        request,
        _("%(ok)d replayed, %(failed)d still failing.") % {"ok": ok, "failed": failed},
        messages.SUCCESS if not failed else messages.WARNING,
    )


@admin.register(DeadLetter)
class DeadLetterAdmin(admin.ModelAdmin):
    list_display = ["created_at", "store", "topic", "webhook_id", "status", "attempts", "reason"]
    list_filter = ["status", "store", "topic"]
    search_fields = ["webhook_id", "reason"]
    actions = [replay_dead_letters]
    readonly_fields = ["store", "topic", "webhook_id", "status", "attempts", "replayed_at"]


@admin.register(InboundWebhook)
class InboundWebhookAdmin(admin.ModelAdmin):
    list_display = ["received_at", "store", "platform", "topic", "webhook_id", "status", "reason"]
    list_filter = ["status", "platform", "store"]
    search_fields = ["webhook_id"]


@admin.register(Visitor)
class VisitorAdmin(admin.ModelAdmin):
    list_display = ["anonymous_id", "store", "customer_id", "identified_at"]
    search_fields = ["anonymous_id"]


@admin.register(WebhookSubscription)
class WebhookSubscriptionAdmin(admin.ModelAdmin):
    list_display = ["url", "store", "event_types", "is_active", "created_at"]
    list_filter = ["is_active"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "kind", "subscription", "status", "attempts", "last_status_code"]
    list_filter = ["status", "kind"]
