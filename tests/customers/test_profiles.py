"""Customer profiles: derived age, contact points, audit history of every change."""

import datetime as dt

import pytest

from guanxi.core.models import AuditEntry
from guanxi.customers.models import ContactPoint, Customer
from guanxi.customers.services import (
    CustomerError,
    add_contact_point,
    create_customer,
    ingest_customers,
    set_contact_validity,
    update_customer,
)


def test_age_is_derived_from_the_birthday_not_stored():
    customer = Customer(birthday=dt.date(2000, 2, 29))
    assert customer.age_on(dt.date(2026, 2, 28)) == 25
    assert customer.age_on(dt.date(2026, 3, 1)) == 26
    assert Customer(birthday=None).age_on(dt.date(2026, 1, 1)) is None
    assert "age" not in {f.name for f in Customer._meta.get_fields()}


@pytest.mark.django_db
def test_create_and_update_are_audited_with_who_and_what(make_staff):
    agent = make_staff("agent")
    customer = create_customer(
        actor=agent, channel="console", first_name="Lan", emails=["Lan@Example.com"]
    )
    update_customer(customer, actor=agent, channel="console", occupation="nurse", first_name="Lan")
    update_customer(customer, actor=agent, channel="console", occupation="nurse")  # no change

    entries = list(AuditEntry.objects.filter(object_id=customer.pk).order_by("id"))
    assert [e.action for e in entries] == ["create", "update"]
    assert entries[1].actor == agent and entries[1].actor_label == "agent-user"
    assert entries[1].changes == {"occupation": ["", "nurse"]}
    assert customer.contact_points.get().normalized == "lan@example.com"


@pytest.mark.django_db
def test_invalid_profile_changes_are_refused():
    customer = create_customer(first_name="A")
    with pytest.raises(CustomerError) as info:
        update_customer(customer, birthday=dt.date.today() + dt.timedelta(days=1))
    assert info.value.field == "birthday"
    with pytest.raises(CustomerError):
        update_customer(customer, password="x")
    with pytest.raises(CustomerError):
        add_contact_point(customer, ContactPoint.Kind.EMAIL, "no-at-sign")


@pytest.mark.django_db
def test_every_contact_point_failing_makes_the_profile_unreachable_not_deleted():
    customer = create_customer(first_name="B", emails=["b@example.com"], phones=["+1 555 0100"])
    email, phone = customer.contact_points.order_by("kind")
    set_contact_validity(email, ContactPoint.Validity.BOUNCING)
    set_contact_validity(phone, ContactPoint.Validity.INVALID)
    customer.refresh_from_db()
    # A bouncing address may still recover: only when every point is invalid is it unreachable.
    assert customer.reachability == Customer.Reachability.REACHABLE
    set_contact_validity(email, ContactPoint.Validity.INVALID)
    customer.refresh_from_db()
    assert customer.reachability == Customer.Reachability.UNREACHABLE
    assert Customer.objects.filter(pk=customer.pk).exists()
    changes = AuditEntry.objects.filter(object_id=customer.pk).values_list("changes", flat=True)
    assert {"reachability": ["reachable", "unreachable"]} in list(changes)


@pytest.mark.django_db
def test_bulk_ingest_keeps_signup_time_and_audits():
    signed_up = dt.datetime(2024, 3, 1, 8, tzinfo=dt.UTC)
    result = ingest_customers(
        [{"external_id": "42", "first_name": "Yu", "created_at": signed_up, "email": "y@u.cn"}],
        source="tmall",
    )
    customer = Customer.objects.get(pk=result.ids["42"])
    assert customer.created_at == signed_up
    assert customer.identities.get().source == "tmall"
    assert AuditEntry.objects.get(object_id=customer.pk).channel == "import"


def test_display_name_follows_the_names_script():
    assert Customer(first_name="小明", last_name="王").display_name == "王小明"
    assert Customer(first_name="Mei", last_name="Chen").display_name == "Mei Chen"
    account = Customer(kind=Customer.Kind.ACCOUNT, company_name="华为")
    assert account.display_name == "华为"
