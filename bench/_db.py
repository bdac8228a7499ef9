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


def fresh_database(database_url: str | None, workdir: Path, template: str | None = None) -> dict:
    """Environment for the child processes: a new empty database (on PostgreSQL, a copy of the
    database ``template`` when given)."""
    env = {k: v for k, v in os.environ.items() if k != "GUANXI_JOBS_IMMEDIATE"}
    env["GUANXI_DATA_DIR"] = str(workdir)
    env["PYTHONWARNINGS"] = "ignore"
    if database_url:
        import psycopg

        name = database_url.rsplit("/", 1)[1]
        admin = database_url.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True) as con:
            con.execute(f'DROP DATABASE IF EXISTS "{name}"')
            copy = f' TEMPLATE "{template}"' if template else ""
            con.execute(f'CREATE DATABASE "{name}"{copy}')
        env["DATABASE_URL"] = database_url
        env.setdefault("SECRET_KEY", "bench-only")
    else:
        env.pop("DATABASE_URL", None)
    return env


def save_database(database_url: str, as_name: str) -> None:
    """Keep a copy of the PostgreSQL database of ``database_url`` as ``as_name``."""
    import psycopg

    name = database_url.rsplit("/", 1)[1]
    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'DROP DATABASE IF EXISTS "{as_name}"')
        con.execute(f'CREATE DATABASE "{as_name}" TEMPLATE "{name}"')


def database_exists(database_url: str, name: str) -> bool:
    import psycopg

    admin = database_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as con:
        return bool(con.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone())
