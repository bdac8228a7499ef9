"""Customer lifetime value: purchase summaries, BG/NBD + Gamma-Gamma fits, per-customer scores.

Three steps, each usable on its own:

* ``transaction_summary`` turns a transaction log into the per-customer
  frequency / recency / T / monetary_value table the buy-till-you-die models need, as one Ibis
  expression (so it runs on DuckDB and on Spark), with exactly the numbers of
  ``lifetimes.utils.summary_data_from_transaction_data``.
* ``fit_clv_models`` fits BG/NBD and Gamma-Gamma with PyMC-Marketing, by maximum likelihood
  (flat priors + MAP): this reproduces the published CDNOW parameters, the default priors do not.
* ``score_customers`` fits on a store's own summary and predicts, per customer, P(alive), churn
  risk, expected orders and value over 90/365 days, CLV and the expected date of the next order,
  or says "not enough data".

See docs/clv.md for the choices and the CDNOW reproduction.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import warnings
from dataclasses import asdict, dataclass

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
from scipy.special import gammaln, hyp2f1

logger = logging.getLogger(__name__)

# -- "not enough data" and churn bands (docs/clv.md) -------------------------------------------
# A customer gets numbers only with at least one repeat purchase and this many days observed
# since the first order: one-time buyers carry no information about their own purchase rate
# (BG/NBD would call every one of them certainly alive).
MIN_REPEAT_PURCHASES = 1
MIN_DAYS_OBSERVED = 30
# Gamma-Gamma is fitted on repeat buyers whose mean repeat spend is at least this (a cent): net
# values that cancel to ~0 (orders returned in full) are no evidence of spend, and log(1e-14)
# would dominate the likelihood; the exact ~0 also depends on the order of additions.
MIN_MEAN_SPEND = 0.01
# The store needs this many repeat buyers for the fits to mean anything; below it everyone is
# "not enough data".
MIN_REPEAT_BUYERS = 20
# P(alive) below HIGH_RISK_BELOW -> high churn risk; below LOW_RISK_FROM -> medium; else low.
HIGH_RISK_BELOW = 0.3
LOW_RISK_FROM = 0.7
# CLV: expected value over the next 12 months, discounted monthly at this rate (≈ 12.7 % a year).
CLV_MONTHS = 12
CLV_MONTHLY_DISCOUNT = 0.01
# The next order is searched for up to this many days ahead; beyond it, no date.
NEXT_ORDER_HORIZON_DAYS = 3 * 365

NOT_ENOUGH_DATA = "not_enough_data"


# -- transactions -> per-customer summary ------------------------------------------------------


def transaction_summary(
    transactions: ibis.Table,
    *,
    customer_col: str,
    date_col: str,
    value_col: str,
    observation_end: dt.date | dt.datetime,
    freq: str = "D",
    calibration_end: dt.date | dt.datetime | None = None,
) -> ibis.Table:
    """Per-customer purchase summary, as lifetimes' ``summary_data_from_transaction_data``.

    Returns one row per customer with ``customer_id`` (the ``customer_col`` values), ``frequency``
    (repeat purchase periods: purchases in the same day — or week with ``freq="W"`` — count
    once), ``recency`` (first to last purchase period), ``T`` (first purchase period to the end
    period), ``monetary_value`` (mean of the per-period value of the repeat periods, 0 without
    any), ``first_order_at`` and ``last_order_at`` (the ``date_col`` values). Times are in days
    for ``"D"`` and weeks for ``"W"`` (weeks start on Monday, as pandas' ``W`` periods). Rows in
    periods after the end period are left out, as in lifetimes.

    With ``calibration_end``, the summary describes the calibration period up to it, and
    ``frequency_holdout`` (distinct purchase periods), ``monetary_value_holdout`` (mean
    transaction value) and ``duration_holdout`` describe (calibration_end, observation_end], as
    ``lifetimes.utils.calibration_and_holdout_data`` (except that the whole calibration day
    belongs to the calibration period, also for rows with a time of day).

    Timestamps with a time zone are cut into days in the backend's session time zone; the
    analytics engine runs in UTC.
    """
    if freq not in ("D", "W"):
        raise ValueError(f"freq must be 'D' or 'W', not {freq!r}")
    end = _period_start(_as_date(observation_end), freq)
    summary_end = end if calibration_end is None else _period_start(_as_date(calibration_end), freq)
    scale = 1 if freq == "D" else 7

    t = transactions
    day = t[date_col].cast("date")
    period = day if freq == "D" else day.truncate("W")
    # Rows without a customer (guest orders) are left out, as pandas' groupby does in lifetimes.
    t = t.filter(t[customer_col].notnull())
    rows = t.select(
        customer_id=t[customer_col],
        ordered_at=t[date_col],
        period=period,
        value=t[value_col].cast("float64"),
    )

    cal = rows.filter(rows.period <= ibis.literal(summary_end))
    per_period = cal.group_by(["customer_id", "period"]).aggregate(
        value=cal.value.sum(),
        first_at=cal.ordered_at.min(),
        last_at=cal.ordered_at.max(),
    )
    # The first period's value by arg_min rather than a window over all periods: a window costs
    # ~1.5x the whole query on DuckDB. mean(repeat values) = (all - first) / repeats.
    summary = per_period.group_by("customer_id").aggregate(
        frequency=(per_period.count() - 1).cast("float64"),
        first_period=per_period.period.min(),
        last_period=per_period.period.max(),
        total_value=per_period.value.sum(),
        first_value=per_period.value.argmin(per_period.period),
        first_order_at=per_period.first_at.min(),
        last_order_at=per_period.last_at.max(),
    )
    summary = summary.mutate(
        monetary_value=ibis.ifelse(
            summary.frequency > 0,
            (summary.total_value - summary.first_value) / summary.frequency,
            0.0,
        )
    )
    summary = summary.select(
        "customer_id",
        "frequency",
        recency=summary.last_period.delta(summary.first_period, unit="day").cast("float64") / scale,
        T=ibis.literal(summary_end).delta(summary.first_period, unit="day").cast("float64") / scale,
        monetary_value="monetary_value",
        first_order_at="first_order_at",
        last_order_at="last_order_at",
    )
    if calibration_end is None:
        return summary

    held = rows.filter(
        (rows.period > ibis.literal(summary_end)) & (rows.period <= ibis.literal(end))
    )
    holdout = held.group_by(held.customer_id.name("holdout_customer_id")).aggregate(
        frequency_holdout=held.period.nunique().cast("float64"),
        monetary_value_holdout=held.value.mean(),
    )
    joined = summary.left_join(holdout, summary.customer_id == holdout.holdout_customer_id).drop(
        "holdout_customer_id"
    )
    return joined.mutate(
        frequency_holdout=joined.frequency_holdout.fill_null(0.0),
        monetary_value_holdout=joined.monetary_value_holdout.fill_null(0.0),
        duration_holdout=ibis.literal(float((end - summary_end).days / scale)),
    )


def _as_date(value: dt.date | dt.datetime | str) -> dt.date:
    if isinstance(value, str):
        value = dt.date.fromisoformat(value[:10])
    if isinstance(value, dt.datetime):
        return value.date()
    return value


def _period_start(day: dt.date, freq: str) -> dt.date:
    return day if freq == "D" else day - dt.timedelta(days=day.weekday())


# -- model fits --------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClvFit:
    """Maximum-likelihood BG/NBD and Gamma-Gamma parameters (Fader, Hardie & Lee's names).

    ``p``, ``q``, ``gamma`` are None when there were no repeat buyers with spend.
    """

    r: float
    alpha: float
    a: float
    b: float
    p: float | None
    q: float | None
    gamma: float | None
    bgnbd_log_likelihood: float
    gamma_gamma_log_likelihood: float | None
    customers: int
    repeat_buyers: int

    def as_dict(self) -> dict:
        return asdict(self)


def _flat_priors(*names: str) -> dict:
    from pymc_extras.prior import Prior

    # HalfFlat: an improper uniform prior on (0, inf), so the MAP is the maximum-likelihood
    # estimate, which is what the literature (and lifetimes) report.
    return {name: Prior("HalfFlat") for name in names}


def fit_bgnbd(summary: pd.DataFrame):
    """Fit PyMC-Marketing's ``BetaGeoModel`` by maximum likelihood (flat priors, MAP).

    ``summary`` has ``customer_id``, ``frequency``, ``recency``, ``T``.
    """
    from pymc_marketing.clv import BetaGeoModel

    data = summary[["customer_id", "frequency", "recency", "T"]].reset_index(drop=True)
    model = BetaGeoModel(model_config=_flat_priors("r", "alpha", "a", "b"))
    with _quiet():
        model.fit(data, method="map", progressbar=False)
    return model


def fit_gamma_gamma(summary: pd.DataFrame):
    """Fit PyMC-Marketing's ``GammaGammaModel`` by maximum likelihood on the repeat buyers.

    Only customers with ``frequency > 0`` and ``monetary_value >= MIN_MEAN_SPEND`` enter the fit.
    """
    from pymc_marketing.clv import GammaGammaModel

    data = summary.loc[
        _spenders(summary),
        ["customer_id", "frequency", "monetary_value"],
    ].reset_index(drop=True)
    model = GammaGammaModel(model_config=_flat_priors("p", "q", "v"))
    with _quiet():
        model.fit(data, method="map", progressbar=False)
    return model


def _spenders(summary: pd.DataFrame) -> pd.Series:
    return (summary["frequency"] > 0) & (summary["monetary_value"] >= MIN_MEAN_SPEND)


def _point(model, *names: str) -> dict[str, float]:
    posterior = model.idata.posterior
    return {name: float(posterior[name].values.ravel()[0]) for name in names}


def fit_clv_models(summary: pd.DataFrame) -> ClvFit:
    """Fit BG/NBD on all customers and Gamma-Gamma on the repeat buyers; return the parameters."""
    bg = _point(fit_bgnbd(summary), "r", "alpha", "a", "b")
    bg_ll = bgnbd_log_likelihood(summary, **bg)
    repeat = summary[_spenders(summary)]
    gg: dict[str, float | None] = {"p": None, "q": None, "gamma": None}
    gg_ll = None
    if len(repeat):
        point = _point(fit_gamma_gamma(summary), "p", "q", "v")
        gg = {"p": point["p"], "q": point["q"], "gamma": point["v"]}
        gg_ll = gamma_gamma_log_likelihood(repeat, p=point["p"], q=point["q"], gamma=point["v"])
    return ClvFit(
        **bg,
        **gg,
        bgnbd_log_likelihood=bg_ll,
        gamma_gamma_log_likelihood=gg_ll,
        customers=len(summary),
        repeat_buyers=int((summary["frequency"] > 0).sum()),
    )


@dataclass(frozen=True)
class ParetoNbdFit:
    """Maximum-likelihood Pareto/NBD parameters (Schmittlein, Morrison & Colombo 1987).

    ``r``, ``alpha``: purchase rate while alive (gamma across customers); ``s``, ``beta``: drop-out
    rate (gamma across customers). Time is in the unit of the summary's recency and T.
    """

    r: float
    alpha: float
    s: float
    beta: float
    log_likelihood: float
    customers: int
    repeat_buyers: int

    def as_dict(self) -> dict:
        return asdict(self)


def fit_pareto_nbd(summary: pd.DataFrame):
    """Fit PyMC-Marketing's ``ParetoNBDModel`` by maximum likelihood (flat priors, MAP).

    ``summary`` has ``customer_id``, ``frequency``, ``recency``, ``T``. Slower than BG/NBD (the
    likelihood needs a hypergeometric function and its gradient: ~25 s on CDNOW, mostly compiling
    the graph), so the nightly scores use BG/NBD; this is the second opinion the literature
    compares BG/NBD with (docs/clv.md).
    """
    from pymc_marketing.clv import ParetoNBDModel

    data = summary[["customer_id", "frequency", "recency", "T"]].reset_index(drop=True)
    model = ParetoNBDModel(model_config=_flat_priors("r", "alpha", "s", "beta"))
    with _quiet():
        model.fit(data, method="map", progressbar=False)
    return model


def fit_pareto_nbd_parameters(summary: pd.DataFrame) -> ParetoNbdFit:
    """Fit Pareto/NBD on all customers; the parameters and the log-likelihood at them."""
    model = fit_pareto_nbd(summary)
    point = _point(model, "r", "alpha", "s", "beta")
    return ParetoNbdFit(
        **point,
        log_likelihood=_model_log_likelihood(model, point),
        customers=len(summary),
        repeat_buyers=int((summary["frequency"] > 0).sum()),
    )


def _model_log_likelihood(model, point: dict[str, float]) -> float:
    """The PyMC model's log-density at ``point`` without Jacobians: with flat priors (log-density
    0) that is the log-likelihood of the data."""
    pm_model = model.model
    logp = pm_model.compile_logp(jacobian=False)
    values = {}
    for var in pm_model.value_vars:
        rv = pm_model.values_to_rvs[var]
        value = np.asarray(point[rv.name])
        transform = pm_model.rvs_to_transforms.get(rv)
        if transform is not None:
            value = transform.forward(value).eval()
        values[var.name] = value
    return float(logp(values))


def bgnbd_log_likelihood(summary: pd.DataFrame, *, r, alpha, a, b) -> float:
    """BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6) summed over customers."""
    x = summary["frequency"].to_numpy(float)
    t_x = summary["recency"].to_numpy(float)
    T = summary["T"].to_numpy(float)
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        a4 = np.where(x > 0, np.log(a) - np.log(b + x - 1) - (r + x) * np.log(alpha + t_x), -np.inf)
    return float(np.sum(a1 + a2 + np.logaddexp(a3, a4)))


def gamma_gamma_log_likelihood(repeat: pd.DataFrame, *, p, q, gamma) -> float:
    """Gamma-Gamma log-likelihood of the mean spend of repeat buyers (Fader & Hardie 2013)."""
    x = repeat["frequency"].to_numpy(float)
    m = repeat["monetary_value"].to_numpy(float)
    ll = (
        gammaln(p * x + q)
        - gammaln(p * x)
        - gammaln(q)
        + q * np.log(gamma)
        + (p * x - 1) * np.log(m)
        + (p * x) * np.log(x)
        - (p * x + q) * np.log(x * m + gamma)
    )
    return float(np.sum(ll))


def expected_purchases(fit: ClvFit, x, t_x, T, t) -> np.ndarray:
    """BG/NBD expected purchases in the next ``t`` periods given the history (eq. 10).

    Closed form, vectorised; used to solve for the expected next order date, and checked in the
    tests against PyMC-Marketing's ``expected_purchases``.
    """
    r, alpha, a, b = fit.r, fit.alpha, fit.a, fit.b
    x, t_x, T, t = (np.asarray(v, dtype=float) for v in (x, t_x, T, t))
    hyp = hyp2f1(r + x, b + x, a + b + x - 1, t / (alpha + T + t))
    numerator = (a + b + x - 1) / (a - 1) * (1 - hyp * ((alpha + T) / (alpha + T + t)) ** (r + x))
    with np.errstate(divide="ignore", invalid="ignore"):
        odds = np.where(x > 0, a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x), 0.0)
    return numerator / (1 + odds)


# -- per-customer scores -----------------------------------------------------------------------

SCORE_SCHEMA = pa.schema(
    [
        ("customer_id", pa.string()),
        ("p_alive", pa.float64()),
        ("churn_risk", pa.string()),
        ("expected_orders_90d", pa.float64()),
        ("expected_orders_365d", pa.float64()),
        ("expected_value_90d", pa.float64()),
        ("expected_value_365d", pa.float64()),
        ("clv", pa.float64()),
        ("next_order_date", pa.date32()),
    ]
)


def churn_risk_band(p_alive: float | None) -> str:
    """high below 0.3, medium from 0.3 to below 0.7, low from 0.7; no P(alive) → not enough data."""
    if p_alive is None or (isinstance(p_alive, float) and math.isnan(p_alive)):
        return NOT_ENOUGH_DATA
    if p_alive < HIGH_RISK_BELOW:
        return "high"
    if p_alive < LOW_RISK_FROM:
        return "medium"
    return "low"


def score_customers(summary: pa.Table, as_of: dt.datetime) -> pa.Table:
    """CLV and churn numbers per customer from a daily ``transaction_summary`` up to ``as_of``.

    Fits BG/NBD (all customers) and Gamma-Gamma (repeat buyers) on the store's own summary, by
    maximum likelihood, and returns one row per customer (``SCORE_SCHEMA``). Customers with less
    than ``MIN_REPEAT_PURCHASES`` repeat purchase or less than ``MIN_DAYS_OBSERVED`` days since
    their first order get nulls and churn risk ``"not_enough_data"``; so does everyone when the
    store has fewer than ``MIN_REPEAT_BUYERS`` repeat buyers or a fit fails. ``customer_id`` is
    returned as text.
    """
    df = summary.select(["customer_id", "frequency", "recency", "T", "monetary_value"]).to_pandas()
    df["customer_id"] = df["customer_id"].astype(str)
    n = len(df)
    out = {name: np.full(n, np.nan) for name in SCORE_SCHEMA.names[1:] if name != "churn_risk"}
    eligible = (df["frequency"].to_numpy() >= MIN_REPEAT_PURCHASES) & (
        df["T"].to_numpy() >= MIN_DAYS_OBSERVED
    )
    repeat_buyers = int(_spenders(df).sum())
    if repeat_buyers < MIN_REPEAT_BUYERS or not eligible.any():
        logger.info("CLV: %d repeat buyers, not enough to fit; no scores", repeat_buyers)
        return _score_table(df, eligible & False, out, as_of)
    try:
        bg_model = fit_bgnbd(df)
        gg_model = fit_gamma_gamma(df)
        fit = _fit_from_models(bg_model, gg_model, df)
    except Exception:  # the fit is advisory: a failure must not fail the whole refresh
        logger.exception("CLV fit failed; every customer is 'not enough data'")
        return _score_table(df, eligible & False, out, as_of)
    if not all(math.isfinite(v) and v > 0 for v in (fit.r, fit.alpha, fit.a, fit.b, fit.p, fit.q)):
        logger.warning("CLV fit gave unusable parameters %s; no scores", fit)
        return _score_table(df, eligible & False, out, as_of)

    scored = df.loc[eligible].reset_index(drop=True)
    # Gamma-Gamma is a model of positive spend; a customer whose repeat orders were returned in
    # full (net value <= 0) is predicted as spending 0 on average so far, i.e. the population's
    # mean shrunk towards 0, never a negative value.
    scored["monetary_value"] = scored["monetary_value"].clip(lower=0.0)
    x = scored["frequency"].to_numpy(float)
    t_x = scored["recency"].to_numpy(float)
    T = scored["T"].to_numpy(float)
    with _quiet():
        p_alive = _mean(bg_model.expected_probability_alive(scored))
        orders_90 = _mean(bg_model.expected_purchases(scored, future_t=90))
        orders_365 = _mean(bg_model.expected_purchases(scored, future_t=365))
        spend = _mean(gg_model.expected_customer_spend(scored))
    clv = np.zeros(len(scored))
    previous = np.zeros(len(scored))
    # Discounted 12-month value, month by month as lifetimes' customer_lifetime_value.
    for month in range(1, CLV_MONTHS + 1):
        cumulative = expected_purchases(fit, x, t_x, T, month * 30.0)
        clv += spend * (cumulative - previous) / (1 + CLV_MONTHLY_DISCOUNT) ** month
        previous = cumulative
    next_in_days = _days_to_next_order(fit, x, t_x, T)
    next_in_days[p_alive < HIGH_RISK_BELOW] = np.nan

    for name, values in (
        ("p_alive", p_alive),
        ("expected_orders_90d", orders_90),
        ("expected_orders_365d", orders_365),
        ("expected_value_90d", orders_90 * spend),
        ("expected_value_365d", orders_365 * spend),
        ("clv", clv),
        ("next_order_date", next_in_days),
    ):
        out[name][eligible] = values
    return _score_table(df, eligible, out, as_of)


def _fit_from_models(bg_model, gg_model, df: pd.DataFrame) -> ClvFit:
    bg = _point(bg_model, "r", "alpha", "a", "b")
    gg = _point(gg_model, "p", "q", "v")
    return ClvFit(
        **bg,
        p=gg["p"],
        q=gg["q"],
        gamma=gg["v"],
        bgnbd_log_likelihood=float("nan"),
        gamma_gamma_log_likelihood=None,
        customers=len(df),
        repeat_buyers=int((df["frequency"] > 0).sum()),
    )


def _days_to_next_order(fit: ClvFit, x, t_x, T) -> np.ndarray:
    """The t (days) at which the expected number of purchases reaches 1, by bisection.

    Expected purchases grow with t but level off (the customer may drop out), so many never
    reach 1 within the horizon: those get NaN (no date).
    """
    horizon = float(NEXT_ORDER_HORIZON_DAYS)
    reaches = expected_purchases(fit, x, t_x, T, np.full_like(x, horizon)) >= 1.0
    lo = np.zeros_like(x)
    hi = np.full_like(x, horizon)
    for _ in range(30):  # horizon / 2**30 is far below a day
        mid = (lo + hi) / 2
        above = expected_purchases(fit, x, t_x, T, mid) >= 1.0
        hi = np.where(above, mid, hi)
        lo = np.where(above, lo, mid)
    return np.where(reaches, np.ceil(hi), np.nan)


def _mean(values) -> np.ndarray:
    # MAP gives one chain with one draw; the mean over them is that point.
    return np.asarray(values.mean(("chain", "draw")).values, dtype=float)


def _score_table(df: pd.DataFrame, eligible: np.ndarray, out: dict, as_of: dt.datetime):
    risk = np.full(len(df), NOT_ENOUGH_DATA, dtype=object)
    if eligible.any():
        risk[eligible] = [churn_risk_band(p) for p in out["p_alive"][eligible]]
    start = _as_date(as_of)
    days = out.pop("next_order_date")
    next_dates = [
        start + dt.timedelta(days=int(d)) if not math.isnan(d) else None for d in days.tolist()
    ]
    columns = {"customer_id": pa.array(df["customer_id"], pa.string())}
    for name in SCORE_SCHEMA.names[1:]:
        if name == "churn_risk":
            columns[name] = pa.array(risk.tolist(), pa.string())
        elif name == "next_order_date":
            columns[name] = pa.array(next_dates, pa.date32())
        else:
            columns[name] = pa.array(out[name], pa.float64(), mask=np.isnan(out[name]))
    return pa.table(columns, schema=SCORE_SCHEMA)


class _quiet(warnings.catch_warnings):
    """PyMC / PyMC-Marketing warn about deprecations and MAP on every call; keep logs readable."""

    def __enter__(self):
        result = super().__enter__()
        warnings.simplefilter("ignore")
        self._pymc_logger = logging.getLogger("pymc")
        self._pymc_level = self._pymc_logger.level
        self._pymc_logger.setLevel(logging.ERROR)
        return result

    def __exit__(self, *exc):
        self._pymc_logger.setLevel(self._pymc_level)
        return super().__exit__(*exc)
