"""Customer portal: sign-up / sign-in (customers only), my tickets, new ticket, ticket thread
with rating, help centre (knowledge base browse and search), surveys. A customer only ever
sees their own tickets; staff accounts are sent to the console."""

from functools import wraps

from django.contrib import messages
from django.contrib.auth import login, logout
from django.contrib.auth import views as auth_views
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from guanxi.core.models import AuditEntry
from guanxi.portal import services as portal_services
from guanxi.portal.forms import (
    CustomerAuthenticationForm,
    RatingForm,
    ReplyForm,
    SignUpForm,
    TicketForm,
)
from guanxi.service import search
from guanxi.service import selectors as service_selectors
from guanxi.service import services as service
from guanxi.service.models import Channel, KBArticle, Ticket


def customer_view(view):
    """Only a signed-in customer with a confirmed profile; ``request.customer`` is theirs."""

    @wraps(view)
    def guarded(request, *args, **kwargs):
        account = portal_services.portal_account(request.user)
        if account is None:
            if request.user.is_authenticated and request.user.is_staff:
                # Staff sessions stay intact (no sign-out); the portal is for customers only.
                return render(request, "portal/staff_refused.html", status=403)
            login_url = reverse("portal:login")
            return redirect(f"{login_url}?next={request.get_full_path()}")
        if account.customer_id is None:
            return render(request, "portal/confirm_pending.html", {"account": account})
        request.customer = account.customer
        return view(request, *args, **kwargs)

    guarded.portal_customer_only = True
    return guarded


def _upload(form) -> list:
    file = form.cleaned_data.get("attachment")
    if not file:
        return []
    return [service.Upload(file.name, file.read(service.max_attachment_bytes() + 1))]


@require_safe
def home(request):
    return render(
        request,
        "portal/home.html",
        {
            "account": portal_services.portal_account(request.user),
            "categories": service_selectors.kb_categories(_kb_language()),
        },
    )


class PortalLoginView(auth_views.LoginView):
    template_name = "portal/login.html"
    authentication_form = CustomerAuthenticationForm
    redirect_authenticated_user = False

    def get_success_url(self):
        return self.get_redirect_url() or reverse("portal:tickets")


@require_POST
def logout_view(request):
    logout(request)
    return redirect("portal:home")


@require_http_methods(["GET", "POST"])
def signup(request):
    form = SignUpForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            account = portal_services.sign_up(**form.cleaned_data)
        except portal_services.SignupError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.message)
        else:
            login(request, account.user, backend="django.contrib.auth.backends.ModelBackend")
            if account.customer_id is None:
                messages.info(request, _("We emailed you a link to confirm your address."))
            return redirect("portal:tickets")
    return render(request, "portal/signup.html", {"form": form})


@require_safe
def confirm_email(request, token: str):
    account = portal_services.confirm_email(token)
    if account is None:
        raise Http404(_("This confirmation link is not valid or has expired."))
    messages.success(request, _("Your email address is confirmed."))
    return redirect("portal:tickets")


@customer_view
@require_safe
def ticket_list(request):
    tickets = service_selectors.tickets_for_customer(request.customer.pk)
    page = Paginator(tickets, 20).get_page(request.GET.get("page"))
    return render(request, "portal/ticket_list.html", {"page": page, "section": "tickets"})


@customer_view
@require_http_methods(["GET", "POST"])
def ticket_new(request):
    form = TicketForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            ticket = service.create_ticket(
                customer=request.customer,
                subject=form.cleaned_data["subject"],
                body=form.cleaned_data["body"],
                channel=Channel.WEB,
                uploads=_upload(form),
            )
        except service.ServiceError as exc:
            form.add_error(exc.field if exc.field in form.fields else "attachment", exc.message)
        else:
            messages.success(request, _("Thank you, we received your request."))
            return redirect("portal:ticket", pk=ticket.pk)
    return render(request, "portal/ticket_new.html", {"form": form, "section": "new"})


@customer_view
@require_http_methods(["GET", "POST"])
def ticket_detail(request, pk: int):
    try:
        ticket = service_selectors.get_customer_ticket(request.customer.pk, pk)
    except Ticket.DoesNotExist:
        raise Http404(_("No such request.")) from None
    if ticket.merged_into_id:
        return redirect("portal:ticket", pk=ticket.merged_into_id)
    form = ReplyForm(request.POST or None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        try:
            message = service.customer_reply(
                ticket, body=form.cleaned_data["body"], uploads=_upload(form), channel=Channel.WEB
            )
        except service.ServiceError as exc:
            form.add_error("attachment" if exc.field == "attachment" else "body", exc.message)
        else:
            return redirect("portal:ticket", pk=message.ticket_id)
    survey = service_selectors.survey_for_ticket(ticket)
    suggested = service_selectors.published_articles(ticket.suggested_articles)
    return render(
        request,
        "portal/ticket_detail.html",
        {
            "ticket": ticket,
            "thread": service_selectors.thread(ticket, include_internal=False),
            "form": form,
            "survey": survey,
            "rating_form": RatingForm(),
            "suggested": suggested,
            "section": "tickets",
        },
    )


@customer_view
@require_safe
def attachment(request, pk: int):
    from guanxi.service.models import Attachment

    try:
        item = service_selectors.get_attachment(pk, customer_id=request.customer.pk)
    except Attachment.DoesNotExist:
        raise Http404(_("No such file.")) from None
    return FileResponse(
        item.file.open("rb"),
        as_attachment=True,
        filename=item.filename,
        content_type=item.content_type,
    )


@customer_view
@require_POST
def ticket_rate(request, pk: int):
    try:
        ticket = service_selectors.get_customer_ticket(request.customer.pk, pk)
    except Ticket.DoesNotExist:
        raise Http404(_("No such request.")) from None
    if ticket.status not in (Ticket.Status.SOLVED, Ticket.Status.CLOSED):
        messages.error(request, _("You can rate a request once it is solved."))
        return redirect("portal:ticket", pk=pk)
    form = RatingForm(request.POST)
    if form.is_valid():
        survey = service.csat_for_ticket(ticket)
        service.answer_survey(
            survey.token, score=form.cleaned_data["score"], comment=form.cleaned_data["comment"]
        )
        messages.success(request, _("Thank you for your rating!"))
    else:
        messages.error(request, _("Pick a score from 1 to 5."))
    return redirect("portal:ticket", pk=pk)


@customer_view
@require_POST
def ticket_solve(request, pk: int):
    """The customer says the problem is solved."""
    try:
        ticket = service_selectors.get_customer_ticket(request.customer.pk, pk)
    except Ticket.DoesNotExist:
        raise Http404(_("No such request.")) from None
    if ticket.is_open:
        service.set_status(
            ticket,
            Ticket.Status.SOLVED,
            audit_channel=AuditEntry.Channel.SYSTEM,
            note="solved by the customer in the portal",
        )
    return redirect("portal:ticket", pk=pk)


# --- Help centre -----------------------------------------------------------------------------


def _kb_language() -> str:
    return "zh-hans" if (get_language() or "").lower().startswith("zh") else "en"


@require_safe
def help_centre(request):
    q = (request.GET.get("q") or "").strip()[:200]
    hits = search.search(q, limit=20) if q else []
    return render(
        request,
        "portal/help.html",
        {
            "q": q,
            "hits": hits,
            "categories": service_selectors.kb_categories(),
            "uncategorised": service_selectors.uncategorised_articles(),
            "section": "help",
        },
    )


@require_http_methods(["GET", "POST"])
def article(request, pk: int):
    try:
        item = service_selectors.get_article(pk)
    except KBArticle.DoesNotExist:
        raise Http404(_("No such article.")) from None
    voted = request.session.get("kb_voted", [])
    if request.method == "POST" and pk not in voted:
        account = portal_services.portal_account(request.user)
        service.record_article_feedback(
            item,
            helpful=request.POST.get("helpful") == "yes",
            comment=request.POST.get("comment", ""),
            customer=account.customer if account else None,
        )
        request.session["kb_voted"] = voted + [pk]
        messages.success(request, _("Thank you for your feedback."))
        return redirect("portal:article", pk=pk)
    related = list(search.search(item.title, limit=4, exclude=(item.pk,)))[:3]
    return render(
        request,
        "portal/article.html",
        {"article": item, "voted": pk in voted, "related": related, "section": "help"},
    )


@require_http_methods(["GET", "HEAD", "POST"])
def solved_by_article(request, token: str):
    """ "This solved my problem" from the automatic reply. A GET only asks (mail scanners open
    links); the button posts and solves the ticket."""
    found = service.check_solved_token(token)
    if found is None:
        raise Http404(_("This link is not valid or has expired."))
    ticket, item = found
    if request.method == "POST":
        service.solved_by_article(token)
        ticket.refresh_from_db()
        return render(request, "portal/solved.html", {"ticket": ticket, "done": True})
    return render(request, "portal/solved.html", {"ticket": ticket, "article": item})


@require_http_methods(["GET", "POST"])
def survey(request, token: str):
    found = service_selectors.get_survey(token)
    if found is None:
        raise Http404(_("This survey link is not valid."))
    error = ""
    if request.method == "POST":
        try:
            found = service.answer_survey(
                token, score=request.POST.get("score"), comment=request.POST.get("comment", "")
            )
        except service.ServiceError as exc:
            error = exc.message
        else:
            return render(request, "portal/survey_done.html", {"survey": found})
    scale = range(1, 6) if found.kind == "csat" else range(0, 11)
    return render(request, "portal/survey.html", {"survey": found, "scale": scale, "error": error})


# --- Chat ------------------------------------------------------------------------------------


def _chat_payload(ticket, after: int = 0) -> dict:
    if ticket is None:
        return {"ticket": None, "messages": []}
    rows = [m for m in service_selectors.thread(ticket, include_internal=False) if m.pk > after]
    return {
        "ticket": ticket.pk,
        "status": ticket.status,
        "messages": [
            {
                "id": m.pk,
                "mine": m.author_kind == "customer",
                "who": _("You") if m.author_kind == "customer" else m.author_name,
                "body": m.body,
                "at": m.created_at.isoformat(),
            }
            for m in rows
        ],
    }


@customer_view
@require_safe
def chat(request):
    """A chat with the service team: the conversation is a ticket on the chat channel."""
    ticket = service_selectors.open_chat(request.customer.pk)
    return render(
        request,
        "portal/chat.html",
        {"chat": _chat_payload(ticket), "section": "chat"},
    )


@customer_view
@require_http_methods(["GET"])
def chat_messages(request):
    try:
        after = int(request.GET.get("after", "0"))
    except ValueError:
        after = 0
    return JsonResponse(_chat_payload(service_selectors.open_chat(request.customer.pk), after))


@customer_view
@require_POST
def chat_send(request):
    body = (request.POST.get("body") or "").strip()[:5000]
    if not body:
        return JsonResponse({"error": _("The message is empty.")}, status=422)
    ticket = service_selectors.open_chat(request.customer.pk)
    if ticket is None:
        ticket = service.create_ticket(
            customer=request.customer,
            subject=body.splitlines()[0][:80],
            body=body,
            channel=Channel.CHAT,
            auto_reply=False,
        )
    else:
        service.customer_reply(ticket, body=body, channel=Channel.CHAT)
    try:
        after = int(request.POST.get("after", "0"))
    except ValueError:
        after = 0
    return JsonResponse(_chat_payload(ticket, after))
