"""A throwaway PostgreSQL server on loopback for the end-to-end tests.

initdb refuses to run as root, and CI runs as root: the cluster then belongs
to an unprivileged account (`postgres` when the package created it, else
`nobody`) and lives in a directory under /tmp that account owns. Password
authentication is SCRAM-SHA-256 on 127.0.0.1, so a client that logs in has
done the SCRAM exchange (scramp's job in the pg8000 layer).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

PG_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def pg_tool(name: str) -> str | None:
    """initdb/pg_ctl/psql from PATH, else from the newest /usr/lib/postgresql/*/bin."""
    found = shutil.which(name)
    if found:
        return found
    for directory in PG_DIRS:
        if (directory / name).exists():
            return str(directory / name)
    return None


@dataclass(frozen=True)
class Server:
    host: str
    port: int
    user: str
    password: str
    database: str
    socket_dir: Path

    def env(self) -> dict[str, str]:
        """The handler's settings (examples/makenaide's makenaide_common.db reads these)."""
        return {"DB_HOST": self.host, "DB_PORT": str(self.port), "DB_USER": self.user,
                "DB_PASSWORD": self.password, "DB_NAME": self.database}

    def psql(self, sql: str) -> str:
        """Run `sql` as the superuser over the Unix socket; unaligned, tuples only."""
        psql = pg_tool("psql")
        assert psql is not None
        completed = subprocess.run(
            [psql, "-h", str(self.socket_dir), "-p", str(self.port), "-U", "postgres",
             "-d", self.database, "-v", "ON_ERROR_STOP=1", "-A", "-t", "-c", sql],
            capture_output=True, text=True, check=True, timeout=60)
        return completed.stdout.strip()


def _owner() -> tuple[int, int]:
    """(uid, gid) to run the server as: ourselves, unless we are root."""
    if os.geteuid() != 0:
        return os.geteuid(), os.getegid()
    for name in ("postgres", "nobody"):
        with contextlib.suppress(KeyError):
            entry = pwd.getpwnam(name)
            return entry.pw_uid, entry.pw_gid
    raise RuntimeError("running as root and neither a 'postgres' nor a 'nobody' account exists")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_server(password: str = "s3cret-for-tests") -> Iterator[Server]:
    """Start a fresh cluster, create role `lambda_app` (SCRAM password) and db `scanner`."""
    initdb, pg_ctl = pg_tool("initdb"), pg_tool("pg_ctl")
    assert initdb and pg_ctl
    uid, gid = _owner()
    base = Path(tempfile.mkdtemp(prefix="lambdalayer-pg-"))
    os.chown(base, uid, gid)
    data, sockets, pwfile = base / "data", base / "sockets", base / "pwfile"
    sockets.mkdir()
    os.chown(sockets, uid, gid)
    pwfile.write_text("superuser-" + password + "\n")
    os.chown(pwfile, uid, gid)
    as_owner = {"user": uid, "group": gid, "extra_groups": []} if os.geteuid() == 0 else {}
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}

    def run(*args: str) -> None:
        done = subprocess.run(list(args), capture_output=True, text=True, env=env, cwd=base,
                              timeout=120, check=False, **as_owner)  # type: ignore[call-overload]
        if done.returncode != 0:
            log = base / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n"
                               f"{done.stdout}\n{done.stderr}\n{tail}")

    port = _free_port()
    try:
        run(initdb, "-D", str(data), "-U", "postgres", f"--pwfile={pwfile}",
            "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write(f"\nlisten_addresses = '127.0.0.1'\nport = {port}\n"
                       f"unix_socket_directories = '{sockets}'\n"
                       "password_encryption = 'scram-sha-256'\nfsync = off\n")
        # Only loopback, only with a SCRAM password; local socket stays trust for setup.
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n")
        run(pg_ctl, "-D", str(data), "-l", str(base / "server.log"), "-w", "-t", "60", "start")
        server = Server(host="127.0.0.1", port=port, user="lambda_app", password=password,
                        database="postgres", socket_dir=sockets)
        server.psql(f"CREATE ROLE lambda_app LOGIN PASSWORD '{password}'")
        server.psql("CREATE DATABASE scanner OWNER lambda_app")
        yield Server(host="127.0.0.1", port=port, user="lambda_app", password=password,
                     database="scanner", socket_dir=sockets)
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            run(pg_ctl, "-D", str(data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)
