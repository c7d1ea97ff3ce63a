"""Hostile packages: a layer whose import tries every escape from the proof's box.

One wheel, `evil`, whose import reads the host's secrets, connects to host sockets,
plants bytecode that would forge a later proof, changes the layer's files and uv's
cache, forks a process meant to outlive the build and fills /tmp; layers that write
garbage into the proof's answer stream are the second test. It runs under each box
this host can make (bubblewrap and the `box` fallback). Each attempt must do no harm:
the secret reaches no output, nothing on the host changes, nothing outlives the
build, and the clean layer built after it is judged exactly as with a fresh cache
(docs/proof-threat-model.md).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lambdalayer.interpreters.find import find_interpreter
from tests.conftest import require
from tests.helpers import run_cli
from tests.package_index import make_wheel, serve_index

pytestmark = pytest.mark.slow

SECRET = "AKIAHOSTILE0SECRET0123"
VICTIM = b"raise ImportError('the victim fails at import, with any cache')\n"

EVIL = '''
import glob, marshal, os, socket, sys, time
import importlib.util
CFG = {cfg!r}
reached = []
def attempt(what, action):
    try:
        action()
        reached.append(what)
    except Exception:
        pass
attempt("read the credentials file", lambda: open(CFG["secret_file"]).read())
attempt("listed the home folder", lambda: os.listdir(CFG["home"]) or 1 / 0)
attempt("read a file in the real home folder", lambda: open(CFG["canary"]).read())
def unix():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(CFG["unix_socket"])
    s.sendall(b"stolen")
attempt("a host unix socket", unix)
attempt("a host TCP port", lambda: socket.create_connection(("127.0.0.1", CFG["port"]), 2))
def environ():
    for path in glob.glob("/proc/*/environ"):
        try:
            if CFG["secret"].encode() in open(path, "rb").read():
                return
        except OSError:
            pass
    1 / 0
attempt("a process environment", environ)
# Bytecode that would make the victim's import pass, for every cache folder in reach.
digest = bytes.fromhex(CFG["victim_sha"])
forged = (importlib.util.MAGIC_NUMBER + (1).to_bytes(4, "little") + digest[:8]
          + marshal.dumps(compile("VALUE = 'forged'", "victim", "exec")))
def plant():
    done = 0
    sha, tag = CFG["victim_sha"], sys.implementation.cache_tag
    for folder in (glob.glob(CFG["cache"] + "/proof-bytecode/*")
                   + glob.glob("/*/proof-bytecode/*")):
        os.makedirs(f"{{folder}}/{{sha[:2]}}", exist_ok=True)
        with open(f"{{folder}}/{{sha[:2]}}/{{sha}}.{{tag}}.pyc", "wb") as f:
            f.write(forged)
        done += 1
    done or 1 / 0
attempt("planted bytecode", plant)
def tamper():
    done = 0
    for path in (glob.glob("/opt/python/**/*.py", recursive=True)
                 + glob.glob(CFG["uv_cache"] + "/**/evil/*.py", recursive=True)
                 + glob.glob(CFG["tmp"] + "/lambdalayer-*/**/evil/*.py", recursive=True)):
        with open(path, "a") as f:
            f.write("\\nTAMPERED = True\\n")
        done += 1
    done or 1 / 0
attempt("changed the layer or uv's cache", tamper)
def bashrc():
    with open(CFG["home"] + "/.bashrc", "a") as f:
        f.write("echo pwned\\n")
attempt("wrote into the home folder", bashrc)
if os.fork() == 0:
    os.setsid()
    time.sleep(20)
    try:
        open(CFG["tmp"] + "/outlived", "w").write("still here")
    finally:
        os._exit(0)
def fill():
    with open("/tmp/fill", "wb") as f:
        for _ in range(2048):
            f.write(b"\\0" * (1 << 20))
attempt("wrote 2 GiB into /tmp", fill)
if reached:
    raise RuntimeError("the layer reached: " + ", ".join(reached) + " " + CFG["secret"] * 0)
'''


def _boxes() -> list[str]:
    return ["bwrap", "box"]


@pytest.fixture
def host(tmp_path: Path) -> Iterator[dict[str, object]]:
    """A home folder with credentials, a unix socket and a TCP port on the host."""
    home = tmp_path / "home"
    (home / ".aws").mkdir(parents=True)
    (home / ".aws" / "credentials").write_text(f"[default]\naws_secret_access_key = {SECRET}\n")
    (home / ".bashrc").write_text("# mine\n")
    # A file in the real home folder, as an attacker guesses ~/.aws/credentials there.
    canary = Path.home() / f".lambdalayer-canary-{os.getpid()}-{tmp_path.name[-12:]}"
    canary.write_text(SECRET)
    unix = socket.socket(socket.AF_UNIX)
    unix.bind(str(tmp_path / "agent.sock"))
    unix.listen(4)
    tcp = socket.create_server(("127.0.0.1", 0))
    tcp.listen(4)
    try:
        yield {"home": str(home), "secret_file": str(home / ".aws" / "credentials"),
               "unix_socket": str(tmp_path / "agent.sock"), "port": tcp.getsockname()[1],
               "canary": str(canary)}
    finally:
        canary.unlink()
        unix.close()
        tcp.close()


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and not p.is_symlink()}


@pytest.mark.parametrize("box", _boxes())
def test_a_hostile_package_does_no_harm_and_forges_nothing(
        tmp_path: Path, host: dict[str, object], box: str) -> None:
    require(find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    require(shutil.which("bwrap" if box == "bwrap" else "unshare") is not None,
            f"{box}'s program (bubblewrap / util-linux unshare)")
    victim_sha = hashlib.sha256(VICTIM).hexdigest()
    cache, uv_cache, scratch = tmp_path / "cache", tmp_path / "uv", tmp_path / "tmp"
    scratch.mkdir()
    cfg = {**host, "secret": SECRET, "victim_sha": victim_sha, "cache": str(cache),
           "uv_cache": str(uv_cache), "tmp": str(scratch)}
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "evil", "1.0",
               files={"evil/__init__.py": EVIL.format(cfg=cfg).encode()})
    make_wheel(wheels, "victim", "1.0", files={"victim/__init__.py": VICTIM})
    env = {"LAMBDALAYER_CACHE_DIR": str(cache), "UV_CACHE_DIR": str(uv_cache),
           "TMPDIR": str(scratch), "LAMBDALAYER_SANDBOX": box,
           "AWS_SECRET_ACCESS_KEY": SECRET, "HOME": str(host["home"])}
    home_before = _tree(Path(str(host["home"])))

    def build(name: str, *packages: str, fresh: bool = False) -> tuple[int, str]:
        run = run_cli("build", name, *(a for p in packages for a in ("-p", p)),
                      "--index-url", url, "--runtime", "python3.12", "--arch", "x86_64",
                      "--out", str(tmp_path / "dist"), "--force",
                      env={**env, **({"LAMBDALAYER_CACHE_DIR": str(tmp_path / "fresh")}
                                     if fresh else {})}, timeout=300)
        assert "Traceback" not in run.stderr, run.stderr
        assert SECRET not in run.stdout + run.stderr
        return run.returncode, run.stdout + run.stderr

    with serve_index(wheels) as url:
        code, said = build("evil", "evil")
        assert code == 0, said  # nothing was reached, so its import passed
        with zipfile.ZipFile(tmp_path / "dist" / "evil.zip") as layer:
            shipped = layer.read("python/evil/__init__.py").decode()
        assert shipped == EVIL.format(cfg=cfg)  # as audited: nothing appended
        assert not [p for p in uv_cache.rglob("*.py")
                    if p.read_bytes().endswith(b"TAMPERED = True\n")]
        assert _tree(Path(str(host["home"]))) == home_before
        assert not [p for p in (cache / "proof-bytecode").rglob(f"{victim_sha}*")]
        # The victim fails at import: with the cache the hostile build left, exactly as
        # with a fresh one.
        fresh_code, fresh_said = build("victim", "victim", fresh=True)
        code, said = build("victim", "victim")
        assert (code, fresh_code) == (6, 6), said
        assert "the victim fails at import" in said and "the victim fails" in fresh_said
    # Nothing outlived the builds: no process, no file it meant to leave.
    # (The proof's command line names this test's cache folder: no other test's runs.)
    assert subprocess.run(["pgrep", "-f", str(cache)], capture_output=True).stdout == b""
    assert not (scratch / "outlived").exists()
    assert [p.name for p in scratch.iterdir()] == []


@pytest.mark.parametrize("box", _boxes())
def test_garbage_answers_are_a_failed_proof_not_a_traceback(tmp_path: Path, box: str) -> None:
    """The layer's code writes the proof's answer stream itself: malformed records, a
    JSON bomb, an answer without end, an answer over the cap."""
    require(find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    cases = {
        "garbage": "import os\nos.write(3, b'not json\\n')\n",
        "bomb": "import os\nos.write(3, b'[' * 500000 + b'\\n')\n",
        "noend": "import os\nos._exit(0)\n",
        "shape": "import os\nos.write(3, b'{\"kind\": \"import\", \"module\": 1}\\n')\n",
        "flood": "import os\nfor _ in range(40):\n    os.write(3, b'x' * (1 << 20))\n",
    }
    for name, body in cases.items():
        layer = tmp_path / name
        (layer / "python" / "mod").mkdir(parents=True)
        # The results stream is the first free descriptor the runner duplicated (3).
        (layer / "python" / "mod" / "__init__.py").write_text(body)
        run = run_cli("test", str(layer), "--runtime", "python3.12", "--arch", "x86_64",
                      env={"LAMBDALAYER_SANDBOX": box}, timeout=120)
        assert run.returncode == 6, (name, run.stdout, run.stderr)
        assert "Traceback (most recent call last)" not in run.stderr, (name, run.stderr)


HUNTER = '''
import glob
for path in glob.glob({tmp!r} + "/lambdalayer-*/**/hunter/__init__.py", recursive=True):
    with open(path, "a") as handle:
        handle.write("\\n# changed after the audit\\n")
'''


def test_without_a_box_code_that_writes_into_the_real_tree_stops_the_build(
        tmp_path: Path) -> None:
    """Unboxed, the proof runs on a private copy of the layer; code that hunts the build's
    own tree down and writes into it is caught before anything is zipped (exit 4)."""
    require(find_interpreter("3.12") is not None, "CPython 3.12 (pyenv install 3.12)")
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    wheels = tmp_path / "wheels"
    make_wheel(wheels, "hunter", "1.0",
               files={"hunter/__init__.py": HUNTER.format(tmp=str(scratch)).encode()})
    with serve_index(wheels) as url:
        run = run_cli("build", "hunter", "-p", "hunter", "--index-url", url, "--runtime",
                      "python3.12", "--arch", "x86_64", "--out", str(tmp_path / "dist"),
                      env={"LAMBDALAYER_SANDBOX": "none", "TMPDIR": str(scratch),
                           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "cache")}, timeout=300)
    assert run.returncode == 4, run.stderr
    assert "changed after the audit read them (python/hunter/__init__.py)" in run.stderr
    assert "Traceback" not in run.stderr
    assert not (tmp_path / "dist" / "hunter.zip").exists()
    dist = tmp_path / "dist"
    assert not dist.exists() or not list(dist.glob(".*partial*"))
