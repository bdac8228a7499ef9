from django.contrib import admin

from guanxi.analytics.models import (
    AnalyticsRun,
    CategoryAffinity,
    CustomerScore,
    LifecycleChange,
    PeriodicPattern,
    ProductRule,
    Recommendation,
)


@admin.register(AnalyticsRun)
class AnalyticsRunAdmin(admin.ModelAdmin):
    list_display = ["id", "engine", "status", "as_of", "started_at", "duration_s", "triggered_by"]
    list_filter = ["engine", "status"]
    readonly_fields = [f.name for f in AnalyticsRun._meta.fields]


@admin.register(CustomerScore)
class CustomerScoreAdmin(admin.ModelAdmin):
    list_display = ["customer", "run", "tier", "rfm_group", "lifecycle_stage", "clv", "churn_risk"]
    list_filter = ["tier", "rfm_group", "lifecycle_stage", "churn_risk"]
    raw_id_fields = ["customer", "run"]


@admin.register(LifecycleChange)
class LifecycleChangeAdmin(admin.ModelAdmin):
    list_display = ["customer", "from_stage", "to_stage", "changed_at"]
    list_filter = ["to_stage"]
    raw_id_fields = ["customer", "run"]


@admin.register(CategoryAffinity)
class CategoryAffinityAdmin(admin.ModelAdmin):
    list_display = ["customer", "category", "share", "score", "trend", "run"]
    raw_id_fields = ["customer", "run", "category"]


@admin.register(PeriodicPattern)
class PeriodicPatternAdmin(admin.ModelAdmin):
    list_display = ["customer", "kind", "sku", "period_days", "confidence", "next_due"]
    list_filter = ["kind"]
    raw_id_fields = ["customer", "run", "product", "category"]


@admin.register(ProductRule)
class ProductRuleAdmin(admin.ModelAdmin):
    list_display = ["id", "level", "run", "support", "confidence", "lift", "pair_count"]
    list_filter = ["level"]
    raw_id_fields = [
        "run",
        "antecedent_product",
        "consequent_product",
        "antecedent_category",
        "consequent_category",
    ]


@admin.register(Recommendation)
class RecommendationAdmin(admin.ModelAdmin):
    list_display = ["customer", "product", "rank", "reason", "score", "run"]
    list_filter = ["reason"]
    raw_id_fields = ["customer", "product", "because_of", "run"]
