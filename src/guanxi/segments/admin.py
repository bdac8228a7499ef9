from django.contrib import admin

from guanxi.segments.models import Group, Segment


@admin.register(Segment)
class SegmentAdmin(admin.ModelAdmin):
    list_display = ("name", "member_count", "refreshed_at", "builtin")
    search_fields = ("name",)


@admin.register(Group)
class GroupAdmin(admin.ModelAdmin):
    list_display = ("name", "source_segment", "created_at")
    search_fields = ("name",)
