"""The service desk: tickets and their messages from every channel, SLA policies and clocks,
canned replies, the knowledge base, surveys and the minimal coupon they may reward with."""

import secrets

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.core.models import TimeStampedModel


class Channel(models.TextChoices):
    WEB = "web", _("web form")
    CHAT = "chat", _("chat")
    EMAIL = "email", _("email")
    PHONE = "phone", _("phone")
    FAX = "fax", _("fax")
    API = "api", _("API")


class Team(models.Model):
    name = models.CharField(_("name"), max_length=100, unique=True)
    lead = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("team lead"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="led_service_teams",
    )
    members = models.ManyToManyField(
        settings.AUTH_USER_MODEL, verbose_name=_("members"), blank=True, related_name="+"
    )
    # Round robin: index of the member who got the last ticket (members ordered by id).
    round_robin_cursor = models.IntegerField(default=-1)

    class Meta:
        verbose_name = _("team")
        verbose_name_plural = _("teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class BusinessCalendar(models.Model):
    """Working hours per weekday in a time zone, and the holidays when nobody works.

    ``hours`` maps ISO weekday (``"1"`` Monday … ``"7"`` Sunday) to a list of
    ``["09:00", "18:00"]`` windows in the calendar's time zone.
    """

    name = models.CharField(_("name"), max_length=100, unique=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    hours = models.JSONField(_("working hours"), default=dict)

    class Meta:
        verbose_name = _("business calendar")
        verbose_name_plural = _("business calendars")

    def __str__(self) -> str:
        return self.name


class Holiday(models.Model):
    calendar = models.ForeignKey(
        BusinessCalendar, on_delete=models.CASCADE, related_name="holidays"
    )
    date = models.DateField(_("date"))
    name = models.CharField(_("name"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("holiday")
        verbose_name_plural = _("holidays")
        ordering = ["date"]
        constraints = [
            models.UniqueConstraint(fields=["calendar", "date"], name="service_holiday_unique")
        ]

    def __str__(self) -> str:
        return f"{self.date} {self.name}"


class SLAPolicy(models.Model):
    """Targets for one customer tier and/or channel; blank tier or channel means "any".

    The most specific active policy wins (tier and channel > tier > channel > any), then the
    lowest ``position``. Without a calendar the clock runs around the clock (24/7).
    """

    name = models.CharField(_("name"), max_length=100)
    tier = models.CharField(_("customer tier"), max_length=10, blank=True)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, blank=True)
    first_response_minutes = models.PositiveIntegerField(_("first response within (minutes)"))
    resolution_minutes = models.PositiveIntegerField(_("resolution within (minutes)"))
    calendar = models.ForeignKey(
        BusinessCalendar,
        verbose_name=_("business hours"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
    )
    warn_before_minutes = models.PositiveIntegerField(_("warn before breach (minutes)"), default=30)
    escalate_to = models.ForeignKey(
        Team, verbose_name=_("escalate to"), null=True, blank=True, on_delete=models.SET_NULL
    )
    position = models.PositiveIntegerField(_("position"), default=0)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("SLA policy")
        verbose_name_plural = _("SLA policies")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return self.name


class ChannelSettings(models.Model):
    """Per channel: automatic acknowledgement, CSAT survey after solving, reminder delay."""

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices, unique=True)
    auto_reply = models.BooleanField(_("automatic reply"), default=True)
    csat_survey = models.BooleanField(_("CSAT survey after solving"), default=True)
    csat_reminder_hours = models.PositiveIntegerField(
        _("survey reminder after (hours)"), default=48
    )

    class Meta:
        verbose_name = _("channel settings")
        verbose_name_plural = _("channel settings")

    def __str__(self) -> str:
        return self.get_channel_display()


class Ticket(TimeStampedModel):
    class Status(models.TextChoices):
        NEW = "new", pgettext_lazy("ticket status", "new")
        OPEN = "open", pgettext_lazy("ticket status", "open")
        PENDING = "pending", pgettext_lazy("ticket status", "waiting on customer")
        SOLVED = "solved", pgettext_lazy("ticket status", "solved")
        CLOSED = "closed", pgettext_lazy("ticket status", "closed")

    class Priority(models.TextChoices):
        LOW = "low", pgettext_lazy("ticket priority", "low")
        NORMAL = "normal", pgettext_lazy("ticket priority", "normal")
        HIGH = "high", pgettext_lazy("ticket priority", "high")
        URGENT = "urgent", pgettext_lazy("ticket priority", "urgent")

    OPEN_STATUSES = (Status.NEW, Status.OPEN, Status.PENDING)

    subject = models.CharField(_("subject"), max_length=250)
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        on_delete=models.PROTECT,
        related_name="tickets",
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    status = models.CharField(
        _("status"), max_length=8, choices=Status.choices, default=Status.NEW, db_index=True
    )
    priority = models.CharField(
        _("priority"), max_length=8, choices=Priority.choices, default=Priority.NORMAL
    )
    team = models.ForeignKey(
        Team, verbose_name=_("team"), null=True, blank=True, on_delete=models.SET_NULL
    )
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="service_tickets",
    )
    language = models.CharField(_("language"), max_length=10, blank=True)
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="absorbed",
    )
    # --- SLA -------------------------------------------------------------------------------
    sla_policy = models.ForeignKey(
        SLAPolicy, verbose_name=_("SLA policy"), null=True, blank=True, on_delete=models.SET_NULL
    )
    customer_tier = models.CharField(_("customer tier"), max_length=10, blank=True)
    first_response_due = models.DateTimeField(_("first response due"), null=True, blank=True)
    first_response_at = models.DateTimeField(_("first response"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("resolution due"), null=True, blank=True)
    # The resolution clock: business seconds counted so far, and since when it runs (null
    # while paused waiting on the customer, or stopped once solved).
    sla_elapsed_seconds = models.FloatField(default=0)
    sla_running_since = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(_("solved"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed"), null=True, blank=True)
    first_response_breached = models.BooleanField(default=False)
    resolution_breached = models.BooleanField(default=False)
    breach_warned_at = models.DateTimeField(null=True, blank=True)
    escalated_at = models.DateTimeField(_("escalated"), null=True, blank=True)
    # Articles suggested by the automatic reply (ids), for "this article solved it".
    suggested_articles = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["status", "assignee"]),
            models.Index(fields=["customer", "created_at"]),
            models.Index(fields=["resolution_due"]),
        ]
        permissions = [("view_service_report", _("Can view SLA and CSAT reports"))]

    def __str__(self) -> str:
        return f"#{self.pk} {self.subject}"

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN_STATUSES

    @property
    def reference(self) -> str:
        return f"[#{self.pk}]"


class Message(models.Model):
    class Author(models.TextChoices):
        CUSTOMER = "customer", _("customer")
        AGENT = "agent", _("agent")
        SYSTEM = "system", _("automatic")

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="messages")
    author_kind = models.CharField(_("author"), max_length=8, choices=Author.choices)
    author_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    body = models.TextField(_("message"))
    internal = models.BooleanField(_("internal note"), default=False)
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # RFC 5322 Message-ID of the email that carried it (in or out), for threading.
    email_message_id = models.CharField(max_length=250, blank=True, db_index=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.ticket_id}: {self.body[:40]}"

    @property
    def author_name(self) -> str:
        if self.author_user_id:
            user = self.author_user
            return user.get_full_name() or user.get_username()
        if self.author_kind == self.Author.CUSTOMER:
            return self.ticket.customer.display_name
        return str(_("Guanxi"))


def _attachment_path(instance, filename: str) -> str:
    return f"service/{timezone.now():%Y/%m}/{secrets.token_hex(8)}-{filename}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=_attachment_path, max_length=300)
    filename = models.CharField(max_length=200)
    content_type = models.CharField(max_length=100)
    size = models.PositiveIntegerField()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")

    def __str__(self) -> str:
        return self.filename


class CannedReply(models.Model):
    """A reusable answer; ``{customer_name}``, ``{first_name}``, ``{agent_name}``,
    ``{ticket_number}`` and ``{subject}`` are filled in when used."""

    title = models.CharField(_("title"), max_length=150)
    body = models.TextField(_("text"))
    language = models.CharField(_("language"), max_length=10, default="en")

    class Meta:
        verbose_name = _("canned reply")
        verbose_name_plural = _("canned replies")
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


# --- Knowledge base ------------------------------------------------------------------------


class KBCategory(models.Model):
    name = models.CharField(_("name"), max_length=120)
    name_zh = models.CharField(_("name (Chinese)"), max_length=120, blank=True)
    position = models.PositiveIntegerField(_("position"), default=0)

    class Meta:
        verbose_name = _("knowledge-base category")
        verbose_name_plural = _("knowledge-base categories")
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name


class KBArticle(TimeStampedModel):
    class Language(models.TextChoices):
        EN = "en", _("English")
        ZH_HANS = "zh-hans", _("Simplified Chinese")

    title = models.CharField(_("title"), max_length=250)
    body = models.TextField(_("text"))
    language = models.CharField(
        _("language"), max_length=8, choices=Language.choices, default=Language.EN
    )
    category = models.ForeignKey(
        KBCategory,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="articles",
    )
    published = models.BooleanField(_("published"), default=False, db_index=True)
    published_at = models.DateTimeField(_("published"), null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    helpful_count = models.PositiveIntegerField(_("helpful"), default=0)
    not_helpful_count = models.PositiveIntegerField(_("not helpful"), default=0)
    # Number of index terms (for length normalisation in search).
    term_count = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = _("article")
        verbose_name_plural = _("articles")
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return self.title


class KBTerm(models.Model):
    """The search index: one row per (article, term) with its weighted frequency."""

    article = models.ForeignKey(KBArticle, on_delete=models.CASCADE, related_name="terms")
    term = models.CharField(max_length=64)
    weight = models.FloatField()

    class Meta:
        indexes = [models.Index(fields=["term"])]
        constraints = [
            models.UniqueConstraint(fields=["article", "term"], name="service_kbterm_unique")
        ]

    def __str__(self) -> str:
        return self.term


class KBFeedback(models.Model):
    article = models.ForeignKey(KBArticle, on_delete=models.CASCADE, related_name="feedback")
    helpful = models.BooleanField()
    comment = models.CharField(max_length=500, blank=True)
    customer = models.ForeignKey(
        "customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.ForeignKey(
        Ticket, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        verbose_name = _("article feedback")
        verbose_name_plural = _("article feedback")

    def __str__(self) -> str:
        return f"{self.article_id}: {'+' if self.helpful else '-'}"


# --- Surveys and coupons --------------------------------------------------------------------


class NPSCampaign(TimeStampedModel):
    name = models.CharField(_("name"), max_length=150)
    question = models.CharField(
        _("question"),
        max_length=300,
        default="How likely are you to recommend us to a friend or colleague?",
    )
    coupon_percent = models.PositiveSmallIntegerField(
        _("coupon for answering (percent off, 0 = none)"), default=0
    )
    sent_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("NPS campaign")
        verbose_name_plural = _("NPS campaigns")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name


class SurveyResponse(models.Model):
    """One survey sent to one customer (CSAT after a ticket, or NPS in a campaign) and, once
    answered, the answer. Answered through a link holding ``token`` (no sign-in needed)."""

    class Kind(models.TextChoices):
        CSAT = "csat", _("CSAT")
        NPS = "nps", _("NPS")

    kind = models.CharField(max_length=4, choices=Kind.choices)
    token = models.CharField(max_length=48, unique=True)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="service_surveys"
    )
    ticket = models.OneToOneField(
        Ticket, null=True, blank=True, on_delete=models.CASCADE, related_name="survey"
    )
    campaign = models.ForeignKey(
        NPSCampaign, null=True, blank=True, on_delete=models.CASCADE, related_name="responses"
    )
    agent = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    channel = models.CharField(max_length=8, blank=True)
    # CSAT 1–5, NPS 0–10.
    score = models.PositiveSmallIntegerField(_("score"), null=True, blank=True)
    comment = models.TextField(_("comment"), blank=True)
    sent_at = models.DateTimeField(default=timezone.now)
    reminded_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True, db_index=True)
    coupon = models.ForeignKey(
        "marketing.Coupon", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("survey response")
        verbose_name_plural = _("survey responses")
        ordering = ["-sent_at"]

    def __str__(self) -> str:
        return f"{self.kind} {self.token[:6]}"
