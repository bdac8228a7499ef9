"""``/api/v1/segments`` and ``/api/v1/groups``: rule segments, their live members, static groups.

Reads need any live token; writes a token that may write. A bad rule answers 422 with one entry
per bad clause (``field`` is the clause's path, e.g. ``conditions[1].value.within_days``).
"""

import datetime as dt
from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from guanxi.api.auth import require_write
from guanxi.api.customers import ErrorsOut
from guanxi.core.models import AuditEntry
from guanxi.segments import rules, selectors, services
from guanxi.segments.models import Group, Segment

router = Router(tags=["segments"])
API = AuditEntry.Channel.API


class SegmentOut(Schema):
    id: int
    name: str
    description: str
    rule: dict[str, Any]
    builtin: str
    member_count: int | None
    refreshed_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class SegmentIn(Schema):
    name: str
    description: str = ""
    rule: dict[str, Any]


class SegmentPatch(Schema):
    name: str | None = None
    description: str | None = None
    rule: dict[str, Any] | None = None


class RuleIn(Schema):
    rule: dict[str, Any]


class MemberOut(Schema):
    id: int
    display_name: str
    customer_type: str
    country: str
    created_at: dt.datetime


class PreviewOut(Schema):
    count: int
    sample: list[MemberOut]


class RefreshOut(Schema):
    members: int
    entered: int
    left: int


class GroupOut(Schema):
    id: int
    name: str
    description: str
    source_segment_id: int | None
    size: int
    created_at: dt.datetime


class GroupIn(Schema):
    name: str
    description: str = ""
    customer_ids: list[int] = []


class SnapshotIn(Schema):
    name: str


class MembersIn(Schema):
    customer_ids: list[int]


class ChangedOut(Schema):
    changed: int


def _rule_errors(exc: rules.RuleError):
    return Status(
        422,
        {
            "detail": [
                {"index": None, "field": e["path"], "reason": e["message"]} for e in exc.errors
            ]
        },
    )


def _error(field: str, reason: str):
    return Status(422, {"detail": [{"index": None, "field": field, "reason": reason}]})


@router.get("/segments/fields", response=list[dict[str, Any]], summary="The rule language's fields")
def segment_fields(request):
    return rules.catalogue()


@router.post(
    "/segments/preview",
    response={200: PreviewOut, 422: ErrorsOut},
    summary="Count and sample the customers a rule matches now (nothing is stored)",
)
def preview_rule(request, payload: RuleIn):
    try:
        preview = selectors.preview(payload.rule)
    except rules.RuleError as exc:
        return _rule_errors(exc)
    return Status(200, {"count": preview.count, "sample": preview.sample})


@router.get("/segments", response=list[SegmentOut], summary="List segments")
@paginate(PageNumberPagination, page_size=50)
def list_segments(request):
    return selectors.segments()


@router.post("/segments", response={201: SegmentOut, 422: ErrorsOut}, summary="Create a segment")
def create_segment(request, payload: SegmentIn):
    require_write(request)
    try:
        segment = services.create_segment(channel=API, **payload.dict())
    except rules.RuleError as exc:
        return _rule_errors(exc)
    except services.SegmentError as exc:
        field, _, reason = str(exc).partition(": ")
        return _error(field, reason)
    return Status(201, segment)


@router.get("/segments/{int:segment_id}", response=SegmentOut, summary="Get a segment")
def get_segment(request, segment_id: int):
    return get_object_or_404(Segment, pk=segment_id)


@router.patch(
    "/segments/{int:segment_id}",
    response={200: SegmentOut, 422: ErrorsOut},
    summary="Change a segment's name, description or rule (audited)",
)
def update_segment(request, segment_id: int, payload: SegmentPatch):
    require_write(request)
    segment = get_object_or_404(Segment, pk=segment_id)
    changes = {k: v for k, v in payload.dict(exclude_unset=True).items() if v is not None}
    try:
        services.update_segment(segment, channel=API, **changes)
    except rules.RuleError as exc:
        return _rule_errors(exc)
    except services.SegmentError as exc:
        field, _, reason = str(exc).partition(": ")
        return _error(field, reason)
    return Status(200, segment)


@router.delete("/segments/{int:segment_id}", response={204: None}, summary="Delete a segment")
def delete_segment(request, segment_id: int):
    require_write(request)
    services.delete_segment(get_object_or_404(Segment, pk=segment_id), channel=API)
    return Status(204, None)


@router.get(
    "/segments/{int:segment_id}/members",
    response=list[MemberOut],
    summary="Who matches the segment now (live)",
)
@paginate(PageNumberPagination, page_size=100)
def segment_members(request, segment_id: int):
    return selectors.segment_members(get_object_or_404(Segment, pk=segment_id))


@router.post(
    "/segments/{int:segment_id}/refresh",
    response=RefreshOut,
    summary="Re-evaluate and store the membership; says how many entered and left",
)
def refresh_segment(request, segment_id: int):
    require_write(request)
    result = services.refresh_segment(get_object_or_404(Segment, pk=segment_id))
    return {"members": result.members, "entered": len(result.entered), "left": len(result.left)}


@router.post(
    "/segments/{int:segment_id}/snapshot",
    response={201: GroupOut, 422: ErrorsOut},
    summary="Freeze the segment's current members into a static group",
)
def snapshot_segment(request, segment_id: int, payload: SnapshotIn):
    require_write(request)
    segment = get_object_or_404(Segment, pk=segment_id)
    try:
        group = services.snapshot_segment(segment, name=payload.name, channel=API)
    except services.SegmentError as exc:
        field, _, reason = str(exc).partition(": ")
        return _error(field, reason)
    return Status(201, selectors.groups().get(pk=group.pk))


@router.get("/groups", response=list[GroupOut], summary="List static groups")
@paginate(PageNumberPagination, page_size=50)
def list_groups(request):
    return selectors.groups()


@router.post("/groups", response={201: GroupOut, 422: ErrorsOut}, summary="Create a static group")
def create_group(request, payload: GroupIn):
    require_write(request)
    try:
        group = services.create_group(channel=API, **payload.dict())
    except services.SegmentError as exc:
        field, _, reason = str(exc).partition(": ")
        return _error(field, reason)
    return Status(201, selectors.groups().get(pk=group.pk))


@router.get("/groups/{int:group_id}/members", response=list[MemberOut], summary="Group members")
@paginate(PageNumberPagination, page_size=100)
def group_members(request, group_id: int):
    return selectors.group_members(get_object_or_404(Group, pk=group_id))


@router.post(
    "/groups/{int:group_id}/members",
    response={200: ChangedOut, 422: ErrorsOut},
    summary="Add customers to a group (audited)",
)
def add_members(request, group_id: int, payload: MembersIn):
    require_write(request)
    group = get_object_or_404(Group, pk=group_id)
    try:
        added = services.add_to_group(group, payload.customer_ids, channel=API)
    except services.SegmentError as exc:
        field, _, reason = str(exc).partition(": ")
        return _error(field, reason)
    return Status(200, {"changed": added})


@router.post(
    "/groups/{int:group_id}/members/remove",
    response=ChangedOut,
    summary="Remove customers from a group (audited)",
)
def remove_members(request, group_id: int, payload: MembersIn):
    require_write(request)
    group = get_object_or_404(Group, pk=group_id)
    return {"changed": services.remove_from_group(group, payload.customer_ids, channel=API)}
