"""``guanxi import PATH --format online-retail|orders-csv|parquet [--source NAME]``."""

from django.core.management.base import CommandError
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from tqdm import tqdm

from guanxi.commerce.importers import FORMATS, ImportFileError, import_file
from guanxi.commerce.models import ImportRun
from guanxi.commerce.services import ImportRejected, Progress
from guanxi.core.commands import GuanxiCommand


class TerminalProgress(Progress):
    """One tqdm bar per stage of the import."""

    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.bar = None

    def stage(self, name, total=None):
        self.close()
        if self.enabled:
            self.bar = tqdm(total=total, desc=f"{name:>24}", unit="row", leave=True)

    def advance(self, n):
        if self.bar is not None:
            self.bar.update(n)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class Command(GuanxiCommand):
    help = gettext_lazy(
        "Import orders from a CSV, Excel or Parquet file. Idempotent: importing the same file "
        "twice changes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help=gettext_lazy("file to import (.csv, .xlsx, .parquet)"))
        parser.add_argument("--format", required=True, choices=FORMATS, dest="file_format")
        parser.add_argument(
            "--source",
            help=gettext_lazy("source platform the external ids belong to (default by format)"),
        )
        parser.add_argument(
            "--on-error",
            choices=ImportRun.Policy.values,
            default=ImportRun.Policy.REJECT,
            help=gettext_lazy(
                "reject: any bad row rejects the whole file, nothing is written (default); "
                "skip: orders with a bad row are skipped and reported"
            ),
        )
        parser.add_argument("--currency", help=gettext_lazy("ISO currency of the prices"))
        parser.add_argument(
            "--timezone", help=gettext_lazy("time zone of date-times that carry none")
        )
        parser.add_argument("--no-progress", action="store_true")

    def handle(self, *args, **opts):
        progress = TerminalProgress(enabled=not opts["no_progress"])
        try:
            result = import_file(
                opts["path"],
                file_format=opts["file_format"],
                source=opts["source"],
                policy=opts["on_error"],
                currency=opts["currency"],
                store_timezone=opts["timezone"],
                progress=progress,
            )
        except ImportFileError as exc:
            raise CommandError(str(exc)) from exc
        except ImportRejected as exc:
            progress.close()
            for error in exc.result.errors[:20]:
                self.stderr.write(str(error))
            more = len(exc.result.errors) - 20
            if more > 0:
                self.stderr.write(_("… and %(n)d more errors") % {"n": more})
            raise CommandError(
                _("%(rows)d bad row(s): file rejected, nothing was imported.")
                % {"rows": exc.result.rows_rejected}
            ) from exc
        finally:
            progress.close()
        for error in result.errors[:20]:
            self.stderr.write(str(error))
        self.stdout.write(
            self.style.SUCCESS(
                _(
                    "Imported %(rows)d rows: %(orders)d new orders (%(existing)d already present, "
                    "%(skipped)d skipped), %(lines)d lines, %(customers)d new customers, "
                    "%(products)d new products."
                )
                % {
                    "rows": result.rows_total,
                    "orders": result.orders_created,
                    "existing": result.orders_existing,
                    "skipped": result.orders_skipped,
                    "lines": result.lines_created,
                    "customers": result.customers_created,
                    "products": result.products_created,
                }
            )
        )
