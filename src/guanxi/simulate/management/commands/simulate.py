"""``guanxi simulate --customers N --seed S [--months M] [--truth PATH] [--out DIR]``."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from guanxi.commerce.services import ImportRejected
from guanxi.core.commands import GuanxiCommand
from guanxi.customers.services import BatchRejected
from guanxi.simulate.services import simulate_store


class Command(GuanxiCommand):
    help = gettext_lazy(
        "Simulate a store (customers, orders, returns, browsing) with planted ground truth, and "
        "load it into the database, or write it as Parquet files with --out. The same seed "
        "always gives the same store."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--customers",
            type=int,
            required=True,
            help=gettext_lazy("number of webshop customers to simulate"),
        )
        parser.add_argument(
            "--seed",
            type=int,
            required=True,
            help=gettext_lazy("random seed (same seed, same store)"),
        )
        parser.add_argument(
            "--months",
            type=int,
            default=24,
            help=gettext_lazy("months of history, ending 2026-10-31 (default 24)"),
        )
        parser.add_argument(
            "--truth",
            metavar="PATH",
            help=gettext_lazy(
                "write the planted ground truth here: JSON, or one long table if PATH ends "
                "in .parquet"
            ),
        )
        parser.add_argument(
            "--out",
            metavar="DIR",
            help=gettext_lazy(
                "write the tables as DIR/<table>.parquet instead of loading the database"
            ),
        )
        parser.add_argument(
            "--no-progress", action="store_true", help=gettext_lazy("do not show progress bars")
        )

    def handle(self, *args, **opts):
        if opts["customers"] < 1:
            raise CommandError(_("--customers must be at least 1"))
        if opts["months"] < 1:
            raise CommandError(_("--months must be at least 1"))
        try:
            summary = simulate_store(
                opts["customers"],
                opts["seed"],
                months=opts["months"],
                truth_path=opts["truth"],
                out_dir=opts["out"],
                progress=not opts["no_progress"],
            )
        except (ImportRejected, BatchRejected) as exc:
            message = _("The simulated store was rejected: %(error)s") % {"error": exc}
            raise CommandError(message) from exc
        out = self.stdout
        out.write(
            _("Simulated %(start)s to %(end)s in %(seconds)s s:")
            % {
                "start": summary["start"],
                "end": summary["end"],
                "seconds": summary["generate_seconds"],
            }
        )
        out.write(
            _(
                "  customers: %(customers)s (+ %(duplicates)s duplicate identities on the "
                "marketplace)"
            )
            % {"customers": summary["customers"], "duplicates": summary["duplicate_identities"]}
        )
        out.write(_("  products: %(n)s") % {"n": summary["products"]})
        out.write(
            _("  orders: %(orders)s with %(lines)s lines")
            % {"orders": summary["orders"], "lines": summary["order_lines"]}
        )
        out.write(_("  events: %(n)s") % {"n": summary["events"]})
        out.write(
            _("  the top 20%% of customers bring %(share).1f%% of revenue")
            % {"share": 100 * summary["top_customer_revenue_share"]}
        )
        if "files" in summary:
            out.write(
                _("Wrote %(n)s Parquet files to %(dir)s in %(seconds)s s.")
                % {
                    "n": len(summary["files"]),
                    "dir": opts["out"],
                    "seconds": summary["write_seconds"],
                }
            )
        else:
            loaded = summary["loaded"]
            out.write(
                _(
                    "Loaded in %(seconds)s s: %(customers)s customers, %(orders)s orders "
                    "(%(existing)s already there), %(lines)s lines, %(events)s events created."
                )
                % {
                    "seconds": summary["write_seconds"],
                    "customers": loaded["customers_created"],
                    "orders": loaded["orders_created"],
                    "existing": loaded["orders_existing"],
                    "lines": loaded["lines_created"],
                    "events": loaded["events_created"],
                }
            )
        if "truth_path" in summary:
            out.write(_("Ground truth written to %(path)s.") % {"path": summary["truth_path"]})
