"""``guanxi analytics SUBCOMMAND``: analytics from the command line.

    guanxi analytics refresh [--engine duckdb|spark] [--as-of YYYY-MM-DD] [--quiet]
    guanxi analytics fit-clv FILE --customer COL --date COL --value COL [...]
    guanxi analytics rules FILE --basket COL --item COL --min-support X [...]

Each subcommand is one pair of functions: ``add_arguments(parser)`` and
``handle(command, **options)``, listed in :data:`SUBCOMMANDS`.
"""

from __future__ import annotations

import datetime as dt

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from guanxi.analytics.engine import ENGINES


def add_refresh_arguments(parser) -> None:
    parser.add_argument(
        "--engine",
        choices=ENGINES,
        help="where to compute (default: GUANXI_ANALYTICS_ENGINE, else duckdb)",
    )
    parser.add_argument(
        "--as-of",
        metavar="YYYY-MM-DD",
        help="score as of the end of this day, UTC (default: now)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def handle_refresh(command: BaseCommand, **options) -> None:
    """Run every analytics step, show a bar per step, print what the run wrote."""
    from guanxi.analytics.services import STEPS, refresh_analytics

    as_of = None
    if options.get("as_of"):
        try:
            as_of = dt.date.fromisoformat(options["as_of"])
        except ValueError as exc:
            raise CommandError(f"--as-of {options['as_of']!r}: expected YYYY-MM-DD") from exc
    bar = None if options.get("quiet") else tqdm(total=len(STEPS), unit="step", leave=True)

    def progress(step: str, index: int, total: int) -> None:
        if bar is not None:
            bar.n = index
            bar.set_description(f"{step:>10}")
            bar.refresh()

    try:
        run = refresh_analytics(
            engine=options.get("engine"), as_of=as_of, triggered_by="command", progress=progress
        )
    except Exception as exc:
        raise CommandError(f"analytics refresh failed: {exc}") from exc
    finally:
        if bar is not None:
            bar.n = bar.total
            bar.set_description(f"{'done':>10}")
            bar.close()
    out = command.stdout
    out.write(
        f"Run #{run.pk} on {run.engine}, as of {run.as_of:%Y-%m-%d %H:%M} UTC: "
        f"{run.status} in {run.duration_s:.1f} s"
    )
    inputs = ", ".join(f"{k} {v}" for k, v in run.inputs.items() if k != "previous_run")
    out.write(f"  read:    {inputs}")
    written = ", ".join(f"{k} {v}" for k, v in run.outputs.items() if isinstance(v, int))
    out.write(f"  wrote:   {written}")
    out.write("  steps:   " + ", ".join(f"{k} {v:.2f} s" for k, v in run.steps.items()))


def _subcommands() -> dict:
    subcommands = {"refresh": (add_refresh_arguments, handle_refresh, "compute every score")}
    # More subcommands: add ``name: (add_arguments, handle, help)`` here.
    try:
        from guanxi.analytics.management.commands import _fit_clv
    except ImportError:  # pragma: no cover - the CLV subcommand lands separately
        pass
    else:
        subcommands["fit-clv"] = (
            _fit_clv.add_arguments,
            _fit_clv.handle,
            "fit BG/NBD and Gamma-Gamma on a transaction file (imports nothing)",
        )
    from guanxi.analytics.management.commands import _rules

    subcommands["rules"] = (
        _rules.add_arguments,
        _rules.handle,
        "2-item association rules of a transaction file (imports nothing)",
    )
    return subcommands


SUBCOMMANDS = _subcommands()


class Command(BaseCommand):
    help = "Analytics: refresh every score, fit CLV models or mine rules on a file."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
        for name, (add_arguments, _handle, help_text) in SUBCOMMANDS.items():
            add_arguments(sub.add_parser(name, help=help_text))

    def handle(self, *args, **options):
        _add, handle, _help = SUBCOMMANDS[options["subcommand"]]
        handle(self, **options)
