"""Property-based: whatever marketing messages are queued, whenever the sender runs, nobody gets
more than the cap in any window, nothing goes out in quiet hours or without consent, and every
message ends sent, waiting with a stated reason and time, or not sent with a reason."""

import datetime as dt
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from guanxi.customers.models import Customer
from guanxi.marketing import services
from guanxi.marketing.models import Delivery, EmailTemplate
from tests.factories import make_customer

pytestmark = pytest.mark.django_db
START = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
ZONES = ["UTC", "Asia/Shanghai", "America/Los_Angeles", "Europe/London", "Pacific/Auckland"]


@pytest.fixture
def fast_mail(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.GUANXI_FREQUENCY_CAP = 3
    settings.GUANXI_FREQUENCY_CAP_DAYS = 7


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    zone=st.sampled_from(ZONES),
    consent=st.booleans(),
    policy=st.sampled_from(["defer", "drop"]),
    queued=st.lists(st.integers(0, 20 * 24 * 60), min_size=1, max_size=10),
    ticks=st.lists(st.integers(0, 30 * 24 * 60), min_size=1, max_size=25),
)
def test_cap_quiet_hours_and_consent_always_hold(
    fast_mail, settings, zone, consent, policy, queued, ticks
):
    settings.GUANXI_FREQUENCY_CAP_POLICY = policy
    Delivery.objects.all().delete()
    Customer.objects.all().delete()
    template = EmailTemplate.objects.get_or_create(
        name="Offer", defaults={"subject_en": "Offer", "body_en": "Hi"}
    )[0]
    customer = make_customer(first_name="P", emails=["p@example.com"], time_zone=zone)
    Customer.objects.filter(pk=customer.pk).update(consent_email_marketing=consent)
    for i, minute in enumerate(queued):
        services.queue_delivery(
            key=f"m{i}",
            customer=customer,
            template=template,
            due_at=START + dt.timedelta(minutes=minute),
        )
    clock = [START + dt.timedelta(minutes=m) for m in sorted(ticks)]
    for now in clock:
        services.send_due(now=now)

    rows = list(Delivery.objects.filter(customer=customer))
    sent = sorted(d.sent_at for d in rows if d.state == Delivery.State.SENT)
    if not consent:
        assert not sent
    start, end = services.quiet_hours()
    local = zoneinfo.ZoneInfo(zone)
    for when in sent:
        hour = when.astimezone(local).hour
        assert not (hour >= start or hour < end), f"sent at {hour}h local in {zone}"
    for i, when in enumerate(sent):
        in_window = [t for t in sent[i:] if t < when + dt.timedelta(days=7)]
        assert len(in_window) <= 3, "frequency cap broken"
    last = clock[-1]
    for d in rows:
        assert d.state != Delivery.State.SENDING  # nothing left in flight
        if d.state in (Delivery.State.DEFERRED, Delivery.State.QUEUED):
            # waiting: not due yet at the last run, or held with a reason until a stated time
            assert d.due_at > last
            if d.state == Delivery.State.DEFERRED:
                assert d.reason in ("quiet_hours", "frequency_cap")
        if d.state == Delivery.State.SKIPPED:
            assert d.reason
            if d.reason == "frequency_cap":
                assert policy == "drop"
