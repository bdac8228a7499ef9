"""``guanxi analytics rules``: 2-item association rules of a transaction file, import nothing.

Registered as a subcommand by ``analytics.py``; the underscore keeps Django from listing this
module as a command of its own.
"""

from __future__ import annotations

import json
from pathlib import Path

from django.core.management.base import CommandError

COLUMNS = ("antecedent", "consequent", "support", "confidence", "lift")


def add_arguments(parser) -> None:
    parser.add_argument("file", metavar="FILE", help="transactions, CSV or Parquet")
    parser.add_argument("--basket", required=True, metavar="COL", help="basket (order) column")
    parser.add_argument("--item", required=True, metavar="COL", help="item (product) column")
    parser.add_argument(
        "--min-support", required=True, type=float, metavar="X", help="e.g. 0.01 (of baskets)"
    )
    parser.add_argument("--min-confidence", type=float, default=0.0, metavar="Y", help="default 0")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def mine_file(
    path: Path, *, basket: str, item: str, min_support: float, min_confidence: float = 0.0
) -> list[dict]:
    """The rules of a CSV/Parquet file, strongest first (DuckDB through Ibis)."""
    import ibis

    from guanxi.analytics import rules

    if not path.exists():
        raise CommandError(f"{path}: no such file")
    con = ibis.duckdb.connect()
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            table = con.read_parquet(str(path))
        elif suffix in (".csv", ".txt", ".tsv") or suffix == ".gz":
            # Items and baskets are labels: read every column as text (no "00123" → 123).
            table = con.read_csv(str(path), all_varchar=True)
        else:
            raise CommandError(f"{path}: expected a .csv or .parquet file")
    except CommandError:
        raise
    except Exception as exc:
        raise CommandError(f"{path}: cannot read it ({exc})") from exc
    for name, flag in ((basket, "--basket"), (item, "--item")):
        if name not in table.columns:
            raise CommandError(
                f"{path}: no column {name!r} ({flag}); columns: {', '.join(table.columns)}"
            )
    try:
        expr = rules.association_rules(
            table,
            basket=basket,
            item=item,
            min_support=min_support,
            min_confidence=min_confidence,
        )
    except ValueError as exc:
        raise CommandError(str(exc)) from exc
    result = rules.order_rules(expr).to_pyarrow()
    return result.to_pylist()


def handle(command, **options) -> None:
    found = mine_file(
        Path(options["file"]),
        basket=options["basket"],
        item=options["item"],
        min_support=options["min_support"],
        min_confidence=options.get("min_confidence") or 0.0,
    )
    out = command.stdout
    if options.get("json"):
        out.write(json.dumps([{k: row[k] for k in COLUMNS} for row in found], default=str))
        return
    baskets = found[0]["baskets"] if found else 0
    out.write(f"{len(found)} rules" + (f" over {baskets} baskets" if found else ""))
    if not found:
        return
    width_a = max(len("antecedent"), *(len(str(r["antecedent"])) for r in found))
    width_c = max(len("consequent"), *(len(str(r["consequent"])) for r in found))
    out.write(
        f"{'antecedent':<{width_a}}  {'consequent':<{width_c}}  "
        f"{'support':>9}  {'confidence':>10}  {'lift':>8}"
    )
    for r in found:
        out.write(
            f"{r['antecedent']!s:<{width_a}}  {r['consequent']!s:<{width_c}}  "
            f"{r['support']:>9.5f}  {r['confidence']:>10.5f}  {r['lift']:>8.3f}"
        )
