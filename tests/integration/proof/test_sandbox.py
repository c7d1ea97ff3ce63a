"""The proof's interpreter is sandboxed: layer code reaches neither lambdalayer's
environment (through /proc) nor the network, and the proof line says so."""

from __future__ import annotations

import os
import platform
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from tests.conftest import require
from tests.helpers import run_cli

pytestmark = pytest.mark.slow

SECRET = "ghp_sandboxSECRET0123456789"
# Imported by the proof: raises (so the import fails, naming what leaked) when it finds the
# secret in its environment or any /proc/*/environ (its parent's included), or reaches a
# TCP server on the host's loopback.
PROBE = '''
import os, socket
SECRET, PORT = {secret!r}, {port}
leaks = []
if any(SECRET in value for value in os.environ.values()):
    leaks.append("os.environ")
for pid in [str(os.getppid())] + [p for p in os.listdir("/proc") if p.isdigit()]:
    try:
        with open(f"/proc/{{pid}}/environ", "rb") as handle:
            if SECRET.encode() in handle.read():
                leaks.append(f"/proc/{{pid}}/environ")
    except OSError:
        pass
try:
    socket.create_connection(("127.0.0.1", PORT), timeout=5).close()
    leaks.append(f"a TCP connection to 127.0.0.1:{{PORT}}")
except OSError:
    pass
if leaks:
    raise RuntimeError("the layer reached " + ", ".join(sorted(set(leaks))))
'''


@pytest.fixture
def listener() -> Iterator[int]:
    """A TCP server on the host's loopback; its port."""
    server = socket.create_server(("127.0.0.1", 0))
    server.listen(8)
    try:
        yield server.getsockname()[1]
    finally:
        server.close()


def _layer(tmp_path: Path, port: int) -> Path:
    layer = tmp_path / "layer"
    (layer / "python" / "probe").mkdir(parents=True)
    (layer / "python" / "probe" / "__init__.py").write_text(PROBE.format(secret=SECRET,
                                                                         port=port))
    return layer


def _bwrap_works() -> bool:
    bwrap = shutil.which("bwrap")
    return bwrap is not None and subprocess.run(
        [bwrap, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True,
        check=False).returncode == 0


@pytest.fixture
def python312() -> None:
    require(platform.system() == "Linux" and find_interpreter("3.12") is not None,
            "a Linux host with CPython 3.12 (pyenv install 3.12)")


def test_layer_code_cannot_read_our_environment_or_reach_the_network(
        python312: None, listener: int, tmp_path: Path) -> None:
    require(_bwrap_works(), "bubblewrap (apt-get install bubblewrap) able to make namespaces")
    run = run_cli("test", str(_layer(tmp_path, listener)), "--runtime", "python3.12",
                  "--json", env={"GITHUB_TOKEN": SECRET})
    assert run.returncode == 0, run.stdout + run.stderr
    target = run.json()["targets"][0]
    assert target["status"] == "passed" and target["imports"][0]["module"] == "probe"
    assert target["sandbox"].startswith("sandboxed (bwrap:"), target
    assert "sandboxed (bwrap:" in run_cli(
        "test", str(_layer(tmp_path / "again", listener)), "--runtime", "python3.12",
        env={"GITHUB_TOKEN": SECRET}).stdout  # the test's report: stdout


def test_the_box_fallback_when_bubblewrap_is_not_chosen(python312: None, listener: int,
                                                        tmp_path: Path) -> None:
    require(shutil.which("unshare") is not None, "util-linux unshare")
    run = run_cli("test", str(_layer(tmp_path, listener)), "--runtime", "python3.12",
                  "--json", env={"GITHUB_TOKEN": SECRET, "LAMBDALAYER_SANDBOX": "box"})
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.json()["targets"][0]["sandbox"].startswith("sandboxed (box:")


def test_without_a_sandbox_the_probe_finds_the_leaks_and_the_line_says_so(
        python312: None, listener: int, tmp_path: Path) -> None:
    """The control: the same probe, unsandboxed, does reach both (so the tests above
    prove the sandbox, not a blind probe); the proof line says it was not sandboxed."""
    run = run_cli("test", str(_layer(tmp_path, listener)), "--runtime", "python3.12",
                  "--json", env={"GITHUB_TOKEN": SECRET, "LAMBDALAYER_SANDBOX": "none"})
    assert run.returncode == 6, run.stdout + run.stderr
    target = run.json()["targets"][0]
    error = target["imports"][0]["error"]
    assert "/environ" in error and "TCP connection" in error, error
    assert "os.environ" not in error  # the scrubbed environment still holds
    assert target["sandbox"] == ("NOT sandboxed (LAMBDALAYER_SANDBOX=none); only its "
                                 "environment is scrubbed")


@pytest.mark.network
def test_the_build_proof_line_says_sandboxed(python312: None, listener: int,
                                             tmp_path: Path) -> None:
    require(_bwrap_works(), "bubblewrap (apt-get install bubblewrap) able to make namespaces")
    project = tmp_path / "proj"
    (project / "src" / "probe").mkdir(parents=True)
    (project / "src" / "probe" / "__init__.py").write_text(
        PROBE.format(secret=SECRET, port=listener))
    (project / "pyproject.toml").write_text(
        '[project]\nname = "probe"\nversion = "1.0"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n')
    run = run_cli("build", "probe", "-p", str(project), "--runtime", "python3.12",
                  "--arch", "x86_64", "--out", str(tmp_path / "dist"),
                  env={"GITHUB_TOKEN": SECRET})
    assert run.returncode == 0, run.stderr
    assert "python3.12/x86_64: imported natively, CPython 3.12." in run.stdout, run.stdout
    assert "sandboxed (bwrap:" in run.stdout + run.stderr, run.stderr


ROOTS = os.environ.get("LAMBDALAYER_TEST_INTERPRETERS", "")


def test_qemu_emulated_arm64_interpreter_runs_inside_the_sandbox(listener: int,
                                                                 tmp_path: Path) -> None:
    require(platform.machine() == "x86_64" and shutil.which("qemu-aarch64") is not None,
            "qemu-user on an x86_64 host")
    require(bool(ROOTS) and _bwrap_works(),
            "arm64 root filesystems in $LAMBDALAYER_TEST_INTERPRETERS and bubblewrap")
    layer = _layer(tmp_path, listener)
    # Native code (never imported) makes the proof pick the arm64 interpreter under qemu.
    (layer / "python" / "_marker.cpython-313-aarch64-linux-gnu.so").write_bytes(b"\x7fELF")
    run = run_cli("test", str(layer), "--runtime", "python3.13", "--arch", "arm64",
                  "--import", "probe", "--json",
                  env={"GITHUB_TOKEN": SECRET, "LAMBDALAYER_INTERPRETERS": ROOTS})
    assert run.returncode == 0, run.stdout + run.stderr
    target = run.json()["targets"][0]
    assert target["how"] == "qemu-aarch64", target
    assert target["sandbox"].startswith("sandboxed (bwrap:"), target


def test_an_invoked_handler_keeps_the_network_but_not_our_environment(
        python312: None, listener: int, tmp_path: Path) -> None:
    """`test --event` calls the handler, which talks to its services (a database on the
    runner): the host's network stays, /proc/<parent>/environ does not."""
    require(_bwrap_works(), "bubblewrap (apt-get install bubblewrap) able to make namespaces")
    code = tmp_path / "code"
    code.mkdir()
    (code / "handler.py").write_text(
        "import os, socket\n"
        "def handler(event, context):\n"
        f"    socket.create_connection(('127.0.0.1', {listener}), timeout=5).close()\n"
        "    leaked = []\n"
        "    for pid in [p for p in os.listdir('/proc') if p.isdigit()]:\n"
        "        try:\n"
        "            if open(f'/proc/{pid}/environ', 'rb').read().find("
        f"{SECRET.encode()!r}) >= 0:\n"
        "                leaked.append(pid)\n"
        "        except OSError:\n"
        "            pass\n"
        "    return {'leaked': leaked}\n")
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "helper.py").write_text("VALUE = 1\n")
    run = run_cli("test", str(layer), "--runtime", "python3.12", "--code", str(code),
                  "--handler", "handler.handler", "--event", "{}", "--json",
                  env={"GITHUB_TOKEN": SECRET})
    assert run.returncode == 0, run.stdout + run.stderr
    target = run.json()["targets"][0]
    assert target["handler"]["result"] == {"leaked": []}, target
    assert "the host's network kept for the invoked handler" in target["sandbox"]


@pytest.mark.parametrize("box", ["bwrap", "box"])
def test_an_interpreter_under_opt_stands_beside_the_layer(python312: None, tmp_path: Path,
                                                          box: str) -> None:
    """actions/setup-python puts CPython in /opt/hostedtoolcache: the box's /opt is then
    the layer's entries plus the interpreter's folder, both read-only."""
    import uuid

    found = find_interpreter("3.12")
    assert found is not None
    folder = Path("/opt") / f"lltest-{uuid.uuid4().hex[:8]}"
    try:
        (folder / "bin").mkdir(parents=True)
    except OSError:
        require(False, "a writable /opt (the test places an interpreter there)")
    try:
        (folder / "bin" / "python3.12").symlink_to(os.path.realpath(found.path))
        layer = tmp_path / "layer"
        (layer / "python" / "mod").mkdir(parents=True)
        (layer / "python" / "mod" / "__init__.py").write_text(
            "import os\nassert sorted(os.listdir('/opt'))[-1] == 'python', os.listdir('/opt')\n"
            "try:\n    open('/opt/python/new', 'w')\nexcept OSError:\n    pass\n"
            "else:\n    raise RuntimeError('the layer is writable')\n"
            "try:\n    os.mkdir('/opt/new')\nexcept OSError:\n    pass\n"
            "else:\n    raise RuntimeError('/opt is writable')\n")
        run = run_cli("test", str(layer), "--runtime", "python3.12", "--arch", "x86_64",
                      "--json", env={"LAMBDALAYER_SANDBOX": box,
                                     "LAMBDALAYER_PYTHON_3_12_X86_64":
                                         str(folder / "bin" / "python3.12")})
        assert run.returncode == 0, run.stdout + run.stderr
        target = run.json()["targets"][0]
        assert target["interpreter"].startswith(str(folder)), target
        assert target["imports"][0]["origin"] == "/opt/python/mod/__init__.py"
    finally:
        shutil.rmtree(folder)
