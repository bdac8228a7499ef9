"""Tickets on the customer's timeline (registered with the customers app at start-up)."""

from django.db.models import CharField, F, Value


def _rows(customer_id: int):
    from guanxi.service.models import Ticket

    return (
        Ticket.objects.filter(customer_id=customer_id)
        .order_by()
        .annotate(
            tl_kind=Value("ticket", output_field=CharField()),
            tl_id=F("id"),
            tl_at=F("created_at"),
        )
        .values_list("tl_kind", "tl_id", "tl_at")
    )


def _load(ids):
    from guanxi.service.models import Ticket

    return Ticket.objects.select_related("assignee").in_bulk(ids)


def register() -> None:
    from guanxi.customers.selectors import register_timeline_source

    register_timeline_source("ticket", _rows, _load)
