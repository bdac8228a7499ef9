"""``guanxi identity link|resolve``: identity resolution from the command line."""

from pathlib import Path

from django.core.management.base import CommandError
from django.utils.translation import gettext_lazy as _

from guanxi.core.commands import GuanxiCommand


def read_table(path: Path, id_column: str):
    import duckdb

    if not path.exists():
        raise CommandError(f"{path}: no such file")
    con = duckdb.connect()
    reader = "read_parquet" if path.suffix.lower() == ".parquet" else "read_csv"
    options = "" if reader == "read_parquet" else ", all_varchar = true, header = true"
    try:
        frame = con.sql(f"SELECT * FROM {reader}(?{options})", params=[str(path)]).df()  # noqa: S608
    except duckdb.Error as exc:
        raise CommandError(f"{path}: cannot be read ({exc})") from None
    if id_column not in frame.columns:
        raise CommandError(
            f"{path}: no id column {id_column!r} (columns: {', '.join(frame.columns)})"
        )
    if frame[id_column].isna().any():
        row = int(frame[id_column].isna().to_numpy().argmax()) + 2
        raise CommandError(f"{path}, row {row}, field {id_column!r}: the id is empty")
    duplicated = frame[id_column].duplicated()
    if duplicated.any():
        row = int(duplicated.to_numpy().argmax()) + 2
        value = frame[id_column].iloc[row - 2]
        raise CommandError(f"{path}, row {row}, field {id_column!r}, value {value!r}: duplicate id")
    return frame


class Command(GuanxiCommand):
    help = _(
        "Identity resolution: 'link' de-duplicates one CSV/Parquet file or links two; "
        "'resolve' finds duplicate profiles in the database (auto-merge / review queue)."
    )

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        link = sub.add_parser("link", help=str(_("de-duplicate one file or link two")))
        link.add_argument("files", nargs="+", type=Path, help=str(_("A.csv [B.csv]")))
        link.add_argument("--id-column", required=True, help=str(_("column with the row id")))
        link.add_argument("--out", required=True, type=Path, help=str(_("MATCHES.csv to write")))
        link.add_argument(
            "--threshold",
            type=float,
            default=None,
            help=str(_("minimum match probability (default: the auto-merge threshold)")),
        )
        resolve = sub.add_parser("resolve", help=str(_("find duplicate profiles")))
        resolve.add_argument(
            "--no-auto-merge", action="store_true", help=str(_("queue every pair for review"))
        )

    def handle(self, *args, **options):
        if options["action"] == "link":
            return self.link(options)
        return self.resolve(options)

    def link(self, options):
        from guanxi.customers import identity

        files = options["files"]
        if len(files) > 2:
            raise CommandError("give one file to de-duplicate or two to link")
        frames = [read_table(p, options["id_column"]) for p in files]
        fields = [f for f in identity.PROFILE_MATCH_FIELDS if all(f in df.columns for df in frames)]
        if not fields:
            raise CommandError(
                "no profile field in common; columns must be named "
                + ", ".join(identity.PROFILE_MATCH_FIELDS)
            )
        threshold = options["threshold"]
        if threshold is None:
            threshold = identity.AUTO_MERGE_THRESHOLD
        result = identity.link_frames(
            frames, id_column=options["id_column"], fields=fields, threshold=threshold
        )
        result.pairs[["id_l", "id_r", "match_probability"]].to_csv(options["out"], index=False)
        self.stdout.write(
            f"{len(result.pairs)} matched pair(s) at p ≥ {threshold} on {', '.join(fields)} "
            f"in {result.seconds:.1f} s → {options['out']}"
        )

    def resolve(self, options):
        from guanxi.customers.resolution import resolve_identities

        result = resolve_identities(auto_merge=not options["no_auto_merge"])
        self.stdout.write(
            f"{result.profiles} profiles, {result.pairs} candidate pair(s): "
            f"{result.auto_merged} merged automatically, {result.queued} queued for review, "
            f"{result.skipped} already decided ({result.seconds:.1f} s)"
        )
