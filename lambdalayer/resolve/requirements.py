"""What the user asked for: requirement specs and requirement files, validated up front."""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.common.errors import UsageError
from lambdalayer.common.uvtool import layer_link_mode
from lambdalayer.resolve.index_settings import IndexSettings

if TYPE_CHECKING:
    from packaging.requirements import Requirement

    from lambdalayer.common.distinfo import InstalledDist
    from lambdalayer.common.uvtool import StartedUv
    from lambdalayer.resolve.pylock import Pylock

# packaging is imported inside the functions that parse: an up-to-date build
# only needs `exact_pins` on plain `name==version` lines, which the regex
# below answers without it (start-up time is a product goal).
_HASH_OPTION = re.compile(r"\s--hash[=\s]\S+")
_EXACT_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*===?\s*([A-Za-z0-9.!+_-]+)\s*$")
# A name alone (`-p pg8000`), valid PEP 508 by construction and never a pin: a cold build's
# uv starts without packaging's parser (docs/performance.md).
_BARE_NAME = re.compile(r"^\s*[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?\s*$")


def _canonical(name: str) -> str:
    """PEP 503 normalisation, as packaging.utils.canonicalize_name does it."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, kw_only=True)
class LocalRef:
    """A path given where a requirement is accepted: a project directory or a wheel file."""

    path: Path  # absolute
    label: str  # as the user wrote it (relative to the config file, -r file or cwd)


@dataclass(frozen=True, kw_only=True)
class RequirementFile:
    path: Path
    text: str
    requirements: tuple[Requirement, ...]
    hashed: bool  # every requirement line carries --hash (a pip-compile / uv lock file)
    # Lines naming local projects (built into wheels by owncode/local_projects.py before uv
    # sees them).
    local_projects: tuple[LocalRef, ...] = ()
    base: Path | None = None  # what relative paths in it are relative to (default: its dir)
    # The text is not at `path` (e.g. `uv export` output): it is written out before use.
    virtual: bool = False
    pylock: Pylock | None = None  # read from a PEP 751 lock (resolve/pylock.py)


@dataclass(frozen=True, kw_only=True)
class RequirementInputs:
    """Requirement specs (`-p`, recipes) and files (`-r`), each already validated."""

    specs: tuple[str, ...] = ()
    files: tuple[RequirementFile, ...] = ()
    local_projects: tuple[LocalRef, ...] = ()  # paths given as -p / config `packages`
    index: IndexSettings = field(default_factory=IndexSettings)  # --index-url & co

    @property
    def all_local_projects(self) -> tuple[LocalRef, ...]:
        found = [*self.local_projects, *(r for f in self.files for r in f.local_projects)]
        return tuple(dict.fromkeys(found))

    @property
    def empty(self) -> bool:
        """Nothing to install (a layer of source folders or included files only)."""
        return not (self.specs or self.files or self.local_projects)

    @cached_property
    def _parsed_specs(self) -> tuple[Requirement, ...]:
        """Parsed once: exact_pins asks again for every target (ten for a recipe)."""
        from packaging.requirements import Requirement

        return tuple(Requirement(spec) for spec in self.specs)

    @property
    def all_requirements(self) -> list[Requirement]:
        found = list(self._parsed_specs)
        for req_file in self.files:
            found.extend(req_file.requirements)
        return found

    @property
    def direct_names(self) -> frozenset[str]:
        """The canonical names required by URL or path: your local projects (once built,
        `name @ file:///…whl`) and `name @ URL`. uv installs them from there; no index is
        ever asked about them, so a public project of the same name never stands in for
        yours (docs/own-code.md, "Your names stay yours")."""
        return frozenset(_canonical(r.name) for r in self.all_requirements if r.url)

    @property
    def pylocks(self) -> tuple[Pylock, ...]:
        """The PEP 751 locks among the files, to check against the targets."""
        return tuple(f.pylock for f in self.files if f.pylock is not None)

    @property
    def require_hashes(self) -> bool:
        """Hash-checking mode: only when every input is a hashed lock file."""
        return bool(self.files) and not self.specs and all(f.hashed for f in self.files)

    def exact_pins(self, environment: dict[str, str] | None = None) -> dict[str, str] | None:
        """name -> version when every requirement is `name==version` for all targets, else None.

        When the pins also cover every resolved package, the resolution cannot change,
        which lets `build` skip re-resolving an unchanged layer. With a target's marker
        `environment`, a requirement whose marker leaves the target out does not count,
        and one whose marker takes it in is a pin like any other (the pg8000 recipe pins
        older releases for python3.9/3.10 only).
        """
        if self.all_local_projects:
            return None  # a local project's version is known only once it is built
        if any(_BARE_NAME.match(spec) for spec in self.specs):
            return None  # no version, no marker: not a pin for any target
        pins: dict[str, str] = {}
        lines = list(self.specs) + [str(r) for f in self.files for r in f.requirements]
        fast = [_EXACT_PIN.match(line) for line in lines]
        if all(fast):
            return {_canonical(m.group(1)): m.group(2) for m in fast if m}
        for req in self.all_requirements:
            specifiers = list(req.specifier)
            if req.marker is not None and environment is not None:
                if not req.marker.evaluate(environment):
                    continue
            elif req.marker is not None:
                return None
            if req.url or len(specifiers) != 1:
                return None
            spec = specifiers[0]
            if spec.operator not in ("==", "===") or "*" in spec.version:
                return None
            pins[_canonical(req.name)] = spec.version
        return pins

    def closed_over(self, dists: tuple[InstalledDist, ...],
                    environment: dict[str, str]) -> bool:
        """True when every dependency of every one of `dists`, on the target whose marker
        values are `environment`, is among them: installed without resolving
        (`--no-deps`), exact pins named the whole closure."""
        installed = {d.name: d.version for d in dists}
        extras: dict[str, set[str]] = {}
        # Extras asked for anywhere (conservatively, whatever the marker): checking
        # more dependencies than needed only costs a normal resolution.
        for req in [*self.all_requirements, *(r for d in dists for r in d.requires)]:
            extras.setdefault(_canonical(req.name), set()).update(req.extras)
        for dist in dists:
            for req in dist.requires:
                wanted = ["", *sorted(extras.get(dist.name, ()))]
                if req.marker is not None and not any(
                        req.marker.evaluate({**environment, "extra": e}) for e in wanted):
                    continue
                version = installed.get(_canonical(req.name))
                if version is None or not req.specifier.contains(version, prereleases=True):
                    return False
        return True

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for spec in self.specs:
            digest.update(b"spec\0" + spec.encode() + b"\0")
        for ref in self.local_projects:
            digest.update(b"local\0" + str(ref.path).encode() + b"\0")
        for req_file in self.files:
            # Comments do not change what is installed (a lock's header names its target).
            content = "\n".join(line for _, line in _logical_lines(req_file.text))
            digest.update(b"file\0" + content.encode() + b"\0")
        if self.index:
            # Where packages come from changes what is installed; a rotated token does not.
            import json

            digest.update(b"index\0" + json.dumps(self.index.record(), sort_keys=True).encode())
        return digest.hexdigest()


_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def local_path(spec: str, base: Path) -> Path | None:
    """The path `spec` names when it is a local project rather than a requirement, else None.

    As pip reads them: `./dir`, `../dir`, `/abs/dir`, `~/dir`, anything with a path
    separator, `file://` URLs, `name @ file://...`, and `-e PATH` (built non-editable:
    a layer holds copies, not links to a checkout).
    """
    text = spec.strip()
    for flag in ("-e ", "--editable ", "--editable="):
        if text.startswith(flag):
            text = text[len(flag):].strip()
    if text.startswith("-"):
        return None  # another option (-r, -c, --index-url ...): passed to uv as it is
    if " @ " in text or "@file:" in text:
        text = text.split("@", 1)[1].strip()
    if text.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return Path(unquote(urlparse(text).path))
    if _URL_SCHEME.match(text) or text.startswith("git+"):
        return None
    if text.startswith((".", "/", "~")) or "/" in text or "\\" in text:
        return (base / Path(text).expanduser()).resolve()
    return None


def local_ref(path: Path, label: str) -> LocalRef:
    """Check that `path` is a project directory or a wheel; UsageError naming `label` if not."""
    if not path.exists():
        raise UsageError(f"{label}: {path} does not exist. Give the path of a project "
                         "directory (with pyproject.toml or setup.py) or of a wheel.")
    if path.is_dir():
        if not ((path / "pyproject.toml").is_file() or (path / "setup.py").is_file()):
            raise UsageError(
                f"{label}: {path} has no pyproject.toml or setup.py, so it is not a project "
                "that can be built into a wheel. For a plain folder of modules use "
                "--source DIR (config `sources`).")
    elif not path.name.endswith(".whl"):
        raise UsageError(f"{label}: {path} is neither a project directory nor a wheel (.whl).")
    return LocalRef(path=path.resolve(), label=label)


def parse_spec(spec: str, *, origin: str = "-p") -> str:
    """Validate one PEP 508 requirement; UsageError naming where it came from otherwise."""
    if _EXACT_PIN.match(spec) or _BARE_NAME.match(spec):
        return spec.strip()  # `name==version` and `name` are valid by construction
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        Requirement(spec)
    except InvalidRequirement as exc:
        raise UsageError(
            f"{origin}: {spec!r} is not a valid requirement ({exc}). "
            "Write it as pip would, e.g. 'orjson>=3.10' or 'psycopg[binary]==3.2.3'."
        ) from None
    return spec.strip()


def _logical_lines(text: str) -> list[tuple[int, str]]:
    """Join backslash continuations and drop comments; keep the first line number."""
    lines: list[tuple[int, str]] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split(" #", 1)[0].rstrip() if not raw.lstrip().startswith("#") else ""
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        pending += line
        if pending.strip():
            lines.append((start, pending.strip()))
        pending = ""
    if pending.strip():
        lines.append((start, pending.strip()))
    return lines


def read_requirement_file(path: Path) -> RequirementFile:
    """Read and validate a requirements file (pip / pip-compile / uv format), or a
    PEP 751 lock (`pylock.toml`, `pylock.NAME.toml`) as the hashed requirements it pins."""
    from lambdalayer.resolve.pylock import is_pylock, read_pylock

    if is_pylock(path):
        lock = read_pylock(path)
        read = parse_requirement_text(lock.requirement_text(), path, virtual=True)
        return replace(read, path=path.resolve(), hashed=True, pylock=lock)
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise UsageError(f"-r {path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"-r {path}: cannot read it ({exc}).") from None
    return parse_requirement_text(text, path)


def split_local_line(line: str, base: Path) -> tuple[str, Path | None]:
    """(the line without --hash options, the local path it names or None)."""
    body = _HASH_OPTION.sub("", " " + line).strip()
    return body, local_path(body, base)


def parse_requirement_text(text: str, path: Path, *, base: Path | None = None,
                           virtual: bool = False) -> RequirementFile:
    """Validate requirements text; local paths in it are relative to `base` (default: its dir)."""
    from packaging.requirements import InvalidRequirement, Requirement

    requirements: list[Requirement] = []
    locals_: list[LocalRef] = []
    hashed: list[bool] = []
    unhashed: list[tuple[int, str]] = []
    for number, line in _logical_lines(text):
        body, local = split_local_line(line, base or path.parent)
        if local is not None:
            locals_.append(local_ref(local, f"{path}:{number}"))
            continue
        if line.startswith("-"):
            # Options (-i, --index-url, -c, --hash continuation...) are passed to uv as-is.
            continue
        try:
            requirements.append(Requirement(body))
        except InvalidRequirement as exc:
            raise UsageError(f"{path}:{number}: {body!r} is not a valid requirement ({exc}).") \
                from None
        hashed.append("--hash" in line)
        if not hashed[-1]:
            unhashed.append((number, body))
    if any(hashed) and unhashed:
        _refuse_some_hashes(path, unhashed)
    if not requirements and not locals_ and not virtual:
        raise UsageError(f"-r {path}: the file names no requirements.")
    return RequirementFile(
        path=path if virtual else path.resolve(), text=text, requirements=tuple(requirements),
        hashed=bool(hashed) and all(hashed), local_projects=tuple(locals_), base=base,
        virtual=virtual,
    )


def _refuse_some_hashes(path: Path, unhashed: list[tuple[int, str]]) -> None:
    """Hashes on some lines only: pip refuses that file (one --hash turns on hash-checking
    for every requirement), so a layer built from it would not be the one pip checks."""
    shown = ", ".join(f"{number} ({body})" for number, body in unhashed[:5])
    more = f" and {len(unhashed) - 5} more" if len(unhashed) > 5 else ""
    raise UsageError(
        f"-r {path}: some requirements carry --hash and others do not; hashes are all or "
        f"nothing, as in pip. Lines without a hash: {shown}{more}.",
        hint="Regenerate the file with hashes for every line (`uv pip compile "
             "--generate-hashes`, `pip-compile --generate-hashes`, or `lambdalayer lock`), "
             "or remove every --hash.")


def logical_lines(text: str) -> list[tuple[int, str]]:
    """The file's requirement lines, continuations joined and comments dropped."""
    return _logical_lines(text)


def pip_install_args(inputs: RequirementInputs, *, uv_platform: str, python_version: str,
                     dest: Path, no_binary: frozenset[str] = frozenset(),
                     no_deps: bool = False) -> list[str]:
    """`uv pip install --target` for one target: binary wheels only, markers for the target."""
    args = [
        "pip", "install", "--target", str(dest),
        "--python-platform", uv_platform,
        "--python-version", python_version,
        "--only-binary", ":all:",
        "--no-installer-metadata",
        "--link-mode", layer_link_mode(),
    ]
    for name in sorted(no_binary):
        args += ["--no-binary", name]
    if inputs.require_hashes:
        args.append("--require-hashes")
    if no_deps:
        args.append("--no-deps")
    args += inputs.index.uv_args()
    for req_file in inputs.files:
        args += ["-r", str(req_file.path)]
    return [*args, *_specs_off_the_command_line(inputs.specs, dest)]


def start_install(inputs: RequirementInputs, runtime_name: str, arch: str, *,
                  dest: Path) -> StartedUv | None:
    """uv started now on installing `inputs` for (`runtime_name`, `arch`) into `dest`, as
    resolver.resolve_for_target would (it picks the run up when the args agree); None when
    there is nothing to install."""
    if inputs.empty:
        return None
    from lambdalayer.common.uvtool import start_uv
    from lambdalayer.targets.runtimes import load_runtime_table

    table = load_runtime_table()
    runtime = table.runtime(runtime_name)
    args = pip_install_args(inputs, uv_platform=table.uv_platform(runtime, arch),
                            python_version=runtime.python_version, dest=dest,
                            no_deps=inputs.exact_pins() is not None)
    return start_uv(args, env=inputs.index.uv_env())


def _specs_off_the_command_line(specs: tuple[str, ...], dest: Path) -> list[str]:
    """`specs` for uv's command line, except those carrying credentials (`pkg @
    https://user:token@host/...`): any local user can read a command line
    (/proc/PID/cmdline), so those go into a private requirements file beside `dest`,
    passed with -r (docs/trust.md)."""
    from lambdalayer.common.redact import redact_text

    secret = [spec for spec in specs if redact_text(spec) != spec]
    if not secret:
        return list(specs)
    path = dest.with_name(f"{dest.name}-credential-specs.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)
    with os.fdopen(os.open(path, flags, 0o600), "wb") as handle:
        handle.write("".join(f"{spec}\n" for spec in secret).encode("utf-8"))
    return [*(spec for spec in specs if spec not in secret), "-r", str(path)]
