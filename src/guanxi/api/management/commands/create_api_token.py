"""``guanxi create_api_token NAME``: prints a new bearer token for the REST API."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.api.models import ApiToken
from guanxi.api.services import create_api_token
from guanxi.core.commands import GuanxiCommand


class Command(GuanxiCommand):
    help = gettext_lazy("Create a REST API token and print it (it is shown only once).")

    def add_arguments(self, parser):
        parser.add_argument("name", help=gettext_lazy("a name for the client, e.g. 'webshop'"))
        parser.add_argument(
            "--read-only", action="store_true", help=gettext_lazy("token may only read")
        )

    def handle(self, *args, name, read_only, **opts):
        if ApiToken.objects.filter(name=name).exists():
            raise CommandError(_("A token named %(name)r already exists.") % {"name": name})
        _token, raw = create_api_token(name, can_write=not read_only)
        self.stdout.write(raw)
        self.stderr.write(_("Use it as: Authorization: Bearer <token>"))
