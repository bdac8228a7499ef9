"""Shared by the benchmarks: a fresh database per run, and ``guanxi`` commands against it."""

import os
import subprocess
import sys
from pathlib import Path


def guanxi(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(Path(sys.executable).with_name("guanxi")), *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )


def fresh_database(database_url: str | None, workdir: Path) -> dict:
    """Environment for the child processes: a new empty database."""
    env = {k: v for k, v in os.environ.items() if k != "GUANXI_JOBS_IMMEDIATE"}
    env["GUANXI_DATA_DIR"] = str(workdir)
    env["PYTHONWARNINGS"] = "ignore"
    if database_url:
        import psycopg

        name = database_url.rsplit("/", 1)[1]
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')
            con.execute(f'CREATE DATABASE "{name}"')
        env["DATABASE_URL"] = database_url
        env.setdefault("SECRET_KEY", "bench-only")
    else:
        env.pop("DATABASE_URL", None)
    return env
