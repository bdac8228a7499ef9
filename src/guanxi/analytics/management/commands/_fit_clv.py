"""``guanxi analytics fit-clv``: fit BG/NBD (or Pareto/NBD) and Gamma-Gamma on a transaction file,
import nothing.

Registered as a subcommand by ``analytics.py``; the underscore keeps Django from listing this
module as a command of its own.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.core.management.base import CommandError

PARAMETERS = ("r", "alpha", "a", "b", "p", "q", "gamma")
PARETO_PARAMETERS = ("r", "alpha", "s", "beta")
MODELS = ("bgnbd", "pareto-nbd")
DAYS_PER_UNIT = {"day": 1, "week": 7}


def add_arguments(parser) -> None:
    """The ``fit-clv`` arguments, added to the ``analytics`` command's subparser."""
    parser.add_argument("file", metavar="FILE", help="transactions, CSV or Parquet")
    parser.add_argument("--customer", required=True, metavar="COL", help="customer id column")
    parser.add_argument("--date", required=True, metavar="COL", help="order date/time column")
    parser.add_argument("--value", required=True, metavar="COL", help="order value column")
    parser.add_argument(
        "--calibration-end",
        metavar="YYYY-MM-DD",
        help="fit on transactions up to this day (default: the last day in the file)",
    )
    parser.add_argument(
        "--time-unit",
        choices=sorted(DAYS_PER_UNIT),
        default="day",
        help="unit of recency and T, hence of alpha (default: day)",
    )
    parser.add_argument(
        "--model",
        choices=MODELS,
        default="bgnbd",
        help="bgnbd: BG/NBD + Gamma-Gamma (default); pareto-nbd: Pareto/NBD",
    )
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def handle(command, **options) -> None:
    """Read the file, summarise per customer (daily purchases), fit, print the parameters."""
    result = fit_clv_file(
        Path(options["file"]),
        customer=options["customer"],
        date=options["date"],
        value=options["value"],
        calibration_end=options.get("calibration_end"),
        time_unit=options.get("time_unit") or "day",
        model=options.get("model") or "bgnbd",
    )
    if options.get("json"):
        command.stdout.write(json.dumps(result, indent=2))
        return
    command.stdout.write(
        f"{result['customers']} customers, {result['repeat_buyers']} repeat buyers, "
        f"up to {result['calibration_end']}, time in {result['time_unit']}s"
    )
    for name in PARETO_PARAMETERS if result["model"] == "pareto-nbd" else PARAMETERS:
        value = result[name]
        command.stdout.write(f"  {name:<6} {'n/a' if value is None else f'{value:.6g}'}")
    ll = result["log_likelihood"]
    if result["model"] == "pareto-nbd":
        command.stdout.write(f"  Pareto/NBD log-likelihood   {ll['pareto_nbd']:.6f}")
        return
    command.stdout.write(f"  BG/NBD log-likelihood       {ll['bgnbd']:.6f}")
    if ll["gamma_gamma"] is not None:
        command.stdout.write(f"  Gamma-Gamma log-likelihood  {ll['gamma_gamma']:.6f}")


def fit_clv_file(
    path: Path,
    *,
    customer: str,
    date: str,
    value: str,
    calibration_end: str | None = None,
    time_unit: str = "day",
    model: str = "bgnbd",
) -> dict:
    """Fit the CLV models on a CSV/Parquet transaction file; the parameters as a plain dict.

    Purchases are counted per day (as in the published CDNOW results); with ``time_unit="week"``
    recency and T are divided by 7, so ``alpha`` is in weeks. ``model="pareto-nbd"`` fits
    Pareto/NBD instead of BG/NBD + Gamma-Gamma (keys ``r``, ``alpha``, ``s``, ``beta``).
    """
    import ibis

    from guanxi.analytics.clv import fit_clv_models, fit_pareto_nbd_parameters, transaction_summary

    if not path.exists():
        raise CommandError(f"{path}: no such file")
    if model not in MODELS:
        raise CommandError(f"--model must be one of {', '.join(MODELS)}")
    if time_unit not in DAYS_PER_UNIT:
        raise CommandError(f"--time-unit must be one of {', '.join(DAYS_PER_UNIT)}")
    con = ibis.duckdb.connect()
    suffix = path.suffix.lower()
    try:
        if suffix in (".parquet", ".pq"):
            table = con.read_parquet(path)
        elif suffix in (".csv", ".txt", ".tsv") or suffix == ".gz":
            table = con.read_csv(path)
        else:
            raise CommandError(f"{path}: expected a .csv or .parquet file")
    except CommandError:
        raise
    except Exception as exc:
        raise CommandError(f"{path}: cannot read it: {exc}") from exc
    for option, column in (("--customer", customer), ("--date", date), ("--value", value)):
        if column not in table.columns:
            raise CommandError(
                f"{path}: no column {column!r} ({option}); the columns are "
                + ", ".join(repr(c) for c in table.columns)
            )
    if not table[date].type().is_temporal():
        table = table.mutate(**{date: table[date].cast("timestamp")})
    if not table[value].type().is_numeric():
        raise CommandError(
            f"{path}: column {value!r} (--value) is {table[value].type()}, not a number"
        )

    if calibration_end:
        try:
            end = dt.date.fromisoformat(calibration_end)
        except ValueError as exc:
            raise CommandError(
                f"--calibration-end {calibration_end!r}: expected a date as YYYY-MM-DD"
            ) from exc
    else:
        try:
            last = con.execute(table[date].max())
        except Exception as exc:
            raise CommandError(f"{path}: column {date!r} (--date) is not a date: {exc}") from exc
        if last is None:
            raise CommandError(f"{path}: no transactions")
        end = last.date() if isinstance(last, dt.datetime) else last
    try:
        summary = con.to_pyarrow(
            transaction_summary(
                table,
                customer_col=customer,
                date_col=date,
                value_col=value,
                observation_end=end,
            )
        ).to_pandas()
    except Exception as exc:
        raise CommandError(f"{path}: cannot summarise the transactions: {exc}") from exc
    if summary.empty:
        raise CommandError(f"{path}: no transactions up to {end}")
    if (summary["frequency"] > 0).sum() == 0:
        raise CommandError(f"{path}: no customer bought twice up to {end}; nothing to fit")
    scale = DAYS_PER_UNIT[time_unit]
    summary["recency"] /= scale
    summary["T"] /= scale
    about = {
        "customers": len(summary),
        "repeat_buyers": int((summary["frequency"] > 0).sum()),
        "calibration_end": end.isoformat(),
        "time_unit": time_unit,
        "model": model,
    }
    if model == "pareto-nbd":
        pareto = fit_pareto_nbd_parameters(summary)
        return {
            **{name: getattr(pareto, name) for name in PARETO_PARAMETERS},
            "log_likelihood": {"pareto_nbd": pareto.log_likelihood},
            **about,
        }
    fit = fit_clv_models(summary)
    return {
        **{name: getattr(fit, name) for name in PARAMETERS},
        "log_likelihood": {
            "bgnbd": fit.bgnbd_log_likelihood,
            "gamma_gamma": fit.gamma_gamma_log_likelihood,
        },
        **about,
    }
