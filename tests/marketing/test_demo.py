"""The marketing demo: real sending to the champions of a simulated store, coupons per
recipient, and a hard bounce and a complaint that land where they should."""

import pytest

from guanxi.analytics.services import refresh_analytics
from guanxi.customers.models import ContactPoint, Customer
from guanxi.marketing.demo import seed_marketing_demo
from guanxi.marketing.models import BounceReport, Campaign, Coupon, Delivery, Offer
from guanxi.marketing.services import campaign_results
from guanxi.simulate.services import simulate_store

pytestmark = pytest.mark.django_db


def test_the_demo_sends_hands_out_codes_and_takes_back_a_bounce_and_a_complaint():
    simulate_store(300, seed=5, months=18, progress=False)
    refresh_analytics()
    seed_marketing_demo()

    sent = Campaign.objects.get(name="Autumn news to champions")
    results = campaign_results(sent)
    assert results["sent"] >= 2
    assert results["coupons_issued"] == results["sent"]  # one code per person reached
    assert len(set(Coupon.objects.values_list("code", flat=True))) == Coupon.objects.count()
    assert results["bounced"] == 1 and results["complained"] == 1
    hard = BounceReport.objects.get(kind=BounceReport.Kind.HARD)
    point = ContactPoint.objects.get(customer=hard.customer, normalized=hard.email)
    assert point.validity == ContactPoint.Validity.INVALID
    complaint = BounceReport.objects.get(kind=BounceReport.Kind.COMPLAINT)
    assert Customer.objects.get(pk=complaint.customer_id).consent_email_marketing is False
    assert Campaign.objects.get(name="Winter sale (draft)").status == Campaign.Status.DRAFT
    # Seeding again changes nothing.
    seed_marketing_demo()
    assert Offer.objects.count() == 3
    assert Delivery.objects.filter(campaign=sent).count() == results["recipients"]
