"""``guanxi service fetch-mail | pipe-mail | check-sla``: inbound email and the SLA monitor."""

import sys

from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy as _

from guanxi.core.commands import GuanxiCommand


class Command(GuanxiCommand):
    help = _("Service desk: fetch or pipe in email, check SLA targets.")

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        fetch = sub.add_parser(
            "fetch-mail", help=str(_("Poll the IMAP mailbox (GUANXI_IMAP_URL)."))
        )
        fetch.add_argument("--url", default=None, help=str(_("imaps://user:pass@host:993/INBOX")))
        fetch.add_argument("--limit", type=int, default=200)
        sub.add_parser("pipe-mail", help=str(_("Read one raw email from standard input.")))
        sub.add_parser("check-sla", help=str(_("Warn and escalate tickets now.")))

    def handle(self, *args, action, **options):
        from guanxi.service import inbound, services

        if action == "fetch-mail":
            try:
                results = inbound.fetch_mail(options["url"], limit=options["limit"])
            except (inbound.InboundError, OSError) as exc:
                raise CommandError(str(exc)) from exc
            created = sum(r.created_ticket for r in results)
            self.stdout.write(
                f"{len(results)} message(s): {created} new ticket(s), "
                f"{len(results) - created} repl(ies)"
            )
        elif action == "pipe-mail":
            raw = sys.stdin.buffer.read()
            try:
                result = inbound.receive_email(raw)
            except (inbound.InboundError, services.ServiceError) as exc:
                raise CommandError(str(exc)) from exc
            verb = (
                "duplicate of"
                if result.duplicate
                else ("new" if result.created_ticket else "reply on")
            )
            self.stdout.write(f"{verb} ticket #{result.ticket.pk}")
        else:
            result = services.check_sla()
            self.stdout.write(
                f"{result.warned} warned, {result.escalated} escalated, {result.breached} breached"
            )
