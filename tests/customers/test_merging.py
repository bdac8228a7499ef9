"""Merge and undo: every row of every table stays; the moved rows go back exactly."""

import datetime as dt

import pytest
from django.apps import apps
from django.utils import timezone

from guanxi.commerce.models import Event
from guanxi.customers.merging import MergeError, customer_relations, merge_customers, undo_merge
from guanxi.customers.models import ContactPoint, Customer, CustomerMerge, SourceIdentity
from guanxi.customers.services import create_customer
from tests.console.factories import make_event, make_order


def all_counts():
    return {m._meta.label: m._base_manager.count() for m in apps.get_models()}


def owned(customer_id):
    """How many rows of each table point at the customer, through any relation."""
    return {
        f"{model._meta.label}.{field.name}": model._base_manager.filter(
            **{field.attname: customer_id}
        ).count()
        for model, field in customer_relations()
    }


@pytest.fixture
def pair(db):
    keep = create_customer(
        first_name="Mei",
        last_name="Chen",
        emails=["mei@example.com"],
        phones=["+86 138 0000 1111"],
        identities=[("webshop", "C1")],
    )
    dup = create_customer(
        first_name="Mei",
        last_name="Chen",
        birthday=dt.date(1990, 5, 1),
        emails=["mei@example.com", "mei.chen@work.example"],
        identities=[("marketplace", "MPU1")],
    )
    for i in range(3):
        make_order(keep, external_id=f"K{i}")
    for i in range(2):
        make_order(dup, external_id=f"D{i}")
    make_event(dup, "viewed_product")
    Event.objects.create(
        source="t", event_type="searched", customer=dup, occurred_at=timezone.now()
    )
    contact = create_customer(first_name="Li", account=dup)  # a contact of the merged profile
    # Another app's rows: analytics scores of both in one run (unique per run and customer:
    # the merged profile's score cannot move, and stays), and of the duplicate alone in another.
    from guanxi.analytics.models import AnalyticsRun, CustomerScore

    runs = [
        AnalyticsRun.objects.create(engine="duckdb", status="succeeded", as_of=timezone.now())
        for _ in range(2)
    ]
    score = {"rfm_group": "loyal", "tier": "gold", "lifecycle_stage": "active", "churn_risk": "low"}
    CustomerScore.objects.create(run=runs[0], customer=keep, **score)
    CustomerScore.objects.create(run=runs[0], customer=dup, **score)
    CustomerScore.objects.create(run=runs[1], customer=dup, **score)
    return keep, dup, contact


def test_relations_are_discovered_generically(db):
    labels = {f"{m._meta.label}.{f.name}" for m, f in customer_relations()}
    assert {
        "commerce.Order.customer",
        "commerce.Event.customer",
        "customers.ContactPoint.customer",
        "customers.Address.customer",
        "customers.SourceIdentity.customer",
        "customers.Customer.account",
    } <= labels
    assert "customers.Customer.merged_into" not in labels
    assert not any(label.startswith("customers.MatchCandidate") for label in labels)


def test_merge_and_undo_keep_every_row(pair):
    keep, dup, contact = pair
    before_counts = all_counts()
    before_keep, before_dup = owned(keep.pk), owned(dup.pk)

    merge = merge_customers(keep, dup)
    after = all_counts()
    # Nothing deleted or duplicated anywhere; only the merge record and two audit entries added.
    changed = {k: (before_counts[k], after[k]) for k in after if before_counts[k] != after[k]}
    assert changed == {
        "customers.CustomerMerge": (0, 1),
        "core.AuditEntry": (before_counts["core.AuditEntry"], before_counts["core.AuditEntry"] + 2),
    }
    keep.refresh_from_db()
    dup.refresh_from_db()
    assert dup.merged_into_id == keep.pk
    assert keep.orders.count() == 5 and Event.objects.filter(customer=keep).count() == 2
    assert set(keep.identities.values_list("source", "external_id")) == {
        ("webshop", "C1"),
        ("marketplace", "MPU1"),
    }
    # The shared email cannot be on one profile twice: it stays (not lost) on the merged one.
    assert sorted(keep.contact_points.values_list("normalized", flat=True)) == [
        "+8613800001111",
        "mei.chen@work.example",
        "mei@example.com",
    ]
    assert list(dup.contact_points.values_list("normalized", flat=True)) == ["mei@example.com"]
    assert Customer.objects.get(pk=contact.pk).account_id == keep.pk
    assert keep.birthday == dt.date(1990, 5, 1)  # filled in from the merged profile
    assert sum(owned(keep.pk).values()) + sum(owned(dup.pk).values()) == sum(
        before_keep.values()
    ) + sum(before_dup.values())
    assert merge.moved["commerce.Order.customer"] and merge.moved_count == 8
    assert len(merge.moved["analytics.CustomerScore.customer"]) == 1  # the other one clashed
    assert dup.scores.count() == 1 and keep.scores.count() == 2

    undo_merge(merge)
    assert owned(keep.pk) == before_keep and owned(dup.pk) == before_dup
    final = all_counts()
    assert {k: v for k, v in final.items() if k != "core.AuditEntry"} == {
        k: v for k, v in after.items() if k != "core.AuditEntry"
    }
    keep.refresh_from_db()
    dup.refresh_from_db()
    assert dup.merged_into_id is None and keep.birthday is None
    assert CustomerMerge.objects.get().undone_at is not None
    with pytest.raises(MergeError):
        undo_merge(merge)


def test_merge_refuses_nonsense(pair):
    keep, dup, _ = pair
    with pytest.raises(MergeError):
        merge_customers(keep, keep)
    merge_customers(keep, dup)
    with pytest.raises(MergeError):
        merge_customers(keep, dup)
    other = create_customer(first_name="X")
    merge_customers(other, keep)
    with pytest.raises(MergeError, match="undo that merge first"):
        undo_merge(CustomerMerge.objects.order_by("id").first())
    assert SourceIdentity.objects.count() == 2
    assert ContactPoint.objects.count() == 4
