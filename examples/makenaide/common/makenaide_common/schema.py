"""The scanner's tables, created idempotently by the db-initializer function."""

from __future__ import annotations

from typing import Any

# Three tables: the instruments scanned, each scan run, and what a run found.
TABLES: tuple[tuple[str, str], ...] = (
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
# One initializer at a time: a second concurrent invocation waits instead of racing.
LOCK_KEY = 0x5CA11E2


def existing_tables(cursor: Any) -> set[str]:
    cursor.execute(
        "SELECT table_name FROM information_schema.tables "
        "WHERE table_schema = current_schema() AND table_name = ANY(%s)",
        ([name for name, _ in TABLES],))
    return {row[0] for row in cursor.fetchall()}


def ensure_schema(cursor: Any) -> tuple[list[str], list[str]]:
    """(tables that existed, tables created); running it twice creates nothing the second time."""
    cursor.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
    before = existing_tables(cursor)
    for _name, ddl in TABLES:
        cursor.execute(ddl)
    for ddl in INDEXES:
        cursor.execute(ddl)
    return sorted(before), sorted(existing_tables(cursor) - before)
