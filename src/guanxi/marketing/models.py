"""Email templates, campaigns, and one Delivery row per (message, recipient).

A Delivery's ``key`` is unique: whatever sends it (a campaign, a flow, a transactional notice)
names the message, and the same message can never be queued twice for one person. Its state is
written before and after the SMTP hand-off (queued → sending → sent), so after a crash only the
rows left in ``sending`` — the ones in flight — can go out twice, with the same Message-ID.
"""

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import TimeStampedModel
from guanxi.customers.models import Customer


class Purpose(models.TextChoices):
    MARKETING = "marketing", _("marketing")
    TRANSACTIONAL = "transactional", _("transactional")


class EmailTemplate(TimeStampedModel):
    """Subject and body in English and Simplified Chinese; Django template syntax for variables
    (``{{ first_name }}``, ``{{ unsubscribe_url }}``…, see docs/marketing.md)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    purpose = models.CharField(
        _("purpose"), max_length=16, choices=Purpose.choices, default=Purpose.MARKETING
    )
    subject_en = models.CharField(_("subject (English)"), max_length=300)
    body_en = models.TextField(_("body (English)"))
    subject_zh = models.CharField(_("subject (简体中文)"), max_length=300, blank=True)
    body_zh = models.TextField(_("body (简体中文)"), blank=True)

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Campaign(TimeStampedModel):
    class Status(models.TextChoices):
        DRAFT = "draft", _("draft")
        SCHEDULED = "scheduled", _("scheduled")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        CANCELLED = "cancelled", _("cancelled")

    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(
        EmailTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="+"
    )
    segment = models.ForeignKey(
        "segments.Segment",
        verbose_name=_("segment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    scheduled_at = models.DateTimeField(_("send at"), null=True, blank=True)
    queued_at = models.DateTimeField(_("queued"), null=True, blank=True)
    per_minute = models.PositiveIntegerField(
        _("throttle (emails per minute)"), null=True, blank=True
    )
    attribution_days = models.PositiveSmallIntegerField(
        _("attribute orders within (days)"), default=7
    )
    offer = models.ForeignKey(
        "marketing.Offer",
        verbose_name=_("coupon offer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("Each recipient gets their own single-use code ({{ coupon_code }})."),
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    @property
    def message_key(self) -> str:
        return f"campaign:{self.pk}"


class Delivery(models.Model):
    """One message to one person; ``key`` + ``customer`` is unique (never queued twice)."""

    class State(models.TextChoices):
        QUEUED = "queued", _("queued")
        DEFERRED = "deferred", _("deferred")
        SENDING = "sending", _("sending")
        SENT = "sent", _("sent")
        FAILED = "failed", _("failed")
        SKIPPED = "skipped", _("not sent")

    class Reason(models.TextChoices):
        NONE = "", _("—")
        NO_CONSENT = "no_consent", _("no marketing consent")
        UNREACHABLE = "unreachable", _("profile unreachable")
        NO_EMAIL = "no_email", _("no usable email address")
        FREQUENCY_CAP = "frequency_cap", _("frequency cap")
        QUIET_HOURS = "quiet_hours", _("quiet hours")
        THROTTLE = "throttle", _("throttled")
        SMTP_ERROR = "smtp_error", _("SMTP error")
        CANCELLED = "cancelled", _("campaign cancelled")

    key = models.CharField(_("message key"), max_length=120)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="deliveries"
    )
    campaign = models.ForeignKey(
        Campaign, null=True, blank=True, on_delete=models.CASCADE, related_name="deliveries"
    )
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purpose = models.CharField(max_length=16, choices=Purpose.choices)
    context = models.JSONField(default=dict, blank=True)  # extra template variables
    email = models.CharField(_("email"), max_length=254, blank=True)
    state = models.CharField(_("state"), max_length=10, choices=State.choices, default=State.QUEUED)
    reason = models.CharField(_("reason"), max_length=16, choices=Reason.choices, blank=True)
    due_at = models.DateTimeField(_("due"), db_index=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    message_id = models.CharField(_("Message-ID"), max_length=200, blank=True, db_index=True)
    error = models.CharField(_("error"), max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sending_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened"), null=True, blank=True)
    clicked_at = models.DateTimeField(_("clicked"), null=True, blank=True)
    unsubscribed_at = models.DateTimeField(_("unsubscribed"), null=True, blank=True)
    bounced_at = models.DateTimeField(_("bounced"), null=True, blank=True)
    complained_at = models.DateTimeField(_("marked as spam"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        constraints = [
            models.UniqueConstraint(fields=["key", "customer"], name="marketing_delivery_once")
        ]
        indexes = [
            models.Index(fields=["state", "due_at"]),
            models.Index(fields=["customer", "purpose", "sent_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.key} → {self.customer_id} ({self.state})"


class Flow(TimeStampedModel):
    """Trigger → wait → condition → send. Each firing is a FlowRun, unique per
    (flow, customer, trigger key), so a trigger seen twice fires once."""

    class Trigger(models.TextChoices):
        SIGNED_UP = "signed_up", _("signed up")
        BIRTHDAY = "birthday", _("birthday")
        PERIODIC_DUE = "periodic_due", _("periodic purchase due")
        ORDER_PLACED = "order_placed", _("order placed")
        STAGE_CHANGED = "stage_changed", _("lifecycle stage changed")
        ORDER_STATUS = "order_status", _("order status changed")
        PRODUCT_UPDATED = "product_updated", _("product updated")

    name = models.CharField(_("name"), max_length=200, unique=True)
    trigger = models.CharField(_("trigger"), max_length=20, choices=Trigger.choices)
    # birthday/periodic_due: {"days_before": 3}; stage_changed: {"to_stage": "at_risk"};
    # order_status: {"status": "shipped"}
    trigger_config = models.JSONField(_("trigger settings"), default=dict, blank=True)
    wait_days = models.PositiveSmallIntegerField(_("wait (days)"), default=0)
    condition = models.ForeignKey(
        "segments.Segment",
        verbose_name=_("only if in segment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    template = models.ForeignKey(
        EmailTemplate, verbose_name=_("send template"), on_delete=models.PROTECT, related_name="+"
    )
    offer = models.ForeignKey(
        "marketing.Offer",
        verbose_name=_("coupon offer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    enabled = models.BooleanField(_("on"), default=True)
    builtin = models.CharField(_("built-in definition"), max_length=40, blank=True)

    class Meta:
        verbose_name = _("flow")
        verbose_name_plural = _("flows")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class FlowRun(models.Model):
    class State(models.TextChoices):
        WAITING = "waiting", _("waiting")
        SENT = "sent", _("handed to the sender")
        SKIPPED = "skipped", _("condition not met")

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="flow_runs")
    trigger_key = models.CharField(max_length=120)
    context = models.JSONField(default=dict, blank=True)
    due_at = models.DateTimeField(db_index=True)
    state = models.CharField(max_length=10, choices=State.choices, default=State.WAITING)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("flow run")
        verbose_name_plural = _("flow runs")
        constraints = [
            models.UniqueConstraint(
                fields=["flow", "customer", "trigger_key"], name="marketing_flowrun_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.flow_id}:{self.trigger_key} → {self.customer_id}"


# -- incentives (S3.4) -----------------------------------------------------------------------------


class Offer(TimeStampedModel):
    """What a coupon is worth: percent or amount off, optional minimum order, and how long each
    code stays valid after it is issued (or until a fixed end)."""

    class Kind(models.TextChoices):
        PERCENT = "percent", _("percent off")
        AMOUNT = "amount", _("amount off")

    name = models.CharField(_("name"), max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.PERCENT)
    value = models.DecimalField(_("value"), max_digits=10, decimal_places=2)
    currency = models.CharField(_("currency"), max_length=3, blank=True)
    min_order_total = models.DecimalField(
        _("minimum order total"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    valid_days = models.PositiveSmallIntegerField(_("valid for (days after issue)"), default=30)
    ends_at = models.DateTimeField(_("no code valid after"), null=True, blank=True)
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("coupon offer")
        verbose_name_plural = _("coupon offers")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def label(self) -> str:
        if self.kind == self.Kind.PERCENT:
            return f"{self.value.normalize():f} %"
        return f"{self.value:.2f} {self.currency}".strip()


class Coupon(models.Model):
    """One single-use code handed to one customer by a campaign, a flow, a survey or by hand.
    Issuing is idempotent: one code per (offer, customer, source key)."""

    class Source(models.TextChoices):
        CAMPAIGN = "campaign", _("campaign")
        FLOW = "flow", _("flow")
        SURVEY = "survey", _("survey")
        MANUAL = "manual", _("by hand")
        API = "api", _("API")

    code = models.CharField(_("code"), max_length=32, unique=True)
    offer = models.ForeignKey(
        Offer, verbose_name=_("offer"), on_delete=models.PROTECT, related_name="coupons"
    )
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="coupons",
    )
    source = models.CharField(_("issued by"), max_length=10, choices=Source.choices)
    source_key = models.CharField(_("issued for"), max_length=120, blank=True)
    issued_at = models.DateTimeField(_("issued"), default=timezone.now)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    redeemed_at = models.DateTimeField(_("redeemed"), null=True, blank=True)
    redeemed_order = models.ForeignKey(
        "commerce.Order",
        verbose_name=_("redeemed on order"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("coupon")
        verbose_name_plural = _("coupons")
        ordering = ["-issued_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["offer", "customer", "source_key"], name="marketing_coupon_once"
            )
        ]

    def __str__(self) -> str:
        return self.code


class CouponUse(models.Model):
    """Every time an order carried a code: accepted (the redemption) or refused, with why."""

    class Outcome(models.TextChoices):
        REDEEMED = "redeemed", _("redeemed")
        ALREADY_USED = "already_used", _("already used")
        EXPIRED = "expired", _("expired")
        OTHER_CUSTOMER = "other_customer", _("issued to someone else")
        BELOW_MINIMUM = "below_minimum", _("order below the minimum")

    coupon = models.ForeignKey(Coupon, on_delete=models.CASCADE, related_name="uses")
    order = models.ForeignKey("commerce.Order", on_delete=models.CASCADE, related_name="+")
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    at = models.DateTimeField(_("at"), default=timezone.now)

    class Meta:
        verbose_name = _("coupon use")
        verbose_name_plural = _("coupon uses")
        constraints = [
            models.UniqueConstraint(fields=["coupon", "order"], name="marketing_couponuse_once")
        ]

    def __str__(self) -> str:
        return f"{self.coupon_id} on {self.order_id}: {self.outcome}"


# -- bounces and complaints ------------------------------------------------------------------------


class BounceReport(models.Model):
    """One bounce or complaint about one address, from a DSN / ARF report (bounce mailbox, MTA
    pipe) or a provider's webhook. ``key`` is unique, so a report read twice counts once."""

    class Kind(models.TextChoices):
        HARD = "hard", _("hard bounce")
        SOFT = "soft", _("soft bounce")
        COMPLAINT = "complaint", _("spam complaint")

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    email = models.CharField(_("email"), max_length=254, db_index=True)
    status = models.CharField(_("status code"), max_length=16, blank=True)
    diagnostic = models.CharField(_("diagnostic"), max_length=500, blank=True)
    delivery = models.ForeignKey(
        Delivery, null=True, blank=True, on_delete=models.SET_NULL, related_name="bounces"
    )
    customer = models.ForeignKey(
        Customer, null=True, blank=True, on_delete=models.SET_NULL, related_name="bounces"
    )
    source = models.CharField(_("received from"), max_length=10)
    effect = models.CharField(_("effect"), max_length=200, blank=True)
    received_at = models.DateTimeField(_("received"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("bounce report")
        verbose_name_plural = _("bounce reports")
        ordering = ["-received_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind}: {self.email}"
