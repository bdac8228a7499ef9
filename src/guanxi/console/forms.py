"""Console forms: parsing of list filters and the profile editor (no business logic here)."""

import datetime as dt
import zoneinfo

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import AuthenticationForm
from django.utils.translation import gettext_lazy as _

from guanxi.commerce.models import Order
from guanxi.customers.models import Customer

ANY = [("", _("Any"))]


class StaffAuthenticationForm(AuthenticationForm):
    """The console's sign-in form: like Django's, but only staff accounts may sign in."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_staff": _("This account has no access to the staff console."),
    }

    def confirm_login_allowed(self, user) -> None:
        super().confirm_login_allowed(user)
        if not user.is_staff:
            raise forms.ValidationError(self.error_messages["not_staff"], code="not_staff")


class CustomerFilterForm(forms.Form):
    """Search box and filters of the customers list (GET parameters)."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    customer_type = forms.ChoiceField(
        label=_("Type"), required=False, choices=ANY + Customer.CustomerType.choices
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=ANY + Customer.Kind.choices)
    country = forms.ChoiceField(label=_("Country"), required=False, choices=ANY)
    reachability = forms.ChoiceField(
        label=_("Reachability"), required=False, choices=ANY + Customer.Reachability.choices
    )
    has_orders = forms.NullBooleanField(
        label=_("Orders"),
        required=False,
        widget=forms.Select(
            choices=[("", _("Any")), ("true", _("Has orders")), ("false", _("No orders yet"))]
        ),
    )

    def __init__(self, *args, countries=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["country"].choices = ANY + [(c, c) for c in countries]

    def filters(self) -> dict:
        """The selector's ``filters`` argument (empty values dropped)."""
        if not self.is_valid():
            return {}
        data = self.cleaned_data
        out = {k: data[k] for k in ("customer_type", "kind", "country", "reachability") if data[k]}
        if data.get("has_orders") is not None:
            out["has_orders"] = data["has_orders"]
        return out

    def query(self) -> str:
        return self.cleaned_data.get("q", "") if self.is_valid() else ""

    def is_filtered(self) -> bool:
        return bool(self.query() or self.filters())


class OrderFilterForm(forms.Form):
    """Search box and filters of the orders list (GET parameters)."""

    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("Status"), required=False, choices=ANY + Order.Status.choices
    )
    kind = forms.ChoiceField(label=_("Kind"), required=False, choices=ANY + Order.Kind.choices)
    source = forms.ChoiceField(label=_("Source"), required=False, choices=ANY)
    placed_from = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    placed_to = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, *args, sources=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["source"].choices = ANY + [(s, s) for s in sources]

    def filters(self) -> dict:
        if not self.is_valid():
            return {}
        keys = ("status", "kind", "source", "placed_from", "placed_to")
        return {k: self.cleaned_data[k] for k in keys if self.cleaned_data[k]}

    def query(self) -> str:
        return self.cleaned_data.get("q", "") if self.is_valid() else ""

    def is_filtered(self) -> bool:
        return bool(self.query() or self.filters())


class DateRangeForm(forms.Form):
    """The home page's date range."""

    start = forms.DateField(
        label=_("From"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
        label=_("To"), required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self):
        data = super().clean()
        if data.get("start") and data.get("end") and data["start"] > data["end"]:
            raise forms.ValidationError(_("The start date must not be after the end date."))
        return data

    def range(self, default_end: dt.date, days: int = 365) -> tuple[dt.date, dt.date]:
        """The chosen range, or the ``days`` up to ``default_end``."""
        data = self.cleaned_data if self.is_valid() else {}
        end = data.get("end") or default_end
        start = data.get("start") or (end - dt.timedelta(days=days - 1))
        return start, end


def _time_zone_choices():
    return [(tz, tz) for tz in sorted(zoneinfo.available_timezones())]


class CustomerEditForm(forms.ModelForm):
    """The profile fields staff may edit in the console; saving goes through
    ``customers.services.update_customer`` with only the fields that changed."""

    interests = forms.CharField(
        label=_("Interests"),
        required=False,
        help_text=_("Separate with commas."),
        max_length=1000,
    )
    time_zone = forms.ChoiceField(label=_("Time zone"), choices=_time_zone_choices)

    class Meta:
        model = Customer
        fields = [
            "kind",
            "customer_type",
            "first_name",
            "last_name",
            "company_name",
            "gender",
            "birthday",
            "occupation",
            "interests",
            "country",
            "language",
            "time_zone",
            "consent_email_marketing",
            "consent_sms_marketing",
            "owner",
        ]
        widgets = {"birthday": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["owner"].queryset = (
            get_user_model().objects.filter(is_staff=True, is_active=True).order_by("username")
        )
        if self.instance and not self.is_bound:
            self.initial["interests"] = ", ".join(str(i) for i in self.instance.interests or [])

    def clean_interests(self) -> list[str]:
        raw = self.cleaned_data.get("interests") or ""
        return [part.strip() for part in raw.replace("，", ",").split(",") if part.strip()]

    def clean_birthday(self):
        birthday = self.cleaned_data.get("birthday")
        if birthday and birthday > dt.date.today():
            raise forms.ValidationError(_("A birthday cannot be in the future."))
        return birthday

    def changed_fields(self) -> dict:
        """``{field: new value}`` for what the user actually changed."""
        return {
            name: self.cleaned_data[name] for name in self.changed_data if name in self.Meta.fields
        }
