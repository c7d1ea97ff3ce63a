"""A failed sdist build, told in one line: the reason from known patterns in the
build backend's output, and the whole output kept in a log file."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common.advice import alternatives
from lambdalayer.common.cache import BUILD_LOGS_DIR, usable_root
from lambdalayer.common.errors import ResolutionError, UsageError
from lambdalayer.common.fileio import write_atomic
from lambdalayer.common.redact import redact_text

if TYPE_CHECKING:
    from lambdalayer.targets.target import Target

# (pattern in the build log, what the package needs): first match wins.
_KNOWN: tuple[tuple[str, str], ...] = (
    (r"gdal-config", "needs the GDAL C library and headers (gdal-config)"),
    (r"pg_config", "needs PostgreSQL's libpq and headers (pg_config)"),
    (r"mysql_config|mysqlclient.*pkg-config|pkg-config.*mysqlclient",
     "needs the MySQL client library and headers (mysql_config)"),
    (r"lber\.h|ldap\.h|sasl/sasl\.h", "needs the OpenLDAP/SASL headers (ldap.h)"),
    (r"libmemcached", "needs libmemcached and its headers"),
    (r"sql\.h|sqlext\.h", "needs unixODBC headers (sql.h)"),
    (r"zlib\.h", "needs the zlib headers (zlib.h)"),
    (r"Python\.h", "needs the Python headers (Python.h) to compile its C extension"),
    (r"fatal error: ([\w./+-]+\.h): No such file",
     "needs the C header {0}, which this host does not have"),
    (r"unable to execute '?[\w-]*(gcc|cc|clang)'?|command '[\w/-]*(gcc|cc)' failed",
     "compiling its C extension failed"),
    (r"Rust|cargo", "needs a Rust toolchain to compile its extension"),
)


def one_line_reason(log: str) -> str:
    """Why an sdist build failed, in one line, from known patterns in its output."""
    for pattern, reason in _KNOWN:
        match = re.search(pattern, log)
        if match:
            return reason.format(*(g or "" for g in match.groups()))
    return "its build failed (see the log)"


def write_build_log(name: str, log: str) -> Path | None:
    """Keep the whole build output where the user can read it; returns the path, or None
    when the cache directory is not lambdalayer's to write (nothing is written then)."""
    root = usable_root()
    if root is None:
        return None
    path = root / BUILD_LOGS_DIR / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.log"
    try:
        write_atomic(path, log.encode("utf-8", errors="replace"))
    except (OSError, UsageError):
        return None
    return path


def build_error(name: str, version: str, target: Target, log: str) -> ResolutionError:
    """The refusal of `name` `version`, whose sdist did not build for `target`: its reason in
    one line, the whole `log` kept (redacted) for the user."""
    reason = one_line_reason(log)
    path = write_build_log(name, redact_text(log))  # an index token never lands on disk
    better = alternatives().get(name)
    advice = f" Use {better} instead." if better else (
        " Choose a package with manylinux wheels, or pin a release that has one.")
    return ResolutionError(
        f"{name} {version} publishes no wheel for {target} and its sdist did not build: "
        f"{reason}. A Docker-free build cannot compile native code for Lambda (it would "
        f"be code for this host).{advice}",
        hint=f"The full build log: {path}" if path is not None else
        "The build log was not kept: lambdalayer's cache directory is not usable.")
