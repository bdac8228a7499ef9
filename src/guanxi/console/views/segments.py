"""Segments and groups in the console: list, click-to-build rule editor with a live count and
sample, members, refresh, snapshot to a group, static groups edited by hand."""

import json

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from guanxi.core.permissions import console_view
from guanxi.segments import rules, selectors, services
from guanxi.segments.models import Group, Segment

PAGE_SIZE = 25
MAX_BODY = 64 * 1024


def _get(model, pk):
    try:
        return model.objects.get(pk=pk)
    except model.DoesNotExist as exc:
        raise Http404 from exc


@console_view("segments.view_segment")
@require_safe
def segment_list(request):
    return render(
        request,
        "console/segments/list.html",
        {
            "section": "segments",
            "segments": selectors.segments(),
            "groups": selectors.groups(),
        },
    )


def _builder_context(request, segment=None, rule=None, name="", description="", errors=None):
    categories = selectors.category_choices()
    groups = [{"id": g.pk, "name": g.name} for g in selectors.groups()]
    context = {
        "section": "segments",
        "segment": segment,
        "name": name,
        "description": description,
        "builder": {
            "catalogue": rules.catalogue(),
            "categories": categories,
            "groups": groups,
            "rule": rule or {"match": "all", "conditions": []},
            "text": {
                "remove": _("Remove condition"),
                "any": _("any"),
                "nested": _("A nested group of conditions (edit it through the API):"),
                "customers": _("customers match"),
                "checking": _("Counting…"),
                "fix": _("Fix these to see the count:"),
                "none": _("No one matches yet."),
                "and": _("and"),
                "or": _("or"),
                "low": _("from"),
                "high": _("to"),
            },
        },
        "errors": errors or [],
        "can_edit": request.user.has_perm(
            "segments.change_segment" if segment else "segments.add_segment"
        ),
    }
    if segment is not None:
        page = Paginator(selectors.segment_members(segment), PAGE_SIZE).get_page(
            request.GET.get("page")
        )
        context["page"] = page
    return context


def _rule_from_post(request):
    try:
        rule = json.loads(request.POST.get("rule") or "{}")
    except json.JSONDecodeError as exc:
        return None, [{"path": "rule", "message": _("not valid JSON: %(error)s") % {"error": exc}}]
    return rule, []


@console_view("segments.add_segment")
@require_http_methods(["GET", "POST"])
def segment_new(request):
    if request.method == "POST":
        rule, errors = _rule_from_post(request)
        name = request.POST.get("name", "")
        description = request.POST.get("description", "")
        if not errors:
            try:
                segment = services.create_segment(
                    name=name, description=description, rule=rule, actor=request.user
                )
            except rules.RuleError as exc:
                errors = exc.errors
            except services.SegmentError as exc:
                errors = [{"path": "name", "message": str(exc).partition(": ")[2]}]
            else:
                messages.success(request, _("Segment “%(name)s” saved.") % {"name": segment.name})
                return redirect("console:segment_detail", segment.pk)
        return render(
            request,
            "console/segments/builder.html",
            _builder_context(request, rule=rule, name=name, description=description, errors=errors),
            status=422,
        )
    return render(request, "console/segments/builder.html", _builder_context(request))


@console_view("segments.view_segment")
@require_http_methods(["GET", "POST"])
def segment_detail(request, pk):
    segment = _get(Segment, pk)
    if request.method == "POST":
        if not request.user.has_perm("segments.change_segment"):
            raise PermissionDenied("segments.change_segment")
        rule, errors = _rule_from_post(request)
        name = request.POST.get("name", segment.name)
        description = request.POST.get("description", segment.description)
        if not errors:
            try:
                services.update_segment(
                    segment, name=name, description=description, rule=rule, actor=request.user
                )
            except rules.RuleError as exc:
                errors = exc.errors
            except services.SegmentError as exc:
                errors = [{"path": "name", "message": str(exc).partition(": ")[2]}]
            else:
                messages.success(request, _("Segment saved."))
                return redirect("console:segment_detail", segment.pk)
        return render(
            request,
            "console/segments/builder.html",
            _builder_context(request, segment, rule, name, description, errors),
            status=422,
        )
    return render(
        request,
        "console/segments/builder.html",
        _builder_context(request, segment, segment.rule, segment.name, segment.description),
    )


@console_view("segments.view_segment")
@require_POST
def segment_preview(request):
    """Live count and sample for the builder (JSON in, JSON out; stores nothing)."""
    if len(request.body) > MAX_BODY:
        return JsonResponse(
            {"errors": [{"path": "rule", "message": _("rule too large")}]}, status=413
        )
    try:
        rule = json.loads(request.body or b"{}").get("rule")
    except (json.JSONDecodeError, AttributeError):
        return JsonResponse(
            {"errors": [{"path": "rule", "message": _("not valid JSON")}]}, status=400
        )
    try:
        preview = selectors.preview(rule)
    except rules.RuleError as exc:
        return JsonResponse({"errors": exc.errors}, status=422)
    return JsonResponse(
        {
            "count": preview.count,
            "sample": [
                {"id": c.pk, "name": c.display_name, "url": f"/console/customers/{c.pk}/"}
                for c in preview.sample
            ],
        }
    )


@console_view("segments.change_segment")
@require_POST
def segment_refresh(request, pk):
    segment = _get(Segment, pk)
    result = services.refresh_segment(segment)
    messages.success(
        request,
        _("%(members)d members now: %(entered)d entered, %(left)d left.")
        % {"members": result.members, "entered": len(result.entered), "left": len(result.left)},
    )
    return redirect("console:segment_detail", pk)


@console_view("segments.add_group")
@require_POST
def segment_snapshot(request, pk):
    segment = _get(Segment, pk)
    try:
        group = services.snapshot_segment(
            segment, name=request.POST.get("name", ""), actor=request.user
        )
    except services.SegmentError as exc:
        messages.error(request, str(exc))
        return redirect("console:segment_detail", pk)
    messages.success(request, _("Group “%(name)s” created.") % {"name": group.name})
    return redirect("console:group_detail", group.pk)


@console_view("segments.delete_segment")
@require_POST
def segment_delete(request, pk):
    segment = _get(Segment, pk)
    name = segment.name
    services.delete_segment(segment, actor=request.user)
    messages.success(request, _("Segment “%(name)s” deleted.") % {"name": name})
    return redirect("console:segment_list")


@console_view("segments.add_group")
@require_POST
def group_new(request):
    try:
        group = services.create_group(
            name=request.POST.get("name", ""),
            description=request.POST.get("description", ""),
            actor=request.user,
        )
    except services.SegmentError as exc:
        messages.error(request, str(exc))
        return redirect("console:segment_list")
    return redirect("console:group_detail", group.pk)


@console_view("segments.view_group")
@require_http_methods(["GET", "POST"])
def group_detail(request, pk):
    group = _get(Group, pk)
    if request.method == "POST":
        if not request.user.has_perm("segments.change_group"):
            messages.error(request, _("You may not change groups."))
            return redirect("console:group_detail", pk)
        if "remove" in request.POST:
            removed = services.remove_from_group(
                group,
                [int(x) for x in request.POST.getlist("remove") if x.isdigit()],
                actor=request.user,
            )
            messages.success(request, _("%(n)d removed.") % {"n": removed})
        else:
            ids, unknown = selectors.resolve_customers(request.POST.get("customers", ""))
            added = services.add_to_group(group, ids, actor=request.user) if ids else 0
            messages.success(request, _("%(n)d added.") % {"n": added})
            if unknown:
                messages.warning(
                    request,
                    _("Not found (or not unique): %(list)s") % {"list": ", ".join(unknown[:20])},
                )
        return redirect("console:group_detail", pk)
    page = Paginator(selectors.group_members(group), PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/segments/group.html",
        {"section": "segments", "group": group, "page": page},
    )


@console_view("segments.delete_group")
@require_POST
def group_delete(request, pk):
    group = _get(Group, pk)
    name = group.name
    services.delete_group(group, actor=request.user)
    messages.success(request, _("Group “%(name)s” deleted.") % {"name": name})
    return redirect("console:segment_list")
