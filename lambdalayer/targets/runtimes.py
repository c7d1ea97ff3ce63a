"""The table of Lambda Python runtimes, loaded from `targets/runtimes.toml` and validated.

A project may declare a runtime this release does not know yet (its OS, glibc,
Python version and architectures, from the project's config):
`declare_runtime` validates one declaration with the table's own checks, and
`use_declared_runtimes` makes the declared runtimes part of `load_runtime_table()`
for the rest of the process (the config loader calls it; docs/runtimes.md).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import cache
from pathlib import Path
from typing import Any, Literal

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
    architectures: tuple[str, ...] = ("x86_64", "arm64")  # Lambda's names
    declared_in: str = ""  # the config that declared it; "" for the built-in table's

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
        """Built-in runtimes not yet deprecated, oldest first: the default build targets.

        A declared runtime builds only when named: declaring one changes no default build.
        """
        return [r for r in self.runtimes.values()
                if not r.is_deprecated(today) and not r.declared_in]

    def with_runtimes(self, extra: Mapping[str, Runtime]) -> RuntimeTable:
        """This table and `extra` (declared runtimes), in Python version order."""
        merged = {**self.runtimes, **extra}
        return replace(self, runtimes=dict(sorted(merged.items(),
                                                  key=lambda item: item[1].python)))


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


def _runtime_version(name: str, where: str) -> tuple[int, int]:
    """The Python version a runtime name stands for: python3.16 -> (3, 16). ValueError
    `where: ...` for anything else."""
    match = _RUNTIME_NAME.match(name)
    if not match:
        raise ValueError(f"{where}: {name!r} is not a Lambda Python runtime name like "
                         "python3.16.")
    return (3, int(match.group(1)))


def _table_runtime(name: str, raw: Mapping[str, Any],
                   systems: Mapping[str, OperatingSystem]) -> Runtime:
    """One `[runtimes."python3.N"]` entry of runtimes.toml."""
    python = _runtime_version(name, f"runtimes.{name}")
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
    return Runtime(
        name=name,
        python=python,
        os=systems[raw["os"]],
        deprecated=dates["deprecated"],
        block_create=dates["block_create"],
        block_update=dates["block_update"],
        source=str(raw.get("source", "")),
        unverified=unverified,
    )


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
    runtimes = {name: _table_runtime(name, raw, systems)
                for name, raw in data.get("runtimes", {}).items()}
    architectures = dict(data.get("architectures", {}))
    if set(architectures) != {"x86_64", "arm64"}:
        raise ValueError("architectures: expected exactly x86_64 and arm64")
    ordered = dict(sorted(runtimes.items(), key=lambda item: item[1].python))
    return RuntimeTable(runtimes=ordered, architectures=architectures)


@cache
def builtin_runtime_table() -> RuntimeTable:
    """The table shipped inside the package."""
    # A plain path, not importlib.resources: this runs on every build (start-up time).
    text = (Path(__file__).resolve().parent / "runtimes.toml").read_text("utf-8")
    return parse_runtime_table(text)


# The built-in table plus a project's declared runtimes, once the config declared some.
_active: RuntimeTable | None = None


def load_runtime_table() -> RuntimeTable:
    """The runtimes this process targets: the built-in table and any declared runtimes."""
    return _active or builtin_runtime_table()


def use_declared_runtimes(declared: Mapping[str, Runtime]) -> RuntimeTable:
    """Make `declared` (from `declare_runtime`) part of `load_runtime_table()` from now on,
    replacing any earlier declarations; an empty mapping restores the built-in table."""
    global _active
    _active = builtin_runtime_table().with_runtimes(declared) if declared else None
    return load_runtime_table()


# The keys a declared runtime may have: the facts a build needs, nothing the table must
# source (lifecycle dates come from AWS's pages, in runtimes.toml).
DECLARATION_KEYS = ("python", "os", "glibc", "architectures")


def declare_runtime(name: str, raw: Mapping[str, Any], *, where: str, declared_in: str,
                    table: RuntimeTable | None = None) -> Runtime:
    """A runtime a project declares, checked like the table's own entries.

    `raw` holds `os` (an OS key of runtimes.toml or its name), optionally `python` ("3.N",
    the name's version), `glibc` (the OS's) and `architectures` (default both). A name the
    built-in table knows is accepted only when every fact agrees with the table. Raises
    ValueError starting with `where` and the key at fault.
    """
    table = table or builtin_runtime_table()
    python = _runtime_version(name, where)
    for key in raw:
        if key not in DECLARATION_KEYS:
            raise ValueError(f"{where}: unknown key {key!r}; a runtime declares "
                             f"{', '.join(DECLARATION_KEYS)}.")
    system = _declared_os(raw, table, f"{where}.os")
    if "python" in raw:
        text = _declared_string(raw["python"], f"{where}.python", '"3.16"')
        if text != f"{python[0]}.{python[1]}":
            raise ValueError(f"{where}.python: {text!r} is not the version {name} runs; "
                             f"expected \"{python[0]}.{python[1]}\".")
    if "glibc" in raw:
        text = _declared_string(raw["glibc"], f"{where}.glibc", '"2.34"')
        glibc = ".".join(map(str, system.glibc))
        if _version_tuple(text, f"{where}.glibc") != system.glibc:
            raise ValueError(f"{where}.glibc: {system.name} ships glibc {glibc}, not {text}; "
                             "a runtime on a new OS needs a lambdalayer release (see os).")
    archs = _declared_architectures(raw.get("architectures", list(table.architectures)),
                                    table, f"{where}.architectures")
    runtime = Runtime(name=name, python=python, os=system, deprecated=None,
                      architectures=archs, declared_in=declared_in,
                      source=f"declared in {declared_in}")
    builtin = table.runtimes.get(name)
    if builtin is not None and not builtin.declared_in:
        return _same_as_builtin(runtime, builtin, where)
    return runtime


def _declared_string(value: object, where: str, example: str) -> str:
    if not isinstance(value, str):
        # python = 3.10 in TOML is the number 3.1: only a quoted version says what it means.
        raise ValueError(f"{where}: expected a quoted version like {example}, "
                         f"not {value!r}.")
    return value.strip()


def _declared_os(raw: Mapping[str, Any], table: RuntimeTable, where: str) -> OperatingSystem:
    """The OS named by its key in runtimes.toml (al2023) or its name (Amazon Linux 2023)."""
    systems = {r.os.key: r.os for r in table.runtimes.values()}
    known = ", ".join(f"{key} ({system.name})" for key, system in systems.items())
    if "os" not in raw:
        raise ValueError(f"{where}: missing; name the runtime's OS: {known}.")
    wanted = _declared_string(raw["os"], where, '"Amazon Linux 2023"').lower()
    for key, system in systems.items():
        if wanted in (key.lower(), system.name.lower()):
            return system
    raise ValueError(f"{where}: unknown OS {raw['os']!r}; known: {known}. A runtime on "
                     "another OS needs a lambdalayer release: the audit checks every "
                     "library against that OS's base image (docs/base-image-libs.md).")


def _declared_architectures(value: object, table: RuntimeTable, where: str
                            ) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value \
            or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: expected a list like [\"x86_64\", \"arm64\"].")
    try:
        chosen = {table.architecture(v) for v in value}
    except UsageError as exc:
        raise ValueError(f"{where}: {exc.message}") from None
    return tuple(a for a in table.architectures if a in chosen)


def _facts(runtime: Runtime) -> str:
    return (f"Python {runtime.python_version} on {runtime.os.name} (glibc "
            f"{'.'.join(map(str, runtime.os.glibc))}), {' and '.join(runtime.architectures)}")


def _same_as_builtin(declared: Runtime, builtin: Runtime, where: str) -> Runtime:
    """A declaration of a runtime this release knows: harmless when it says what the table
    says (a declaration kept after upgrading), refused when it contradicts it."""
    if (declared.python, declared.os.key, declared.architectures) == (
            builtin.python, builtin.os.key, builtin.architectures):
        return builtin
    raise ValueError(
        f"{where}: lambdalayer already knows {builtin.name} ({_facts(builtin)}, from AWS's "
        f"pages: runtimes.toml) and this declaration says {_facts(declared)}. Pinning other "
        "facts for a known runtime would build layers for a target Lambda does not have; "
        "remove the declaration (or make it match), and report the table if AWS changed "
        "the runtime.")
