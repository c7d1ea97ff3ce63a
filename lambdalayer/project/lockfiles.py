"""Lock files: the exact, hashed wheel set of one layer for one target.

`locks/LAYER/RUNTIME-ARCH.txt` is in requirements format with `--hash` lines,
readable by pip and uv, and meant to be committed; `lock --format pylock` writes
`locks/LAYER/pylock.RUNTIME-ARCH.toml` instead (PEP 751; the runtime's dot is an
underscore there, as PEP 751 allows none in the name). Either header records a
hash of the inputs it was made from, so `build --locked` can refuse a lock that
no longer matches the configuration.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from lambdalayer.common.errors import ResolutionError, UsageError
from lambdalayer.common.fileio import write_atomic
from lambdalayer.common.redact import strip_credentials
from lambdalayer.common.uvtool import run_uv
from lambdalayer.resolve.index_settings import IndexSettings, file_settings
from lambdalayer.resolve.requirements import (
    RequirementInputs,
    parse_requirement_text,
    read_requirement_file,
)
from lambdalayer.targets.target import Target

LOCK_FORMAT = 1
_INPUTS_LINE = re.compile(r"^# inputs: ([0-9a-f]{64})$", re.M)


@dataclass(frozen=True, kw_only=True)
class LockState:
    path: Path
    target: str
    status: str  # "fresh" | "stale" | "missing"


@dataclass(frozen=True, kw_only=True)
class WrittenLock:
    path: Path
    target: str
    packages: int
    changed: bool
    created: bool = False  # there was no lock at this path before


LOCK_FORMATS = ("requirements", "pylock")


def lock_path(locks_dir: Path, layer: str, target: Target, fmt: str | None = None) -> Path:
    """Where the lock of `fmt` goes; without `fmt`, the one a build reads: the
    requirements-format lock unless only the pylock exists."""
    folder = locks_dir / layer
    requirements = folder / f"{target.runtime.name}-{target.arch}.txt"
    pylock = folder / f"pylock.{target.runtime.name.replace('.', '_')}-{target.arch}.toml"
    if fmt is None:
        return pylock if pylock.exists() and not requirements.exists() else requirements
    return pylock if fmt == "pylock" else requirements


def inputs_hash(inputs: RequirementInputs, target: Target) -> str:
    """What a lock depends on: the requirements and the target, nothing about the host."""
    digest = hashlib.sha256(f"lock-format-{LOCK_FORMAT}\0{target}\0".encode())
    digest.update(inputs.fingerprint().encode())
    return digest.hexdigest()


def lock_state(path: Path, inputs: RequirementInputs, target: Target) -> LockState:
    if not path.exists():
        return LockState(path=path, target=str(target), status="missing")
    match = _INPUTS_LINE.search(path.read_text("utf-8"))
    fresh = match is not None and match.group(1) == inputs_hash(inputs, target)
    return LockState(path=path, target=str(target), status="fresh" if fresh else "stale")


def lock_index(inputs: RequirementInputs) -> IndexSettings:
    """The indexes `inputs` resolve from: flags and config, then what their requirement
    files say (`--extra-index-url` in requirements.txt), credentials included."""
    return inputs.index.then(file_settings(
        (f.text, f.base or f.path.parent) for f in inputs.files))


def locked_inputs(path: Path, inputs: RequirementInputs | None = None) -> RequirementInputs:
    """The lock as build inputs: every requirement pinned and hash-checked, from the
    indexes the layer's `inputs` resolve from (their credentials too: the lock holds none)."""
    if inputs is None:
        return RequirementInputs(files=(read_requirement_file(path),))
    lock = read_requirement_file(path)
    text = _with_credentials(lock.text, inputs)
    if text != lock.text:  # given to uv from the build's private work directory
        lock = replace(parse_requirement_text(text, path, virtual=True), hashed=lock.hashed)
    return RequirementInputs(files=(lock,), index=lock_index(inputs))


_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"<>]+")


def _with_credentials(text: str, inputs: RequirementInputs) -> str:
    """The lock's text with the userinfo its URLs had in the layer's inputs put back
    (`pkg @ https://user:TOKEN@host/pkg.whl`): the lock on disk never holds it."""
    known: dict[str, str] = {}
    for source in (*inputs.specs, *(f.text for f in inputs.files)):
        for match in _URL.finditer(source):
            url = match.group(0)
            if strip_credentials(url) != url:
                known[strip_credentials(url)] = url
    for bare in sorted(known, key=len, reverse=True):
        text = text.replace(bare, known[bare])
    return text


def lockable(inputs: RequirementInputs) -> bool:
    """Whether `lambdalayer lock` can lock `inputs`: index requirements only. A project's
    uv.lock is a lock already, local projects are built by each build, and a layer of
    source folders or included files has nothing to resolve."""
    return not (inputs.empty or inputs.all_local_projects
                or any(f.virtual for f in inputs.files))


def write_lock(layer: str, inputs: RequirementInputs, target: Target, path: Path,
               fmt: str = "requirements") -> WrittenLock:
    """Resolve `inputs` for `target` with uv and write the hashed lock to `path` atomically,
    as requirements or (`fmt` "pylock") a PEP 751 lock of that target's packages only."""
    if not lockable(inputs):
        raise UsageError(
            f"{layer}: only requirements from an index can be locked here. A layer from a "
            "project's uv.lock is locked already (`uv lock`); local projects are built "
            "afresh by every build, and source folders need no lock.")
    with tempfile.TemporaryDirectory(prefix="lambdalayer-lock-") as scratch:
        source = Path(scratch) / "requirements.in"
        lines = list(inputs.specs) + [f"-r {f.path}" for f in inputs.files]
        source.write_text("\n".join(lines) + "\n", "utf-8")
        result = run_uv([
            "pip", "compile", str(source), "--quiet",
            "--python-platform", target.uv_platform,
            "--python-version", target.runtime.python_version,
            "--only-binary", ":all:", "--generate-hashes", "--no-header", "--no-annotate",
            *(["--format", "pylock.toml"] if fmt == "pylock" else []),
            *inputs.index.uv_args(),
        ], env=inputs.index.uv_env())
    if result.returncode != 0:
        from lambdalayer.resolve.index_failure import index_failure
        from lambdalayer.resolve.index_settings import query_plan
        from lambdalayer.resolve.resolver import uv_lines

        unreachable = index_failure(result.stderr, query_plan(
            inputs.index, [f.text for f in inputs.files]).urls)
        if unreachable is not None:
            raise unreachable
        raise ResolutionError(f"Cannot lock {layer} for {target}:\n{uv_lines(result.stderr)}")
    # A direct URL's user:token@ never goes into a file meant to be committed.
    body = strip_credentials(result.stdout)
    index_lines = lock_index(inputs).lock_lines()
    if fmt == "pylock":  # TOML has no options: said, and passed by the build (locked_inputs)
        index_lines = [f"# {line}" for line in index_lines]
    header = (
        f"# lambdalayer lock: layer {layer}, target {target}\n"
        f"# inputs: {inputs_hash(inputs, target)}\n"
        "# Regenerate with `lambdalayer lock`; `lambdalayer build --locked` refuses a stale lock.\n"
        + ("# Index credentials are not written here: `lambdalayer build` passes the ones in "
           "your\n# configuration and requirement files; pip and uv read .netrc, keyring and "
           "UV_INDEX_* (docs/trust.md).\n" + "\n".join(index_lines) + "\n"
           if index_lines else "")
    )
    text = header + body
    created = not path.exists()
    changed = created or path.read_text("utf-8") != text
    if changed:
        write_atomic(path, text.encode("utf-8"))
    packages = (body.count("[[packages]]") if fmt == "pylock" else
                sum(1 for line in body.splitlines() if line and not line[0].isspace()
                    and not line.startswith("#")))
    return WrittenLock(path=path, target=str(target), packages=packages, changed=changed,
                       created=created)


def require_fresh(states: list[LockState]) -> None:
    """UsageError listing every lock that is missing or stale (for `build --locked`)."""
    bad = [s for s in states if s.status != "fresh"]
    if bad:
        listed = "; ".join(f"{s.path} is {s.status}" for s in bad)
        raise UsageError(f"--locked: {listed}.",
                         hint="Run `lambdalayer lock` and commit the lock files.")
