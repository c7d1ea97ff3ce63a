"""What the user asked for: requirement specs and requirement files, validated up front."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lambdalayer.errors import UsageError

if TYPE_CHECKING:
    from packaging.requirements import Requirement

# packaging is imported inside the functions that parse: an up-to-date build
# only needs `exact_pins` on plain `name==version` lines, which the regex
# below answers without it (start-up time is a product goal).
_HASH_OPTION = re.compile(r"\s--hash[=\s]\S+")
_EXACT_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*===?\s*([A-Za-z0-9.!+_-]+)\s*$")


def _canonical(name: str) -> str:
    """PEP 503 normalisation, as packaging.utils.canonicalize_name does it."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, kw_only=True)
class RequirementFile:
    path: Path
    text: str
    requirements: tuple[Requirement, ...]
    hashed: bool  # every requirement line carries --hash (a pip-compile / uv lock file)


@dataclass(frozen=True, kw_only=True)
class RequirementInputs:
    """Requirement specs (`-p`, recipes) and files (`-r`), each already validated."""

    specs: tuple[str, ...] = ()
    files: tuple[RequirementFile, ...] = ()

    @property
    def all_requirements(self) -> list[Requirement]:
        from packaging.requirements import Requirement

        found = [Requirement(spec) for spec in self.specs]
        for req_file in self.files:
            found.extend(req_file.requirements)
        return found

    @property
    def require_hashes(self) -> bool:
        """Hash-checking mode: only when every input is a hashed lock file."""
        return bool(self.files) and not self.specs and all(f.hashed for f in self.files)

    def exact_pins(self) -> dict[str, str] | None:
        """name -> version when every requirement is `name==version` for all targets, else None.

        When the pins also cover every resolved package, the resolution cannot change,
        which lets `build` skip re-resolving an unchanged layer.
        """
        pins: dict[str, str] = {}
        lines = list(self.specs) + [str(r) for f in self.files for r in f.requirements]
        fast = [_EXACT_PIN.match(line) for line in lines]
        if all(fast):
            return {_canonical(m.group(1)): m.group(2) for m in fast if m}
        for req in self.all_requirements:
            specifiers = list(req.specifier)
            if req.marker is not None or req.url or len(specifiers) != 1:
                return None
            spec = specifiers[0]
            if spec.operator not in ("==", "===") or "*" in spec.version:
                return None
            pins[_canonical(req.name)] = spec.version
        return pins

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for spec in self.specs:
            digest.update(b"spec\0" + spec.encode() + b"\0")
        for req_file in self.files:
            # Comments do not change what is installed (a lock's header names its target).
            content = "\n".join(line for _, line in _logical_lines(req_file.text))
            digest.update(b"file\0" + content.encode() + b"\0")
        return digest.hexdigest()


def parse_spec(spec: str, *, origin: str = "-p") -> str:
    """Validate one PEP 508 requirement; UsageError naming where it came from otherwise."""
    if _EXACT_PIN.match(spec):
        return spec.strip()  # `name==version` is valid by construction
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
    """Read and validate a requirements file (pip / pip-compile / uv format)."""
    from packaging.requirements import InvalidRequirement, Requirement

    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        raise UsageError(f"-r {path}: no such file.") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"-r {path}: cannot read it ({exc}).") from None
    requirements: list[Requirement] = []
    hashed: list[bool] = []
    for number, line in _logical_lines(text):
        if line.startswith("-"):
            # Options (-i, --index-url, -c, --hash continuation...) are passed to uv as-is.
            continue
        body = _HASH_OPTION.sub("", " " + line).strip()
        try:
            requirements.append(Requirement(body))
        except InvalidRequirement as exc:
            raise UsageError(f"{path}:{number}: {body!r} is not a valid requirement ({exc}).") \
                from None
        hashed.append("--hash" in line)
    if not requirements:
        raise UsageError(f"-r {path}: the file names no requirements.")
    return RequirementFile(
        path=path.resolve(), text=text, requirements=tuple(requirements),
        hashed=all(hashed),
    )
