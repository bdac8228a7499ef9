from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


def _forget_token(sender, instance, **kwargs) -> None:
    """A token edited (e.g. revoked in the admin) or deleted is dropped from the cache of
    verified tokens, so the change holds from the next request on."""
    from guanxi.api.services import forget_api_token

    forget_api_token(instance.token_hash)


class ApiConfig(AppConfig):
    name = "guanxi.api"
    label = "api"
    verbose_name = _("REST API")

    def ready(self):
        post_save.connect(_forget_token, sender="api.ApiToken", dispatch_uid="guanxi.api.forget")
        post_delete.connect(_forget_token, sender="api.ApiToken", dispatch_uid="guanxi.api.forget")
