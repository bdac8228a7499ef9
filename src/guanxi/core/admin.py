from django.contrib import admin

from guanxi.core.models import AuditEntry, IdempotencyKey


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    list_display = ["occurred_at", "actor_label", "channel", "action", "content_type", "object_id"]
    list_filter = ["channel", "action", "content_type"]
    search_fields = ["actor_label", "note"]
    date_hierarchy = "occurred_at"

    def has_change_permission(self, request, obj=None):
        return False  # the audit log is append-only

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(IdempotencyKey)
class IdempotencyKeyAdmin(admin.ModelAdmin):
    list_display = ["scope", "key", "status_code", "created_at"]
    search_fields = ["key"]
