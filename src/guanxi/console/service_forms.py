"""Console forms of the service desk (parsing only; the service app does the work)."""

from django import forms
from django.utils.translation import gettext_lazy as _

from guanxi.service.models import Channel, KBArticle, KBCategory, Team, Ticket

ANY = [("", _("Any"))]


class InboxFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    status = forms.ChoiceField(
        label=_("Status"),
        required=False,
        choices=[("", _("Open (new, open, waiting)")), ("any", _("Any"))] + Ticket.Status.choices,
    )
    channel = forms.ChoiceField(label=_("Channel"), required=False, choices=ANY + Channel.choices)


class ReplyForm(forms.Form):
    body = forms.CharField(label=_("Reply"), widget=forms.Textarea(attrs={"rows": 6}))
    internal = forms.BooleanField(
        label=_("Internal note (the customer does not see it)"), required=False
    )
    status = forms.ChoiceField(
        label=_("Then set status to"),
        required=False,
        choices=[("", _("Waiting on customer (default)"))]
        + [(v, label) for v, label in Ticket.Status.choices if v != Ticket.Status.NEW],
    )
    attachment = forms.FileField(label=_("Attachment"), required=False)


class TicketUpdateForm(forms.Form):
    status = forms.ChoiceField(label=_("Status"), choices=Ticket.Status.choices)
    priority = forms.ChoiceField(label=_("Priority"), choices=Ticket.Priority.choices)
    team = forms.ModelChoiceField(
        label=_("Team"), queryset=Team.objects.all(), required=False, empty_label=_("No team")
    )
    assignee = forms.ModelChoiceField(
        label=_("Assignee"), queryset=None, required=False, empty_label=_("Unassigned")
    )

    def __init__(self, *args, agents=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["assignee"].queryset = agents


class MergeForm(forms.Form):
    into = forms.IntegerField(label=_("Merge into ticket #"), min_value=1)


class NewTicketForm(forms.Form):
    customer = forms.IntegerField(label=_("Customer id"), required=False, min_value=1)
    email = forms.EmailField(
        label=_("…or the caller's email"),
        required=False,
        help_text=_("An unknown address becomes a new prospect profile."),
    )
    channel = forms.ChoiceField(
        label=_("Channel"),
        choices=[
            (Channel.PHONE, Channel.PHONE.label),
            (Channel.FAX, Channel.FAX.label),
            (Channel.EMAIL, Channel.EMAIL.label),
            (Channel.CHAT, Channel.CHAT.label),
        ],
    )
    priority = forms.ChoiceField(
        label=_("Priority"), choices=Ticket.Priority.choices, initial=Ticket.Priority.NORMAL
    )
    subject = forms.CharField(label=_("Subject"), max_length=250)
    body = forms.CharField(
        label=_("What the customer said"), widget=forms.Textarea(attrs={"rows": 6})
    )

    def clean(self):
        data = super().clean()
        if not data.get("customer") and not data.get("email"):
            raise forms.ValidationError(_("Give the customer's id or email."))
        return data


class ArticleForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=250)
    language = forms.ChoiceField(label=_("Language"), choices=KBArticle.Language.choices)
    category = forms.ModelChoiceField(
        label=_("Category"),
        queryset=KBCategory.objects.all(),
        required=False,
        empty_label=_("No category"),
    )
    body = forms.CharField(label=_("Text"), widget=forms.Textarea(attrs={"rows": 16}))
    published = forms.BooleanField(
        label=_("Published (visible in the help centre)"), required=False
    )


class ArticleFilterForm(forms.Form):
    q = forms.CharField(label=_("Search"), required=False, max_length=200)
    published = forms.ChoiceField(
        label=_("State"),
        required=False,
        choices=ANY + [("yes", _("Published")), ("no", _("Draft"))],
    )
    language = forms.ChoiceField(
        label=_("Language"), required=False, choices=ANY + KBArticle.Language.choices
    )


class PeriodForm(forms.Form):
    days = forms.TypedChoiceField(
        label=_("Period"),
        coerce=int,
        required=False,
        choices=[
            (7, _("Last 7 days")),
            (30, _("Last 30 days")),
            (90, _("Last 90 days")),
            (365, _("Last year")),
        ],
    )


class NPSCampaignForm(forms.Form):
    name = forms.CharField(label=_("Campaign name"), max_length=150)
    question = forms.CharField(
        label=_("Question"),
        max_length=300,
        initial="How likely are you to recommend us to a friend or colleague?",
    )
    audience = forms.ChoiceField(
        label=_("Send to"),
        choices=[
            ("recent_tickets", _("Customers with a ticket in the last 90 days")),
            ("consent", _("Customers who accept marketing email")),
        ],
    )
    coupon_percent = forms.IntegerField(
        label=_("Coupon for answering (percent off, 0 = none)"),
        min_value=0,
        max_value=100,
        initial=0,
    )
