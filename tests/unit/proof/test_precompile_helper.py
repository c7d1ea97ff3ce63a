"""The helper that compiles a layer's modules beside its first proof (in_target's
precompile mode) skips what it must not open: a FIFO named like a module (opening it
would block until a writer comes) and a link to a device; it compiles the rest."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

from lambdalayer.proof import script


def test_the_helper_skips_fifos_and_devices_and_compiles_the_rest(tmp_path: Path) -> None:
    layer, cache = tmp_path / "site", tmp_path / "cache"
    layer.mkdir()
    cache.mkdir()
    (layer / "good.py").write_text("GOOD = 1\n")
    os.mkfifo(layer / "fifo.py")
    (layer / "zero.py").symlink_to("/dev/zero")
    config = {"precompile": [str(layer)], "bytecode": str(cache),
              "stop": str(tmp_path / "stop")}
    done = subprocess.run([sys.executable, "-I", "-S", "-B", "-c",
                           script.source(), json.dumps(config)],
                          capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 0, done.stderr
    name = hashlib.sha256(b"GOOD = 1\n").hexdigest()
    assert [p.name.split(".")[0] for p in cache.rglob("*.pyc")] == [name]
    said = json.loads(done.stdout)
    assert said["kind"] == "stored" and said["bytes"] > 0
