"""Staff roles as Django groups, least privilege: each gets only the permissions its work needs.

Later issues add their apps' permissions to these lists; ``ensure_roles`` runs after every
migrate so groups always match the code.
"""

from django.utils.translation import gettext_lazy as _

# role → list of "app_label.codename" permissions
ROLES: dict[str, list[str]] = {
    "admin": ["*"],
    "marketer": [
        "marketing.view_campaign",
        "marketing.add_campaign",
        "marketing.change_campaign",
        "marketing.view_emailtemplate",
        "marketing.add_emailtemplate",
        "marketing.change_emailtemplate",
        "marketing.view_delivery",
        "marketing.view_flow",
        "marketing.change_flow",
        "marketing.view_offer",
        "marketing.add_offer",
        "marketing.change_offer",
        "marketing.view_coupon",
        "marketing.view_bouncereport",
        "segments.view_segment",
        "segments.add_segment",
        "segments.change_segment",
        "segments.delete_segment",
        "segments.view_group",
        "segments.add_group",
        "segments.change_group",
        "segments.delete_group",
        "analytics.view_customerscore",
        "analytics.view_productrule",
        "analytics.view_recommendation",
        "analytics.view_categoryaffinity",
        "analytics.view_periodicpattern",
        "customers.view_customer",
        "customers.view_contactpoint",
        "customers.view_sourceidentity",
        "commerce.view_order",
        "commerce.view_product",
        "commerce.view_event",
        "service.view_kbarticle",
        "service.view_surveyresponse",
        "service.view_npscampaign",
        "service.add_npscampaign",
    ],
    "agent": [
        "analytics.view_customerscore",
        "analytics.view_recommendation",
        "customers.view_customer",
        "customers.change_customer",
        "customers.view_contactpoint",
        "customers.view_address",
        "customers.view_sourceidentity",
        "customers.add_contactpoint",
        "customers.change_contactpoint",
        "customers.view_matchcandidate",
        "customers.change_matchcandidate",
        "customers.view_customermerge",
        "customers.change_customermerge",
        "commerce.view_order",
        "commerce.view_product",
        "commerce.view_shipment",
        "service.view_ticket",
        "service.add_ticket",
        "service.change_ticket",
        "service.view_message",
        "service.add_message",
        "service.view_cannedreply",
        "service.view_kbarticle",
        "service.add_kbarticle",
        "service.change_kbarticle",
        "service.view_kbcategory",
        "service.view_surveyresponse",
        "service.view_service_report",
        "service.view_slapolicy",
        "service.view_team",
    ],
    "sales_rep": [
        "analytics.view_customerscore",
        "analytics.view_productrule",
        "analytics.view_recommendation",
        "customers.view_customer",
        "customers.add_customer",
        "customers.change_customer",
        "customers.view_contactpoint",
        "customers.view_address",
        "customers.view_sourceidentity",
        "customers.add_contactpoint",
        "commerce.view_order",
        "commerce.view_product",
    ],
    "analyst": [
        "marketing.view_campaign",
        "marketing.view_delivery",
        "marketing.view_flow",
        "marketing.view_offer",
        "marketing.view_coupon",
        "marketing.view_bouncereport",
        "segments.view_segment",
        "segments.view_group",
        "analytics.view_analyticsrun",
        "analytics.view_customerscore",
        "analytics.view_lifecyclechange",
        "analytics.view_categoryaffinity",
        "analytics.view_periodicpattern",
        "analytics.view_productrule",
        "analytics.view_recommendation",
        "customers.view_customer",
        "customers.view_sourceidentity",
        "commerce.view_order",
        "commerce.view_product",
        "commerce.view_event",
        "commerce.view_importrun",
        "commerce.view_shipment",
        "customers.view_matchcandidate",
        "customers.view_customermerge",
        "integrations.view_store",
        "integrations.view_deadletter",
        "integrations.view_inboundwebhook",
        "integrations.view_webhooksubscription",
        "integrations.view_webhookdelivery",
        "service.view_ticket",
        "service.view_surveyresponse",
        "service.view_service_report",
    ],
}

ROLE_LABELS = {
    "admin": _("Administrator"),
    "marketer": _("Marketer"),
    "agent": _("Service agent"),
    "sales_rep": _("Sales rep"),
    "analyst": _("Analyst"),
}


def ensure_roles(sender=None, **kwargs) -> None:
    """Create or refresh one auth group per role with exactly the permissions listed above."""
    from django.apps import apps
    from django.contrib.auth.models import Group, Permission

    # post_migrate fires once per app; permissions of every app exist only after the last one.
    with_models = [a for a in apps.get_app_configs() if a.models_module is not None]
    if sender is not None and sender is not with_models[-1]:
        return
    everything = Permission.objects.select_related("content_type")
    for role, perms in ROLES.items():
        group, _created = Group.objects.get_or_create(name=role)
        if perms == ["*"]:
            wanted = list(everything)
        else:
            wanted = []
            for dotted in perms:
                app_label, codename = dotted.split(".", 1)
                wanted.extend(
                    everything.filter(content_type__app_label=app_label, codename=codename)
                )
        group.permissions.set(wanted)
