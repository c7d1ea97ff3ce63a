"""makenaide-db-initializer: creates the scanner's schema, with the layer's shared code."""

from __future__ import annotations

from typing import Any

from makenaide_common.db import driver, transaction
from makenaide_common.schema import ensure_schema


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    """Create the tables that are missing; return what existed and what was created."""
    with transaction() as cursor:
        existing, created = ensure_schema(cursor)
        cursor.execute("SHOW server_version")
        version = cursor.fetchone()[0]
    return {"driver": driver(), "server_version": version, "existing": existing,
            "created": created}
