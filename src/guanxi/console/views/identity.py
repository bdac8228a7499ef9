"""Identity resolution in the console: review queue, side-by-side compare, merge history."""

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from guanxi.core.models import AuditEntry
from guanxi.core.permissions import console_view
from guanxi.customers import merging, selectors
from guanxi.customers.models import CustomerMerge, MatchCandidate

PAGE_SIZE = 25


@console_view("customers.view_matchcandidate")
@require_safe
def review_queue(request):
    page = Paginator(selectors.review_queue("pending"), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/identity_queue.html",
        {"section": "identity", "tab": "queue", "page": page},
    )


@console_view("customers.view_matchcandidate")
@require_safe
def compare(request, pk: int):
    candidate = get_object_or_404(
        MatchCandidate.objects.select_related("customer_a", "customer_b"), pk=pk
    )
    return render(
        request,
        "console/identity_compare.html",
        {
            "section": "identity",
            "candidate": candidate,
            "rows": selectors.compare_profiles(candidate.customer_a, candidate.customer_b),
            "can_decide": request.user.has_perm("customers.change_matchcandidate")
            and candidate.status == MatchCandidate.Status.PENDING,
        },
    )


@console_view("customers.change_matchcandidate")
@require_POST
def decide(request, pk: int):
    candidate = get_object_or_404(MatchCandidate, pk=pk)
    if candidate.status != MatchCandidate.Status.PENDING:
        messages.warning(request, _("This pair was already decided."))
    elif request.POST.get("decision") == "merge":
        try:
            merge = merging.merge_candidate(
                candidate, actor=request.user, channel=AuditEntry.Channel.CONSOLE
            )
        except merging.MergeError as exc:
            messages.error(request, str(exc))
        else:
            messages.success(
                request,
                _("Merged: %(loser)s is now part of %(winner)s (%(rows)d rows moved).")
                % {
                    "loser": merge.loser.display_name,
                    "winner": merge.winner.display_name,
                    "rows": merge.moved_count,
                },
            )
    elif request.POST.get("decision") == "keep_apart":
        merging.keep_apart(candidate, actor=request.user)
        messages.success(request, _("Kept apart: this pair will not be suggested again."))
    return redirect("console:identity_queue")


@console_view("customers.view_customermerge")
@require_safe
def merge_history(request):
    page = Paginator(selectors.merge_history(), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/identity_merges.html",
        {
            "section": "identity",
            "tab": "merges",
            "page": page,
            "can_undo": request.user.has_perm("customers.change_customermerge"),
        },
    )


@console_view("customers.change_customermerge")
@require_POST
def undo(request, pk: int):
    merge = get_object_or_404(CustomerMerge, pk=pk)
    try:
        merging.undo_merge(merge, actor=request.user, channel=AuditEntry.Channel.CONSOLE)
    except merging.MergeError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, _("Merge undone: both profiles are separate again."))
    return redirect("console:identity_merges")
