"""``guanxi worker``: runs background jobs and periodic schedules (Huey's consumer)."""

from django.core.management import call_command
from django.utils.translation import gettext_lazy

from guanxi.core.commands import GuanxiCommand


class Command(GuanxiCommand):
    help = gettext_lazy(
        "Run the background worker: queued jobs with retries, and the nightly/daily schedules."
    )

    def add_arguments(self, parser):
        parser.add_argument("--workers", "-w", type=int, default=2)

    def handle(self, *args, workers, **opts):
        call_command("run_huey", workers=workers, worker_type="thread")
