"""The one way makenaide's functions connect to PostgreSQL (pg8000, from the same layer).

Settings come from the environment: DB_HOST, DB_PORT (5432), DB_USER,
DB_PASSWORD, DB_NAME, and DB_SSL=1 to require TLS (RDS).
"""

from __future__ import annotations

import contextlib
import os
import ssl
from collections.abc import Iterator
from typing import Any

import pg8000.dbapi

REQUIRED = ("DB_HOST", "DB_USER", "DB_PASSWORD", "DB_NAME")


def connect() -> Any:
    """A DB-API connection; RuntimeError naming the settings that are missing."""
    missing = [k for k in REQUIRED if not os.environ.get(k)]
    if missing:
        raise RuntimeError(f"missing environment variables: {', '.join(missing)}")
    tls = os.environ.get("DB_SSL", "").lower() in {"1", "true", "yes", "require"}
    return pg8000.dbapi.connect(
        user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"],
        host=os.environ["DB_HOST"], port=int(os.environ.get("DB_PORT", "5432")),
        database=os.environ["DB_NAME"], timeout=10,
        ssl_context=ssl.create_default_context() if tls else None)


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
