from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ServiceConfig(AppConfig):
    name = "guanxi.service"
    label = "service"
    verbose_name = _("Service desk")

    def ready(self) -> None:
        from guanxi.service import tasks, timeline  # noqa: F401 - registers the jobs

        timeline.register()
