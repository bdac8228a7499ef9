"""Chains in the console: a product's page with its chains, the rules explorer, and the
recommendations card of the customer 360 page (S3.15, S1.3)."""

from __future__ import annotations

from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.http import require_safe

from guanxi.analytics import serving
from guanxi.analytics.selectors import latest_run
from guanxi.commerce.models import Category, Product
from guanxi.core.permissions import console_view

PAGE_SIZE = 50


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value not in (None, "") else None
    except ValueError:
        return None


@console_view("analytics.view_productrule")
@require_safe
def product_detail(request, pk: int):
    try:
        product = Product.objects.select_related("category").get(pk=pk)
    except Product.DoesNotExist:
        raise Http404("No such product.") from None
    run = latest_run()
    related = serving.related_products(product, limit=12, run=run)
    category_rules = serving.category_rules_for(run, product.category_id)
    return render(
        request,
        "console/product_detail.html",
        {
            "section": "rules",
            "product": product,
            "run": run,
            "together": [i for i in related.items if i.reason == "bought_together"],
            "similar": [i for i in related.items if i.reason == "similar_customers"],
            "category_rules": category_rules,
        },
    )


@console_view("analytics.view_productrule")
@require_safe
def rules_explorer(request):
    run = latest_run()
    level = request.GET.get("level") or "product"
    if level not in ("product", "category"):
        level = "product"
    min_lift = _float(request.GET.get("min_lift"))
    min_support = _float(request.GET.get("min_support"))
    category = request.GET.get("category") or ""
    category_id = int(category) if category.isdigit() else None
    page = None
    if run is not None:
        rules = serving.rules_explorer(
            run,
            level=level,
            min_lift=min_lift,
            min_support=min_support,
            category_id=category_id,
        )
        page = Paginator(rules, PAGE_SIZE).get_page(request.GET.get("page"))
    params = request.GET.copy()
    params.pop("page", None)
    return render(
        request,
        "console/rules.html",
        {
            "section": "rules",
            "run": run,
            "page": page,
            "level": level,
            "min_lift": request.GET.get("min_lift", ""),
            "min_support": request.GET.get("min_support", ""),
            "category": category_id,
            "categories": Category.objects.filter(parent__isnull=True).order_by("name"),
            "is_filtered": bool(min_lift or min_support or category_id or level != "product"),
            "query": params.urlencode(),
        },
    )


def recommendations_context(user, customer) -> dict:
    """The 360 page's recommendations card (empty when the user may not see it)."""
    if not user.has_perm("analytics.view_recommendation"):
        return {"show_recommendations": False}
    result = serving.customer_recommendations(customer, limit=8)
    return {"show_recommendations": True, "recommendations": result}
