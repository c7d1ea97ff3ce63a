"""The one way makenaide's functions connect to PostgreSQL.

Settings come from the environment: DB_HOST, DB_PORT (5432), DB_USER,
DB_PASSWORD, DB_NAME, DB_SSL=1 to require TLS (RDS), and DB_DRIVER: `pg8000`
(the default: pure Python, in the same layer) or `psycopg2` (when the function
also has a psycopg2-binary layer, built for its runtime and architecture).
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Iterator
from typing import Any

REQUIRED = ("DB_HOST", "DB_USER", "DB_PASSWORD", "DB_NAME")


def driver() -> str:
    return os.environ.get("DB_DRIVER", "pg8000")


def connect() -> Any:
    """A DB-API connection; RuntimeError naming the settings that are missing."""
    missing = [k for k in REQUIRED if not os.environ.get(k)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    tls = os.environ.get("DB_SSL", "").lower() in {"1", "true", "yes", "require"}
    port = int(os.environ.get("DB_PORT", "5432"))
    if driver() == "pg8000":
        import pg8000.dbapi

        return pg8000.dbapi.connect(
            user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"],
            host=os.environ["DB_HOST"], port=port, database=os.environ["DB_NAME"], timeout=10,
            ssl_context=ssl.create_default_context() if tls else None)
    if driver() == "psycopg2":
        import psycopg2

        return psycopg2.connect(
            user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"],
            host=os.environ["DB_HOST"], port=port, dbname=os.environ["DB_NAME"],
            connect_timeout=10, sslmode="require" if tls else "prefer")
    raise RuntimeError(f"DB_DRIVER={driver()!r}: use pg8000 or psycopg2")


@contextlib.contextmanager
def transaction() -> Iterator[Any]:
    """A cursor in one transaction: committed on success, rolled back on error, closed."""
    conn = connect()
    try:
        yield conn.cursor()
        conn.commit()
    except Exception:
        conn.rollback()
        raise
    finally:
        conn.close()
