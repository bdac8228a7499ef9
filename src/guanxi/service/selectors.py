"""Reads of the service desk for the console, the portal and the API (no writes here)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

from django.db.models import Avg, Count, Prefetch, Q, QuerySet
from django.utils import timezone

from guanxi.service.models import (
    CannedReply,
    KBArticle,
    KBCategory,
    Message,
    SurveyResponse,
    Team,
    Ticket,
)

INBOX_VIEWS = ("all", "mine", "unassigned", "breaching")
BREACHING_WINDOW = dt.timedelta(hours=2)


def inbox(
    user,
    view: str = "all",
    *,
    q: str = "",
    status: str = "",
    channel: str = "",
    now: dt.datetime | None = None,
) -> QuerySet[Ticket]:
    """Tickets for the agent inbox. ``view``: ``all`` open ones, ``mine``, ``unassigned``,
    ``breaching`` (an SLA target passed or due within two hours, soonest first)."""
    now = now or timezone.now()
    qs = Ticket.objects.filter(merged_into__isnull=True).select_related(
        "customer", "assignee", "team", "sla_policy"
    )
    if status == "any":
        pass
    elif status:
        qs = qs.filter(status=status)
    else:
        qs = qs.filter(status__in=Ticket.OPEN_STATUSES)
    if channel:
        qs = qs.filter(channel=channel)
    if view == "mine":
        qs = qs.filter(assignee=user)
    elif view == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif view == "breaching":
        soon = now + BREACHING_WINDOW
        qs = qs.filter(
            Q(first_response_at__isnull=True, first_response_due__lte=soon)
            | Q(resolution_due__lte=soon, status__in=[Ticket.Status.NEW, Ticket.Status.OPEN])
        )
        return _search(qs, q).order_by("resolution_due", "first_response_due", "id")
    return _search(qs, q).order_by("-updated_at", "-id")


def _search(qs, q: str):
    q = (q or "").strip()
    if not q:
        return qs
    if q.lstrip("#").isdigit():
        return qs.filter(pk=int(q.lstrip("#")))
    return qs.filter(
        Q(subject__icontains=q)
        | Q(customer__first_name__icontains=q)
        | Q(customer__last_name__icontains=q)
        | Q(customer__company_name__icontains=q)
    )


def inbox_counts(user, now: dt.datetime | None = None) -> dict[str, int]:
    return {view: inbox(user, view, now=now).count() for view in INBOX_VIEWS}


def get_ticket(ticket_id: int) -> Ticket:
    return Ticket.objects.select_related(
        "customer", "assignee", "team", "sla_policy", "merged_into"
    ).get(pk=ticket_id)


def thread(ticket: Ticket, *, include_internal: bool) -> list[Message]:
    messages = ticket.messages.select_related("author_user").prefetch_related("attachments")
    if not include_internal:
        messages = messages.filter(internal=False)
    return list(messages.order_by("created_at", "id"))


def customer_tickets(customer_id: int, *, exclude: int | None = None, limit: int = 20):
    qs = Ticket.objects.filter(customer_id=customer_id, merged_into__isnull=True)
    if exclude:
        qs = qs.exclude(pk=exclude)
    return list(qs.order_by("-created_at")[:limit])


def tickets_for_customer(customer_id: int) -> QuerySet[Ticket]:
    """A customer's own tickets (the portal's "my tickets")."""
    return Ticket.objects.filter(customer_id=customer_id, merged_into__isnull=True).order_by(
        "-updated_at", "-id"
    )


def get_customer_ticket(customer_id: int, ticket_id: int) -> Ticket:
    """One of the customer's own tickets; ``Ticket.DoesNotExist`` for anyone else's."""
    return Ticket.objects.select_related("customer").get(pk=ticket_id, customer_id=customer_id)


def survey_for_ticket(ticket: Ticket) -> SurveyResponse | None:
    return SurveyResponse.objects.filter(ticket=ticket).first()


def get_survey(token: str) -> SurveyResponse | None:
    return (
        SurveyResponse.objects.select_related("ticket", "campaign", "customer", "coupon")
        .filter(token=token)
        .first()
    )


def canned_replies() -> list[CannedReply]:
    return list(CannedReply.objects.all())


def teams() -> list[Team]:
    return list(Team.objects.all())


def agents():
    from django.contrib.auth import get_user_model

    User = get_user_model()  # noqa: N806
    return (
        User.objects.filter(is_active=True, is_staff=True)
        .filter(Q(groups__name="agent") | Q(is_superuser=True))
        .distinct()
        .order_by("username")
    )


# --- Knowledge base --------------------------------------------------------------------------


def kb_categories(language: str | None = None, *, published_only: bool = True):
    articles = KBArticle.objects.all()
    if published_only:
        articles = articles.filter(published=True)
    if language:
        articles = articles.filter(language=language)
    return list(
        KBCategory.objects.prefetch_related(
            Prefetch("articles", queryset=articles.order_by("title"), to_attr="listed")
        )
    )


def kb_articles(*, q: str = "", published: str = "", language: str = "") -> QuerySet[KBArticle]:
    qs = KBArticle.objects.select_related("category", "author")
    if published == "yes":
        qs = qs.filter(published=True)
    elif published == "no":
        qs = qs.filter(published=False)
    if language:
        qs = qs.filter(language=language)
    if q:
        qs = qs.filter(Q(title__icontains=q) | Q(body__icontains=q))
    return qs.order_by("-updated_at", "-id")


def published_articles(ids) -> list[KBArticle]:
    return list(KBArticle.objects.filter(pk__in=list(ids or []), published=True))


def get_article(article_id: int, *, published_only: bool = True) -> KBArticle:
    qs = KBArticle.objects.select_related("category")
    if published_only:
        qs = qs.filter(published=True)
    return qs.get(pk=article_id)


def uncategorised_articles(language: str | None = None):
    qs = KBArticle.objects.filter(published=True, category__isnull=True)
    if language:
        qs = qs.filter(language=language)
    return list(qs.order_by("title"))


# --- Reports ---------------------------------------------------------------------------------


@dataclass
class Compliance:
    key: str
    label: str
    tickets: int = 0
    first_response_met: int = 0
    first_response_measured: int = 0
    resolution_met: int = 0
    resolution_measured: int = 0

    @property
    def first_response_rate(self) -> float | None:
        if not self.first_response_measured:
            return None
        return 100.0 * self.first_response_met / self.first_response_measured

    @property
    def resolution_rate(self) -> float | None:
        if not self.resolution_measured:
            return None
        return 100.0 * self.resolution_met / self.resolution_measured


def sla_compliance(
    since: dt.datetime, until: dt.datetime, *, now: dt.datetime | None = None
) -> dict[str, list[Compliance]]:
    """SLA compliance of tickets created in ``[since, until)`` per team, agent, customer tier
    and channel. A first response counts once given (or once its due time passed without one);
    a resolution once solved (or once breached)."""
    now = now or timezone.now()
    rows = (
        Ticket.objects.filter(
            created_at__gte=since,
            created_at__lt=until,
            sla_policy__isnull=False,
            merged_into__isnull=True,
        )
        .select_related("team", "assignee")
        .only(
            "team__name",
            "assignee__username",
            "assignee__first_name",
            "assignee__last_name",
            "customer_tier",
            "channel",
            "first_response_at",
            "first_response_due",
            "first_response_breached",
            "resolution_breached",
            "solved_at",
            "status",
        )
    )
    groups: dict[str, dict[str, Compliance]] = defaultdict(dict)
    channel_labels = dict(Ticket._meta.get_field("channel").choices)
    for t in rows.iterator():
        keys = {
            "team": (str(t.team_id or ""), t.team.name if t.team else "—"),
            "agent": (
                str(t.assignee_id or ""),
                (t.assignee.get_full_name() or t.assignee.get_username()) if t.assignee else "—",
            ),
            "tier": (t.customer_tier or "", t.customer_tier or "—"),
            "channel": (t.channel, str(channel_labels.get(t.channel, t.channel))),
        }
        fr_breached = t.first_response_breached or (
            t.first_response_at is None and t.first_response_due and now > t.first_response_due
        )
        fr_measured = t.first_response_at is not None or fr_breached
        res_measured = t.solved_at is not None or t.resolution_breached
        for dim, (key, label) in keys.items():
            row = groups[dim].setdefault(key, Compliance(key, label))
            row.tickets += 1
            if fr_measured:
                row.first_response_measured += 1
                row.first_response_met += int(not fr_breached)
            if res_measured:
                row.resolution_measured += 1
                row.resolution_met += int(not t.resolution_breached)
    return {
        dim: sorted(groups[dim].values(), key=lambda c: (-c.tickets, c.label))
        for dim in ("team", "agent", "tier", "channel")
    }


@dataclass
class SurveyStat:
    label: str
    answers: int
    average: float | None
    satisfied_pct: float | None  # CSAT: share of 4 and 5


def csat_by(dimension: str, since: dt.datetime, until: dt.datetime) -> list[SurveyStat]:
    """CSAT per ``agent``, ``team`` or ``month`` for surveys answered in ``[since, until)``."""
    answered = SurveyResponse.objects.filter(
        kind=SurveyResponse.Kind.CSAT, answered_at__gte=since, answered_at__lt=until
    )
    if dimension == "month":
        from django.db.models.functions import TruncMonth

        grouped = answered.annotate(key=TruncMonth("answered_at")).values("key")
    elif dimension == "team":
        grouped = answered.values("team__name")
    else:
        grouped = answered.values("agent__username")
    stats = grouped.annotate(
        n=Count("id"), avg=Avg("score"), sat=Count("id", filter=Q(score__gte=4))
    ).order_by()
    out = []
    for row in stats:
        if dimension == "month":
            label = row["key"].strftime("%Y-%m") if row["key"] else "—"
        elif dimension == "team":
            label = row["team__name"] or "—"
        else:
            label = row["agent__username"] or "—"
        out.append(
            SurveyStat(
                label,
                row["n"],
                round(row["avg"], 2) if row["avg"] is not None else None,
                round(100.0 * row["sat"] / row["n"], 1) if row["n"] else None,
            )
        )
    return sorted(out, key=lambda s: s.label)


@dataclass
class NPSResult:
    name: str
    sent: int
    answers: int
    promoters: int
    passives: int
    detractors: int

    @property
    def score(self) -> float | None:
        if not self.answers:
            return None
        return round(100.0 * (self.promoters - self.detractors) / self.answers, 1)


def nps_results() -> list[NPSResult]:
    from guanxi.service.models import NPSCampaign

    campaigns = NPSCampaign.objects.annotate(
        sent=Count("responses"),
        answers=Count("responses", filter=Q(responses__answered_at__isnull=False)),
        promoters=Count("responses", filter=Q(responses__score__gte=9)),
        passives=Count("responses", filter=Q(responses__score__in=[7, 8])),
        detractors=Count("responses", filter=Q(responses__score__lte=6)),
    ).order_by("-created_at")
    return [
        NPSResult(c.name, c.sent, c.answers, c.promoters, c.passives, c.detractors)
        for c in campaigns
    ]


def recent_comments(limit: int = 20) -> list[SurveyResponse]:
    return list(
        SurveyResponse.objects.filter(answered_at__isnull=False)
        .exclude(comment="")
        .select_related("customer", "ticket", "campaign")
        .order_by("-answered_at")[:limit]
    )


def nps_audience(audience: str, *, limit: int = 5000):
    """Who an NPS campaign goes to: ``recent_tickets`` (a ticket in the last 90 days) or
    ``consent`` (accepts marketing email); live profiles only."""
    from guanxi.customers import selectors as customer_selectors

    live = customer_selectors.search_customers("")
    if audience == "recent_tickets":
        since = timezone.now() - dt.timedelta(days=90)
        ids = Ticket.objects.filter(created_at__gte=since).values("customer_id")
        return live.filter(pk__in=ids)[:limit]
    return live.filter(consent_email_marketing=True)[:limit]


def open_chat(customer_id: int) -> Ticket | None:
    """The customer's current chat conversation (latest open chat ticket), if any."""
    return (
        Ticket.objects.filter(
            customer_id=customer_id,
            channel="chat",
            status__in=Ticket.OPEN_STATUSES,
            merged_into__isnull=True,
        )
        .order_by("-created_at")
        .first()
    )


def get_attachment(attachment_id: int, *, customer_id: int | None = None):
    """One attachment (with its message and ticket); limited to the customer's own tickets and
    to customer-visible messages when ``customer_id`` is given. Raises DoesNotExist."""
    from guanxi.service.models import Attachment

    qs = Attachment.objects.select_related("message__ticket")
    if customer_id is not None:
        qs = qs.filter(message__ticket__customer_id=customer_id, message__internal=False)
    return qs.get(pk=attachment_id)
