"""The table of Lambda Python runtimes, loaded from `targets/runtimes.toml` and validated."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Literal

from lambdalayer.common import _toml
from lambdalayer.common.errors import UsageError

_RUNTIME_NAME = re.compile(r"^python3\.(\d+)$")
_VERSION = re.compile(r"^\d+\.\d+(\.\d+)?$")


@dataclass(frozen=True, kw_only=True)
class OperatingSystem:
    key: str
    name: str
    glibc: tuple[int, int]
    uv_manylinux: str
    libstdcxx: tuple[int, ...]
    cxxabi: tuple[int, ...]


# The lifecycle dates a runtime can carry (runtimes.toml), in the order they fall.
LIFECYCLE_FIELDS = ("deprecated", "block_create", "block_update")
Phase = Literal["supported", "deprecated", "create blocked", "update blocked"]


@dataclass(frozen=True, kw_only=True)
class Runtime:
    name: str
    python: tuple[int, int]
    os: OperatingSystem
    deprecated: dt.date | None
    block_create: dt.date | None = None
    block_update: dt.date | None = None
    source: str = ""
    unverified: tuple[str, ...] = ()  # LIFECYCLE_FIELDS not checked against AWS's table

    @property
    def python_version(self) -> str:
        return f"{self.python[0]}.{self.python[1]}"

    def is_deprecated(self, today: dt.date | None = None) -> bool:
        return self.phase(today) != "supported"

    def phase(self, today: dt.date | None = None) -> Phase:
        """Where Lambda's deprecation of this runtime stands on `today` (default: today)."""
        day = today or dt.date.today()
        if self.block_update is not None and day >= self.block_update:
            return "update blocked"
        if self.block_create is not None and day >= self.block_create:
            return "create blocked"
        if self.deprecated is not None and day >= self.deprecated:
            return "deprecated"
        return "supported"

    def phase_sentence(self, today: dt.date | None = None) -> str:
        """The phase in words, with the dates still to come (for warnings)."""
        phase = self.phase(today)
        later = [f"{what} from {day}" for what, day in (
            ("creating functions on it is blocked", self.block_create),
            ("updating them is blocked", self.block_update)) if day is not None
            and day > (today or dt.date.today())]
        if phase == "update blocked":
            head = (f"Lambda has refused to create or update functions on {self.name} "
                    f"since {self.block_update}")
        elif phase == "create blocked":
            head = (f"Lambda has refused to create functions on {self.name} "
                    f"since {self.block_create}")
        elif phase == "deprecated":
            head = f"{self.name} was deprecated by Lambda on {self.deprecated} (no more patches)"
        else:
            head = f"{self.name} is supported by Lambda"
        return head + (f"; {', '.join(later)}" if later and phase != "supported" else "")


@dataclass(frozen=True, kw_only=True)
class RuntimeTable:
    runtimes: dict[str, Runtime]
    architectures: dict[str, str]  # Lambda name -> ELF/wheel machine name

    def runtime(self, name: str) -> Runtime:
        """Return the runtime called `name`; UsageError listing the known ones otherwise."""
        found = self.runtimes.get(name.strip().lower())
        if found is None:
            raise UsageError(
                f"Unknown runtime {name!r}{_did_you_mean(name, self.runtimes)}. "
                f"Known Python runtimes: {', '.join(self.runtimes)}."
            )
        return found

    def architecture(self, name: str) -> str:
        """Normalise an architecture name to Lambda's spelling (x86_64 or arm64)."""
        key = name.strip().lower()
        aliases = {machine: lam for lam, machine in self.architectures.items()}
        aliases.update({"amd64": "x86_64", "x64": "x86_64"})
        if key in self.architectures:
            return key
        if key in aliases:
            return aliases[key]
        raise UsageError(
            f"Unknown architecture {name!r}. Lambda architectures: "
            f"{', '.join(self.architectures)}."
        )

    def uv_platform(self, runtime: Runtime, arch: str) -> str:
        """uv's `--python-platform` for the target (see runtimes.toml: never a newer glibc)."""
        return f"{self.architectures[arch]}-manylinux_{runtime.os.uv_manylinux}"

    def current(self, today: dt.date | None = None) -> list[Runtime]:
        """Runtimes not yet deprecated, oldest first: the default build targets."""
        return [r for r in self.runtimes.values() if not r.is_deprecated(today)]


def _did_you_mean(name: str, choices: Mapping[str, object]) -> str:
    import difflib  # only on the error path: start-up time

    # "3.12" and "py312" are the version alone: the runtime is python3.12.
    bare = name.strip().lower().removeprefix("python").removeprefix("py")
    if "." not in bare and len(bare) >= 2 and bare.isdigit():
        bare = f"{bare[0]}.{bare[1:]}"
    if f"python{bare}" in choices:
        return f" (did you mean 'python{bare}'?)"
    close = difflib.get_close_matches(name, list(choices), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _version_tuple(text: str, where: str) -> tuple[int, ...]:
    if not _VERSION.match(text):
        raise ValueError(f"{where}: {text!r} is not a version like 2.26")
    return tuple(int(p) for p in text.split("."))


def _date(text: object, where: str) -> dt.date | None:
    if text is None:
        return None
    try:
        return dt.date.fromisoformat(str(text))
    except ValueError:
        raise ValueError(f"{where}: {text!r} is not a date like 2026-10-31") from None


def parse_runtime_table(text: str) -> RuntimeTable:
    """Parse and validate the runtime table. Raises ValueError naming the bad field."""
    data = _toml.loads(text)
    systems: dict[str, OperatingSystem] = {}
    for key, raw in data.get("os", {}).items():
        glibc = _version_tuple(raw["glibc"], f"os.{key}.glibc")
        if not re.match(r"^2_\d+$", raw["uv_manylinux"]):
            raise ValueError(f"os.{key}.uv_manylinux: expected 2_N, got {raw['uv_manylinux']!r}")
        uv_minor = int(raw["uv_manylinux"].split("_")[1])
        if uv_minor > glibc[1]:
            raise ValueError(f"os.{key}.uv_manylinux is newer than its glibc {raw['glibc']}")
        systems[key] = OperatingSystem(
            key=key,
            name=raw["name"],
            glibc=(glibc[0], glibc[1]),
            uv_manylinux=raw["uv_manylinux"],
            libstdcxx=_version_tuple(raw["libstdcxx"], f"os.{key}.libstdcxx"),
            cxxabi=_version_tuple(raw["cxxabi"], f"os.{key}.cxxabi"),
        )
    runtimes: dict[str, Runtime] = {}
    for name, raw in data.get("runtimes", {}).items():
        match = _RUNTIME_NAME.match(name)
        if not match:
            raise ValueError(f"runtimes.{name}: not a python3.N runtime name")
        if raw["os"] not in systems:
            raise ValueError(f"runtimes.{name}.os: unknown OS {raw['os']!r}")
        dates = {field: _date(raw.get(field), f"runtimes.{name}.{field}")
                 for field in LIFECYCLE_FIELDS}
        unverified = tuple(raw.get("unverified", ()))
        unknown = set(unverified) - set(LIFECYCLE_FIELDS)
        if unknown:
            raise ValueError(f"runtimes.{name}.unverified: not a date field: {sorted(unknown)}")
        known = [d for d in dates.values() if d is not None]
        if known != sorted(known):
            raise ValueError(f"runtimes.{name}: dates must fall in the order "
                             f"{', '.join(LIFECYCLE_FIELDS)}")
        if known and not raw.get("source"):
            raise ValueError(f"runtimes.{name}: dates need a `source`")
        runtimes[name] = Runtime(
            name=name,
            python=(3, int(match.group(1))),
            os=systems[raw["os"]],
            deprecated=dates["deprecated"],
            block_create=dates["block_create"],
            block_update=dates["block_update"],
            source=str(raw.get("source", "")),
            unverified=unverified,
        )
    architectures = dict(data.get("architectures", {}))
    if set(architectures) != {"x86_64", "arm64"}:
        raise ValueError("architectures: expected exactly x86_64 and arm64")
    ordered = dict(sorted(runtimes.items(), key=lambda item: item[1].python))
    return RuntimeTable(runtimes=ordered, architectures=architectures)


@cache
def load_runtime_table() -> RuntimeTable:
    """The table shipped inside the package."""
    # A plain path, not importlib.resources: this runs on every build (start-up time).
    text = (Path(__file__).resolve().parent / "runtimes.toml").read_text("utf-8")
    return parse_runtime_table(text)
