"""``guanxi marketing SUBCOMMAND``: queue and send email from the command line.

    guanxi marketing queue CAMPAIGN_ID      queue a campaign for its segment's members now
    guanxi marketing send [--loop] [--recover-in-flight] [--batch N]
                                            send what is due (once, or until stopped)

``guanxi worker`` does the same every minute; these are for operators and for tests.
"""

import time

from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy

from guanxi.core.commands import GuanxiCommand


class Command(GuanxiCommand):
    help = gettext_lazy("Queue campaigns and send due email (consent, cap and quiet hours apply).")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        queue = sub.add_parser("queue", help="queue a campaign for its segment")
        queue.add_argument("campaign_id", type=int)
        send = sub.add_parser("send", help="send what is due")
        send.add_argument("--loop", action="store_true", help="keep sending until stopped")
        send.add_argument("--batch", type=int, default=200)
        send.add_argument(
            "--recover-in-flight",
            action="store_true",
            help="first re-queue every row left 'sending' by a crashed sender (only when no "
            "other sender runs); they go out again with the same Message-ID",
        )

    def handle(self, *args, subcommand, **options):
        from guanxi.marketing.models import Campaign
        from guanxi.marketing.services import queue_campaign, recover_in_flight, send_due

        if subcommand == "queue":
            try:
                campaign = Campaign.objects.get(pk=options["campaign_id"])
            except Campaign.DoesNotExist as exc:
                raise CommandError(f"no campaign {options['campaign_id']}") from exc
            self.stdout.write(f"queued {queue_campaign(campaign)}")
            return
        if options["recover_in_flight"]:
            import datetime as dt

            self.stdout.write(f"re-queued {recover_in_flight(lease=dt.timedelta(0))} in flight")
        totals = {"sent": 0, "deferred": 0, "skipped": 0, "failed": 0}
        while True:
            report = send_due(limit=options["batch"])
            for key in totals:
                totals[key] += getattr(report, key)
            busy = (
                report.sent or report.deferred or report.skipped or report.failed or report.retried
            )
            if not busy:
                if not options["loop"]:
                    break
                time.sleep(1)
        self.stdout.write(", ".join(f"{k} {v}" for k, v in totals.items()))
