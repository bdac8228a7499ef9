"""Connected stores, what they sent us (inbound webhooks, dead letters, tracker visitors) and
what we send them (outbound webhook subscriptions and their delivery log)."""

import secrets

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.core.models import TimeStampedModel


def new_public_key() -> str:
    return "gxpk_" + secrets.token_urlsafe(18)


def new_signing_secret() -> str:
    return "gxws_" + secrets.token_urlsafe(32)


class Store(TimeStampedModel):
    """One online store connected to Guanxi (a Shopify shop or a WooCommerce site)."""

    class Platform(models.TextChoices):
        SHOPIFY = "shopify", "Shopify"
        WOOCOMMERCE = "woocommerce", "WooCommerce"

    name = models.CharField(_("name"), max_length=200)
    platform = models.CharField(_("platform"), max_length=16, choices=Platform.choices)
    # e.g. "example.myshopify.com" or "shop.example.com" (no scheme, no path).
    shop_domain = models.CharField(_("shop domain"), max_length=255, unique=True)
    # The ingestion source its orders/customers/events are keyed by: (source, external_id).
    source = models.CharField(_("source"), max_length=64, unique=True)
    # Secret shared with the platform to sign webhooks. The environment wins when
    # GUANXI_WEBHOOK_SECRETS names this shop domain (see docs/integrations.md).
    webhook_secret = models.CharField(_("webhook secret"), max_length=255, blank=True)
    public_key = models.CharField(
        _("public tracker key"), max_length=64, unique=True, default=new_public_key
    )
    # Origins allowed to call the tracker from a browser, one per line (https://shop.example).
    allowed_origins = models.TextField(_("allowed origins"), blank=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("store")
        verbose_name_plural = _("stores")
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.shop_domain})"

    @property
    def origins(self) -> list[str]:
        return [o.strip().rstrip("/") for o in self.allowed_origins.split() if o.strip()]


class InboundWebhook(models.Model):
    """Every webhook delivery received, accepted or not (the log that makes re-delivery a
    no-op: a webhook id is processed once per store)."""

    class Status(models.TextChoices):
        PROCESSED = "processed", _("processed")
        DUPLICATE = "duplicate", _("duplicate (ignored)")
        REJECTED = "rejected", _("rejected (bad signature)")
        DEAD_LETTER = "dead_letter", _("dead letter")
        IGNORED = "ignored", _("ignored topic")

    store = models.ForeignKey(
        Store, null=True, blank=True, on_delete=models.CASCADE, related_name="inbound"
    )
    platform = models.CharField(_("platform"), max_length=16)
    topic = models.CharField(_("topic"), max_length=64, blank=True)
    webhook_id = models.CharField(_("webhook id"), max_length=128, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices)
    reason = models.CharField(_("reason"), max_length=500, blank=True)
    remote_addr = models.CharField(_("remote address"), max_length=64, blank=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("inbound webhook")
        verbose_name_plural = _("inbound webhooks")
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["store", "webhook_id"])]

    def __str__(self) -> str:
        return f"{self.topic} {self.webhook_id} ({self.status})"


class DeadLetter(TimeStampedModel):
    """A verified webhook whose payload could not be mapped: kept whole with the reason, and
    replayable once the mapping (or the data) is fixed. Nothing is lost."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("dead letter", "pending")
        REPLAYED = "replayed", _("replayed")

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="dead_letters")
    topic = models.CharField(_("topic"), max_length=64)
    webhook_id = models.CharField(_("webhook id"), max_length=128, blank=True)
    body = models.TextField(_("payload"))
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=1)
    replayed_at = models.DateTimeField(_("replayed"), null=True, blank=True)

    class Meta:
        verbose_name = _("dead letter")
        verbose_name_plural = _("dead letters")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.topic} {self.webhook_id}: {self.reason[:60]}"


class Visitor(models.Model):
    """An anonymous tracker visitor that identified itself: later anonymous events with the
    same id belong to the customer too."""

    store = models.ForeignKey(Store, on_delete=models.CASCADE, related_name="visitors")
    anonymous_id = models.CharField(_("anonymous id"), max_length=128)
    customer_id = models.BigIntegerField(_("customer"), db_index=True)
    identified_at = models.DateTimeField(_("identified"), auto_now_add=True)

    class Meta:
        verbose_name = _("identified visitor")
        verbose_name_plural = _("identified visitors")
        constraints = [
            models.UniqueConstraint(
                fields=["store", "anonymous_id"], name="integrations_visitor_store_anon"
            )
        ]

    def __str__(self) -> str:
        return f"{self.anonymous_id} → {self.customer_id}"


class EventKind(models.TextChoices):
    """What Guanxi publishes to outbound webhook subscribers."""

    TIER_CHANGED = "customer.tier_changed", _("value tier changed")
    LIFECYCLE_CHANGED = "customer.lifecycle_changed", _("lifecycle stage changed")
    SEGMENT_ENTERED = "segment.entered", _("entered a segment")
    SEGMENT_LEFT = "segment.left", _("left a segment")
    TICKET_CREATED = "ticket.created", _("ticket created")
    TICKET_SOLVED = "ticket.solved", _("ticket solved")
    CUSTOMERS_MERGED = "customer.merged", _("customers merged")


class WebhookSubscription(TimeStampedModel):
    """A store's (or any system's) URL that receives signed Guanxi events."""

    store = models.ForeignKey(
        Store,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="subscriptions",
        verbose_name=_("store"),
    )
    url = models.URLField(_("URL"), max_length=500)
    event_types = models.JSONField(_("event types"), default=list, blank=True)
    secret = models.CharField(_("signing secret"), max_length=128, default=new_signing_secret)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("webhook subscription")
        verbose_name_plural = _("webhook subscriptions")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.url

    def wants(self, kind: str) -> bool:
        return not self.event_types or kind in self.event_types


class WebhookDelivery(TimeStampedModel):
    """One event sent (or being sent) to one subscription: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", pgettext_lazy("delivery", "pending")
        SUCCEEDED = "succeeded", _("delivered")
        FAILED = "failed", _("failed (gave up)")

    subscription = models.ForeignKey(
        WebhookSubscription, on_delete=models.CASCADE, related_name="deliveries"
    )
    event_id = models.CharField(_("event id"), max_length=64, db_index=True)
    kind = models.CharField(_("event"), max_length=64)
    payload = models.JSONField(_("payload"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    last_status_code = models.PositiveSmallIntegerField(_("last HTTP status"), null=True)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} → {self.subscription_id} ({self.status})"
