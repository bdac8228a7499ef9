"""Reads of customer profiles for pages, exports and other apps (no writes here)."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.contenttypes.models import ContentType
from django.core.paginator import Page, Paginator
from django.db.models import CharField, Exists, F, OuterRef, Q, QuerySet, Subquery, Value

from guanxi.commerce import selectors as commerce
from guanxi.core.models import AuditEntry
from guanxi.customers.models import Address, ContactPoint, Customer, SourceIdentity

CUSTOMER_ORDERINGS: dict[str, tuple[str, ...]] = {
    "name": ("last_name", "first_name", "company_name", "id"),
    "type": ("customer_type", "id"),
    "country": ("country", "id"),
    "created": ("created_at", "id"),
    "orders": ("order_count", "id"),
    "spent": ("total_spent", "id"),
    "last_order": ("last_order_at", "id"),
}
TIMELINE_KINDS = ("order", "event", "change")
# Other apps add their rows to the timeline (e.g. the service desk's tickets) with
# :func:`register_timeline_source`: kind → (rows(customer_id) → values_list(tl_kind, tl_id,
# tl_at) queryset, load(ids) → {id: object}).
_TIMELINE_SOURCES: dict[str, tuple[Any, Any]] = {}


def register_timeline_source(kind: str, rows, load) -> None:
    """Put another app's rows on every customer's timeline under ``kind``."""
    _TIMELINE_SOURCES[kind] = (rows, load)


def timeline_kinds() -> tuple[str, ...]:
    return TIMELINE_KINDS + tuple(_TIMELINE_SOURCES)


_DIGITS = re.compile(r"\d")


SORT_FIGURES = {"orders": "order_count", "spent": "total_spent", "last_order": "last_order_at"}


def search_customers(
    q: str = "",
    filters: Mapping[str, Any] | None = None,
    ordering: str = "-created",
    *,
    match_contacts: bool = True,
    currency: str | None = None,
) -> QuerySet[Customer]:
    """Live (not merged) customers matching a search, filters and a sort key.

    ``q``: every word must match a first, last or company name; or the whole text matches an
    email / phone (through ``ContactPoint.normalized``; only when ``match_contacts``) or a source
    platform's external id. ``filters``: ``customer_type``, ``kind``, ``country``,
    ``reachability`` (exact values) and ``has_orders`` (True / False / None).
    ``ordering``: a key of :data:`CUSTOMER_ORDERINGS`, ``-`` prefixed for descending; sorting by
    ``orders``, ``spent`` (net, in ``currency``, default the store's primary one) or
    ``last_order`` annotates that figure.

    The rows are otherwise bare, so sorting and paging stay cheap on large stores; pass the
    rows a page shows to :func:`with_list_figures` for their order figures and email.
    """
    filters = filters or {}
    qs = Customer.objects.filter(merged_into__isnull=True)
    for name in ("customer_type", "kind", "country", "reachability"):
        if filters.get(name):
            qs = qs.filter(**{name: filters[name]})
    if filters.get("has_orders") is not None:
        qs = commerce.with_order_stats(qs, "", ["has_orders"])
        qs = qs.filter(has_orders=bool(filters["has_orders"]))

    q = (q or "").strip()
    if q:
        names = Q()
        for token in q.split():
            names &= (
                Q(first_name__icontains=token)
                | Q(last_name__icontains=token)
                | Q(company_name__icontains=token)
            )
        match = names | Exists(
            SourceIdentity.objects.filter(customer=OuterRef("pk"), external_id__iexact=q)
        )
        if match_contacts:
            contacts = Q(normalized__contains=q.lower())
            digits = "".join(_DIGITS.findall(q))
            if len(digits) >= 5 and "@" not in q:
                contacts |= Q(
                    kind__in=[ContactPoint.Kind.PHONE, ContactPoint.Kind.MOBILE],
                    normalized__contains=digits,
                )
            match |= Exists(ContactPoint.objects.filter(contacts, customer=OuterRef("pk")))
        qs = qs.filter(match)

    order_by = commerce._ordering(ordering, CUSTOMER_ORDERINGS, "-created")
    figure = SORT_FIGURES.get((ordering or "").lstrip("-"))
    if figure:
        qs = commerce.with_order_stats(qs, currency or commerce.primary_currency(), [figure])
    return qs.order_by(*order_by)


def with_list_figures(customers: Sequence[Customer], currency: str) -> list[Customer]:
    """The given customers (one page), in the same order, with ``order_count``,
    ``total_spent`` (net, in ``currency``), ``last_order_at``, ``primary_email`` and ``owner``
    loaded: one query however long the page."""
    ids = [c.pk for c in customers]
    if not ids:
        return []
    rows = commerce.with_order_stats(
        Customer.objects.filter(pk__in=ids).select_related("owner"),
        currency,
        ["order_count", "total_spent", "last_order_at"],
    ).annotate(primary_email=Subquery(_primary_email()))
    by_id = {row.pk: row for row in rows}
    return [by_id[pk] for pk in ids if pk in by_id]


def _primary_email() -> QuerySet:
    return (
        ContactPoint.objects.filter(customer=OuterRef("pk"), kind=ContactPoint.Kind.EMAIL)
        .order_by("-is_primary", "id")
        .values("value")[:1]
    )


def customer_countries() -> list[str]:
    """Distinct non-empty countries of live customers, for a filter drop-down."""
    return list(
        Customer.objects.filter(merged_into__isnull=True)
        .exclude(country="")
        .order_by("country")
        .values_list("country", flat=True)
        .distinct()
    )


@dataclass(frozen=True)
class Customer360:
    """Everything the customer page shows beside the timeline."""

    customer: Customer
    contact_points: list[ContactPoint]
    addresses: list[Address]
    identities: list[SourceIdentity]
    contacts_of_account: list[Customer]
    absorbed: list[Customer]
    stats: commerce.CustomerOrderStats

    @property
    def age(self) -> int | None:
        return self.customer.age


def get_customer_360(customer_id: int) -> Customer360:
    """A profile with its contact points, addresses, identities per source, its business
    account's contacts, the profiles merged into it, and its order figures.

    Raises ``Customer.DoesNotExist``. A merged profile is returned as it is (its
    ``merged_into`` says where it went); callers decide whether to follow it.
    """
    customer = Customer.objects.select_related("owner", "account", "merged_into").get(
        pk=customer_id
    )
    return Customer360(
        customer=customer,
        contact_points=list(customer.contact_points.all()),
        addresses=list(customer.addresses.all()),
        identities=list(customer.identities.order_by("source", "external_id")),
        contacts_of_account=(
            list(customer.contacts.filter(merged_into__isnull=True).order_by("last_name")[:50])
            if customer.kind == Customer.Kind.ACCOUNT
            else []
        ),
        absorbed=list(customer.absorbed.order_by("id")[:50]),
        stats=commerce.customer_order_stats(customer.pk),
    )


# --- Timeline --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    """One field of an audit entry, ready to show: label, old value, new value."""

    field: str
    label: str
    old: Any
    new: Any

    @property
    def is_contact(self) -> bool:
        """Whether the change is to an email / phone / … (shown only to who may see those)."""
        return self.field.startswith("contact:")


@dataclass(frozen=True)
class TimelineItem:
    """One row of a customer's timeline: ``kind`` is ``order``, ``event`` or ``change``;
    ``obj`` is the Order, Event or AuditEntry."""

    kind: str
    at: dt.datetime
    obj: Any
    changes: list[FieldChange] = field(default_factory=list)


def customer_timeline(
    customer: Customer,
    page: int | str = 1,
    *,
    kinds: Collection[str] | None = None,
    per_page: int = 20,
) -> Page:
    """One newest-first list of the customer's orders, store events and profile changes
    (audit entries), limited to ``kinds`` (default all), as a Django ``Page`` of
    :class:`TimelineItem`.

    The sources are merged by a single UNION query ordered and sliced in the database, then each
    page's rows are loaded in one query per kind: a constant number of queries at any depth.
    """
    all_kinds = timeline_kinds()
    kinds = [k for k in (kinds or all_kinds) if k in all_kinds]
    parts = []
    if "order" in kinds:
        parts.append(commerce.order_timeline_rows(customer.pk))
    if "event" in kinds:
        parts.append(commerce.event_timeline_rows(customer.pk))
    if "change" in kinds:
        parts.append(_audit_timeline_rows(customer.pk))
    for kind, (rows_of, _load) in _TIMELINE_SOURCES.items():
        if kind in kinds:
            parts.append(rows_of(customer.pk))
    if not parts:
        return Paginator([], per_page).page(1)
    rows = parts[0].union(*parts[1:], all=True) if len(parts) > 1 else parts[0]
    rows = rows.order_by("-tl_at", "-tl_id")
    result = Paginator(rows, per_page).get_page(page)

    page_rows = list(result.object_list)
    wanted: dict[str, list[int]] = {k: [] for k in all_kinds}
    for kind, pk, _at in page_rows:
        wanted[kind].append(pk)
    loaded = {
        "order": commerce.orders_by_id(wanted["order"]) if wanted["order"] else {},
        "event": commerce.events_by_id(wanted["event"]) if wanted["event"] else {},
        "change": (
            AuditEntry.objects.select_related("actor").in_bulk(wanted["change"])
            if wanted["change"]
            else {}
        ),
    }
    for kind, (_rows, load) in _TIMELINE_SOURCES.items():
        loaded[kind] = load(wanted[kind]) if wanted[kind] else {}
    names = _related_names(entry.changes for entry in loaded["change"].values())
    result.object_list = [
        TimelineItem(
            kind,
            at,
            loaded[kind][pk],
            describe_changes(loaded[kind][pk].changes, names) if kind == "change" else [],
        )
        for kind, pk, at in page_rows
        if pk in loaded[kind]
    ]
    return result


def _related_names(all_changes) -> dict[str, dict[Any, str]]:
    """Readable names for the ids an audit diff holds (owner → username, account → name)."""
    ids: dict[str, set] = {"owner": set(), "account": set()}
    for changes in all_changes:
        for name in ids:
            for value in (changes or {}).get(name) or []:
                if isinstance(value, int):
                    ids[name].add(value)
    names: dict[str, dict[Any, str]] = {}
    if ids["owner"]:
        users = get_user_model().objects.filter(pk__in=ids["owner"])
        names["owner"] = {u.pk: u.get_full_name() or u.get_username() for u in users}
    if ids["account"]:
        accounts = Customer.objects.filter(pk__in=ids["account"])
        names["account"] = {a.pk: a.display_name for a in accounts}
    return names


def _audit_timeline_rows(customer_id: int) -> QuerySet:
    return (
        AuditEntry.objects.filter(
            content_type=ContentType.objects.get_for_model(Customer), object_id=customer_id
        )
        .order_by()
        .annotate(
            tl_kind=Value("change", output_field=CharField()),
            tl_id=F("id"),
            tl_at=F("occurred_at"),
        )
        .values_list("tl_kind", "tl_id", "tl_at")
    )


def describe_changes(
    changes: Mapping[str, Any], names: Mapping[str, Mapping[Any, str]] | None = None
) -> list[FieldChange]:
    """Turn an audit entry's ``{"field": [old, new]}`` into labelled rows; choice values are
    shown by their label, contact-point keys (``contact:email``) by their kind, and ids of
    related rows by the names in ``names`` (``{"owner": {3: "ann"}}``) when given."""
    rows = []
    for name, pair in (changes or {}).items():
        old, new = (list(pair) + [None, None])[:2] if isinstance(pair, list) else (None, pair)
        label, display = _field_label(name)
        lookup = (names or {}).get(name)
        if lookup:
            old, new = lookup.get(old, old), lookup.get(new, new)
        rows.append(FieldChange(name, label, display(old), display(new)))
    return rows


def _field_label(name: str):
    if name.startswith("contact:"):
        parts = name.split(":", 2)
        kind_label = dict(ContactPoint.Kind.choices).get(parts[1], parts[1])
        label = f"{kind_label} {parts[2]}" if len(parts) > 2 else kind_label
        validity = dict(ContactPoint.Validity.choices)
        return label, (lambda v: validity.get(v, v) if len(parts) > 2 else v)
    try:
        model_field = Customer._meta.get_field(name)
    except Exception:  # noqa: BLE001 - an old entry may name a field that no longer exists
        return name, (lambda v: v)
    choices = dict(model_field.choices or [])
    if choices:
        return model_field.verbose_name, (lambda v: choices.get(v, v))
    return model_field.verbose_name, (lambda v: v)


def find_customer_by_contact(kind: str, value: str) -> Customer | None:
    """The live profile with this contact point (``email`` lower-cased), oldest first."""
    from guanxi.customers.services import normalize_contact

    normalized = normalize_contact(kind, value)
    if not normalized:
        return None
    point = (
        ContactPoint.objects.filter(
            kind=kind, normalized=normalized, customer__merged_into__isnull=True
        )
        .select_related("customer")
        .order_by("customer_id")
        .first()
    )
    return point.customer if point else None


def primary_email(customer: Customer) -> str:
    """The customer's primary (else first) email address, or ""."""
    point = (
        customer.contact_points.filter(kind=ContactPoint.Kind.EMAIL)
        .exclude(validity=ContactPoint.Validity.INVALID)
        .order_by("-is_primary", "id")
        .first()
    )
    return point.value if point else ""


def get_customer(customer_id: int) -> Customer:
    """One profile with its owner and account; raises ``Customer.DoesNotExist``."""
    return Customer.objects.select_related("owner", "account").get(pk=customer_id)


def has_customers() -> bool:
    """Whether any customer exists (to tell an empty store from an empty search)."""
    return Customer.objects.exists()


def identity_external_id(customer_id: int, source: str) -> str | None:
    """The customer's external id on ``source`` (None when it has none there)."""
    return (
        SourceIdentity.objects.filter(customer_id=customer_id, source=source)
        .values_list("external_id", flat=True)
        .first()
    )


def customer_id_for_email(email: str) -> int | None:
    """The oldest live profile with this email address (case-insensitive), if any."""
    return (
        ContactPoint.objects.filter(
            kind=ContactPoint.Kind.EMAIL,
            normalized=(email or "").strip().lower(),
            customer__merged_into__isnull=True,
        )
        .order_by("customer_id")
        .values_list("customer_id", flat=True)
        .first()
    )


# --- Identity resolution -----------------------------------------------------------------------


def review_queue(status: str = "pending") -> QuerySet:
    """Candidate pairs in ``status`` ("pending": waiting for a person), best first; pending pairs
    where either side has been merged away meanwhile are left out."""
    from guanxi.customers.models import MatchCandidate

    pairs = MatchCandidate.objects.select_related("customer_a", "customer_b")
    if status:
        pairs = pairs.filter(status=status)
    if status == MatchCandidate.Status.PENDING:
        pairs = pairs.filter(
            customer_a__merged_into__isnull=True, customer_b__merged_into__isnull=True
        )
    return pairs.order_by("-probability", "id")


def merge_history() -> QuerySet:
    from guanxi.customers.models import CustomerMerge

    return CustomerMerge.objects.select_related("winner", "loser", "merged_by", "undone_by")


@dataclass
class CompareRow:
    label: str
    left: str
    right: str

    @property
    def same(self) -> bool:
        return self.left.strip().lower() == self.right.strip().lower()


def compare_profiles(a: Customer, b: Customer) -> list[CompareRow]:
    """Side-by-side rows for the review page: profile fields, contact points, addresses,
    identities and order counts."""
    from django.utils.translation import gettext as _

    def emails(c):
        return ", ".join(
            c.contact_points.filter(kind=ContactPoint.Kind.EMAIL).values_list("value", flat=True)
        )

    def phones(c):
        return ", ".join(
            c.contact_points.exclude(kind=ContactPoint.Kind.EMAIL).values_list("value", flat=True)
        )

    def address(c):
        return "; ".join(str(a) for a in c.addresses.all())

    def identities(c):
        return ", ".join(str(i) for i in c.identities.all())

    rows = [
        (_("first name"), lambda c: c.first_name),
        (_("last name"), lambda c: c.last_name),
        (_("birthday"), lambda c: c.birthday.isoformat() if c.birthday else ""),
        (_("email"), emails),
        (_("phone"), phones),
        (_("address"), address),
        (_("country"), lambda c: c.country),
        (_("source identities"), identities),
        (_("orders"), lambda c: str(c.orders.count())),
        (_("created"), lambda c: c.created_at.date().isoformat()),
    ]
    return [CompareRow(str(label), get(a) or "", get(b) or "") for label, get in rows]
