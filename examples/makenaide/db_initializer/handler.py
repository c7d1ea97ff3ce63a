"""makenaide-db-initializer: creates the scanner's schema, with the layer's shared code."""

from __future__ import annotations

from typing import Any

from makenaide_common.db import transaction
from makenaide_common.schema import ensure_schema


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    with transaction() as cursor:
        existing, created = ensure_schema(cursor)
    return {"existing": existing, "created": created}
