from django.contrib import admin

from guanxi.service import models


class HolidayInline(admin.TabularInline):
    model = models.Holiday
    extra = 1


@admin.register(models.BusinessCalendar)
class BusinessCalendarAdmin(admin.ModelAdmin):
    list_display = ["name", "time_zone"]
    inlines = [HolidayInline]


@admin.register(models.SLAPolicy)
class SLAPolicyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "tier",
        "channel",
        "first_response_minutes",
        "resolution_minutes",
        "calendar",
        "escalate_to",
        "active",
    ]


@admin.register(models.Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "lead"]
    filter_horizontal = ["members"]


@admin.register(models.ChannelSettings)
class ChannelSettingsAdmin(admin.ModelAdmin):
    list_display = ["channel", "auto_reply", "csat_survey", "csat_reminder_hours"]


@admin.register(models.CannedReply)
class CannedReplyAdmin(admin.ModelAdmin):
    list_display = ["title", "language"]


@admin.register(models.KBCategory)
class KBCategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "name_zh", "position"]


@admin.register(models.Ticket)
class TicketAdmin(admin.ModelAdmin):
    list_display = ["id", "subject", "customer", "channel", "status", "priority", "assignee"]
    list_filter = ["status", "channel", "priority"]
    raw_id_fields = ["customer", "merged_into"]
    readonly_fields = ["sla_elapsed_seconds", "sla_running_since"]


@admin.register(models.NPSCampaign)
class NPSCampaignAdmin(admin.ModelAdmin):
    list_display = ["name", "sent_at", "coupon_percent"]
