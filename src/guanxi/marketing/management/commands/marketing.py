"""``guanxi marketing SUBCOMMAND``: queue and send email from the command line.

    guanxi marketing queue CAMPAIGN_ID      queue a campaign for its segment's members now
    guanxi marketing send [--loop] [--recover-in-flight] [--batch N]
                                            send what is due (once, or until stopped)
    guanxi marketing bounces [FILE ...] [--fetch [IMAP_URL]]
                                            read bounce / complaint reports: files, standard
                                            input (an MTA pipe), or the bounce mailbox

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
        bounces = sub.add_parser(
            "bounces", help="read bounce and complaint reports (DSN / ARF messages)"
        )
        bounces.add_argument(
            "files", nargs="*", help="raw messages (.eml); none: one message on standard input"
        )
        bounces.add_argument(
            "--fetch",
            nargs="?",
            const="",
            metavar="IMAP_URL",
            help="poll the bounce mailbox (default GUANXI_BOUNCE_IMAP_URL)",
        )
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
        if subcommand == "bounces":
            self._bounces(options)
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

    def _bounces(self, options):
        import sys
        from pathlib import Path

        from guanxi.core.mailbox import MailboxError
        from guanxi.marketing import bounces

        if options["fetch"] is not None:
            try:
                outcome = bounces.fetch(options["fetch"] or None)
            except (MailboxError, OSError) as exc:
                raise CommandError(str(exc)) from exc
        else:
            outcome = bounces.Outcome()
            sources = [(p, Path(p)) for p in options["files"]] or [("<stdin>", None)]
            for label, path in sources:
                try:
                    raw = path.read_bytes() if path else sys.stdin.buffer.read()
                    got = bounces.receive(raw, source="pipe")
                except OSError as exc:
                    raise CommandError(f"{label}: {exc.strerror or exc}") from exc
                except bounces.BounceError as exc:
                    raise CommandError(f"{label}: {exc}") from exc
                outcome.recorded += got.recorded
                outcome.duplicates += got.duplicates
                outcome.ignored += got.ignored
                outcome.effects += got.effects
        for effect in outcome.effects:
            self.stdout.write(f"  {effect}")
        self.stdout.write(
            f"recorded {outcome.recorded}, already seen {outcome.duplicates}, "
            f"not a bounce {outcome.ignored}"
        )
