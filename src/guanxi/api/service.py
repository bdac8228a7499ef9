"""``/api/v1/tickets`` (create, list, get, reply), ``/api/v1/kb/...`` (articles, search) and the
signed inbound-email webhook ``/api/v1/service/inbound-email``."""

import datetime as dt
import json
from collections.abc import Callable
from typing import Literal

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.errors import HttpError
from ninja.pagination import PageNumberPagination, paginate

from guanxi.api.auth import require_write
from guanxi.api.customers import ErrorsOut
from guanxi.core.models import AuditEntry
from guanxi.core.services import (
    IdempotencyConflict,
    find_idempotent_response,
    request_fingerprint,
    store_idempotent_response,
)
from guanxi.customers import selectors as customer_selectors
from guanxi.service import inbound, search, services
from guanxi.service.models import Channel, KBArticle, Ticket

router = Router(tags=["service"])


def _error(field: str, reason: str, value=None):
    return Status(
        422, {"detail": [{"index": None, "field": field, "value": value, "reason": reason}]}
    )


class MessageOut(Schema):
    id: int
    author_kind: str
    body: str
    internal: bool
    channel: str
    created_at: dt.datetime


class TicketOut(Schema):
    id: int
    subject: str
    customer_id: int
    channel: str
    status: str
    priority: str
    assignee_id: int | None
    team_id: int | None
    language: str
    created_at: dt.datetime
    updated_at: dt.datetime
    first_response_due: dt.datetime | None
    first_response_at: dt.datetime | None
    resolution_due: dt.datetime | None
    solved_at: dt.datetime | None


class TicketDetailOut(TicketOut):
    messages: list[MessageOut]


class TicketIn(Schema):
    subject: str = Field(..., max_length=250)
    body: str
    customer_id: int | None = None
    email: str | None = Field(
        None,
        description="Used when customer_id is not given; an "
        "unknown address becomes a prospect profile.",
    )
    name: str = ""
    channel: str = Channel.API
    priority: str = Ticket.Priority.NORMAL


class ReplyIn(Schema):
    body: str
    internal: bool = False
    status: str | None = None
    from_customer: bool = Field(False, description="Record a message from the customer instead.")


def _once(request, scope: str, payload: dict, work: Callable[[], Status]) -> Status:
    """With an ``Idempotency-Key`` header, run ``work`` once and replay its response (409 when
    the key comes back with another body); a retried POST never opens a second ticket."""
    key = request.headers.get("Idempotency-Key")
    if not key:
        return work()
    full_scope = f"{scope}:{request.auth.pk}"
    fingerprint = request_fingerprint(payload)
    try:
        stored = find_idempotent_response(full_scope, key, fingerprint)
    except IdempotencyConflict:
        raise HttpError(409, "Idempotency-Key was already used with a different body.") from None
    if stored is not None:
        return Status(stored.status_code, stored.response)
    result = work()
    body = json.loads(json.dumps(result.value, cls=DjangoJSONEncoder))
    store_idempotent_response(full_scope, key, fingerprint, result.status_code, body)
    return result


def _detail(ticket: Ticket) -> dict:
    data = TicketOut.from_orm(ticket).dict()
    data["messages"] = [
        MessageOut.from_orm(m).dict() for m in ticket.messages.order_by("created_at", "id")
    ]
    return data


@router.get("/tickets", response=list[TicketOut], summary="List tickets")
@paginate(PageNumberPagination, page_size=50)
def list_tickets(request, status: str = "", customer_id: int | None = None, channel: str = ""):
    qs = Ticket.objects.filter(merged_into__isnull=True)
    if status:
        qs = qs.filter(status=status)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    if channel:
        qs = qs.filter(channel=channel)
    return qs.order_by("-created_at", "-id")


@router.get("/tickets/{int:ticket_id}", response=TicketDetailOut, summary="Get a ticket")
def get_ticket(request, ticket_id: int):
    return _detail(get_object_or_404(Ticket, pk=ticket_id))


@router.post("/tickets", response={201: TicketDetailOut, 422: ErrorsOut}, summary="Open a ticket")
def create_ticket(request, payload: TicketIn):
    require_write(request)
    return _once(request, "tickets", payload.dict(), lambda: _create_ticket(payload))


def _create_ticket(payload: TicketIn):
    try:
        if payload.customer_id:
            try:
                customer = customer_selectors.get_customer(payload.customer_id)
            except Exception:  # noqa: BLE001 - DoesNotExist of another app's model
                return _error("customer_id", "no such customer", payload.customer_id)
        elif payload.email:
            customer = services.customer_for_email(
                payload.email, payload.name, channel=AuditEntry.Channel.API
            )
        else:
            return _error("customer_id", "give customer_id or email")
        ticket = services.create_ticket(
            customer=customer,
            subject=payload.subject,
            body=payload.body,
            channel=payload.channel,
            priority=payload.priority,
            audit_channel=AuditEntry.Channel.API,
        )
    except services.ServiceError as exc:
        return _error(exc.field, exc.message)
    return Status(201, _detail(ticket))


@router.post(
    "/tickets/{int:ticket_id}/replies",
    response={201: TicketDetailOut, 422: ErrorsOut},
    summary="Reply to a ticket (agent answer, internal note, or the customer's message)",
)
def reply_ticket(request, ticket_id: int, payload: ReplyIn):
    require_write(request)
    ticket = get_object_or_404(Ticket, pk=ticket_id)
    return _once(
        request,
        f"tickets/{ticket_id}/replies",
        payload.dict(),
        lambda: _reply(request, ticket, payload),
    )


def _reply(request, ticket: Ticket, payload: ReplyIn):
    try:
        if payload.from_customer:
            message = services.customer_reply(ticket, body=payload.body)
        else:
            user = getattr(request.auth, "created_by", None)
            message = services.reply(
                ticket,
                author=user,
                body=payload.body,
                internal=payload.internal,
                status=payload.status,
                audit_channel=AuditEntry.Channel.API,
            )
    except services.ServiceError as exc:
        return _error(exc.field, exc.message)
    return Status(201, _detail(Ticket.objects.get(pk=message.ticket_id)))


# --- Knowledge base --------------------------------------------------------------------------


class ArticleIn(Schema):
    title: str = Field(..., max_length=250)
    body: str
    language: Literal["en", "zh-hans"] = "en"
    published: bool = False


class ArticleOut(Schema):
    id: int
    title: str
    body: str
    language: str
    published: bool
    created_at: dt.datetime
    updated_at: dt.datetime


class SearchHitOut(Schema):
    id: int
    title: str
    score: float
    language: str


@router.post(
    "/kb/articles", response={201: ArticleOut, 422: ErrorsOut}, summary="Create an article"
)
def create_article(request, payload: ArticleIn):
    require_write(request)
    try:
        article = services.save_article(
            actor=None,
            title=payload.title,
            body=payload.body,
            language=payload.language,
            published=payload.published,
            audit_channel=AuditEntry.Channel.API,
        )
    except services.ServiceError as exc:
        return _error(exc.field, exc.message)
    return Status(201, article)


@router.get("/kb/articles/{int:article_id}", response=ArticleOut, summary="Get an article")
def get_article(request, article_id: int):
    return get_object_or_404(KBArticle, pk=article_id)


@router.get(
    "/kb/search",
    response=list[SearchHitOut],
    summary="Search published articles (English and Chinese), best match first",
)
def search_articles(request, q: str, language: str = "", limit: int = 10):
    hits = search.search(q, language=language or None, limit=max(1, min(limit, 50)))
    return [
        {
            "id": h.article.pk,
            "title": h.article.title,
            "score": h.score,
            "language": h.article.language,
        }
        for h in hits
    ]


# --- Inbound email webhook -------------------------------------------------------------------


class InboundOut(Schema):
    ticket_id: int
    message_id: int
    created_ticket: bool
    duplicate: bool


@router.post(
    "/service/inbound-email",
    auth=None,
    response={200: InboundOut, 401: dict, 422: dict},
    summary="Receive one raw RFC 822 email (body), signed with X-Guanxi-Signature",
    description=(
        "The request body is the raw message. `X-Guanxi-Signature: sha256=<hex>` is the "
        "HMAC-SHA256 of the body with `GUANXI_INBOUND_EMAIL_SECRET`."
    ),
)
def inbound_email(request):
    body = request.body
    if not inbound.verify_signature(body, request.headers.get("X-Guanxi-Signature", "")):
        return HttpResponse(
            b'{"detail": "bad or missing signature"}', status=401, content_type="application/json"
        )
    try:
        result = inbound.receive_email(body)
    except (inbound.InboundError, services.ServiceError) as exc:
        return Status(422, {"detail": str(exc)})
    return {
        "ticket_id": result.ticket.pk,
        "message_id": result.message.pk,
        "created_ticket": result.created_ticket,
        "duplicate": result.duplicate,
    }
