"""Ibis backends with the input tables registered: DuckDB in-process (default) or Spark.

Every computation in :mod:`guanxi.analytics.scoring` is an Ibis expression over the tables named
here, so the same code runs on either engine; ``expr.to_pyarrow()`` brings the result back.
"""

from __future__ import annotations

import logging
import os
import threading

import ibis
import pyarrow as pa
from django.conf import settings

ENGINES = ("duckdb", "spark")
log = logging.getLogger("guanxi.analytics")

_spark_lock = threading.Lock()
_spark_session = None


def engine_name(engine: str | None = None) -> str:
    """The engine to use: ``engine`` if given, else ``settings.GUANXI_ANALYTICS_ENGINE``."""
    name = (engine or getattr(settings, "GUANXI_ANALYTICS_ENGINE", "duckdb") or "duckdb").lower()
    if name not in ENGINES:
        raise ValueError(f"unknown analytics engine {name!r}; use one of {', '.join(ENGINES)}")
    return name


def spark_session():
    """One local-mode SparkSession per process, created on first use and reused.

    ``local[2]`` with few shuffle partitions suits one machine; a cluster deployment sets
    ``SPARK_MASTER`` (and Spark's own configuration) instead. UTC session time zone so that
    timestamps mean the same on both engines.
    """
    global _spark_session
    with _spark_lock:
        if _spark_session is None:
            from pyspark.sql import SparkSession

            master = os.environ.get("SPARK_MASTER", "local[2]")
            builder = (
                SparkSession.builder.master(master)
                .appName("guanxi-analytics")
                .config("spark.sql.session.timeZone", "UTC")
                .config("spark.sql.shuffle.partitions", "4")
                .config("spark.default.parallelism", "4")
                .config("spark.sql.execution.arrow.pyspark.enabled", "true")
                .config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.ansi.enabled", "false")
                .config("spark.driver.memory", os.environ.get("SPARK_DRIVER_MEMORY", "2g"))
            )
            _spark_session = builder.getOrCreate()
            _spark_session.sparkContext.setLogLevel("ERROR")
        return _spark_session


def connect(engine: str | None = None, tables: dict[str, pa.Table] | None = None):
    """An Ibis backend for ``engine`` ("duckdb" or "spark") with ``tables`` registered by name."""
    name = engine_name(engine)
    tables = tables or {}
    if name == "duckdb":
        con = ibis.duckdb.connect()
        for table_name, table in tables.items():
            # A zero-copy view over the Arrow table (DuckDB scans Arrow natively).
            con.con.register(table_name, table)
        return con
    session = spark_session()
    con = ibis.pyspark.connect(session)
    for table_name, table in tables.items():
        register_spark_table(session, table_name, table)
    return con


def register_spark_table(session, name: str, table: pa.Table) -> None:
    """Make an Arrow table visible to Spark SQL as the temporary view ``name``."""
    if table.num_rows == 0:
        frame = session.createDataFrame([], schema=_spark_schema(table.schema))
    else:
        frame = session.createDataFrame(table)
    frame.createOrReplaceTempView(name)


def _spark_schema(schema: pa.Schema):
    from pyspark.sql import types as T

    def convert(dtype: pa.DataType):
        if pa.types.is_integer(dtype):
            return T.LongType()
        if pa.types.is_floating(dtype):
            return T.DoubleType()
        if pa.types.is_timestamp(dtype):
            return T.TimestampType()
        if pa.types.is_date(dtype):
            return T.DateType()
        if pa.types.is_boolean(dtype):
            return T.BooleanType()
        return T.StringType()

    return T.StructType([T.StructField(f.name, convert(f.type), True) for f in schema])
