"""Service desk in the console: the agent inbox, a ticket beside its customer's 360, logging
phone / fax tickets, the knowledge-base editor, SLA and feedback reports."""

import datetime as dt

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from guanxi.commerce import selectors as commerce
from guanxi.console.service_forms import (
    ArticleFilterForm,
    ArticleForm,
    InboxFilterForm,
    MergeForm,
    NewTicketForm,
    NPSCampaignForm,
    PeriodForm,
    ReplyForm,
    TicketUpdateForm,
)
from guanxi.console.views.scores import scores_context
from guanxi.core.models import AuditEntry
from guanxi.core.permissions import console_view
from guanxi.customers import selectors as customer_selectors
from guanxi.service import selectors, services
from guanxi.service.models import KBArticle, Ticket

PAGE_SIZE = 25


def _upload(form) -> list:
    file = form.cleaned_data.get("attachment")
    if not file:
        return []
    return [services.Upload(file.name, file.read(services.max_attachment_bytes() + 1))]


def _sla_state(ticket: Ticket, now) -> dict:
    """Badges for the list and the ticket page: what is due next and how it stands."""
    if not ticket.is_open or ticket.sla_policy_id is None:
        breached = ticket.first_response_breached or ticket.resolution_breached
        return {"label": _("breached") if breached else "", "css": "bad" if breached else ""}
    due = None
    if ticket.first_response_at is None and ticket.first_response_due:
        due = ticket.first_response_due
    elif ticket.status != Ticket.Status.PENDING and ticket.resolution_due:
        due = ticket.resolution_due
    if ticket.status == Ticket.Status.PENDING:
        return {"label": _("clock paused"), "css": "muted", "due": None}
    if due is None:
        return {"label": "", "css": ""}
    if due <= now:
        return {"label": _("overdue"), "css": "bad", "due": due}
    if due - now <= selectors.BREACHING_WINDOW:
        return {"label": _("due soon"), "css": "warn", "due": due}
    return {"label": _("on track"), "css": "ok", "due": due}


@console_view("service.view_ticket")
@require_safe
def inbox(request):
    view = request.GET.get("view", "all")
    if view not in selectors.INBOX_VIEWS:
        view = "all"
    form = InboxFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    now = timezone.now()
    tickets = selectors.inbox(
        request.user,
        view,
        q=data.get("q", ""),
        status=data.get("status", ""),
        channel=data.get("channel", ""),
        now=now,
    )
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [(t, _sla_state(t, now)) for t in page.object_list]
    return render(
        request,
        "console/service/inbox.html",
        {
            "section": "service",
            "form": form,
            "view": view,
            "page": page,
            "rows": rows,
            "counts": selectors.inbox_counts(request.user, now),
        },
    )


@console_view("service.view_ticket")
@require_safe
def ticket_detail(request, pk: int):
    try:
        ticket = selectors.get_ticket(pk)
    except Ticket.DoesNotExist:
        raise Http404(_("No such ticket.")) from None
    return _render_ticket(request, ticket)


def _render_ticket(request, ticket, reply_form=None, update_form=None, status=200):
    user = request.user
    now = timezone.now()
    agents = selectors.agents()
    canned = [
        {"id": c.pk, "title": c.title, "text": services.render_canned(c, ticket, user)}
        for c in selectors.canned_replies()
    ]
    context = {
        "section": "service",
        "ticket": ticket,
        "customer": ticket.customer,
        "thread": selectors.thread(ticket, include_internal=True),
        "sla": _sla_state(ticket, now),
        "sla_elapsed_hours": services.sla_elapsed(ticket, now) / 3600,
        "reply_form": reply_form or ReplyForm(),
        "update_form": update_form
        or TicketUpdateForm(
            agents=agents,
            initial={
                "status": ticket.status,
                "priority": ticket.priority,
                "team": ticket.team_id,
                "assignee": ticket.assignee_id,
            },
        ),
        "merge_form": MergeForm(),
        "canned": canned,
        "can_edit": user.has_perm("service.change_ticket"),
        "stats": commerce.customer_order_stats(ticket.customer_id),
        "recent_orders": (
            list(commerce.list_orders(filters={"customer": ticket.customer_id})[:5])
            if user.has_perm("commerce.view_order")
            else []
        ),
        "previous": selectors.customer_tickets(ticket.customer_id, exclude=ticket.pk, limit=8),
        "email": (
            customer_selectors.primary_email(ticket.customer)
            if user.has_perm("customers.view_contactpoint")
            else ""
        ),
        "survey": selectors.survey_for_ticket(ticket),
        **scores_context(user, ticket.customer_id),
    }
    return render(request, "console/service/ticket_detail.html", context, status=status)


@console_view("service.view_ticket")
@require_safe
def attachment(request, pk: int):
    from guanxi.service.models import Attachment

    try:
        item = selectors.get_attachment(pk)
    except Attachment.DoesNotExist:
        raise Http404(_("No such file.")) from None
    return FileResponse(
        item.file.open("rb"),
        as_attachment=True,
        filename=item.filename,
        content_type=item.content_type,
    )


@console_view("service.change_ticket")
@require_POST
def ticket_reply(request, pk: int):
    try:
        ticket = selectors.get_ticket(pk)
    except Ticket.DoesNotExist:
        raise Http404(_("No such ticket.")) from None
    form = ReplyForm(request.POST, request.FILES)
    if form.is_valid():
        try:
            services.reply(
                ticket,
                author=request.user,
                body=form.cleaned_data["body"],
                internal=form.cleaned_data["internal"],
                status=form.cleaned_data["status"] or None,
                uploads=_upload(form),
            )
        except services.ServiceError as exc:
            form.add_error("attachment" if exc.field == "attachment" else "body", exc.message)
        else:
            if form.cleaned_data["internal"]:
                messages.success(request, _("Internal note added."))
            else:
                messages.success(request, _("Reply sent."))
            return redirect("console:service_ticket", pk=pk)
    return _render_ticket(request, ticket, reply_form=form, status=422)


@console_view("service.change_ticket")
@require_POST
def ticket_update(request, pk: int):
    try:
        ticket = selectors.get_ticket(pk)
    except Ticket.DoesNotExist:
        raise Http404(_("No such ticket.")) from None
    form = TicketUpdateForm(request.POST, agents=selectors.agents())
    if not form.is_valid():
        return _render_ticket(request, ticket, update_form=form, status=422)
    data = form.cleaned_data
    fields = {"priority": data["priority"], "team": data["team"]}
    if data["assignee"] != ticket.assignee or data["team"] == ticket.team:
        fields["assignee"] = data["assignee"]
    services.update_ticket(ticket, actor=request.user, **fields)
    if data["status"] != ticket.status:
        services.set_status(ticket, data["status"], actor=request.user)
    messages.success(request, _("Ticket updated."))
    return redirect("console:service_ticket", pk=pk)


@console_view("service.change_ticket")
@require_POST
def bulk(request):
    """The inbox's bulk action on the ticked tickets; back to the same inbox view."""
    ids = [i for i in request.POST.getlist("ticket") if i.isdigit()]
    back = request.POST.get("next", "")
    if not back.startswith("/console/service/"):
        back = reverse("console:service_inbox")
    if not ids:
        messages.info(request, _("Tick the tickets first."))
        return redirect(back)
    try:
        changed = services.bulk_update(ids, request.POST.get("action", ""), actor=request.user)
    except services.ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(
            request,
            ngettext("%(count)s ticket changed.", "%(count)s tickets changed.", changed)
            % {"count": changed},
        )
    return redirect(back)


@console_view("service.change_ticket")
@require_POST
def ticket_merge(request, pk: int):
    try:
        ticket = selectors.get_ticket(pk)
    except Ticket.DoesNotExist:
        raise Http404(_("No such ticket.")) from None
    form = MergeForm(request.POST)
    if form.is_valid():
        try:
            target = selectors.get_ticket(form.cleaned_data["into"])
            services.merge_tickets(ticket, target, actor=request.user)
        except Ticket.DoesNotExist:
            messages.error(request, _("No such ticket."))
        except services.ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, _("Tickets merged."))
            return redirect("console:service_ticket", pk=target.pk)
    return redirect("console:service_ticket", pk=pk)


@console_view("service.add_ticket")
@require_http_methods(["GET", "HEAD", "POST"])
def ticket_new(request):
    initial = {}
    if request.GET.get("customer", "").isdigit():
        initial["customer"] = int(request.GET["customer"])
    form = NewTicketForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            if data.get("customer"):
                customer = customer_selectors.get_customer(data["customer"])
            else:
                customer = services.customer_for_email(
                    data["email"], channel=AuditEntry.Channel.CONSOLE
                )
            ticket = services.create_ticket(
                customer=customer,
                subject=data["subject"],
                body=data["body"],
                channel=data["channel"],
                priority=data["priority"],
                actor=request.user,
                assignee=request.user,
                auto_reply=False,
                audit_channel=AuditEntry.Channel.CONSOLE,
            )
        except services.ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        except Exception as exc:  # noqa: BLE001 - Customer.DoesNotExist from the customers app
            if type(exc).__name__ != "DoesNotExist":
                raise
            form.add_error("customer", _("No such customer."))
        else:
            messages.success(request, _("Ticket logged."))
            return redirect("console:service_ticket", pk=ticket.pk)
    return render(request, "console/service/ticket_new.html", {"section": "service", "form": form})


# --- Knowledge base --------------------------------------------------------------------------


@console_view("service.view_kbarticle")
@require_safe
def kb_list(request):
    form = ArticleFilterForm(request.GET or None)
    data = form.cleaned_data if form.is_valid() else {}
    articles = selectors.kb_articles(
        q=data.get("q", ""), published=data.get("published", ""), language=data.get("language", "")
    )
    page = Paginator(articles, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "console/service/kb_list.html",
        {"section": "kb", "form": form, "page": page},
    )


def _article_form_view(request, article=None):
    initial = {}
    if article is not None:
        initial = {
            "title": article.title,
            "language": article.language,
            "category": article.category_id,
            "body": article.body,
            "published": article.published,
        }
    form = ArticleForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            saved = services.save_article(article, actor=request.user, **form.cleaned_data)
        except services.ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            messages.success(
                request, _("Article published.") if saved.published else _("Draft saved.")
            )
            return redirect("console:service_kb_edit", pk=saved.pk)
    return render(
        request,
        "console/service/kb_edit.html",
        {"section": "kb", "form": form, "article": article},
    )


@console_view("service.add_kbarticle")
@require_http_methods(["GET", "HEAD", "POST"])
def kb_new(request):
    return _article_form_view(request)


@console_view("service.change_kbarticle")
@require_http_methods(["GET", "HEAD", "POST"])
def kb_edit(request, pk: int):
    try:
        article = selectors.get_article(pk, published_only=False)
    except KBArticle.DoesNotExist:
        raise Http404(_("No such article.")) from None
    return _article_form_view(request, article)


# --- Reports ---------------------------------------------------------------------------------


def _period(request) -> tuple[PeriodForm, dt.datetime, dt.datetime, int]:
    form = PeriodForm(request.GET or None)
    days = (form.cleaned_data.get("days") if form.is_valid() else None) or 30
    until = timezone.now()
    return form, until - dt.timedelta(days=days), until, days


@console_view("service.view_service_report")
@require_safe
def sla_report(request):
    form, since, until, days = _period(request)
    compliance = selectors.sla_compliance(since, until)
    dims = [
        ("team", _("Per team")),
        ("agent", _("Per agent")),
        ("tier", _("Per customer tier")),
        ("channel", _("Per channel")),
    ]
    return render(
        request,
        "console/service/sla_report.html",
        {
            "section": "service_reports",
            "form": form,
            "days": days,
            "tables": [(label, compliance[key]) for key, label in dims],
        },
    )


@console_view("service.view_surveyresponse")
@require_http_methods(["GET", "HEAD", "POST"])
def feedback_report(request):
    form, since, until, days = _period(request)
    campaign_form = NPSCampaignForm(request.POST or None)
    if request.method == "POST":
        if not request.user.has_perm("service.add_npscampaign"):
            messages.error(request, _("You may not send NPS surveys."))
        elif campaign_form.is_valid():
            data = campaign_form.cleaned_data
            campaign = services.create_nps_campaign(
                name=data["name"],
                question=data["question"],
                coupon_percent=data["coupon_percent"],
                customers=selectors.nps_audience(data["audience"]),
                actor=request.user,
            )
            messages.success(
                request,
                _("NPS survey “%(name)s” sent to %(count)s customer(s).")
                % {"name": campaign.name, "count": campaign.responses.count()},
            )
            return redirect("console:service_feedback")
    return render(
        request,
        "console/service/feedback_report.html",
        {
            "section": "service_reports",
            "form": form,
            "days": days,
            "by_agent": selectors.csat_by("agent", since, until),
            "by_team": selectors.csat_by("team", since, until),
            "by_month": selectors.csat_by("month", since, until),
            "nps": selectors.nps_results(),
            "comments": selectors.recent_comments(),
            "campaign_form": campaign_form,
            "can_send_nps": request.user.has_perm("service.add_npscampaign"),
        },
    )
