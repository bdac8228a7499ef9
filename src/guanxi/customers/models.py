"""One customer, one profile: people and accounts, how to reach them, where they came from."""

import datetime as dt
import re

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import TimeStampedModel

_CJK = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


class Customer(TimeStampedModel):
    class Kind(models.TextChoices):
        PERSON = "person", _("person")
        ACCOUNT = "account", _("business account")

    class CustomerType(models.TextChoices):
        INDIVIDUAL = "individual", _("individual buyer")
        RESELLER = "reseller", _("reseller")
        MANUFACTURER = "manufacturer", _("manufacturer")

    class Gender(models.TextChoices):
        UNKNOWN = "", _("not stated")
        FEMALE = "female", _("female")
        MALE = "male", _("male")
        OTHER = "other", _("other")

    class Reachability(models.TextChoices):
        REACHABLE = "reachable", _("reachable")
        UNREACHABLE = "unreachable", _("unreachable")

    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PERSON)
    customer_type = models.CharField(
        _("customer type"),
        max_length=16,
        choices=CustomerType.choices,
        default=CustomerType.INDIVIDUAL,
        db_index=True,
    )
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    company_name = models.CharField(_("company name"), max_length=200, blank=True)
    # A person may belong to a business account (the account's contacts).
    account = models.ForeignKey(
        "self",
        verbose_name=_("business account"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="contacts",
        limit_choices_to={"kind": "account"},
    )
    gender = models.CharField(_("gender"), max_length=8, choices=Gender.choices, blank=True)
    # Age is derived from the birthday, never stored (S3.10).
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    occupation = models.CharField(_("occupation"), max_length=120, blank=True, db_index=True)
    interests = models.JSONField(_("interests"), default=list, blank=True)
    attributes = models.JSONField(_("custom attributes"), default=dict, blank=True)
    country = models.CharField(_("country"), max_length=80, blank=True, db_index=True)
    language = models.CharField(_("language"), max_length=10, blank=True)
    time_zone = models.CharField(_("time zone"), max_length=64, default="UTC")
    consent_email_marketing = models.BooleanField(_("email marketing consent"), default=False)
    consent_sms_marketing = models.BooleanField(_("SMS marketing consent"), default=False)
    consent_updated_at = models.DateTimeField(_("consent updated"), null=True, blank=True)
    reachability = models.CharField(
        _("reachability"),
        max_length=12,
        choices=Reachability.choices,
        default=Reachability.REACHABLE,
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="owned_customers",
    )
    # Set when identity resolution folds this profile into another; the row is kept.
    merged_into = models.ForeignKey(
        "self",
        verbose_name=_("merged into"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="absorbed",
    )
    archived_at = models.DateTimeField(_("archived"), null=True, blank=True)

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["created_at"]),
            models.Index(fields=["last_name", "first_name"]),
            models.Index(fields=["company_name"]),
        ]

    PROFILE_FIELDS = (
        "kind",
        "customer_type",
        "first_name",
        "last_name",
        "company_name",
        "account",
        "gender",
        "birthday",
        "occupation",
        "interests",
        "attributes",
        "country",
        "language",
        "time_zone",
        "consent_email_marketing",
        "consent_sms_marketing",
        "reachability",
        "owner",
        "archived_at",
    )

    def __str__(self) -> str:
        return self.display_name

    @property
    def display_name(self) -> str:
        if self.kind == self.Kind.ACCOUNT and self.company_name:
            return self.company_name
        if _CJK.search(self.first_name + self.last_name):
            name = f"{self.last_name}{self.first_name}"  # 王小明: family name first, no space
        else:
            name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or self.company_name or _("Customer #%(id)s") % {"id": self.pk}

    def age_on(self, day: dt.date) -> int | None:
        if self.birthday is None:
            return None
        before_birthday = (day.month, day.day) < (self.birthday.month, self.birthday.day)
        return day.year - self.birthday.year - int(before_birthday)

    @property
    def age(self) -> int | None:
        return self.age_on(timezone.localdate())


class ContactPoint(TimeStampedModel):
    class Kind(models.TextChoices):
        EMAIL = "email", _("email")
        PHONE = "phone", _("phone")
        MOBILE = "mobile", _("mobile")
        FAX = "fax", _("fax")
        WECHAT = "wechat", _("WeChat")
        OTHER = "other", _("other")

    class Validity(models.TextChoices):
        UNVERIFIED = "unverified", _("unverified")
        VALID = "valid", _("valid")
        BOUNCING = "bouncing", _("bouncing")
        INVALID = "invalid", _("invalid")

    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        on_delete=models.CASCADE,
        related_name="contact_points",
    )
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices)
    value = models.CharField(_("value"), max_length=254)
    # Lower-cased email / digits-only phone: what duplicates and look-ups are keyed on.
    normalized = models.CharField(_("normalized value"), max_length=254, db_index=True)
    is_primary = models.BooleanField(_("primary"), default=False)
    validity = models.CharField(
        _("validity"), max_length=12, choices=Validity.choices, default=Validity.UNVERIFIED
    )
    validity_changed_at = models.DateTimeField(_("validity changed"), null=True, blank=True)

    class Meta:
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        ordering = ["-is_primary", "kind", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer", "kind", "normalized"], name="customers_contactpoint_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.value}"


class Address(TimeStampedModel):
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="addresses"
    )
    label = models.CharField(_("label"), max_length=50, blank=True)
    line1 = models.CharField(_("street"), max_length=200, blank=True)
    line2 = models.CharField(_("street (line 2)"), max_length=200, blank=True)
    city = models.CharField(_("city"), max_length=100, blank=True)
    region = models.CharField(_("state / province"), max_length=100, blank=True)
    postcode = models.CharField(_("postcode"), max_length=20, blank=True)
    country = models.CharField(_("country"), max_length=80, blank=True)
    is_default = models.BooleanField(_("default"), default=False)
    validity = models.CharField(
        _("validity"),
        max_length=12,
        choices=ContactPoint.Validity.choices,
        default=ContactPoint.Validity.UNVERIFIED,
    )

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        ordering = ["-is_default", "id"]

    def __str__(self) -> str:
        return ", ".join(p for p in (self.line1, self.city, self.postcode, self.country) if p)


class SourceIdentity(models.Model):
    """The customer's id on one source platform (a store, a marketplace, an import)."""

    source = models.CharField(_("source"), max_length=64)
    external_id = models.CharField(_("external id"), max_length=128)
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.CASCADE, related_name="identities"
    )
    first_seen_at = models.DateTimeField(_("first seen"), auto_now_add=True)

    class Meta:
        verbose_name = _("source identity")
        verbose_name_plural = _("source identities")
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="customers_identity_source_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.source}:{self.external_id}"


class MatchCandidate(models.Model):
    """Two profiles identity resolution thinks may be one person, with Splink's score."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting for review")
        MERGED = "merged", _("merged")
        AUTO_MERGED = "auto_merged", _("merged automatically")
        KEPT_APART = "kept_apart", _("kept apart")

    customer_a = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer A")
    )
    customer_b = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", verbose_name=_("customer B")
    )
    probability = models.FloatField(_("match probability"))
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.PENDING, db_index=True
    )
    found_at = models.DateTimeField(_("found"), default=timezone.now)
    decided_at = models.DateTimeField(_("decided"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("match candidate")
        verbose_name_plural = _("match candidates")
        ordering = ["-probability", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer_a", "customer_b"], name="customers_matchcandidate_pair"
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer_a_id} ~ {self.customer_b_id} ({self.probability:.3f})"


class CustomerMerge(models.Model):
    """One merge: ``loser`` folded into ``winner``. ``moved`` records exactly which rows of
    which tables were re-pointed (and which profile fields were filled in), so it can be undone."""

    winner = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("kept profile")
    )
    loser = models.ForeignKey(
        Customer, on_delete=models.PROTECT, related_name="+", verbose_name=_("merged profile")
    )
    candidate = models.ForeignKey(
        MatchCandidate, null=True, blank=True, on_delete=models.SET_NULL, related_name="merges"
    )
    probability = models.FloatField(_("match probability"), null=True, blank=True)
    automatic = models.BooleanField(_("automatic"), default=False)
    # {"app_label.Model.field": [pk, ...], ...} and {"fields": {"name": [old, new]}}
    moved = models.JSONField(_("moved rows"), default=dict)
    filled = models.JSONField(_("filled fields"), default=dict)
    merged_at = models.DateTimeField(_("merged"), default=timezone.now, db_index=True)
    merged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    undone_at = models.DateTimeField(_("undone"), null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("customer merge")
        verbose_name_plural = _("customer merges")
        ordering = ["-merged_at", "-id"]

    def __str__(self) -> str:
        return f"{self.loser_id} → {self.winner_id}"

    @property
    def moved_count(self) -> int:
        return sum(len(v) for v in self.moved.values())
