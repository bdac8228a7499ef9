"""Reads: segments and groups, live counts and samples, members."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, QuerySet

from guanxi.customers.models import Customer
from guanxi.segments import rules
from guanxi.segments.models import Group, Segment

SAMPLE_SIZE = 10


@dataclass(frozen=True)
class Preview:
    count: int
    sample: list[Customer]


def segments() -> QuerySet[Segment]:
    return Segment.objects.select_related("created_by").order_by("name")


def groups() -> QuerySet[Group]:
    return (
        Group.objects.select_related("source_segment")
        .annotate(size=Count("members"))
        .order_by("name")
    )


def get_segment(pk: int) -> Segment:
    return Segment.objects.get(pk=pk)


def get_group(pk: int) -> Group:
    return Group.objects.get(pk=pk)


def preview(rule: dict, sample_size: int = SAMPLE_SIZE) -> Preview:
    """The live count and a sample of members (newest first); raises ``rules.RuleError``."""
    matching = rules.members(rule)
    return Preview(
        count=matching.count(), sample=list(matching.order_by("-created_at", "-id")[:sample_size])
    )


def segment_members(segment: Segment) -> QuerySet[Customer]:
    """Who matches the segment now (live, not the stored membership)."""
    return rules.members(segment.rule).order_by("-created_at", "-id")


def group_members(group: Group) -> QuerySet[Customer]:
    return Customer.objects.filter(group_entries__group=group).order_by(
        "-group_entries__added_at", "-id"
    )


def customer_groups(customer_id: int) -> QuerySet[Group]:
    return Group.objects.filter(members__customer_id=customer_id).order_by("name")


def category_choices() -> list[dict]:
    """Categories for rule builders, as ``{"id", "name"}`` with the parent's name for context."""
    from guanxi.commerce.models import Category

    rows = Category.objects.select_related("parent").order_by("parent__name", "name")
    return [
        {"id": c.pk, "name": f"{c.parent.name} › {c.name}" if c.parent else c.name} for c in rows
    ]


def resolve_customers(text: str, limit: int = 1000) -> tuple[list[int], list[str]]:
    """Customer ids from what a person pastes: ids, emails, phones or external ids, one per line
    or comma-separated. Returns the ids found and the entries that matched no one (or several)."""
    from guanxi.customers.selectors import search_customers

    ids, unknown = [], []
    tokens = [t.strip() for t in text.replace(",", "\n").splitlines() if t.strip()][:limit]
    for token in tokens:
        if token.isdigit() and Customer.objects.filter(pk=int(token)).exists():
            ids.append(int(token))
            continue
        found = list(search_customers(token, {}, "-created").values_list("pk", flat=True)[:2])
        if len(found) == 1:
            ids.append(found[0])
        else:
            unknown.append(token)
    return ids, unknown
