"""Survey coupons move to the marketing app's coupons (one code model for the whole CRM).

Every existing service coupon becomes a marketing coupon with the same code, customer, issue and
redemption time, under a "Survey thank-you: N % off" offer; survey answers point at it. Nothing
is lost: the copy happens before the old table is dropped.
"""

import datetime as dt
from decimal import Decimal

import django.db.models.deletion
from django.db import migrations, models


def copy_coupons(apps, schema_editor):
    Old = apps.get_model("service", "Coupon")
    Offer = apps.get_model("marketing", "Offer")
    Coupon = apps.get_model("marketing", "Coupon")
    Survey = apps.get_model("service", "SurveyResponse")
    for old in Old.objects.all().iterator():
        offer, _ = Offer.objects.get_or_create(
            name=f"Survey thank-you: {old.percent_off} % off",
            defaults={"kind": "percent", "value": Decimal(old.percent_off), "valid_days": 90},
        )
        new = Coupon.objects.create(
            code=old.code,
            offer=offer,
            customer_id=old.customer_id,
            source="survey",
            source_key=f"service-coupon:{old.pk}",
            issued_at=old.issued_at,
            expires_at=old.issued_at + dt.timedelta(days=90),
            redeemed_at=old.redeemed_at,
        )
        Survey.objects.filter(coupon_id=old.pk).update(marketing_coupon=new)


class Migration(migrations.Migration):
    dependencies = [
        ("service", "0001_initial"),
        ("marketing", "0003_bounces_coupons"),
    ]

    operations = [
        migrations.AddField(
            model_name="surveyresponse",
            name="marketing_coupon",
            field=models.ForeignKey(
                null=True,
                blank=True,
                on_delete=django.db.models.deletion.SET_NULL,
                related_name="+",
                to="marketing.coupon",
            ),
        ),
        migrations.RunPython(copy_coupons, migrations.RunPython.noop),
        migrations.RemoveField(model_name="surveyresponse", name="coupon"),
        migrations.RenameField(
            model_name="surveyresponse", old_name="marketing_coupon", new_name="coupon"
        ),
        migrations.DeleteModel(name="Coupon"),
    ]
