"""What interpreters the proof can use, and provisioning more (`lambdalayer interpreters`).

`available` lists, per runtime x architecture, the interpreter find.find_for
picks and how it runs. `provision` adds one to a directory find.find_for
searches (by default lambdalayer's cache, `interpreters/`): from Debian with
mmdebstrap (a root filesystem holding only CPython and its libraries,
`--variant=extract`, so nothing foreign is executed while it is made), or with
uv (`uv python install cpython-X.Y-linux-ARCH-gnu`). Nothing here prints.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from lambdalayer.common.errors import UsageError
from lambdalayer.interpreters.configured import NOTHING_CONFIGURED, ConfiguredInterpreters
from lambdalayer.interpreters.find import (
    find_for,
    host_machine,
    interpreter_dirs,
    missing_reason,
)
from lambdalayer.interpreters.launch import QEMU_PROGRAMS, can_emulate, qemu_hint
from lambdalayer.targets.target import Target

# The Debian suite carrying each CPython minor version (Debian ships one per release).
DEBIAN_SUITES = {"3.11": "bookworm", "3.13": "trixie", "3.14": "unstable"}
_DEBIAN_ARCH = {"aarch64": "arm64", "x86_64": "amd64"}
# A Debian suite or codename (bookworm, trixie-backports, stable, sid): it is mmdebstrap's
# SUITE argument and part of the root filesystem's folder name, so nothing else is taken:
# `--version` would be an option to mmdebstrap, `../x` a path out of --into.
_SUITE = re.compile(r"[a-z][a-z0-9]*(?:[.-][a-z0-9]+)*")


def check_suite(suite: str) -> None:
    """UsageError unless `suite` is a plain Debian suite or codename."""
    if len(suite) > 40 or not _SUITE.fullmatch(suite):
        raise UsageError(f"--from-debian {suite[:60]!r} is not a Debian suite name: it takes "
                         "a codename or suite in lower case letters and digits "
                         f"(e.g. {_suites()}).",
                         hint="Drop --from-debian to let uv download a CPython build.")


@dataclass(frozen=True, kw_only=True)
class Available:
    """One runtime x architecture: the interpreter the proof would use, or why none."""

    runtime: str
    arch: str
    found: bool
    how: str | None = None  # native, qemu-aarch64, the loader of ROOT
    kind: str | None = None  # native, qemu, rootfs-loader
    interpreter: str | None = None
    version: str | None = None
    source: str | None = None  # host, rootfs, uv, env, config
    reason: str | None = None


def available(targets: list[Target],
              configured: ConfiguredInterpreters = NOTHING_CONFIGURED) -> list[Available]:
    """What find_for gives for each target (native code: the target's own machine)."""
    rows = []
    for target in targets:
        version = target.runtime.python_version
        found = find_for(version, target.machine, configured)
        if found is None:
            rows.append(Available(runtime=target.runtime.name, arch=target.arch, found=False,
                                  reason=missing_reason(version, target.machine, configured)))
        else:
            rows.append(Available(runtime=target.runtime.name, arch=target.arch, found=True,
                                  how=found.launch.describe(), kind=found.launch.kind,
                                  interpreter=found.path, version=found.version,
                                  source=found.source))
    return rows


@dataclass(frozen=True, kw_only=True)
class Provisioned:
    root: Path
    interpreter: Path
    how: str  # "debian bookworm (mmdebstrap)" / "uv"
    log: Path | None = None
    warning: str | None = None  # the standard library could not be precompiled: why


def _default_dest() -> Path:
    """lambdalayer's cache, interpreters/: the cache made (marked as its own) first, since
    an unmarked cache directory is someone else's and the build would not use it."""
    from lambdalayer.common.cache import cache_root, ensure_root

    try:
        ensure_root(cache_root())
    except OSError as exc:
        raise UsageError(f"lambdalayer's cache {cache_root()} cannot take interpreters: "
                         f"{exc.strerror or exc}.",
                         hint="Point --into at a directory of yours, and LAMBDALAYER_INTERPRETERS "
                              "at it so the proof finds it.") from exc
    return interpreter_dirs()[-1]


def provision(target: Target, *, suite: str | None, dest: Path | None,
              progress: Callable[[str], None] | None = None) -> Provisioned:
    """Make a CPython for `target` available to the proof; UsageError saying what is missing."""
    machine = target.machine
    if suite is not None:
        check_suite(suite)
    if machine != host_machine() and not can_emulate(machine):
        raise UsageError(f"{target.arch} code cannot run here: "
                         f"{qemu_hint(machine, host_machine())}.",
                         hint=f"Then run this again; {QEMU_PROGRAMS[machine]} runs the "
                              "provisioned interpreter.")
    if suite is None:
        if dest is not None:
            raise UsageError("--into is where --from-debian puts a root filesystem; uv installs "
                             "into its own directory (`uv python dir`).",
                             hint="Drop --into, or set UV_PYTHON_INSTALL_DIR to choose uv's.")
        return _with_uv(target)
    return _from_debian(target, suite, dest or _default_dest(), progress)


def _uv_python_dir() -> Path | None:
    """Where uv installs CPythons (`uv python dir`), or None when uv does not say."""
    from lambdalayer.common.uvtool import run_uv

    result = run_uv(["python", "dir"], timeout=60)
    found = result.stdout.strip().splitlines()
    return Path(found[-1]) if result.returncode == 0 and found else None


def _first_missing(path: Path | None) -> Path | None:
    """The outermost folder of `path` that does not exist yet (what an install creates),
    or None when it all exists."""
    missing = None
    while path is not None and not path.exists() and path != path.parent:
        missing, path = path, path.parent
    return missing


def _with_uv(target: Target) -> Provisioned:
    from lambdalayer.common.uvtool import run_uv

    version = target.runtime.python_version
    request = f"cpython-{version}-linux-{target.machine}-gnu"
    # An explicit install: allowed unless the user forbids downloads (lambdalayer's own uv
    # runs never download CPython); no `python3.X` link on PATH, which for another
    # architecture would shadow the host's own CPython in every shell.
    created = _first_missing(_uv_python_dir())
    result = run_uv(["python", "install", request], timeout=600, env={
        "UV_PYTHON_DOWNLOADS": os.environ.get("UV_PYTHON_DOWNLOADS", "manual"),
        "UV_PYTHON_INSTALL_BIN": os.environ.get("UV_PYTHON_INSTALL_BIN", "0")})
    suite = DEBIAN_SUITES.get(version)
    if result.returncode != 0:
        if created is not None:  # what this failed install made, and nothing else
            shutil.rmtree(created, ignore_errors=True)
        # uv's first line says what failed, its last cause why (a DNS error, a 404…).
        lines = [re.sub(r"^(error|cause|Caused by):\s*", "", line.strip())
                 for line in result.stderr.splitlines() if line.strip()] or ["(no output)"]
        why = lines[0] if len(lines) == 1 else f"{lines[0]} (… {lines[-1]})"
        raise UsageError(
            f"uv could not install {request}: {why}",
            hint=(f"Without downloads from GitHub, use Debian: `lambdalayer interpreters add "
                  f"--runtime {target.runtime.name} --arch {target.arch} --from-debian "
                  f"{suite}` (needs mmdebstrap)." if suite else
                  f"Debian has no CPython {version}; give one explicitly with "
                  f"LAMBDALAYER_PYTHON_{version.replace('.', '_')}_"
                  f"{'ARM64' if target.arch == 'arm64' else 'X86_64'}=/path/to/python."))
    find_for.cache_clear()
    found = find_for(version, target.machine)
    if found is None:
        raise UsageError(
            f"uv installed {request}, but it does not run here: "
            + missing_reason(version, target.machine),
            hint="Then `lambdalayer interpreters --runtime "
                 f"{target.runtime.name} --arch {target.arch}` shows how it runs.")
    return Provisioned(root=Path(found.path).parent.parent, interpreter=Path(found.path),
                       how=f"uv, CPython {found.version}, runs {found.launch.describe()}")


def _from_debian(target: Target, suite: str, dest: Path,
                 progress: Callable[[str], None] | None) -> Provisioned:
    version = target.runtime.python_version
    mmdebstrap = shutil.which("mmdebstrap")
    if mmdebstrap is None:
        raise UsageError("mmdebstrap not found: it makes the Debian root filesystem.",
                         hint="Install it (Debian/Ubuntu: `apt-get install mmdebstrap`).")
    arch = _DEBIAN_ARCH[target.machine]
    name = f"{suite}-{arch}-python{version}"
    final = dest / name
    if (final / "usr" / "bin" / f"python{version}").exists():
        how, warning = f"debian {suite} (already there)", None
        if not stdlib_compiled(final, version):
            # Made by a release whose precompile failed under qemu: repaired in place
            # (compileall writes each .pyc atomically, so a proof running now is unharmed),
            # but only a root of this user's: in a shared folder another user's "root"
            # could hold any program.
            if final.stat().st_uid != os.getuid():
                warning = (f"{final} belongs to another user, so its standard library was "
                           "not compiled: each proof run compiles what it imports")
            else:
                if progress:
                    progress(f"precompiling python{version}'s standard library")
                warning = _precompile(final, target)
            if warning is None:
                how = f"debian {suite} (already there; standard library compiled now)"
        return Provisioned(root=final, interpreter=final / "usr" / "bin" / f"python{version}",
                           how=how, warning=warning)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=dest))
    except OSError as exc:  # a file where the folder should be (/dev/null), no permission
        why = "it is not a directory" if dest.exists() and not dest.is_dir() else (
            exc.strerror or str(exc))
        raise UsageError(f"{dest} cannot take a root filesystem: {why}.",
                         hint="Give --into a directory you can write to.") from exc
    log = dest / f"{name}.log"
    root = scratch / "root"
    command = [mmdebstrap, "--variant=extract", f"--arch={arch}",
               f"--include=python{version},libstdc++6",
               "--aptopt=Acquire::Check-Valid-Until \"false\"", suite, str(root)]
    if progress:
        progress(f"mmdebstrap {suite} {arch} python{version} (log: {log})")
    try:
        with log.open("w") as out:
            completed = subprocess.run(command, stdout=out, stderr=subprocess.STDOUT,
                                       check=False, timeout=1800)
        if completed.returncode != 0 or not (root / "usr" / "bin" / f"python{version}").exists():
            tail = "\n".join(log.read_text("utf-8", "replace").strip().splitlines()[-5:])
            raise UsageError(f"mmdebstrap could not make a {suite} {arch} root filesystem "
                             f"with python{version}:\n{tail}",
                             hint=f"The whole log is in {log}. Is {suite} a Debian suite "
                                  f"that ships python{version} ({_suites()})?")
        _merge_usr(root)
        if progress:
            progress(f"precompiling python{version}'s standard library")
        warning = _precompile(root, target)
        os.replace(root, final)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    find_for.cache_clear()
    return Provisioned(root=final, interpreter=final / "usr" / "bin" / f"python{version}",
                       how=f"debian {suite} (mmdebstrap)", log=log, warning=warning)


def _suites() -> str:
    return ", ".join(f"{suite} has {version}" for version, suite in DEBIAN_SUITES.items())


def _merge_usr(root: Path) -> None:
    """Add the merged-/usr links (lib -> usr/lib) --variant=extract leaves out."""
    for name in ("lib", "lib64", "bin", "sbin"):
        link, target = root / name, root / "usr" / name
        if not link.exists() and not link.is_symlink() and target.is_dir():
            link.symlink_to(f"usr/{name}")


def stdlib_compiled(root: Path, version: str) -> bool:
    """Whether the root filesystem's standard library has its bytecode (typing's stands for
    it: nearly every layer imports it). Debian makes it in a package's postinst, which
    --variant=extract never runs; without it every proof run compiles it again, under
    qemu about 1.5 s a run."""
    tag = f"cpython-{version.replace('.', '')}"
    return (root / "usr" / "lib" / f"python{version}" / "__pycache__" /
            f"typing.{tag}.pyc").is_file()


def _precompile(root: Path, target: Target) -> str | None:
    """Compile the standard library once; why it could not be, or None.

    compileall's own -j starts worker processes through sys.executable, which only runs
    under the launcher (qemu, the root's loader): it fails there. So each of a few
    compileall runs gets a share of the top-level entries instead, side by side.
    """
    from lambdalayer.interpreters.find import foreign_interpreter

    version = target.runtime.python_version
    exe = root / "usr" / "bin" / f"python{version}"
    interpreter = foreign_interpreter(exe, version, target.machine, root, "rootfs")
    if interpreter is None:
        return f"python{version} in {root} does not run here, so its standard library was " \
               "not precompiled"
    stdlib = root / "usr" / "lib" / f"python{version}"
    entries = sorted(str(p) for p in stdlib.iterdir()
                     if p.name not in ("test", "idlelib", "tkinter", "site-packages",
                                       "dist-packages", "__pycache__")
                     and (p.is_dir() or p.suffix == ".py"))
    shares = max(1, min(4, os.cpu_count() or 1))
    # Nothing of ours (tokens, AWS credentials) for a program we did not build.
    env = {"PATH": os.environ.get("PATH", os.defpath), "LANG": "C.UTF-8",
           **interpreter.launch.environment([])}
    # compileall -q still prints what it could not compile, on stdout. A file, not a pipe:
    # a full pipe would stall a run.
    with tempfile.TemporaryFile() as errors:
        runs = [subprocess.Popen(
            interpreter.launch.argv(str(exe), ["-I", "-m", "compileall", "-q", "-j", "1",
                                               "-x", r"/(test|idlelib|tkinter)/",
                                               *entries[n::shares]], []),
            stdout=errors, stderr=errors, env=env) for n in range(shares)]
        try:
            for run in runs:
                run.wait(timeout=1800)
        except subprocess.TimeoutExpired:
            for run in runs:
                run.kill()
                run.wait()
        errors.seek(0)
        said = errors.read().decode("utf-8", "replace").strip()
    if stdlib_compiled(root, version):
        return None
    last = said.splitlines()[-1] if said else "no output"
    return (f"python{version}'s standard library could not be precompiled ({last}): each "
            "proof run compiles what it imports, about 1.5 s more per run under qemu")
