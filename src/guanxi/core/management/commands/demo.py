"""``guanxi demo``: migrate, create an admin, simulate a store, serve the console."""

import secrets

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.commerce.models import Order
from guanxi.core.commands import GuanxiCommand


class Command(GuanxiCommand):
    help = gettext_lazy(
        "Set up and serve a demo: migrate the database, create an admin user (its password is "
        "printed), simulate a store, and serve the console at http://127.0.0.1:8000/console/."
    )

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=3000)
        parser.add_argument("--seed", type=int, default=42)
        parser.add_argument("--months", type=int, default=24)
        parser.add_argument("--addrport", default="127.0.0.1:8000")
        parser.add_argument("--username", default="admin")
        parser.add_argument(
            "--no-serve", action="store_true", help=gettext_lazy("set up, then exit")
        )

    def handle(self, *args, customers, seed, months, addrport, username, no_serve, **opts):
        from guanxi.simulate.services import simulate_store

        self.stdout.write(_("Migrating the database…"))
        call_command("migrate", interactive=False, verbosity=0)

        password = secrets.token_urlsafe(12)
        user_model = get_user_model()
        user, _created = user_model.objects.get_or_create(
            username=username, defaults={"email": f"{username}@localhost"}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()

        if Order.objects.exists():
            self.stdout.write(_("Store data already present: not simulating again."))
        else:
            self.stdout.write(
                _("Simulating a store with %(n)d customers (seed %(seed)d)…")
                % {"n": customers, "seed": seed}
            )
            summary = simulate_store(customers, seed, months=months, progress=True)
            self.stdout.write(str(summary))
        from guanxi.analytics.models import AnalyticsRun

        if not AnalyticsRun.objects.filter(status=AnalyticsRun.Status.SUCCEEDED).exists():
            self.stdout.write(_("Computing scores, tiers, CLV and periodic purchases…"))
            call_command("analytics", "refresh")
        from guanxi.service.demo import seed_service_demo

        seed_service_demo(self.stdout)
        from guanxi.marketing.demo import seed_marketing_demo

        seed_marketing_demo(self.stdout)

        host = addrport if ":" in addrport else f"127.0.0.1:{addrport}"
        self.stdout.write("")
        self.stdout.write(self.style.SUCCESS(_("Guanxi demo is ready.")))
        self.stdout.write(_("  Console:  http://%(host)s/console/") % {"host": host})
        self.stdout.write(_("  API docs: http://%(host)s/api/v1/docs") % {"host": host})
        self.stdout.write(_("  User:     %(user)s") % {"user": username})
        self.stdout.write(_("  Password: %(password)s") % {"password": password})
        self.stdout.write("")
        if not no_serve:
            call_command("runserver", addrport, use_reloader=False)
