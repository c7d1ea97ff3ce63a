"""makenaide-scanner: records a scan run, through the layer's shared connection helper."""

from __future__ import annotations

from typing import Any

from makenaide_common.db import transaction
from makenaide_common.schema import existing_tables


def handler(event: dict[str, Any], context: object) -> dict[str, Any]:
    with transaction() as cursor:
        tables = existing_tables(cursor)
        if "scans" not in tables:
            raise RuntimeError("run makenaide-db-initializer first: the scans table is missing")
        cursor.execute("INSERT INTO scans (status) VALUES ('succeeded') RETURNING id")
        scan_id = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM scans")
        return {"scan_id": scan_id, "scans": cursor.fetchone()[0], "tables": sorted(tables)}
