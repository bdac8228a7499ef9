"""``guanxi integrations replay-dead-letters [--id N …]`` and ``add-store``."""

from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy as _

from guanxi.core.commands import GuanxiCommand


class Command(GuanxiCommand):
    help = _("Store integrations: replay dead-lettered webhooks, connect a store.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        replay = sub.add_parser("replay-dead-letters", help=str(_("replay pending dead letters")))
        replay.add_argument("--id", type=int, action="append", help=str(_("only this one")))
        add = sub.add_parser("add-store", help=str(_("connect a store")))
        add.add_argument("name")
        add.add_argument("--platform", choices=["shopify", "woocommerce"], required=True)
        add.add_argument("--domain", required=True)
        add.add_argument("--source", help=str(_("ingestion source name (default: the domain)")))
        add.add_argument("--origin", action="append", default=[])

    def handle(self, *args, **options):
        if options["action"] == "replay-dead-letters":
            from guanxi.integrations.services import replay_dead_letters

            ok, failed = replay_dead_letters(options["id"])
            self.stdout.write(f"{ok} replayed, {failed} still failing")
            if failed:
                raise CommandError(f"{failed} dead letter(s) still cannot be mapped")
            return
        from guanxi.integrations.services import create_store

        store = create_store(
            name=options["name"],
            platform=options["platform"],
            shop_domain=options["domain"],
            source=options["source"],
            origins=options["origin"],
        )
        self.stdout.write(
            f"store {store.pk}: source {store.source}, tracker key {store.public_key}"
        )
        self.stdout.write(
            "webhook secret: set GUANXI_WEBHOOK_SECRETS="
            f"{store.shop_domain}=<the secret shown by the platform>"
        )
