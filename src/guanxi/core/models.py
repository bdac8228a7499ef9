"""Shared building blocks: timestamps, money columns, the audit log and idempotency keys."""

from django.conf import settings
from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class TimeStampedModel(models.Model):
    # A default, not auto_now_add: imports keep the source's creation time (e.g. sign-up date).
    # Indexed where a list sorts by it (see each model's Meta), not everywhere.
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        abstract = True


def money_field(verbose_name, **kwargs) -> models.DecimalField:
    """Money is Decimal(18, 4); its currency lives in a sibling ``currency`` column."""
    return models.DecimalField(verbose_name, max_digits=18, decimal_places=4, **kwargs)


def currency_field(**kwargs) -> models.CharField:
    return models.CharField(_("currency"), max_length=3, **kwargs)


class AuditEntry(models.Model):
    """Who changed what, when: one row per create / update / delete / merge of a record."""

    class Action(models.TextChoices):
        CREATE = "create", _("created")
        UPDATE = "update", _("updated")
        DELETE = "delete", _("deleted")
        MERGE = "merge", _("merged")
        IMPORT = "import", _("imported")

    class Channel(models.TextChoices):
        CONSOLE = "console", _("console")
        API = "api", _("API")
        IMPORT = "import", _("import")
        SYSTEM = "system", _("system")
        ADMIN = "admin", _("admin")

    occurred_at = models.DateTimeField(_("when"), auto_now_add=True, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("who"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    actor_label = models.CharField(_("actor label"), max_length=150, blank=True)
    channel = models.CharField(_("channel"), max_length=16, choices=Channel.choices)
    action = models.CharField(_("action"), max_length=16, choices=Action.choices)
    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT, related_name="+")
    object_id = models.BigIntegerField()
    target = GenericForeignKey("content_type", "object_id")
    # {"field": [old, new], ...} with JSON-safe values.
    changes = models.JSONField(_("changes"), default=dict, blank=True)
    note = models.CharField(_("note"), max_length=500, blank=True)

    class Meta:
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["content_type", "object_id", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.action} {self.content_type_id}:{self.object_id} by {self.actor_label}"


class IdempotencyKey(models.Model):
    """A client-supplied ``Idempotency-Key``: the first response is stored and replayed."""

    scope = models.CharField(max_length=100)
    key = models.CharField(max_length=255)
    request_hash = models.CharField(max_length=64)
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("idempotency key")
        verbose_name_plural = _("idempotency keys")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="core_idempotency_scope_key")
        ]

    def __str__(self) -> str:
        return f"{self.scope}:{self.key}"
