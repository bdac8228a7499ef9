"""The segment rule language: a JSON rule in, one SQL query out.

A rule is a group of conditions::

    {"match": "all",                       # or "any"
     "conditions": [
        {"field": "tier", "op": "in", "value": ["vip", "gold"]},
        {"field": "age", "op": "between", "value": [25, 40]},
        {"field": "bought", "op": "has", "value": {"category": 12, "within_days": 90}},
        {"match": "any", "conditions": [...]}          # groups nest
     ]}

``compile_rule`` validates the whole rule first and raises :class:`RuleError` with one entry per
bad clause, each naming its path (``conditions[2].value.within_days``) and what is wrong; a valid
rule becomes one ``Q`` over ``Customer`` whose behaviour and score conditions are ``EXISTS``
subqueries, so a segment is counted or listed with one SQL statement. Scores come from the latest
successful analytics run. ``catalogue()`` describes every field for builders (the console's, or
an API client's).

Other apps plug their own fields in with :func:`register_field` (docs/segments.md lists the ones
that are still to come: positive reviews, forum answers, referrals).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.analytics.models import CategoryAffinity, CustomerScore, PeriodicPattern
from guanxi.analytics.selectors import latest_run
from guanxi.commerce.models import Category, Event, Order, Product
from guanxi.customers.models import ContactPoint, Customer

MAX_CONDITIONS = 50
MAX_DEPTH = 4

# operators per field type, with their labels
OPERATORS: dict[str, dict[str, Any]] = {
    "choice": {"in": gettext_lazy("is any of"), "not_in": gettext_lazy("is none of")},
    "text": {
        "eq": gettext_lazy("is"),
        "neq": gettext_lazy("is not"),
        "contains": gettext_lazy("contains"),
        "is_empty": gettext_lazy("is empty"),
        "is_not_empty": gettext_lazy("is not empty"),
    },
    "number": {
        "gte": gettext_lazy("at least"),
        "lte": gettext_lazy("at most"),
        "gt": gettext_lazy("more than"),
        "lt": gettext_lazy("less than"),
        "eq": gettext_lazy("equals"),
        "between": gettext_lazy("between"),
        "is_empty": gettext_lazy("is unknown"),
        "is_not_empty": gettext_lazy("is known"),
    },
    "bool": {"is_true": gettext_lazy("yes"), "is_false": gettext_lazy("no")},
    "behaviour": {"has": gettext_lazy("has"), "has_not": gettext_lazy("has not")},
}
NO_VALUE = {"is_empty", "is_not_empty", "is_true", "is_false"}


class RuleError(ValueError):
    """A rule that cannot be compiled; ``errors`` is a list of ``{"path", "message"}``."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['path']}: {e['message']}" for e in errors))


@dataclass
class Context:
    """What compiling needs besides the rule: the analytics run scores come from, and today."""

    run_id: int | None
    now: dt.datetime
    errors: list[dict[str, str]] = field(default_factory=list)

    def error(self, path: str, message: str) -> None:
        self.errors.append({"path": path, "message": str(message)})


@dataclass(frozen=True)
class Param:
    """A key of a behaviour condition's value object."""

    name: str
    label: Any
    kind: str  # "int", "number", "category", "product", "sku", "choice", "group"
    required: bool = False
    choices: tuple[tuple[str, Any], ...] = ()
    minimum: float | None = 0


@dataclass(frozen=True)
class Field:
    name: str
    label: Any
    section: Any
    type: str
    compile: Callable[[str, Any, Context, str], Q | None]
    choices: tuple[tuple[str, Any], ...] = ()
    params: tuple[Param, ...] = ()
    help: Any = ""

    def describe(self) -> dict:
        return {
            "name": self.name,
            "label": str(self.label),
            "section": str(self.section),
            "type": self.type,
            "help": str(self.help),
            "operators": [
                {"op": op, "label": str(label)} for op, label in OPERATORS[self.type].items()
            ],
            "choices": [{"value": v, "label": str(label)} for v, label in self.choices],
            "params": [
                {
                    "name": p.name,
                    "label": str(p.label),
                    "kind": p.kind,
                    "required": p.required,
                    "choices": [{"value": v, "label": str(label)} for v, label in p.choices],
                }
                for p in self.params
            ],
        }


FIELDS: dict[str, Field] = {}


def register_field(spec: Field) -> Field:
    """Add a field to the language (other apps: reviews, community, referrals…)."""
    FIELDS[spec.name] = spec
    return spec


# -- compiling ---------------------------------------------------------------------------------


def compile_rule(rule: Any, *, now: dt.datetime | None = None, run_id: int | None = None) -> Q:
    """Validate ``rule`` and compile it to a ``Q`` over ``Customer``; raise ``RuleError``."""
    if run_id is None:
        run = latest_run()
        run_id = run.pk if run else None
    ctx = Context(run_id=run_id, now=now or timezone.now())
    if not isinstance(rule, dict):
        raise RuleError(
            [{"path": "rule", "message": _("a rule is an object with 'match' and 'conditions'")}]
        )
    counter = [0]
    q = _group(rule, "rule", ctx, depth=0, counter=counter)
    if ctx.errors:
        raise RuleError(ctx.errors)
    return q


def validate_rule(rule: Any) -> list[dict[str, str]]:
    """The rule's errors (empty when it compiles)."""
    try:
        compile_rule(rule, run_id=0)
    except RuleError as exc:
        return exc.errors
    return []


def mentions_field(rule: Any, name: str) -> bool:
    """Whether any condition of ``rule`` (at any depth) is about the field ``name``."""
    if isinstance(rule, dict):
        if rule.get("field") == name:
            return True
        return any(mentions_field(c, name) for c in rule.get("conditions") or [])
    return False


def members(rule: Any, *, now: dt.datetime | None = None):
    """The customers that match ``rule`` now: live profiles only (not merged away, not archived)
    and reachable ones only (S3.10: an unreachable profile leaves every list) — unless the rule
    itself asks about ``reachability`` (a segment *of* the unreachable)."""
    live = Customer.objects.filter(merged_into__isnull=True, archived_at__isnull=True)
    if not mentions_field(rule, "reachability"):
        live = live.filter(reachability=Customer.Reachability.REACHABLE)
    return live.filter(compile_rule(rule, now=now))


def _group(rule: dict, path: str, ctx: Context, depth: int, counter: list[int]) -> Q:
    unknown = set(rule) - {"match", "conditions"}
    if unknown:
        ctx.error(
            path, _("unknown key(s) %(keys)s in a group") % {"keys": ", ".join(sorted(unknown))}
        )
    match = rule.get("match", "all")
    if match not in ("all", "any"):
        ctx.error(
            f"{path}.match", _("'match' must be 'all' or 'any', not %(value)r") % {"value": match}
        )
    conditions = rule.get("conditions")
    if not isinstance(conditions, list):
        ctx.error(f"{path}.conditions", _("'conditions' must be a list"))
        return Q()
    if depth > MAX_DEPTH:
        ctx.error(path, _("groups nest at most %(n)d deep") % {"n": MAX_DEPTH})
        return Q()
    parts = []
    for i, condition in enumerate(conditions):
        sub = f"{path}.conditions[{i}]" if path != "rule" else f"conditions[{i}]"
        counter[0] += 1
        if counter[0] > MAX_CONDITIONS:
            ctx.error(sub, _("a rule has at most %(n)d conditions") % {"n": MAX_CONDITIONS})
            break
        if not isinstance(condition, dict):
            ctx.error(sub, _("a condition is an object with 'field', 'op' and 'value'"))
            continue
        if "conditions" in condition:
            parts.append(_group(condition, sub, ctx, depth + 1, counter))
        else:
            q = _condition(condition, sub, ctx)
            if q is not None:
                parts.append(q)
    if not parts:
        # An empty "all" matches everyone, an empty "any" no one (as all([]) and any([])).
        return Q() if match == "all" else Q(pk__in=[])
    combined = parts[0]
    for q in parts[1:]:
        combined = combined & q if match == "all" else combined | q
    return combined


def _condition(condition: dict, path: str, ctx: Context) -> Q | None:
    unknown = set(condition) - {"field", "op", "value"}
    if unknown:
        ctx.error(
            path, _("unknown key(s) %(keys)s in a condition") % {"keys": ", ".join(sorted(unknown))}
        )
    name = condition.get("field")
    spec = FIELDS.get(name) if isinstance(name, str) else None
    if spec is None:
        ctx.error(
            f"{path}.field",
            _("unknown field %(field)r; the fields are: %(known)s")
            % {"field": name, "known": ", ".join(sorted(FIELDS))},
        )
        return None
    op = condition.get("op")
    if op not in OPERATORS[spec.type]:
        ctx.error(
            f"{path}.op",
            _("operator %(op)r does not apply to %(field)s (%(type)s); use one of: %(ops)s")
            % {"op": op, "field": name, "type": spec.type, "ops": ", ".join(OPERATORS[spec.type])},
        )
        return None
    value = condition.get("value")
    before = len(ctx.errors)
    value = _check_value(spec, op, value, f"{path}.value", ctx)
    if len(ctx.errors) > before:
        return None
    return spec.compile(op, value, ctx, path)


def _number(value: Any, path: str, ctx: Context) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        ctx.error(path, _("expected a number, got %(value)r") % {"value": value})
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        ctx.error(path, _("expected a number, got %(value)r") % {"value": value})
        return None
    if not number.is_finite():
        ctx.error(path, _("expected a finite number"))
        return None
    return number


def _check_value(spec: Field, op: str, value: Any, path: str, ctx: Context) -> Any:
    if op in NO_VALUE:
        return None
    if spec.type == "choice":
        allowed = {v for v, _label in spec.choices}
        if not isinstance(value, list) or not value:
            ctx.error(path, _("expected a non-empty list of values"))
            return None
        bad = [v for v in value if v not in allowed]
        if bad:
            ctx.error(
                path,
                _("%(bad)s not allowed for %(field)s; allowed: %(allowed)s")
                % {
                    "bad": ", ".join(map(repr, bad)),
                    "field": spec.name,
                    "allowed": ", ".join(sorted(allowed)),
                },
            )
        return value
    if spec.type == "text":
        if not isinstance(value, str) or not value.strip():
            ctx.error(path, _("expected a non-empty text"))
        return value.strip() if isinstance(value, str) else value
    if spec.type == "number":
        if op == "between":
            if not isinstance(value, list) or len(value) != 2:
                ctx.error(path, _("'between' takes a list of two numbers [low, high]"))
                return None
            low, high = _number(value[0], f"{path}[0]", ctx), _number(value[1], f"{path}[1]", ctx)
            if low is not None and high is not None and low > high:
                ctx.error(
                    path,
                    _("the low end %(low)s is above the high end %(high)s")
                    % {"low": low, "high": high},
                )
            return [low, high]
        return _number(value, path, ctx)
    if spec.type == "behaviour":
        if value is None:
            value = {}
        if not isinstance(value, dict):
            ctx.error(
                path,
                _("expected an object with %(keys)s")
                % {"keys": ", ".join(p.name for p in spec.params)},
            )
            return None
        params = {p.name: p for p in spec.params}
        unknown = set(value) - set(params)
        if unknown:
            ctx.error(
                path,
                _("unknown key(s) %(keys)s; %(field)s takes: %(allowed)s")
                % {
                    "keys": ", ".join(sorted(unknown)),
                    "field": spec.name,
                    "allowed": ", ".join(params),
                },
            )
        checked = {}
        for name, param in params.items():
            raw = value.get(name)
            if raw is None or raw == "":
                if param.required:
                    ctx.error(f"{path}.{name}", _("required"))
                continue
            checked[name] = _check_param(param, raw, f"{path}.{name}", ctx)
        return checked
    return value


def _check_param(param: Param, raw: Any, path: str, ctx: Context) -> Any:
    if param.kind in ("int", "number"):
        number = _number(raw, path, ctx)
        if number is None:
            return None
        if param.kind == "int" and number != number.to_integral_value():
            ctx.error(path, _("expected a whole number, got %(value)s") % {"value": raw})
        if param.minimum is not None and number < param.minimum:
            ctx.error(path, _("must be at least %(min)s") % {"min": param.minimum})
        return int(number) if param.kind == "int" else number
    if param.kind == "choice":
        allowed = {v for v, _label in param.choices}
        if raw not in allowed:
            ctx.error(
                path,
                _("%(value)r is not one of: %(allowed)s")
                % {"value": raw, "allowed": ", ".join(sorted(allowed))},
            )
        return raw
    if param.kind == "sku":
        if not isinstance(raw, str) or not Product.objects.filter(sku=raw).exists():
            ctx.error(path, _("no product with SKU %(sku)r") % {"sku": raw})
        return raw
    model = {"category": Category, "product": Product}.get(param.kind)
    if param.kind == "group":
        from guanxi.segments.models import Group

        model = Group
    if model is not None:
        if isinstance(raw, bool) or not isinstance(raw, int):
            ctx.error(path, _("expected an id (a whole number), got %(value)r") % {"value": raw})
            return None
        if not model.objects.filter(pk=raw).exists():
            ctx.error(
                path,
                _("no %(what)s with id %(id)s") % {"what": model._meta.verbose_name, "id": raw},
            )
        return raw
    return raw


# -- field compilers ---------------------------------------------------------------------------


def _compare(lookup: str, op: str, value: Any) -> Q:
    """``lookup`` compared by a number operator (value already checked)."""
    if op == "between":
        return Q(**{f"{lookup}__gte": value[0], f"{lookup}__lte": value[1]})
    if op == "is_empty":
        return Q(**{f"{lookup}__isnull": True})
    if op == "is_not_empty":
        return Q(**{f"{lookup}__isnull": False})
    return Q(**{f"{lookup}__{'exact' if op == 'eq' else op}": value})


def profile_choice(column: str):
    def compile_(op, value, ctx, path):
        q = Q(**{f"{column}__in": value})
        return q if op == "in" else ~q

    return compile_


def profile_text(column: str):
    def compile_(op, value, ctx, path):
        if op == "is_empty":
            return Q(**{column: ""})
        if op == "is_not_empty":
            return ~Q(**{column: ""})
        if op == "contains":
            return Q(**{f"{column}__icontains": value})
        q = Q(**{f"{column}__iexact": value})
        return q if op == "eq" else ~q

    return compile_


def _age(op, value, ctx, path):
    """Age in whole years from the birthday: age >= n <=> born on or before today - n years."""
    today = timezone.localdate(ctx.now)

    def born_by(years: int) -> dt.date:  # the latest birthday of someone at least ``years`` old
        try:
            return today.replace(year=today.year - years)
        except ValueError:  # 29 February
            return today.replace(year=today.year - years, day=28)

    def at_least(n):
        return Q(birthday__lte=born_by(int(n)))

    def at_most(n):
        return Q(birthday__gt=born_by(int(n) + 1))

    if op in ("is_empty", "is_not_empty"):
        return Q(birthday__isnull=op == "is_empty")
    n = value
    if op == "between":
        return at_least(value[0]) & at_most(value[1])
    if op in ("gte", "gt"):
        return at_least(n if op == "gte" else int(n) + 1)
    if op in ("lte", "lt"):
        return at_most(n if op == "lte" else int(n) - 1)
    return at_least(n) & at_most(n)


def _birthday_month(op, value, ctx, path):
    if op in ("is_empty", "is_not_empty"):
        return Q(birthday__isnull=op == "is_empty")
    return _compare("birthday__month", op, value)


def _days_since_signup(op, value, ctx, path):
    """Days since the profile was created: compare on created_at (older = more days)."""
    if op in ("is_empty", "is_not_empty"):
        return Q() if op == "is_not_empty" else Q(pk__in=[])

    def days_ago(n):
        return ctx.now - dt.timedelta(days=float(n))

    flipped = {"gte": "lte", "gt": "lt", "lte": "gte", "lt": "gt", "eq": "eq"}
    if op == "between":
        return Q(created_at__lte=days_ago(value[0]), created_at__gte=days_ago(value[1]))
    if op == "eq":
        return Q(created_at__lte=days_ago(value), created_at__gt=days_ago(value + 1))
    return Q(**{f"created_at__{flipped[op]}": days_ago(value)})


def _has_valid_email(op, value, ctx, path):
    usable = ContactPoint.objects.filter(
        customer=OuterRef("pk"),
        kind=ContactPoint.Kind.EMAIL,
        validity__in=[ContactPoint.Validity.VALID, ContactPoint.Validity.UNVERIFIED],
    )
    q = Q(Exists(usable))
    return q if op == "is_true" else ~q


def _bool_column(column: str):
    def compile_(op, value, ctx, path):
        return Q(**{column: op == "is_true"})

    return compile_


def _scores(ctx: Context):
    return CustomerScore.objects.filter(run_id=ctx.run_id or 0, customer=OuterRef("pk"))


def score_choice(column: str):
    def compile_(op, value, ctx, path):
        # "not in" also matches customers without a score (none computed yet, or newer).
        q = Q(Exists(_scores(ctx).filter(**{f"{column}__in": value})))
        return q if op == "in" else ~q

    return compile_


def score_number(column: str):
    def compile_(op, value, ctx, path):
        return Q(Exists(_scores(ctx).filter(_compare(column, op, value))))

    return compile_


def _window(ctx: Context, value: dict, column: str) -> Q:
    days = value.get("within_days")
    return Q(**{f"{column}__gte": ctx.now - dt.timedelta(days=days)}) if days else Q()


def _negate(op: str, q: Q) -> Q:
    return q if op == "has" else ~q


def _category_ids(category_id: int) -> list[int]:
    """The category and every category under it."""
    ids, frontier = {category_id}, [category_id]
    while frontier:
        frontier = list(
            Category.objects.filter(parent_id__in=frontier)
            .exclude(pk__in=ids)
            .values_list("pk", flat=True)
        )
        ids.update(frontier)
    return sorted(ids)


def _product_filter(value: dict, prefix: str) -> Q:
    q = Q()
    if value.get("product"):
        q &= Q(**{f"{prefix}product_id": value["product"]})
    if value.get("sku"):
        q &= Q(**{f"{prefix}product__sku": value["sku"]})
    if value.get("category"):
        q &= Q(**{f"{prefix}product__category_id__in": _category_ids(value["category"])})
    return q


def _orders(ctx: Context, value: dict):
    return Order.objects.filter(_window(ctx, value, "placed_at"), kind=Order.Kind.ORDER).exclude(
        status=Order.Status.CANCELLED
    )


def _ids(queryset):
    """The customer ids of ``queryset`` (rows without a customer left out: a NULL would make
    ``NOT IN`` match nobody)."""
    return queryset.filter(customer_id__isnull=False).order_by().values("customer_id")


def _having(queryset, aggregate, lookup: str, threshold):
    """Customer ids whose rows' ``aggregate`` passes ``lookup`` ``threshold``: one uncorrelated
    GROUP BY over the (windowed) rows, not one aggregate per customer."""
    return (
        queryset.filter(customer_id__isnull=False)
        .order_by()
        .values("customer_id")
        .annotate(_n=aggregate)
        .filter(**{f"_n__{lookup}": threshold})
        .values("customer_id")
    )


def _at_least(queryset, aggregate, threshold) -> Q:
    return Q(pk__in=_having(queryset, aggregate, "gte", threshold))


def _above(queryset, aggregate, threshold) -> Q:
    return Q(pk__in=_having(queryset, aggregate, "gt", threshold))


def _bought(op, value, ctx, path):
    if not any(value.get(k) for k in ("product", "sku", "category")):
        ctx.error(f"{path}.value", _("name a product, sku or category"))
        return None
    orders = _orders(ctx, value).filter(_product_filter(value, "lines__"))
    k = value.get("min_count") or 1
    if k <= 1:
        return _negate(op, Q(pk__in=_ids(orders)))
    return _negate(op, _at_least(orders, Count("id", distinct=True), k))


def _count_between(queryset, aggregate, low, high) -> Q:
    q = Q()
    if low is not None and low > 0:
        q &= _at_least(queryset, aggregate, low)
    if high is not None:
        q &= ~_above(queryset, aggregate, high)
    return q


def _order_count(op, value, ctx, path):
    low, high = value.get("min_count"), value.get("max_count")
    if low is None and high is None:
        low = 1
    if low is not None and high is not None and low > high:
        ctx.error(f"{path}.value", _("min_count is above max_count"))
        return None
    return _negate(op, _count_between(_orders(ctx, value), Count("id"), low, high))


def _spent(op, value, ctx, path):
    low, high = value.get("min_total"), value.get("max_total")
    if low is None and high is None:
        ctx.error(f"{path}.value", _("give min_total, max_total or both"))
        return None
    if low is not None and high is not None and low > high:
        ctx.error(f"{path}.value", _("min_total is above max_total"))
        return None
    orders = _orders(ctx, value)
    q = Q()
    if low is not None:
        q &= _at_least(orders, Sum("total"), low) if low > 0 else Q()
    if high is not None:
        q &= ~_above(orders, Sum("total"), high)
    return _negate(op, q)


def _event(op, value, ctx, path):
    events = Event.objects.filter(
        _window(ctx, value, "occurred_at"),
        _product_filter(value, ""),
        event_type=value["type"],
    )
    k = value.get("min_count") or 1
    q = Q(pk__in=_ids(events)) if k <= 1 else _at_least(events, Count("id"), k)
    return _negate(op, q)


def _affinity(op, value, ctx, path):
    rows = CategoryAffinity.objects.filter(
        run_id=ctx.run_id or 0,
        customer=OuterRef("pk"),
        category_id=value["category"],
        score__gte=value.get("min_score", 1),
    )
    return _negate(op, Q(Exists(rows)))


def _periodic_due(op, value, ctx, path):
    today = timezone.localdate(ctx.now)
    rows = PeriodicPattern.objects.filter(
        run_id=ctx.run_id or 0,
        customer=OuterRef("pk"),
        next_due__gte=today,
        next_due__lte=today + dt.timedelta(days=value.get("within_days", 14)),
    )
    return _negate(op, Q(Exists(rows)))


def _in_group(op, value, ctx, path):
    from guanxi.segments.models import GroupMember

    rows = GroupMember.objects.filter(group_id=value["group"], customer=OuterRef("pk"))
    return _negate(op, Q(Exists(rows)))


# -- the catalogue -----------------------------------------------------------------------------

PROFILE = gettext_lazy("Profile")
SCORES = gettext_lazy("Value and lifecycle")
BEHAVIOUR = gettext_lazy("Orders and behaviour")

WITHIN = Param("within_days", gettext_lazy("in the last … days"), "int")
MIN_COUNT = Param("min_count", gettext_lazy("at least … times"), "int")
PRODUCT = Param("product", gettext_lazy("product id"), "product")
SKU = Param("sku", gettext_lazy("product SKU"), "sku")
CATEGORY = Param("category", gettext_lazy("category"), "category")

for spec in (
    Field(
        "kind",
        gettext_lazy("kind"),
        PROFILE,
        "choice",
        profile_choice("kind"),
        tuple(Customer.Kind.choices),
    ),
    Field(
        "customer_type",
        gettext_lazy("customer type"),
        PROFILE,
        "choice",
        profile_choice("customer_type"),
        tuple(Customer.CustomerType.choices),
    ),
    Field(
        "gender",
        gettext_lazy("gender"),
        PROFILE,
        "choice",
        profile_choice("gender"),
        tuple(Customer.Gender.choices),
    ),
    Field(
        "age",
        gettext_lazy("age"),
        PROFILE,
        "number",
        _age,
        help=gettext_lazy("in whole years, from the birthday"),
    ),
    Field(
        "birthday_month",
        gettext_lazy("birthday month"),
        PROFILE,
        "number",
        _birthday_month,
        help=gettext_lazy("1–12"),
    ),
    Field("occupation", gettext_lazy("occupation"), PROFILE, "text", profile_text("occupation")),
    Field("country", gettext_lazy("country"), PROFILE, "text", profile_text("country")),
    Field("language", gettext_lazy("language"), PROFILE, "text", profile_text("language")),
    Field(
        "days_since_signup",
        gettext_lazy("days since sign-up"),
        PROFILE,
        "number",
        _days_since_signup,
    ),
    Field(
        "email_marketing_consent",
        gettext_lazy("email marketing consent"),
        PROFILE,
        "bool",
        _bool_column("consent_email_marketing"),
    ),
    Field(
        "has_usable_email",
        gettext_lazy("has a usable email address"),
        PROFILE,
        "bool",
        _has_valid_email,
    ),
    Field(
        "reachability",
        gettext_lazy("reachability"),
        PROFILE,
        "choice",
        profile_choice("reachability"),
        tuple(Customer.Reachability.choices),
    ),
    Field(
        "tier",
        gettext_lazy("value tier"),
        SCORES,
        "choice",
        score_choice("tier"),
        tuple(CustomerScore.Tier.choices),
    ),
    Field(
        "rfm_group",
        gettext_lazy("RFM group"),
        SCORES,
        "choice",
        score_choice("rfm_group"),
        tuple(CustomerScore.RfmGroup.choices),
    ),
    Field(
        "lifecycle_stage",
        gettext_lazy("lifecycle stage"),
        SCORES,
        "choice",
        score_choice("lifecycle_stage"),
        tuple(CustomerScore.Stage.choices),
    ),
    Field(
        "churn_risk",
        gettext_lazy("churn risk"),
        SCORES,
        "choice",
        score_choice("churn_risk"),
        tuple(CustomerScore.ChurnRisk.choices),
    ),
    Field(
        "orders_count",
        gettext_lazy("orders (all time)"),
        SCORES,
        "number",
        score_number("orders_count"),
    ),
    Field("revenue", gettext_lazy("revenue (all time)"), SCORES, "number", score_number("revenue")),
    Field(
        "recency_days",
        gettext_lazy("days since last order"),
        SCORES,
        "number",
        score_number("recency_days"),
    ),
    Field("clv", gettext_lazy("predicted CLV"), SCORES, "number", score_number("clv")),
    Field(
        "p_alive",
        gettext_lazy("probability alive"),
        SCORES,
        "number",
        score_number("p_alive"),
        help=gettext_lazy("0–1"),
    ),
    Field(
        "health_score",
        gettext_lazy("health score"),
        SCORES,
        "number",
        score_number("health_score"),
        help=gettext_lazy("0–100"),
    ),
    Field(
        "bought",
        gettext_lazy("bought"),
        BEHAVIOUR,
        "behaviour",
        _bought,
        params=(CATEGORY, SKU, PRODUCT, WITHIN, MIN_COUNT),
        help=gettext_lazy("orders with a product or a category (and its sub-categories)"),
    ),
    Field(
        "orders",
        gettext_lazy("placed orders"),
        BEHAVIOUR,
        "behaviour",
        _order_count,
        params=(
            WITHIN,
            Param("min_count", gettext_lazy("at least … orders"), "int"),
            Param("max_count", gettext_lazy("at most … orders"), "int"),
        ),
    ),
    Field(
        "spent",
        gettext_lazy("spent"),
        BEHAVIOUR,
        "behaviour",
        _spent,
        params=(
            WITHIN,
            Param("min_total", gettext_lazy("at least"), "number"),
            Param("max_total", gettext_lazy("at most"), "number"),
        ),
        help=gettext_lazy("sum of order totals"),
    ),
    Field(
        "event",
        gettext_lazy("did on the store"),
        BEHAVIOUR,
        "behaviour",
        _event,
        params=(
            Param(
                "type",
                gettext_lazy("what"),
                "choice",
                required=True,
                choices=tuple(Event.Type.choices),
            ),
            CATEGORY,
            SKU,
            PRODUCT,
            WITHIN,
            MIN_COUNT,
        ),
    ),
    Field(
        "category_affinity",
        gettext_lazy("category affinity"),
        BEHAVIOUR,
        "behaviour",
        _affinity,
        params=(
            Param("category", gettext_lazy("category"), "category", required=True),
            Param("min_score", gettext_lazy("affinity at least"), "number"),
        ),
        help=gettext_lazy(
            "share of spend in the category relative to the store's average (1 = average)"
        ),
    ),
    Field(
        "periodic_purchase_due",
        gettext_lazy("periodic purchase due"),
        BEHAVIOUR,
        "behaviour",
        _periodic_due,
        params=(Param("within_days", gettext_lazy("in the next … days"), "int"),),
    ),
    Field(
        "in_group",
        gettext_lazy("in group"),
        BEHAVIOUR,
        "behaviour",
        _in_group,
        params=(Param("group", gettext_lazy("group"), "group", required=True),),
    ),
):
    register_field(spec)


def catalogue() -> list[dict]:
    """Every field with its operators, choices and parameters, for rule builders."""
    return [spec.describe() for spec in FIELDS.values()]
