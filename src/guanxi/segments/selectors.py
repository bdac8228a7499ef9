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
