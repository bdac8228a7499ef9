from django.contrib import admin

from guanxi.customers.models import (
    Address,
    ContactPoint,
    Customer,
    CustomerMerge,
    MatchCandidate,
    SourceIdentity,
)


class ContactPointInline(admin.TabularInline):
    model = ContactPoint
    extra = 0
    fields = ["kind", "value", "is_primary", "validity"]


class AddressInline(admin.StackedInline):
    model = Address
    extra = 0


class SourceIdentityInline(admin.TabularInline):
    model = SourceIdentity
    extra = 0
    readonly_fields = ["first_seen_at"]


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "__str__",
        "kind",
        "customer_type",
        "country",
        "reachability",
        "created_at",
    ]
    list_filter = ["kind", "customer_type", "reachability", "consent_email_marketing"]
    search_fields = ["first_name", "last_name", "company_name", "contact_points__normalized"]
    raw_id_fields = ["account", "owner", "merged_into"]
    inlines = [ContactPointInline, AddressInline, SourceIdentityInline]


@admin.register(ContactPoint)
class ContactPointAdmin(admin.ModelAdmin):
    list_display = ["value", "kind", "validity", "customer"]
    list_filter = ["kind", "validity"]
    search_fields = ["normalized"]
    raw_id_fields = ["customer"]


@admin.register(Address)
class AddressAdmin(admin.ModelAdmin):
    list_display = ["__str__", "customer", "country"]
    search_fields = ["city", "postcode", "line1"]
    raw_id_fields = ["customer"]


@admin.register(SourceIdentity)
class SourceIdentityAdmin(admin.ModelAdmin):
    list_display = ["source", "external_id", "customer", "first_seen_at"]
    list_filter = ["source"]
    search_fields = ["external_id"]
    raw_id_fields = ["customer"]


@admin.register(MatchCandidate)
class MatchCandidateAdmin(admin.ModelAdmin):
    list_display = ["customer_a", "customer_b", "probability", "status", "found_at", "decided_at"]
    list_filter = ["status"]
    raw_id_fields = ["customer_a", "customer_b", "decided_by"]


@admin.register(CustomerMerge)
class CustomerMergeAdmin(admin.ModelAdmin):
    list_display = ["merged_at", "winner", "loser", "automatic", "probability", "undone_at"]
    list_filter = ["automatic"]
    raw_id_fields = ["winner", "loser", "candidate", "merged_by", "undone_by"]
    readonly_fields = ["moved", "filled"]
