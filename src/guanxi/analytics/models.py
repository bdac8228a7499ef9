"""What analytics runs produce. Every run writes its own rows; "current" = the latest successful
run, so trends and before/after comparisons are queries, not reconstructions."""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from guanxi.commerce.models import Category, Product
from guanxi.core.models import currency_field, money_field
from guanxi.customers.models import Customer


class AnalyticsRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        FAILED = "failed", _("failed")

    class Engine(models.TextChoices):
        DUCKDB = "duckdb", "DuckDB"
        SPARK = "spark", "Spark"

    engine = models.CharField(_("engine"), max_length=10, choices=Engine.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    # The moment the scores describe (recency etc. are measured up to it).
    as_of = models.DateTimeField(_("as of"))
    triggered_by = models.CharField(_("triggered by"), max_length=30, default="command")
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    inputs = models.JSONField(_("input row counts"), default=dict, blank=True)
    outputs = models.JSONField(_("output row counts"), default=dict, blank=True)
    steps = models.JSONField(_("step durations (s)"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    duration_s = models.FloatField(_("duration (s)"), null=True, blank=True)

    class Meta:
        verbose_name = _("analytics run")
        verbose_name_plural = _("analytics runs")
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"#{self.pk} {self.engine} {self.status}"


class CustomerScore(models.Model):
    """One customer's numbers in one run: RFM, tier, lifecycle, CLV/churn, health."""

    class Tier(models.TextChoices):
        VIP = "vip", _("VIP")
        GOLD = "gold", _("gold")
        SILVER = "silver", _("silver")
        STANDARD = "standard", _("standard")
        NONE = "none", _("no purchases")

    class RfmGroup(models.TextChoices):
        CHAMPIONS = "champions", _("champions")
        LOYAL = "loyal", _("loyal")
        RECENT = "recent", _("recent")
        NEEDS_ATTENTION = "needs_attention", _("needs attention")
        AT_RISK = "at_risk", _("at risk")
        INACTIVE = "inactive", _("inactive")
        PROSPECT = "prospect", _("prospect")

    class Stage(models.TextChoices):
        PROSPECT = "prospect", pgettext_lazy("lifecycle stage", "prospect")
        NEW = "new", pgettext_lazy("lifecycle stage", "new")
        ACTIVE = "active", pgettext_lazy("lifecycle stage", "active")
        AT_RISK = "at_risk", pgettext_lazy("lifecycle stage", "at risk")
        LAPSED = "lapsed", pgettext_lazy("lifecycle stage", "lapsed")
        WON_BACK = "won_back", pgettext_lazy("lifecycle stage", "won back")

    class ChurnRisk(models.TextChoices):
        LOW = "low", _("low")
        MEDIUM = "medium", _("medium")
        HIGH = "high", _("high")
        NOT_ENOUGH_DATA = "not_enough_data", _("not enough data")

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="scores")
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="scores", db_index=False
    )
    currency = currency_field()
    # Purchase summary (net of returns; cancelled orders ignored).
    orders_count = models.IntegerField(_("orders"), default=0)
    revenue = money_field(_("revenue"), default=0)
    first_order_at = models.DateTimeField(_("first order"), null=True, blank=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    recency_days = models.IntegerField(_("days since last order"), null=True, blank=True)
    # RFM quintiles, 5 = best; null for prospects.
    r_score = models.SmallIntegerField(null=True, blank=True)
    f_score = models.SmallIntegerField(null=True, blank=True)
    m_score = models.SmallIntegerField(null=True, blank=True)
    rfm_group = models.CharField(_("RFM group"), max_length=16, choices=RfmGroup.choices)
    tier = models.CharField(_("value tier"), max_length=10, choices=Tier.choices)
    # Share of all revenue brought by customers ranked at or above this one (Pareto position).
    cumulative_revenue_share = models.FloatField(null=True, blank=True)
    lifecycle_stage = models.CharField(_("lifecycle stage"), max_length=10, choices=Stage.choices)
    # CLV / churn (BG/NBD + Gamma-Gamma); null where there is not enough data.
    p_alive = models.FloatField(_("probability alive"), null=True, blank=True)
    churn_risk = models.CharField(_("churn risk"), max_length=16, choices=ChurnRisk.choices)
    expected_orders_90d = models.FloatField(null=True, blank=True)
    expected_orders_365d = models.FloatField(null=True, blank=True)
    expected_value_90d = money_field(_("expected value, 90 days"), null=True, blank=True)
    expected_value_365d = money_field(_("expected value, 365 days"), null=True, blank=True)
    clv = money_field(_("predicted CLV"), null=True, blank=True)
    next_order_date = models.DateField(_("expected next order"), null=True, blank=True)
    health_score = models.SmallIntegerField(_("health score"), null=True, blank=True)
    # The numbers behind tier / group / stage / health, shown as "why" on the 360 page.
    explanation = models.JSONField(default=dict, blank=True)

    class Meta:
        verbose_name = _("customer score")
        verbose_name_plural = _("customer scores")
        constraints = [
            models.UniqueConstraint(fields=["customer", "run"], name="analytics_score_customer_run")
        ]
        indexes = [
            models.Index(fields=["run", "tier"]),
            models.Index(fields=["run", "lifecycle_stage"]),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id} in run {self.run_id}"


class LifecycleChange(models.Model):
    """A customer's lifecycle stage changed between two runs (flows will trigger on these)."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="stage_changes")
    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="stage_changes")
    from_stage = models.CharField(max_length=10, choices=CustomerScore.Stage.choices, blank=True)
    to_stage = models.CharField(max_length=10, choices=CustomerScore.Stage.choices)
    changed_at = models.DateTimeField()

    class Meta:
        verbose_name = _("lifecycle change")
        verbose_name_plural = _("lifecycle changes")
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["customer", "changed_at"])]

    def __str__(self) -> str:
        return f"{self.customer_id}: {self.from_stage} → {self.to_stage}"


class CategoryAffinity(models.Model):
    """How much of a customer's buying goes to a category, and how that is trending (S1.2, S1.6)."""

    # Millions of rows per run, written in bulk from ids the run has just read. Reads go
    # through the (run, customer) index; single-column indexes on run (its prefix) and category
    # (only a category's deletion looks rows up by it; Django cascades that itself) and
    # database-level foreign-key checks would cost every run millions of lookups for nothing.
    run = models.ForeignKey(
        AnalyticsRun,
        on_delete=models.CASCADE,
        related_name="affinities",
        db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_constraint=False
    )
    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    share = models.FloatField(_("share of spend"))
    score = models.FloatField(_("affinity"))  # share relative to the store's average share
    # Share in the recent window minus share before it (positive = growing interest).
    trend = models.FloatField(_("trend"), default=0)

    class Meta:
        verbose_name = _("category affinity")
        verbose_name_plural = _("category affinities")
        indexes = [models.Index(fields=["run", "customer"])]

    def __str__(self) -> str:
        return f"{self.customer_id} → {self.category_id}: {self.score:.2f}"


class PeriodicPattern(models.Model):
    """A customer who buys around the same date every year or at a steady interval (S3.11)."""

    class Kind(models.TextChoices):
        YEARLY = "yearly", _("same time every year")
        INTERVAL = "interval", _("steady interval")

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="patterns")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sku = models.CharField(max_length=128, blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    period_days = models.FloatField(_("period (days)"))
    month = models.SmallIntegerField(null=True, blank=True)  # yearly patterns
    occurrences = models.IntegerField()
    confidence = models.FloatField()
    last_purchase_at = models.DateTimeField()
    next_due = models.DateField(_("next due"))

    class Meta:
        verbose_name = _("periodic purchase pattern")
        verbose_name_plural = _("periodic purchase patterns")
        indexes = [models.Index(fields=["run", "next_due"])]

    def __str__(self) -> str:
        return f"{self.customer_id} {self.kind} {self.sku} next {self.next_due}"


class ProductRule(models.Model):
    """A 2-item association rule "antecedent → consequent" of one run (S3.15 simple chains),
    between products or between categories."""

    class Level(models.TextChoices):
        PRODUCT = "product", _("product")
        CATEGORY = "category", _("category")

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="rules")
    level = models.CharField(
        pgettext_lazy("association rule", "level"), max_length=10, choices=Level.choices
    )
    antecedent_product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    consequent_product = models.ForeignKey(
        Product, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    antecedent_category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    consequent_category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    support = models.FloatField(pgettext_lazy("association rule", "support"))
    confidence = models.FloatField(pgettext_lazy("association rule", "confidence"))
    lift = models.FloatField(pgettext_lazy("association rule", "lift"))
    pair_count = models.IntegerField(_("baskets with both"))
    antecedent_count = models.IntegerField(_("baskets with the antecedent"))
    baskets = models.IntegerField(_("baskets"))

    class Meta:
        verbose_name = _("association rule")
        verbose_name_plural = _("association rules")
        indexes = [
            models.Index(fields=["run", "level", "antecedent_product"]),
            models.Index(fields=["run", "level", "antecedent_category"]),
            models.Index(fields=["run", "level", "lift"]),
        ]

    def __str__(self) -> str:
        a = self.antecedent_product_id or self.antecedent_category_id
        c = self.consequent_product_id or self.consequent_category_id
        return f"{self.level} {a} → {c} (lift {self.lift:.2f})"


class RelatedProduct(models.Model):
    """Products bought by the same customers (not necessarily in one basket): the item-item
    neighbours of the collaborative filter (S3.15 complex chains)."""

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="+")
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    related = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    rank = models.SmallIntegerField()
    similarity = models.FloatField(_("similarity"))
    customers_both = models.IntegerField(_("customers who bought both"))

    class Meta:
        verbose_name = _("related product")
        verbose_name_plural = _("related products")
        indexes = [models.Index(fields=["run", "product", "rank"])]

    def __str__(self) -> str:
        return f"{self.product_id} ~ {self.related_id} ({self.similarity:.2f})"


class Recommendation(models.Model):
    """A product recommended to a customer in one run, with the reason (S1.3, S3.13)."""

    class Reason(models.TextChoices):
        BOUGHT_TOGETHER = "bought_together", _("often bought together with what they bought")
        SIMILAR_CUSTOMERS = "similar_customers", _("bought by customers with similar taste")
        POPULAR_IN_SEGMENT = "popular_in_segment", _("popular in their segment")
        POPULAR = "popular", _("popular in the store")

    # ~20 rows per customer per run, written in bulk from ids the run has just read: only the
    # (run, customer, rank) index, which serves the reads and a run's deletion. Indexes on
    # product / because_of (used only when a product is deleted, which then scans; Django
    # cascades it itself) and database-level foreign-key checks would cost each run tens of
    # millions of random lookups (at 10 M order lines, about a minute of its write step).
    run = models.ForeignKey(
        AnalyticsRun,
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    customer = models.ForeignKey(
        Customer, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    product = models.ForeignKey(
        Product, on_delete=models.CASCADE, related_name="+", db_index=False, db_constraint=False
    )
    rank = models.SmallIntegerField()
    score = models.FloatField()
    reason = models.CharField(_("reason"), max_length=20, choices=Reason.choices)
    # The product they bought that led here (rule antecedent or most similar purchase).
    because_of = models.ForeignKey(
        Product,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    strength = models.FloatField(null=True, blank=True)  # rule confidence or similarity

    class Meta:
        verbose_name = _("recommendation")
        verbose_name_plural = _("recommendations")
        indexes = [models.Index(fields=["run", "customer", "rank"])]

    def __str__(self) -> str:
        return f"{self.customer_id} ← {self.product_id} #{self.rank}"


class SegmentPopular(models.Model):
    """Best sellers of a segment (occupation, customer type, or the whole store): the cold start
    for customers with no history, and the filler after personal picks."""

    class SegmentKind(models.TextChoices):
        OCCUPATION = "occupation", _("occupation")
        CUSTOMER_TYPE = "customer_type", _("customer type")
        STORE = "store", _("whole store")

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="+")
    segment_kind = models.CharField(max_length=16, choices=SegmentKind.choices)
    segment = models.CharField(max_length=120, blank=True)
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="+")
    rank = models.SmallIntegerField()
    buyers = models.IntegerField(_("buyers"))
    segment_buyers = models.IntegerField(_("buyers in the segment"))

    class Meta:
        verbose_name = _("popular product in a segment")
        verbose_name_plural = _("popular products in segments")
        indexes = [models.Index(fields=["run", "segment_kind", "segment", "rank"])]

    def __str__(self) -> str:
        return f"{self.segment_kind}={self.segment}: {self.product_id} #{self.rank}"


class ServingList(models.Model):
    """One run's ready-to-serve list for one product, customer or segment, as JSON (see
    :mod:`guanxi.analytics.payloads`): the API's hot paths read this one row by its unique key
    instead of joining the run's rules, neighbours, recommendations and patterns on every
    request. Only the latest runs keep theirs; the rows above stay the history."""

    class Kind(models.TextChoices):
        PRODUCT = "product", _("related products of a product")
        CUSTOMER = "customer", _("personal picks, due purchases and top categories")
        SEGMENT = "segment", _("best sellers of a segment")

    run = models.ForeignKey(AnalyticsRun, on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    # Product or customer id; "<segment kind>:<segment>" for segments.
    key = models.CharField(max_length=160)
    payload = models.TextField()

    class Meta:
        verbose_name = _("serving list")
        verbose_name_plural = _("serving lists")
        constraints = [
            models.UniqueConstraint(fields=["run", "kind", "key"], name="serving_list_key")
        ]

    def __str__(self) -> str:
        return f"#{self.run_id} {self.kind} {self.key}"
