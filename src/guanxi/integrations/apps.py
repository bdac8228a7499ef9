from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class IntegrationsConfig(AppConfig):
    name = "guanxi.integrations"
    label = "integrations"
    verbose_name = _("Store integrations")

    def ready(self) -> None:
        from guanxi.integrations import receivers  # noqa: F401 - connects signal receivers
