"""Segments (live rules over customers) and groups (static lists of customers)."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import TimeStampedModel
from guanxi.customers.models import Customer


class Segment(TimeStampedModel):
    """A live rule (``rule``, see :mod:`guanxi.segments.rules`): its members are whoever matches
    it now. ``members`` keeps the membership of the last refresh, so entering and leaving can be
    told apart (flows and outbound webhooks react to them)."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    rule = models.JSONField(_("rule"), default=dict)
    builtin = models.CharField(_("built-in definition"), max_length=50, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    member_count = models.IntegerField(_("members at last refresh"), null=True, blank=True)
    refreshed_at = models.DateTimeField(_("last refreshed"), null=True, blank=True)

    class Meta:
        verbose_name = _("segment")
        verbose_name_plural = _("segments")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SegmentMember(models.Model):
    """Membership of a segment as of its last refresh (the diff of two refreshes = who entered
    and who left)."""

    segment = models.ForeignKey(Segment, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    entered_at = models.DateTimeField(_("entered"))

    class Meta:
        verbose_name = _("segment member")
        verbose_name_plural = _("segment members")
        constraints = [
            models.UniqueConstraint(fields=["segment", "customer"], name="segments_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in segment {self.segment_id}"


class Group(TimeStampedModel):
    """A static list of customers, built by hand or as a snapshot of a segment."""

    name = models.CharField(_("name"), max_length=200, unique=True)
    description = models.TextField(_("description"), blank=True)
    source_segment = models.ForeignKey(
        Segment,
        verbose_name=_("snapshot of"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="snapshots",
    )
    source_rule = models.JSONField(_("rule at snapshot"), null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        verbose_name = _("group")
        verbose_name_plural = _("groups")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GroupMember(models.Model):
    group = models.ForeignKey(Group, on_delete=models.CASCADE, related_name="members")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="group_entries")
    added_at = models.DateTimeField(_("added"), auto_now_add=True)

    class Meta:
        verbose_name = _("group member")
        verbose_name_plural = _("group members")
        constraints = [
            models.UniqueConstraint(fields=["group", "customer"], name="segments_group_member")
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in group {self.group_id}"
