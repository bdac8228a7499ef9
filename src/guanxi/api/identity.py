"""``/api/v1/identity/…``: identity resolution — candidate duplicates, merges and their undo."""

import datetime as dt

from django.shortcuts import get_object_or_404
from ninja import Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from guanxi.api.auth import require_write
from guanxi.core.models import AuditEntry
from guanxi.customers import merging, selectors
from guanxi.customers.models import CustomerMerge, MatchCandidate

router = Router(tags=["identity"])


class CandidateOut(Schema):
    id: int
    customer_a: int
    customer_b: int
    probability: float
    status: str
    found_at: dt.datetime
    decided_at: dt.datetime | None

    @staticmethod
    def resolve_customer_a(obj):
        return obj.customer_a_id

    @staticmethod
    def resolve_customer_b(obj):
        return obj.customer_b_id


class MergeOut(Schema):
    id: int
    winner: int
    loser: int
    probability: float | None
    automatic: bool
    moved: dict[str, list[int | str]]
    filled: dict[str, list]
    merged_at: dt.datetime
    undone_at: dt.datetime | None

    @staticmethod
    def resolve_winner(obj):
        return obj.winner_id

    @staticmethod
    def resolve_loser(obj):
        return obj.loser_id


class MergeIn(Schema):
    winner_id: int
    loser_id: int


class ProblemOut(Schema):
    detail: str


class ResolveOut(Schema):
    profiles: int
    pairs: int
    auto_merged: int
    queued: int
    skipped: int


@router.get(
    "/identity/candidates",
    response=list[CandidateOut],
    summary="Candidate duplicates (status: pending, merged, auto_merged, kept_apart, or empty)",
)
@paginate(PageNumberPagination, page_size=50)
def list_candidates(request, status: str = "pending"):
    return selectors.review_queue(status)


@router.post(
    "/identity/candidates/{int:candidate_id}/merge",
    response={200: MergeOut, 409: ProblemOut},
    summary="Merge a candidate pair (the older profile is kept)",
)
def merge_candidate(request, candidate_id: int):
    require_write(request)
    candidate = get_object_or_404(MatchCandidate, pk=candidate_id)
    try:
        return merging.merge_candidate(candidate, channel=AuditEntry.Channel.API)
    except merging.MergeError as exc:
        return Status(409, {"detail": str(exc)})


@router.post(
    "/identity/candidates/{int:candidate_id}/keep-apart",
    response=CandidateOut,
    summary="Decide that a candidate pair are different people",
)
def keep_apart(request, candidate_id: int):
    require_write(request)
    return merging.keep_apart(get_object_or_404(MatchCandidate, pk=candidate_id))


@router.get("/identity/merges", response=list[MergeOut], summary="Merge history")
@paginate(PageNumberPagination, page_size=50)
def list_merges(request):
    return selectors.merge_history()


@router.post(
    "/identity/merges",
    response={201: MergeOut, 404: ProblemOut, 409: ProblemOut},
    summary="Merge two profiles by id (loser folded into winner)",
)
def merge(request, payload: MergeIn):
    require_write(request)
    try:
        result = merging.merge_customers(
            payload.winner_id, payload.loser_id, channel=AuditEntry.Channel.API
        )
    except merging.MergeError as exc:
        code = 404 if "exist" in str(exc) else 409
        return Status(code, {"detail": str(exc)})
    return Status(201, result)


@router.post(
    "/identity/merges/{int:merge_id}/undo",
    response={200: MergeOut, 409: ProblemOut},
    summary="Undo a merge: exactly the moved rows go back",
)
def undo(request, merge_id: int):
    require_write(request)
    get_object_or_404(CustomerMerge, pk=merge_id)
    try:
        return merging.undo_merge(merge_id, channel=AuditEntry.Channel.API)
    except merging.MergeError as exc:
        return Status(409, {"detail": str(exc)})


@router.post(
    "/identity/resolve",
    response=ResolveOut,
    summary="Find duplicates now: auto-merge above the high threshold, queue the middle band",
)
def resolve(request, auto_merge: bool = True):
    require_write(request)
    from guanxi.customers.resolution import resolve_identities

    result = resolve_identities(auto_merge=auto_merge)
    return result.__dict__
