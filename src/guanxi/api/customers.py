"""``/api/v1/customers``: list, get, create, update, batch upsert."""

import datetime as dt
from typing import Any

from django.shortcuts import get_object_or_404
from ninja import Field, Router, Schema, Status
from ninja.pagination import PageNumberPagination, paginate

from guanxi.api.auth import require_write
from guanxi.api.batch import run_batch
from guanxi.core.models import AuditEntry
from guanxi.customers import selectors, services
from guanxi.customers.models import Customer

router = Router(tags=["customers"])


class ContactPointOut(Schema):
    kind: str
    value: str
    validity: str
    is_primary: bool


class IdentityOut(Schema):
    source: str
    external_id: str


class CustomerOut(Schema):
    id: int
    kind: str
    customer_type: str
    first_name: str
    last_name: str
    company_name: str
    display_name: str
    gender: str
    birthday: dt.date | None
    age: int | None
    occupation: str
    interests: list[Any]
    attributes: dict[str, Any]
    country: str
    language: str
    time_zone: str
    consent_email_marketing: bool
    consent_sms_marketing: bool
    reachability: str
    created_at: dt.datetime
    updated_at: dt.datetime
    contact_points: list[ContactPointOut] = Field(..., alias="contact_points.all")
    identities: list[IdentityOut] = Field(..., alias="identities.all")


class CustomerIn(Schema):
    kind: str = "person"
    customer_type: str = "individual"
    first_name: str = ""
    last_name: str = ""
    company_name: str = ""
    gender: str = ""
    birthday: dt.date | None = None
    occupation: str = ""
    interests: list[str] = []
    attributes: dict[str, Any] = {}
    country: str = ""
    language: str = ""
    time_zone: str = "UTC"
    consent_email_marketing: bool = False
    consent_sms_marketing: bool = False
    email: str | None = None
    phone: str | None = None
    source: str | None = None
    external_id: str | None = None


class CustomerPatch(Schema):
    kind: str | None = None
    customer_type: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    company_name: str | None = None
    gender: str | None = None
    birthday: dt.date | None = None
    occupation: str | None = None
    interests: list[str] | None = None
    attributes: dict[str, Any] | None = None
    country: str | None = None
    language: str | None = None
    time_zone: str | None = None
    consent_email_marketing: bool | None = None
    consent_sms_marketing: bool | None = None


class AddressIn(Schema):
    line1: str = ""
    line2: str = ""
    city: str = ""
    region: str = ""
    postcode: str = ""
    country: str = ""


class CustomerBatchItem(CustomerPatch):
    external_id: str
    email: str | None = None
    phone: str | None = None
    address: AddressIn | None = None


class CustomerBatchIn(Schema):
    source: str = Field("api", max_length=64)
    items: list[CustomerBatchItem]


class BatchOut(Schema):
    created: int
    updated: int
    unchanged: int
    ids: dict[str, int]


class ItemErrorOut(Schema):
    index: int | None
    field: str
    value: Any = None
    reason: str


class ErrorsOut(Schema):
    detail: list[ItemErrorOut]


class MessageOut(Schema):
    detail: str


def _customer_qs():
    return Customer.objects.prefetch_related("contact_points", "identities")


@router.get("/customers", response=list[CustomerOut], summary="List and search customers")
@paginate(PageNumberPagination, page_size=50)
def list_customers(
    request, q: str = "", customer_type: str = "", country: str = "", kind: str = ""
):
    filters = {"customer_type": customer_type, "country": country, "kind": kind}
    ids = selectors.search_customers(q, filters, "-created").values_list("pk", flat=True)
    return _customer_qs().filter(pk__in=ids).order_by("-created_at", "-id")


@router.get("/customers/{int:customer_id}", response=CustomerOut, summary="Get one customer")
def get_customer(request, customer_id: int):
    return get_object_or_404(_customer_qs(), pk=customer_id)


@router.post(
    "/customers",
    response={201: CustomerOut, 422: ErrorsOut},
    summary="Create a customer (audited)",
)
def create_customer(request, payload: CustomerIn):
    require_write(request)
    data = payload.dict()
    email, phone = data.pop("email"), data.pop("phone")
    source, external_id = data.pop("source"), data.pop("external_id")
    identities = [(source or "api", external_id)] if external_id else []
    try:
        customer = services.create_customer(
            channel=AuditEntry.Channel.API,
            emails=[email] if email else [],
            phones=[phone] if phone else [],
            identities=identities,
            **data,
        )
    except services.CustomerError as exc:
        return Status(422, {"detail": [{"index": None, "field": exc.field, "reason": exc.message}]})
    return Status(201, _customer_qs().get(pk=customer.pk))


@router.patch(
    "/customers/{int:customer_id}",
    response={200: CustomerOut, 422: ErrorsOut},
    summary="Update profile fields (audited; only the fields sent change)",
)
def update_customer(request, customer_id: int, payload: CustomerPatch):
    require_write(request)
    customer = get_object_or_404(Customer, pk=customer_id)
    fields = payload.dict(exclude_unset=True)
    try:
        services.update_customer(customer, channel=AuditEntry.Channel.API, **fields)
    except services.CustomerError as exc:
        return Status(422, {"detail": [{"index": None, "field": exc.field, "reason": exc.message}]})
    return Status(200, _customer_qs().get(pk=customer_id))


@router.post(
    "/customers/batch",
    response={200: BatchOut, 422: ErrorsOut},
    summary="Create or update up to 1,000 customers by (source, external_id)",
)
def batch_customers(request, payload: CustomerBatchIn):
    require_write(request)
    body = payload.dict(exclude_unset=True)

    def work():
        rows = []
        for item in body["items"]:
            row = dict(item)
            if row.get("address") is not None:
                row["address"] = dict(row["address"])
            rows.append(row)
        result = services.ingest_customers(
            rows, source=payload.source, channel=AuditEntry.Channel.API
        )
        return {
            "created": result.created,
            "updated": result.updated,
            "unchanged": result.unchanged,
            "ids": result.ids,
        }

    return run_batch(request, "customers.batch", payload.dict(), work)
