from django.apps import AppConfig
from django.db.models.signals import post_migrate
from django.utils.translation import gettext_lazy as _


def _builtin_segments(sender, **kwargs) -> None:
    from guanxi.segments.services import ensure_builtin_segments

    ensure_builtin_segments()


class SegmentsConfig(AppConfig):
    name = "guanxi.segments"
    label = "segments"
    verbose_name = _("Segments and groups")

    def ready(self) -> None:
        # Registers the nightly membership refresh with the scheduler.
        from guanxi.segments import services  # noqa: F401

        post_migrate.connect(_builtin_segments, sender=self, dispatch_uid="segments-builtin")
