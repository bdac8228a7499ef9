"""Identity resolution with Splink: which profiles (or rows of a file) are the same person.

Works on any subset of Guanxi's profile fields (``PROFILE_MATCH_FIELDS``); a Fellegi-Sunter
model is trained without labels (random sampling for u, expectation maximisation for m) and
scores candidate pairs found by blocking rules. DuckDB is the default backend; with
``GUANXI_IDENTITY_ENGINE=spark`` the same settings run on Spark (``SparkAPI``).
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import pandas as pd

PROFILE_MATCH_FIELDS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "birthday",
    "street",
    "city",
    "postcode",
    "state",
)
# Above this a pair merges automatically; between REVIEW and AUTO it waits for a person.
AUTO_MERGE_THRESHOLD = 0.99
REVIEW_THRESHOLD = 0.80

_SPACES = re.compile(r"\s+")
_NON_DIGITS = re.compile(r"\D")


@dataclass
class LinkResult:
    pairs: pd.DataFrame  # id_l, id_r, match_probability (+ source_l/source_r when linking)
    fields: list[str]
    seconds: float
    candidates: int = 0
    settings: dict = field(default_factory=dict)


def clean_frame(df: pd.DataFrame, id_column: str, fields: Sequence[str]) -> pd.DataFrame:
    """Normalise the match fields: lower-cased, trimmed, blanks as NULL; digits-only phones;
    birthdays as ISO dates (text)."""
    out = pd.DataFrame({"unique_id": df[id_column].astype(str)})
    for name in fields:
        col = df[name]
        if name == "birthday":
            parsed = pd.to_datetime(col.astype("string"), errors="coerce", format="mixed")
            out[name] = parsed.dt.strftime("%Y-%m-%d").astype("string")
            continue
        text = col.astype("string").str.strip().str.lower()
        text = text.str.replace(_SPACES, " ", regex=True)
        if name == "phone":
            text = text.str.replace(_NON_DIGITS, "", regex=True).str[-9:]
        if name == "postcode":
            text = text.str.replace(" ", "", regex=False)
        out[name] = text.replace({"": pd.NA, "nan": pd.NA, "none": pd.NA})
    return out


def _comparisons(fields: Sequence[str], date_format: str = "%Y-%m-%d"):
    import splink.comparison_library as cl

    comparisons = []
    for name in fields:
        if name in ("first_name", "last_name"):
            comparisons.append(cl.NameComparison(name))
        elif name == "email":
            # Typos (one or two letters, "gmial.com") rather than Jaro-Winkler, which scores
            # role addresses with a long shared prefix ("purchasing123@…") as near matches.
            comparisons.append(cl.LevenshteinAtThresholds(name, [1, 2]))
        elif name == "birthday":
            comparisons.append(
                cl.DateOfBirthComparison(name, input_is_string=True, datetime_format=date_format)
            )
        elif name == "postcode":
            comparisons.append(cl.LevenshteinAtThresholds(name, [1]))
        elif name == "street":
            comparisons.append(cl.JaroWinklerAtThresholds(name, [0.9, 0.7]))
        elif name == "city":
            comparisons.append(cl.JaroWinklerAtThresholds(name, [0.9]))
        elif name == "phone":
            comparisons.append(cl.LevenshteinAtThresholds(name, [1, 2]))
        else:
            comparisons.append(cl.ExactMatch(name))
    return comparisons


def _blocking_rules(fields: Sequence[str]):
    from splink import block_on

    have = set(fields)
    combos = [
        ("email",),
        ("phone",),
        ("first_name", "last_name"),
        ("last_name", "birthday"),
        ("first_name", "birthday"),
        ("postcode", "last_name"),
        ("postcode", "first_name"),
        ("street", "city"),
        ("birthday", "postcode"),
        ("first_name", "city"),
        ("last_name", "city"),
        ("street", "postcode"),
        ("birthday", "city"),
        ("birthday", "state"),
    ]
    rules = [block_on(*c) for c in combos if have.issuperset(c)]
    if not rules:
        rules = [block_on(f) for f in fields[:2]]
    return rules, [c for c in combos if have.issuperset(c)]


def _db_api(engine: str | None):
    from django.conf import settings

    engine = engine or getattr(settings, "GUANXI_IDENTITY_ENGINE", "duckdb")
    if engine == "spark":
        from pyspark.sql import SparkSession
        from splink import SparkAPI
        from splink.backends.spark import similarity_jar_location

        # Splink's string-similarity UDFs live in a jar that must be on the driver's class path
        # when the session starts (a session started without it cannot load it later).
        master = os.environ.get("SPARK_MASTER", "local[2]")
        spark = (
            SparkSession.builder.master(master)
            .appName("guanxi-identity")
            .config("spark.jars", similarity_jar_location())
            .config("spark.sql.shuffle.partitions", "8")
            .config("spark.default.parallelism", "8")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "2g"))
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        spark.sparkContext.setCheckpointDir(tempfile.mkdtemp(prefix="guanxi-splink-"))
        return SparkAPI(spark_session=spark), spark
    from splink import DuckDBAPI

    return DuckDBAPI(), None


def link_frames(
    frames: Sequence[pd.DataFrame],
    *,
    id_column: str = "id",
    fields: Sequence[str] | None = None,
    threshold: float = REVIEW_THRESHOLD,
    engine: str | None = None,
    max_pairs_for_u: float = 5e5,
) -> LinkResult:
    """Deduplicate one frame or link two; returns pairs scoring at or above ``threshold``.

    ``fields``: which profile fields to compare (default: those present in every frame).
    """
    from splink import Linker, SettingsCreator

    started = time.perf_counter()
    if fields is None:
        fields = [f for f in PROFILE_MATCH_FIELDS if all(f in df.columns for df in frames)]
    fields = list(fields)
    if not fields:
        raise ValueError(
            "no profile fields to compare; use some of: " + ", ".join(PROFILE_MATCH_FIELDS)
        )
    for i, df in enumerate(frames):
        if id_column not in df.columns:
            raise ValueError(f"file {i + 1} has no id column {id_column!r}")
    cleaned = [clean_frame(df, id_column, fields) for df in frames]
    rules, combos = _blocking_rules(fields)
    link_type = "dedupe_only" if len(frames) == 1 else "link_only"
    logging.getLogger("splink").setLevel(logging.WARNING)
    db_api, spark = _db_api(engine)
    date_format = "yyyy-MM-dd" if spark is not None else "%Y-%m-%d"
    settings = SettingsCreator(
        link_type=link_type,
        comparisons=_comparisons(fields, date_format),
        blocking_rules_to_generate_predictions=rules,
        retain_intermediate_calculation_columns=False,
        retain_matching_columns=False,
    )
    tables = [
        db_api.register(df, dataset_display_name=f"input_{i}") for i, df in enumerate(cleaned)
    ]
    linker = Linker(tables if len(tables) > 1 else tables[0], settings, log_level=logging.WARNING)
    # The prior (how many random pairs match) from strict rules, so clean data stays clean.
    strict = [
        c
        for c in (
            ("email",),
            ("phone",),
            ("first_name", "last_name", "birthday"),
            ("first_name", "last_name", "postcode"),
            ("first_name", "last_name", "street"),
        )
        if set(c) <= set(fields)
    ] or [tuple(fields)]
    deterministic = [" AND ".join(f"l.{c} = r.{c}" for c in combo) for combo in strict]
    try:
        linker.training.estimate_probability_two_random_records_match(deterministic, recall=0.8)
        prior = linker._settings_obj._probability_two_random_records_match
    except Exception:  # noqa: BLE001 - no pair meets any strict rule
        prior = 0
    if not prior:
        # Not one pair agrees on a strong identifier: the model has nothing to learn from and
        # would only invent matches. Report none.
        return LinkResult(
            pairs=pd.DataFrame(columns=["id_l", "id_r", "match_probability"]),
            fields=fields,
            seconds=time.perf_counter() - started,
        )
    linker.training.estimate_u_using_random_sampling(max_pairs=max_pairs_for_u, seed=1)
    # EM on blocks where most pairs are true matches, so every comparison gets m values.
    em_blocks = [c for c in (("email",), ("phone",)) if set(c) <= set(fields)]
    em_blocks += [c for c in combos if len(c) >= 2][: max(1, 3 - len(em_blocks))]
    em_blocks = em_blocks or [(f,) for f in fields[:2]]
    from splink import block_on

    for combo in em_blocks:
        try:
            linker.training.estimate_parameters_using_expectation_maximisation(
                block_on(*combo), fix_probability_two_random_records_match=True
            )
        except Exception as exc:  # noqa: BLE001 - a block without pairs cannot train; skip it
            logging.getLogger("guanxi.identity").info("EM on %s skipped: %s", combo, exc)
    predictions = linker.inference.predict(threshold_match_probability=threshold)
    pairs = predictions.as_pandas_dataframe()
    keep = ["unique_id_l", "unique_id_r", "match_probability"]
    if "source_dataset_l" in pairs.columns:
        keep += ["source_dataset_l", "source_dataset_r"]
    pairs = pairs[keep].rename(columns={"unique_id_l": "id_l", "unique_id_r": "id_r"})
    if link_type == "link_only" and "source_dataset_l" in pairs.columns:
        # id_l always from the first file, id_r from the second.
        swap = pairs["source_dataset_l"] != "input_0"
        pairs.loc[swap, ["id_l", "id_r"]] = pairs.loc[swap, ["id_r", "id_l"]].to_numpy()
        pairs = pairs.drop(columns=["source_dataset_l", "source_dataset_r"])
    pairs = pairs.sort_values("match_probability", ascending=False).reset_index(drop=True)
    return LinkResult(
        pairs=pairs,
        fields=fields,
        seconds=time.perf_counter() - started,
        candidates=len(pairs),
    )
