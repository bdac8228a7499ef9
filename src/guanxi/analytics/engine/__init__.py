"""Table access for analytics: read the database into Arrow, run Ibis on DuckDB or Spark."""

from guanxi.analytics.engine.backends import ENGINES, connect, engine_name, spark_session
from guanxi.analytics.engine.inputs import Inputs, load_inputs, normalise_as_of

__all__ = [
    "ENGINES",
    "Inputs",
    "connect",
    "engine_name",
    "load_inputs",
    "normalise_as_of",
    "spark_session",
]
