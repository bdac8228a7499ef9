"""What customers buy and do: catalogue, orders, order lines, browse events, import runs."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from guanxi.core.models import TimeStampedModel, currency_field, money_field
from guanxi.customers.models import Customer


class Category(TimeStampedModel):
    source = models.CharField(_("source"), max_length=64)
    external_id = models.CharField(_("external id"), max_length=128)
    name = models.CharField(_("name"), max_length=200)
    parent = models.ForeignKey(
        "self", verbose_name=_("parent"), null=True, blank=True, on_delete=models.SET_NULL
    )

    class Meta:
        verbose_name = _("category")
        verbose_name_plural = _("categories")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="commerce_category_source_external_id"
            )
        ]

    def __str__(self) -> str:
        return self.name


class Product(TimeStampedModel):
    source = models.CharField(_("source"), max_length=64)
    external_id = models.CharField(_("external id"), max_length=128)
    sku = models.CharField(_("SKU"), max_length=128, db_index=True)
    name = models.CharField(_("name"), max_length=300)
    category = models.ForeignKey(
        Category,
        verbose_name=_("category"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="products",
    )
    price = money_field(_("price"), null=True, blank=True)
    currency = currency_field(blank=True)
    in_stock = models.BooleanField(_("in stock"), default=True)
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="commerce_product_source_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.sku})"


class Order(TimeStampedModel):
    class Kind(models.TextChoices):
        ORDER = "order", _("order")
        RETURN = "return", _("return / credit note")

    class Status(models.TextChoices):
        PENDING = "pending", _("pending")
        PAID = "paid", _("paid")
        SHIPPED = "shipped", _("shipped")
        DELIVERED = "delivered", _("delivered")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")
        RETURNED = "returned", _("returned")
        REFUNDED = "refunded", _("refunded")

    source = models.CharField(_("source"), max_length=64)
    external_id = models.CharField(_("external id"), max_length=128)
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.ORDER)
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.COMPLETED
    )
    # NULL customer = guest order; no cascade from a customer into order history.
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="orders",
        db_index=False,  # covered by the (customer, placed_at) index
    )
    guest_email = models.CharField(_("guest email"), max_length=254, blank=True)
    currency = currency_field()
    subtotal = money_field(_("subtotal"))
    total = money_field(_("total"))
    item_count = models.IntegerField(_("items"), default=0)
    placed_at = models.DateTimeField(_("placed"))
    country = models.CharField(_("country"), max_length=80, blank=True)
    import_run = models.ForeignKey(
        "commerce.ImportRun",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,  # provenance only
        db_index=False,
        related_name="+",
    )

    class Meta:
        verbose_name = _("order")
        verbose_name_plural = _("orders")
        ordering = ["-placed_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="commerce_order_source_external_id"
            )
        ]
        indexes = [
            models.Index(fields=["customer", "placed_at"]),
            models.Index(fields=["placed_at"]),
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.source})"

    @property
    def is_guest(self) -> bool:
        return self.customer_id is None


class OrderLine(models.Model):
    """One line of an order with a snapshot of what was bought (later catalogue edits keep it)."""

    order = models.ForeignKey(
        Order,
        verbose_name=_("order"),
        on_delete=models.CASCADE,
        related_name="lines",
        db_index=False,  # covered by the unique (order, line_no) constraint
    )
    line_no = models.PositiveIntegerField(_("line"))
    # A link for analytics only: the line keeps its own SKU/name/price snapshot, so no database
    # constraint is checked per line (a million-line import would pay for it at commit).
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        db_constraint=False,
        related_name="order_lines",
    )
    sku = models.CharField(_("SKU"), max_length=128)
    name = models.CharField(_("name"), max_length=300, blank=True)
    quantity = models.IntegerField(_("quantity"))
    unit_price = money_field(_("unit price"))
    currency = currency_field()
    line_total = money_field(_("line total"))

    class Meta:
        verbose_name = _("order line")
        verbose_name_plural = _("order lines")
        ordering = ["order", "line_no"]
        constraints = [
            models.UniqueConstraint(fields=["order", "line_no"], name="commerce_orderline_no")
        ]

    def __str__(self) -> str:
        return f"{self.quantity} × {self.sku}"


class Event(models.Model):
    """Something a visitor or customer did on the store (append-only, the largest table)."""

    class Type(models.TextChoices):
        VIEWED_PRODUCT = "viewed_product", _("viewed product")
        ADDED_TO_CART = "added_to_cart", _("added to cart")
        REMOVED_FROM_CART = "removed_from_cart", _("removed from cart")
        SEARCHED = "searched", _("searched")
        STARTED_CHECKOUT = "started_checkout", _("started checkout")
        SIGNED_UP = "signed_up", _("signed up")
        LOGGED_IN = "logged_in", _("logged in")
        IDENTIFIED = "identified", _("identified")
        PAGE_VIEW = "page_view", _("viewed page")

    source = models.CharField(_("source"), max_length=64)
    external_id = models.CharField(_("external id"), max_length=128, null=True, blank=True)
    event_type = models.CharField(_("type"), max_length=32)
    # No cascading deletes into events: a customer row is never deleted (erasure tombstones it).
    customer = models.ForeignKey(
        Customer,
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # covered by the (customer, occurred_at) index
        related_name="events",
    )
    anonymous_id = models.CharField(_("anonymous id"), max_length=128, blank=True, db_index=True)
    product = models.ForeignKey(
        Product,
        verbose_name=_("product"),
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        db_index=False,  # analytics read events in bulk; the insert path stays lean
        related_name="+",
    )
    properties = models.JSONField(_("properties"), default=dict, blank=True)
    occurred_at = models.DateTimeField(_("occurred"), db_index=True)
    received_at = models.DateTimeField(_("received"), auto_now_add=True)

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="commerce_event_source_external_id"
            )
        ]
        indexes = [models.Index(fields=["customer", "occurred_at"])]

    def __str__(self) -> str:
        return f"{self.event_type} @ {self.occurred_at:%Y-%m-%d %H:%M}"


class ImportRun(models.Model):
    """One run of ``guanxi import``: what was read, what was written, what was wrong."""

    class Status(models.TextChoices):
        RUNNING = "running", _("running")
        SUCCEEDED = "succeeded", _("succeeded")
        REJECTED = "rejected", _("rejected (bad rows, nothing written)")
        FAILED = "failed", _("failed")

    class Policy(models.TextChoices):
        REJECT = "reject", _("reject the file on any bad row")
        SKIP = "skip", _("skip bad rows and report them")

    path = models.CharField(_("file"), max_length=500)
    file_sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    file_format = models.CharField(_("format"), max_length=20)
    source = models.CharField(_("source"), max_length=64)
    policy = models.CharField(_("bad-row policy"), max_length=8, choices=Policy.choices)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices)
    rows_total = models.IntegerField(_("rows read"), default=0)
    rows_rejected = models.IntegerField(_("bad rows"), default=0)
    orders_created = models.IntegerField(_("orders created"), default=0)
    orders_existing = models.IntegerField(_("orders already present"), default=0)
    lines_created = models.IntegerField(_("lines created"), default=0)
    customers_created = models.IntegerField(_("customers created"), default=0)
    products_created = models.IntegerField(_("products created"), default=0)
    errors = models.JSONField(_("errors"), default=list, blank=True)
    message = models.TextField(_("message"), blank=True)
    started_at = models.DateTimeField(_("started"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("import run")
        verbose_name_plural = _("import runs")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.path} ({self.status})"


class Shipment(TimeStampedModel):
    """A parcel sent for an order (a store's fulfillment), keyed by ``(source, external_id)``."""

    source = models.CharField(_("source"), max_length=64)
    external_id = models.CharField(_("external id"), max_length=128)
    order = models.ForeignKey(
        Order, verbose_name=_("order"), on_delete=models.CASCADE, related_name="shipments"
    )
    status = models.CharField(_("status"), max_length=32, blank=True)
    carrier = models.CharField(_("carrier"), max_length=100, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=128, blank=True)
    tracking_url = models.URLField(_("tracking URL"), max_length=500, blank=True)
    # [{"sku": ..., "quantity": ...}, ...] as the store sent them.
    items = models.JSONField(_("items"), default=list, blank=True)
    shipped_at = models.DateTimeField(_("shipped"))

    class Meta:
        verbose_name = _("shipment")
        verbose_name_plural = _("shipments")
        ordering = ["-shipped_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["source", "external_id"], name="commerce_shipment_source_external_id"
            )
        ]

    def __str__(self) -> str:
        return f"{self.external_id} ({self.source})"
