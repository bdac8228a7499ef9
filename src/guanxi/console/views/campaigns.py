"""Campaigns and email templates in the console: write a template (with preview in English and
Chinese), point a campaign at a segment, send a test, send now or schedule, follow the results."""

from django import forms
from django.contrib import messages
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from guanxi.core.models import AuditEntry
from guanxi.core.permissions import console_view
from guanxi.core.services import record_audit
from guanxi.marketing import coupons, selectors, services
from guanxi.marketing.models import Campaign, EmailTemplate, Flow, Offer
from guanxi.segments.selectors import segments


class TemplateForm(forms.ModelForm):
    class Meta:
        model = EmailTemplate
        fields = ["name", "purpose", "subject_en", "body_en", "subject_zh", "body_zh"]
        widgets = {
            "body_en": forms.Textarea(attrs={"rows": 8}),
            "body_zh": forms.Textarea(attrs={"rows": 8}),
        }

    def clean(self):
        data = super().clean()
        for name in ("subject_en", "body_en", "subject_zh", "body_zh"):
            error = services.template_syntax_error(data.get(name) or "")
            if error:
                self.add_error(name, error)
        return data


class CampaignForm(forms.ModelForm):
    scheduled_at = forms.DateTimeField(
        label=gettext_lazy("send at (leave empty to send when you press Send)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}),
    )

    class Meta:
        model = Campaign
        fields = [
            "name",
            "template",
            "segment",
            "offer",
            "scheduled_at",
            "per_minute",
            "attribution_days",
        ]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["segment"].queryset = segments()
        self.fields["segment"].required = True
        self.fields["template"].queryset = EmailTemplate.objects.order_by("name")
        self.fields["offer"].queryset = Offer.objects.filter(active=True).order_by("name")


def _get(model, pk):
    try:
        return model.objects.get(pk=pk)
    except model.DoesNotExist as exc:
        raise Http404 from exc


@console_view("marketing.view_campaign")
@require_safe
def campaign_list(request):
    return render(
        request,
        "console/campaigns/list.html",
        {
            "section": "campaigns",
            "campaigns": selectors.campaigns_with_counts(),
            "templates": EmailTemplate.objects.order_by("name"),
        },
    )


@console_view("marketing.add_campaign")
@require_http_methods(["GET", "POST"])
def campaign_new(request):
    form = CampaignForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        campaign = form.save(commit=False)
        campaign.created_by = request.user
        campaign.save()
        record_audit(
            campaign, action=AuditEntry.Action.CREATE, actor=request.user, channel="console"
        )
        return redirect("console:campaign_detail", campaign.pk)
    return render(
        request,
        "console/campaigns/form.html",
        {"section": "campaigns", "form": form, "title": _("New campaign")},
        status=422 if form.errors else 200,
    )


@console_view("marketing.view_campaign")
@require_safe
def campaign_detail(request, pk):
    campaign = _get(Campaign, pk)
    return render(
        request,
        "console/campaigns/detail.html",
        {
            "section": "campaigns",
            "campaign": campaign,
            "results": services.campaign_results(campaign),
            "preview": services.preview(campaign.template),
            "editable": campaign.status in (Campaign.Status.DRAFT, Campaign.Status.SCHEDULED),
        },
    )


@console_view("marketing.change_campaign")
@require_POST
def campaign_action(request, pk):
    campaign = _get(Campaign, pk)
    action = request.POST.get("action")
    if action == "test":
        address = request.POST.get("to", "").strip()
        try:
            forms.EmailField().clean(address)
        except forms.ValidationError:
            messages.error(request, _("Enter the email address the test should go to."))
            return redirect("console:campaign_detail", pk)
        try:
            services.send_test(campaign, address)
        except OSError as exc:
            messages.error(request, _("The test could not be sent: %(error)s") % {"error": exc})
        else:
            messages.success(request, _("Test sent to %(to)s.") % {"to": address})
    elif action == "send" and campaign.status in (
        Campaign.Status.DRAFT,
        Campaign.Status.SCHEDULED,
    ):
        queued = services.start_campaign(campaign)
        if queued is None:
            messages.success(request, _("Scheduled."))
        else:
            messages.success(
                request,
                _(
                    "%(n)d messages queued; the worker sends them (consent, frequency cap "
                    "and quiet hours apply)."
                )
                % {"n": queued},
            )
    elif action == "cancel" and campaign.status not in (
        Campaign.Status.SENT,
        Campaign.Status.CANCELLED,
    ):
        stopped = services.cancel_campaign(campaign)
        messages.success(request, _("Cancelled; %(n)d messages will not be sent.") % {"n": stopped})
    else:
        messages.error(request, _("That is not possible in this state."))
        return redirect("console:campaign_detail", pk)
    record_audit(
        campaign,
        action=AuditEntry.Action.UPDATE,
        actor=request.user,
        channel="console",
        note=action,
    )
    return redirect("console:campaign_detail", pk)


@console_view("marketing.add_emailtemplate")
@require_http_methods(["GET", "POST"])
def template_new(request):
    return _template_form(request, None)


@console_view("marketing.change_emailtemplate")
@require_http_methods(["GET", "POST"])
def template_edit(request, pk):
    return _template_form(request, _get(EmailTemplate, pk))


def _template_form(request, template):
    form = TemplateForm(request.POST or None, instance=template)
    if request.method == "POST" and form.is_valid():
        saved = form.save()
        record_audit(
            saved,
            action=AuditEntry.Action.UPDATE if template else AuditEntry.Action.CREATE,
            actor=request.user,
            channel="console",
            changes={k: [None, form.cleaned_data[k]] for k in form.changed_data},
        )
        messages.success(request, _("Template saved."))
        return redirect("console:template_edit", saved.pk)
    preview = None
    if template is not None:
        try:
            preview = services.preview(template)
        except Exception as exc:  # noqa: BLE001 - a template syntax error is shown, not raised
            preview = {"error": str(exc)}
    return render(
        request,
        "console/campaigns/template.html",
        {"section": "campaigns", "form": form, "template": template, "preview": preview},
        status=422 if form.errors else 200,
    )


class FlowForm(forms.ModelForm):
    class Meta:
        model = Flow
        fields = ["enabled", "wait_days", "condition", "template", "offer"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["offer"].queryset = Offer.objects.filter(active=True).order_by("name")
        self.fields["condition"].queryset = segments()
        self.fields["template"].queryset = EmailTemplate.objects.order_by("name")


@console_view("marketing.view_flow")
@require_safe
def flow_list(request):
    return render(
        request,
        "console/campaigns/flows.html",
        {"section": "flows", "flows": selectors.flows_with_counts()},
    )


@console_view("marketing.change_flow")
@require_http_methods(["GET", "POST"])
def flow_edit(request, pk):
    flow = _get(Flow, pk)
    form = FlowForm(request.POST or None, instance=flow)
    if request.method == "POST" and form.is_valid():
        form.save()
        record_audit(
            flow,
            action=AuditEntry.Action.UPDATE,
            actor=request.user,
            channel="console",
            changes={k: [None, str(form.cleaned_data[k])] for k in form.changed_data},
        )
        messages.success(request, _("Flow saved."))
        return redirect("console:flow_list")
    return render(
        request,
        "console/campaigns/form.html",
        {"section": "flows", "form": form, "title": flow.name, "back": "console:flow_list"},
        status=422 if form.errors else 200,
    )


# -- offers and coupons (S3.4) ---------------------------------------------------------------


class OfferForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=200)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Offer.Kind.choices)
    value = forms.DecimalField(label=gettext_lazy("Value"), min_value=0.01, decimal_places=2)
    currency = forms.CharField(
        label=gettext_lazy("Currency (for an amount off)"), max_length=3, required=False
    )
    min_order_total = forms.DecimalField(
        label=gettext_lazy("Minimum order total"), required=False, min_value=0, decimal_places=2
    )
    valid_days = forms.IntegerField(
        label=gettext_lazy("Each code is valid for (days)"),
        initial=30,
        min_value=1,
        max_value=3650,
    )


@console_view("marketing.view_offer")
@require_safe
def offer_list(request):
    return render(
        request,
        "console/campaigns/offers.html",
        {"section": "offers", "offers": selectors.offers_with_counts()},
    )


@console_view("marketing.add_offer")
@require_http_methods(["GET", "POST"])
def offer_new(request):
    form = OfferForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            offer = coupons.create_offer(actor=request.user, **form.cleaned_data)
        except coupons.CouponError as exc:
            form.add_error(exc.field if exc.field in form.fields else None, exc.reason)
        else:
            messages.success(request, _("Offer created."))
            return redirect("console:offer_detail", offer.pk)
    return render(
        request,
        "console/campaigns/form.html",
        {
            "section": "offers",
            "form": form,
            "title": _("New offer"),
            "back": "console:offer_list",
            "back_label": _("Offers"),
        },
        status=422 if form.errors else 200,
    )


@console_view("marketing.view_offer")
@require_safe
def offer_detail(request, pk):
    from django.core.paginator import Paginator

    offer = _get(Offer, pk)
    rows = offer.coupons.select_related("customer", "redeemed_order").order_by("-issued_at", "-id")
    return render(
        request,
        "console/campaigns/offer_detail.html",
        {
            "section": "offers",
            "offer": offer,
            "stats": coupons.offer_stats(offer),
            "page": Paginator(rows, 50).get_page(request.GET.get("page")),
        },
    )


@console_view("marketing.view_bouncereport")
@require_safe
def bounce_list(request):
    from django.core.paginator import Paginator

    from guanxi.marketing.models import BounceReport

    kind = request.GET.get("kind", "")
    if kind not in BounceReport.Kind.values:
        kind = ""
    return render(
        request,
        "console/campaigns/bounces.html",
        {
            "section": "campaigns",
            "kind": kind,
            "kinds": BounceReport.Kind.choices,
            "page": Paginator(selectors.recent_bounces(kind), 50).get_page(request.GET.get("page")),
        },
    )
