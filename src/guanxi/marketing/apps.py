from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _builtins(sender, **kwargs) -> None:
    from guanxi.marketing.flows import ensure_builtin_flows
    from guanxi.marketing.services import ensure_builtin_templates

    ensure_builtin_templates()
    ensure_builtin_flows()


class MarketingConfig(AppConfig):
    name = "guanxi.marketing"
    label = "marketing"
    verbose_name = _("Marketing")

    def ready(self) -> None:
        # Registers flows, then the sender, with the every-minute schedule (in that order).
        from guanxi.marketing import flows, jobs  # noqa: F401

        post_migrate.connect(_builtins, sender=self, dispatch_uid="marketing-builtins")
