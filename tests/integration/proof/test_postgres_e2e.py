"""End to end: built layers talk to a real PostgreSQL from a Lambda-like interpreter.

The handlers of examples/makenaide (whose shared package comes from the layer, or,
with a plain driver layer, with the function's code) run through `lambdalayer test --handler
--event` on CPython 3.11, isolated (-I -S) with Lambda's sys.path, so the
driver can only come from the layer. The server requires SCRAM-SHA-256.
"""

from __future__ import annotations

import json
import platform
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from tests.conftest import require
from tests.helpers import run_cli
from tests.integration.proof.postgres import Server, pg_tool, running_server

pytestmark = [pytest.mark.network, pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MAKENAIDE = EXAMPLES / "makenaide"
TABLES = ["scans", "signals", "tickers"]
# The psycopg2-binary layer holds native code: it is built for, and run on, this host's arch.
HOST_ARCH = ({"x86_64": "x86_64", "aarch64": "arm64"}.get(platform.machine())
             if platform.system() == "Linux" else None)


@pytest.fixture(scope="module")
def server() -> Iterator[Server]:
    require(all(pg_tool(t) for t in ("initdb", "pg_ctl", "psql")),
            "PostgreSQL server binaries (initdb, pg_ctl, psql) are not installed")
    with running_server() as started:
        yield started


@pytest.fixture(autouse=True)
def _python311() -> None:
    require(find_interpreter("3.11") is not None,
            "CPython 3.11 is not installed (pyenv install 3.11)")


def _reset(server: Server) -> None:
    server.psql("DROP TABLE IF EXISTS signals, scans, tickers")


def _function_code(tmp_path: Path) -> Path:
    """makenaide's db-initializer as one function's code (/var/task): its handler and the
    shared package beside it, for a layer that holds only a driver."""
    code = tmp_path / "function"
    shutil.copytree(MAKENAIDE / "db_initializer", code,
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(MAKENAIDE / "common" / "makenaide_common", code / "makenaide_common",
                    ignore=shutil.ignore_patterns("__pycache__"))
    return code


def _invoke(zip_path: Path, server: Server, driver: str, *imports: str,
            code: Path) -> dict[str, object]:
    args = ["test", str(zip_path), "--runtime", "python3.11", "--arch", HOST_ARCH or "x86_64",
            "--code", str(code), "--handler", "handler.handler", "--event", "{}", "--json"]
    for module in imports:
        args += ["--import", module]
    env = {**server.env(), "DB_DRIVER": driver}
    for name in sorted(env):  # the handler sees only what is passed on purpose
        args += ["--pass-env", name]
    run = run_cli(*args, env=env)
    assert run.returncode == 0, (run.stdout, run.stderr)
    document = run.json()
    assert document["status"] == "passed"
    [target] = document["targets"]
    assert target["python_version"].startswith("3.11.")
    return target  # type: ignore[no-any-return]


def _assert_schema(server: Server) -> None:
    listed = server.psql(
        "SELECT string_agg(table_name, ',' ORDER BY table_name) FROM information_schema.tables "
        "WHERE table_schema = 'public'")
    assert listed.split(",") == TABLES
    # The handler's role logged in with a SCRAM verifier: the SCRAM exchange really ran.
    assert server.psql("SELECT rolpassword LIKE 'SCRAM-SHA-256$%' FROM pg_authid "
                       "WHERE rolname = 'lambda_app'") == "t"
    assert server.psql("SELECT count(*) FROM pg_indexes WHERE indexname = 'signals_symbol_idx'") \
        == "1"


def test_pg8000_layer_creates_the_schema_idempotently(server: Server, tmp_path: Path) -> None:
    build = run_cli("build", "pg8000", "--runtime", "python3.11", "--out", str(tmp_path))
    assert build.returncode == 0, build.stderr
    _reset(server)

    code = _function_code(tmp_path)
    first = _invoke(tmp_path / "pg8000.zip", server, "pg8000", "pg8000", "scramp", code=code)
    # The driver and its SCRAM implementation came from the layer, nowhere else.
    origins = {i["module"]: i["origin"] for i in first["imports"]}  # type: ignore[attr-defined]
    assert origins == {"pg8000": "/opt/python/pg8000/__init__.py",
                       "scramp": "/opt/python/scramp/__init__.py"}
    handler = first["handler"]
    assert handler["ok"] and handler["invoked"], handler  # type: ignore[index]
    assert handler["origin"] == "/var/task/handler.py"  # type: ignore[index]
    result = handler["result"]  # type: ignore[index]
    assert result["driver"] == "pg8000"
    assert result["created"] == TABLES and result["existing"] == []
    _assert_schema(server)

    again = _invoke(tmp_path / "pg8000.zip", server, "pg8000", code=code)["handler"]
    assert again["result"]["created"] == [] and again["result"]["existing"] == TABLES  # type: ignore[index]
    _assert_schema(server)


def test_psycopg2_binary_layer_creates_the_schema(server: Server, tmp_path: Path) -> None:
    require(HOST_ARCH is not None, "needs a Linux x86_64 or aarch64 host")
    assert HOST_ARCH is not None
    build = run_cli("build", "psycopg2-binary", "--runtime", "python3.11", "--arch", HOST_ARCH,
                    "--out", str(tmp_path))
    assert build.returncode == 0, build.stderr
    [zip_path] = sorted(tmp_path.glob("*.zip"))
    _reset(server)

    code = _function_code(tmp_path)
    first = _invoke(zip_path, server, "psycopg2", "psycopg2", "psycopg2._psycopg", code=code)
    site = "/opt/python/lib/python3.11/site-packages"
    origins = {i["module"]: i["origin"] for i in first["imports"]}  # type: ignore[attr-defined]
    assert origins["psycopg2"] == f"{site}/psycopg2/__init__.py"
    assert origins["psycopg2._psycopg"].startswith(f"{site}/psycopg2/_psycopg.cpython-311-")
    result = first["handler"]["result"]  # type: ignore[index]
    assert result["driver"] == "psycopg2"
    assert result["created"] == TABLES
    _assert_schema(server)

    again = _invoke(zip_path, server, "psycopg2", code=code)["handler"]["result"]  # type: ignore[index]
    assert again["created"] == [] and again["existing"] == TABLES


def test_handler_error_is_the_drivers_own(server: Server, tmp_path: Path) -> None:
    """A wrong password fails the test (exit 6) with pg8000's own error text."""
    build = run_cli("build", "pg8000", "--runtime", "python3.11", "--out", str(tmp_path))
    assert build.returncode == 0, build.stderr
    env = {**server.env(), "DB_PASSWORD": "wrong", "DB_DRIVER": "pg8000"}
    passed = [arg for name in sorted(env) for arg in ("--pass-env", name)]
    run = run_cli("test", str(tmp_path / "pg8000.zip"), "--runtime", "python3.11", "--arch",
                  HOST_ARCH or "x86_64", "--code", str(_function_code(tmp_path)),
                  "--handler", "handler.handler",
                  "--event", "{}", "--json", *passed, env=env)
    assert run.returncode == 6, run.stderr
    handler = json.loads(run.stdout)["targets"][0]["handler"]
    assert not handler["ok"] and handler["invoked"]
    assert "password authentication failed" in handler["error"]
    assert "Traceback" not in run.stderr  # --json: the traceback is in the document only


def test_makenaide_functions_share_the_layers_own_package(server: Server,
                                                         tmp_path: Path) -> None:
    """The example's config puts makenaide_common in the layer; both handlers use it."""
    project = tmp_path / "makenaide"
    shutil.copytree(EXAMPLES / "makenaide", project,
                    ignore=shutil.ignore_patterns("dist", "__pycache__"))
    build = run_cli("build", "--locked", "--runtime", "python3.11", "--json", cwd=project)
    assert build.returncode == 0, build.stderr
    zip_path = project / "dist" / "makenaide-pg8000.zip"
    _reset(server)

    init = _invoke(zip_path, server, "pg8000", "makenaide_common.db", "pg8000",
                   code=project / "db_initializer")
    origins = {i["module"]: i["origin"] for i in init["imports"]}  # type: ignore[attr-defined]
    assert origins == {"makenaide_common.db": "/opt/python/makenaide_common/db.py",
                       "pg8000": "/opt/python/pg8000/__init__.py"}
    result = init["handler"]["result"]  # type: ignore[index]
    assert (result["existing"], result["created"]) == ([], TABLES)

    scan = _invoke(zip_path, server, "pg8000", code=project / "scanner")["handler"]
    assert scan["ok"], scan  # type: ignore[index]
    assert scan["result"]["tables"] == TABLES and scan["result"]["scans"] == 1  # type: ignore[index]
    assert server.psql("SELECT status FROM scans") == "succeeded"

    again = _invoke(zip_path, server, "pg8000", code=project / "db_initializer")["handler"]
    result = again["result"]  # type: ignore[index]
    assert (result["existing"], result["created"]) == (TABLES, [])
