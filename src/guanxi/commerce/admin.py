from django.contrib import admin

from guanxi.commerce.models import (
    Category,
    Event,
    ImportRun,
    Order,
    OrderLine,
    Product,
    Shipment,
)


@admin.register(Category)
class CategoryAdmin(admin.ModelAdmin):
    list_display = ["name", "parent", "source", "external_id"]
    search_fields = ["name"]


@admin.register(Product)
class ProductAdmin(admin.ModelAdmin):
    list_display = ["sku", "name", "category", "price", "currency", "in_stock"]
    list_filter = ["in_stock", "is_active", "category", "source"]
    search_fields = ["sku", "name"]


class OrderLineInline(admin.TabularInline):
    model = OrderLine
    extra = 0
    raw_id_fields = ["product"]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):
    list_display = ["external_id", "source", "kind", "status", "customer", "total", "placed_at"]
    list_filter = ["kind", "status", "source", "currency"]
    search_fields = ["external_id"]
    raw_id_fields = ["customer", "import_run"]
    date_hierarchy = "placed_at"
    inlines = [OrderLineInline]


@admin.register(OrderLine)
class OrderLineAdmin(admin.ModelAdmin):
    list_display = ["order", "line_no", "sku", "quantity", "unit_price", "line_total"]
    search_fields = ["sku", "order__external_id"]
    raw_id_fields = ["order", "product"]


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ["event_type", "customer", "anonymous_id", "occurred_at", "source"]
    list_filter = ["event_type", "source"]
    search_fields = ["anonymous_id", "external_id"]
    raw_id_fields = ["customer", "product"]
    date_hierarchy = "occurred_at"


@admin.register(ImportRun)
class ImportRunAdmin(admin.ModelAdmin):
    list_display = ["started_at", "path", "file_format", "status", "rows_total", "orders_created"]
    list_filter = ["status", "file_format"]
    readonly_fields = [f.name for f in ImportRun._meta.fields]


@admin.register(Shipment)
class ShipmentAdmin(admin.ModelAdmin):
    list_display = ["external_id", "source", "order", "status", "tracking_number", "shipped_at"]
    list_filter = ["source", "status"]
    search_fields = ["external_id", "tracking_number"]
    raw_id_fields = ["order"]
