"""A Lambda function that creates the scanner's schema in PostgreSQL, idempotently.

The database driver comes from a layer, not from this code:
- `DB_DRIVER=pg8000` (default) needs the `pg8000` layer (pure Python, any
  runtime and architecture): `lambdalayer build pg8000`;
- `DB_DRIVER=psycopg2` needs the `psycopg2-binary` layer built for the
  function's runtime and architecture:
  `lambdalayer build psycopg2-binary --runtime python3.11 --arch x86_64`.

Connection settings come from the environment: DB_HOST, DB_PORT (5432),
DB_USER, DB_PASSWORD, DB_NAME, and DB_SSL=1 to require TLS (RDS). Running it
twice changes nothing the second time; the result says what it found and did.
"""

from __future__ import annotations

import os
import ssl
from typing import Any

# Three tables: the instruments scanned, each scan run, and what a run found.
SCHEMA: tuple[tuple[str, str], ...] = (
    ("tickers", """
        CREATE TABLE IF NOT EXISTS tickers (
            symbol     text PRIMARY KEY,
            name       text NOT NULL,
            exchange   text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        )"""),
    ("scans", """
        CREATE TABLE IF NOT EXISTS scans (
            id          bigserial PRIMARY KEY,
            started_at  timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            status      text NOT NULL DEFAULT 'running'
                        CHECK (status IN ('running', 'succeeded', 'failed'))
        )"""),
    ("signals", """
        CREATE TABLE IF NOT EXISTS signals (
            id         bigserial PRIMARY KEY,
            scan_id    bigint NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
            symbol     text NOT NULL REFERENCES tickers (symbol),
            kind       text NOT NULL,
            score      double precision,
            created_at timestamptz NOT NULL DEFAULT now()
        )"""),
)
INDEXES = ("CREATE INDEX IF NOT EXISTS signals_symbol_idx ON signals (symbol)",)
# One session at a time: a second concurrent invocation waits instead of racing.
LOCK_KEY = 0x5CA11E2


def _settings() -> dict[str, Any]:
    missing = [k for k in ("DB_HOST", "DB_USER", "DB_PASSWORD", "DB_NAME") if not os.environ.get(k)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    return {
        "host": os.environ["DB_HOST"],
        "port": int(os.environ.get("DB_PORT", "5432")),
        "user": os.environ["DB_USER"],
        "password": os.environ["DB_PASSWORD"],
        "database": os.environ["DB_NAME"],
        "ssl": os.environ.get("DB_SSL", "").lower() in {"1", "true", "yes", "require"},
    }


def connect() -> tuple[str, Any]:
    """(driver name, DB-API connection) for the driver DB_DRIVER names."""
    s = _settings()
    driver = os.environ.get("DB_DRIVER", "pg8000")
    if driver == "pg8000":
        import pg8000.dbapi

        return driver, pg8000.dbapi.connect(
            user=s["user"], password=s["password"], host=s["host"], port=s["port"],
            database=s["database"], timeout=10,
            ssl_context=ssl.create_default_context() if s["ssl"] else None)
    if driver == "psycopg2":
        import psycopg2

        return driver, psycopg2.connect(
            user=s["user"], password=s["password"], host=s["host"], port=s["port"],
            dbname=s["database"], connect_timeout=10,
            sslmode="require" if s["ssl"] else "prefer")
    raise RuntimeError(f"DB_DRIVER={driver!r}: use pg8000 or psycopg2")


def _existing(cursor: Any) -> set[str]:
    cursor.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        ([name for name, _ in SCHEMA],))
    return {row[0] for row in cursor.fetchall()}


def handler(event: Any, context: Any) -> dict[str, Any]:
    """Create the tables that are missing; return what existed and what was created."""
    driver, conn = connect()
    try:
        cursor = conn.cursor()
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
        before = _existing(cursor)
        for _name, ddl in SCHEMA:
            cursor.execute(ddl)
        for ddl in INDEXES:
            cursor.execute(ddl)
        after = _existing(cursor)
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
        conn.commit()  # also releases the advisory lock
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()
    return {
        "driver": driver,
        "server_version": version,
        "tables": sorted(after),
        "created": sorted(after - before),
        "existing": sorted(before),
    }
