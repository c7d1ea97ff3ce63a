"""makenaide-scanner: reads recent rows with pg8000 from the shared layer."""

from __future__ import annotations

import os
from typing import Any

import pg8000.native


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    connection = pg8000.native.Connection(
        user=os.environ["DB_USER"], password=os.environ["DB_PASSWORD"],
        host=os.environ.get("DB_HOST", "localhost"), port=int(os.environ.get("DB_PORT", "5432")),
        database=os.environ.get("DB_NAME", "makenaide"),
    )
    try:
        rows = connection.run("SELECT count(*) FROM information_schema.tables "
                              "WHERE table_schema = 'public'")
        return {"tables": rows[0][0]}
    finally:
        connection.close()
