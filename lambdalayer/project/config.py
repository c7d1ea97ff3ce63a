"""Project configuration: `[tool.lambdalayer]` in pyproject.toml, or `lambdalayer.toml`.

Found by walking up from the working directory; the first directory with a
`lambdalayer.toml`, or a `pyproject.toml` that has a `[tool.lambdalayer]`
table, wins. Paths in it are relative to the (real) file. The walk stops at the
repository root (a directory with `.git`) or the home directory, and only
files owned by the user (or root) count, judged without following links; in a
directory others can write, only a regular file of the user's own: a config
planted (or linked) in a shared /tmp must not choose `attach` targets, public
permissions or the code that ships (docs/trust.md).

Precedence, lowest first: built-in defaults < this file < `LAMBDALAYER_*`
environment variables < command-line flags. The environment variables are
LAMBDALAYER_OUT, LAMBDALAYER_REGION, LAMBDALAYER_RUNTIMES and
LAMBDALAYER_ARCHITECTURES (comma-separated), LAMBDALAYER_RECIPES,
LAMBDALAYER_PROOF_SANDBOX (auto or required), LAMBDALAYER_PROOF (required or
best-effort), LAMBDALAYER_VULNS (1 or 0: `build` asks OSV about every distribution) and
LAMBDALAYER_CONFIG (the file to use instead of searching).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, cast

from lambdalayer.common import _toml
from lambdalayer.common.errors import ConfigError, UsageError
from lambdalayer.resolve.index_settings import IndexSettings
from lambdalayer.targets.runtimes import (
    Runtime,
    RuntimeTable,
    builtin_runtime_table,
    declare_runtime,
    load_runtime_table,
    use_declared_runtimes,
)

if TYPE_CHECKING:
    from lambdalayer.interpreters.configured import ConfiguredInterpreters

_INDEX_KEYS = {"index_url", "extra_index_url", "find_links"}
_TOP_KEYS = {"out", "region", "regions", "runtimes", "architectures", "recipes", "locks",
             "layers", "interpreters", "proof_sandbox", "proof", "new_runtimes", "vulns",
             "deny_licences", *_INDEX_KEYS}
_LAYER_KEYS = {*_INDEX_KEYS, "recipe", "requirements", "packages", "runtimes",
               "architectures", "functions", "regions", "permissions", "description",
               "license", "allow", "slim", "strip", "exclude", "slim_patterns", "compile",
               "compression_level", "proof_imports", "proof", "sources", "include",
               "project", "with_self", "fix_pairs"}
_PERMISSION_KEYS = {"public", "principals", "org"}
# Build options passed to BuildRequest under the same name when it has that field.
# config key -> BuildRequest field, for the build options a layer table may set.
BUILD_OPTION_KEYS = {"slim": "slim", "strip": "strip", "exclude": "excludes",
                     "slim_patterns": "slim_patterns", "compile": "compile",
                     "compression_level": "compression_level", "fix_pairs": "fix_pairs"}
_LIST_OPTIONS = {"exclude", "slim_patterns"}
_BOOL_OPTIONS = {"slim", "strip", "compile", "fix_pairs"}
ProofSandbox = Literal["auto", "required"]
# "auto": the best sandbox the host offers, else run with a scrubbed environment and say
# so; "required": refuse (exit 8) rather than run the layer's code outside a sandbox.
PROOF_SANDBOX_VALUES: tuple[ProofSandbox, ...] = ("auto", "required")
ProofPolicy = Literal["required", "best-effort"]
# "best-effort": a target this host cannot run is "skipped" and the zip is written;
# "required": such a target refuses the build (exit 7), naming why and the fix.
PROOF_VALUES: tuple[ProofPolicy, ...] = ("required", "best-effort")


@dataclass(frozen=True, kw_only=True)
class Permissions:
    public: bool = False
    principals: tuple[str, ...] = ()
    org: str | None = None


@dataclass(frozen=True, kw_only=True)
class LayerConfig:
    """One `[layers.NAME]` table."""

    name: str
    recipe: str | None = None
    requirements: Path | None = None
    packages: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    functions: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    permissions: Permissions = Permissions()
    description: str | None = None
    license: str | None = None
    allow: tuple[str, ...] = ()
    proof_imports: tuple[str, ...] = ()
    build_options: Mapping[str, Any] = field(default_factory=dict)
    # Your own code (paths relative to the config file, kept as written for messages).
    sources: tuple[str, ...] = ()
    include: tuple[str, ...] = ()
    project: str | None = None
    with_self: bool = False
    base: Path = Path(".")  # the config file's directory
    index: IndexSettings = field(default_factory=IndexSettings)  # over the project's


@dataclass(frozen=True, kw_only=True)
class EnvOverrides:
    """LAMBDALAYER_* environment variables: above the file, below command-line flags."""

    out: Path | None = None
    region: str | None = None
    recipes: Path | None = None
    runtimes: tuple[str, ...] | None = None
    architectures: tuple[str, ...] | None = None
    proof_sandbox: ProofSandbox | None = None  # LAMBDALAYER_PROOF_SANDBOX
    vulns: bool | None = None  # LAMBDALAYER_VULNS
    proof: ProofPolicy | None = None  # LAMBDALAYER_PROOF


@dataclass(frozen=True, kw_only=True)
class ProjectConfig:
    path: Path | None  # None: no file found, defaults only
    out: Path = Path("dist")
    regions: tuple[str, ...] = ()
    runtimes: tuple[str, ...] = ()
    architectures: tuple[str, ...] = ()
    recipes: Path | None = None
    locks: Path = Path("locks")
    layers: Mapping[str, LayerConfig] = field(default_factory=dict)
    env: EnvOverrides = EnvOverrides()
    index: IndexSettings = field(default_factory=IndexSettings)
    # [interpreters]: "python3.12-arm64" -> the CPython that proves that target (absolute).
    interpreters: Mapping[str, Path] = field(default_factory=dict)
    proof_sandbox: ProofSandbox | None = None  # the file's proof_sandbox, when it sets one
    # [new_runtimes."python3.N"]: runtimes this release does not know, declared by the project.
    declared_runtimes: Mapping[str, Runtime] = field(default_factory=dict)
    vulns: bool | None = None  # the file's `vulns`: build asks OSV (docs/supply-chain.md)
    deny_licences: tuple[str, ...] = ()  # licences no layer may need (supply/licences.py)
    proof: ProofPolicy | None = None  # the file's top-level proof, when it sets one

    def index_for(self, flags: IndexSettings, layer: LayerConfig | None = None
                  ) -> IndexSettings:
        """Index options by precedence: flags, the layer's, the project's."""
        return flags.over(layer.index.over(self.index) if layer else self.index)

    def proof_sandbox_for(self, flag: ProofSandbox | None) -> ProofSandbox:
        """The proof's sandbox policy by precedence: flag, environment, file, "auto"."""
        return flag or self.env.proof_sandbox or self.proof_sandbox or "auto"

    def vulns_for(self, flag: bool | None) -> bool:
        """Whether `build` asks about vulnerabilities: flag, environment, file, off."""
        for chosen in (flag, self.env.vulns, self.vulns):
            if chosen is not None:
                return chosen
        return False

    def deny_licences_for(self, flags: tuple[str, ...]) -> tuple[str, ...]:
        """The licences denied: the file's and the flags' together (a policy adds up)."""
        return tuple(dict.fromkeys((*self.deny_licences, *flags)))
    def proof_for(self, flag: ProofPolicy | None) -> ProofPolicy:
        """The proof policy by precedence: flag, environment, file, "best-effort"."""
        return flag or self.env.proof or self.proof or "best-effort"

    def out_dir(self, flag: Path | None) -> Path:
        return flag or self.env.out or self.out

    def recipe_dirs(self, flag: Path | None) -> tuple[Path, ...]:
        chosen = flag or self.env.recipes or self.recipes
        return (chosen,) if chosen else ()

    def regions_for(self, flags: tuple[str, ...], layer: LayerConfig | None = None
                    ) -> tuple[str, ...]:
        """Regions by precedence: flags, LAMBDALAYER_REGION, the layer's, the project's."""
        if flags:
            return flags
        if self.env.region:
            return (self.env.region,)
        if layer is not None and layer.regions:
            return layer.regions
        return self.regions

    def targets_for(self, runtimes: tuple[str, ...], archs: tuple[str, ...],
                    layer: LayerConfig | None = None) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """Runtimes and architectures by precedence: flags, environment, layer, project."""
        def pick(flag: tuple[str, ...], env: tuple[str, ...] | None,
                 own: tuple[str, ...], project: tuple[str, ...]) -> tuple[str, ...]:
            return flag or env or own or project
        return (
            pick(runtimes, self.env.runtimes, layer.runtimes if layer else (), self.runtimes),
            pick(archs, self.env.architectures, layer.architectures if layer else (),
                 self.architectures),
        )

    def layer(self, name: str) -> LayerConfig:
        if name in self.layers:
            return self.layers[name]
        import difflib

        close = difflib.get_close_matches(name, list(self.layers), n=1)
        nearest = f" Did you mean {close[0]!r}?" if close else ""
        known = ", ".join(self.layers) or "none"
        raise UsageError(f"No layer {name!r} in {self.path}.{nearest} Configured layers: {known}.")

    def selected(self, names: tuple[str, ...]) -> list[LayerConfig]:
        """The layers named (all of them when none are), or a UsageError."""
        if not self.layers:
            where = self.path or "pyproject.toml ([tool.lambdalayer]) or lambdalayer.toml"
            raise UsageError(f"No layers are configured in {where}.")
        return [self.layer(n) for n in names] if names else list(self.layers.values())


def _unknown(key: str, valid: set[str], where: str) -> ConfigError:
    import difflib  # only on the error path: start-up time

    close = difflib.get_close_matches(key, sorted(valid), n=1)
    nearest = f"; did you mean {close[0]!r}?" if close else ""
    return ConfigError(f"{where}: unknown key {key!r}{nearest} Valid keys: "
                       f"{', '.join(sorted(valid))}.")


def _strings(value: Any, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        return (_string(value, where),)
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return tuple(_string(v, where) for v in value)
    raise ConfigError(f"{where}: expected a string or a list of strings.")


def _string(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{where}: expected a string.")
    if "\x00" in value:  # no path, URL or name holds one; the OS refuses it in a path
        raise ConfigError(f"{where}: contains a NUL character.")
    return value


def _optional_string(raw: Mapping[str, Any], key: str, where: str) -> str | None:
    return _string(raw[key], f"{where}.{key}") if key in raw else None


def _flag(raw: Mapping[str, Any], key: str, where: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise ConfigError(f"{where}.{key}: expected true or false.")
    return value


def _one_of(value: Any, valid: tuple[str, ...], what: str, where: str) -> str:
    """`value` when it is one of `valid`; ConfigError naming the valid values otherwise."""
    if isinstance(value, str) and value in valid:
        return value
    raise ConfigError(f"{where}: {value!r} is not {what}; use "
                      f"{' or '.join(repr(v) for v in valid)}.")


def proof_sandbox_value(value: Any, where: str) -> ProofSandbox:
    """`value` as a proof sandbox policy; ConfigError naming the valid values otherwise."""
    return cast("ProofSandbox", _one_of(value, PROOF_SANDBOX_VALUES,
                                        "a proof sandbox policy", where))


def deny_patterns(values: tuple[str, ...], where: str) -> tuple[str, ...]:
    """--deny-licence / deny_licences values checked (supply/licences.check_pattern)."""
    from lambdalayer.supply.licences import check_pattern

    try:
        return tuple(check_pattern(v) for v in values)
    except ValueError as exc:
        raise ConfigError(f"{where}: {exc}.") from None


def vulns_value(value: str, where: str) -> bool:
    """LAMBDALAYER_VULNS: 1/true/yes or 0/false/no."""
    word = value.strip().lower()
    if word in {"1", "true", "yes", "on"}:
        return True
    if word in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{where}: {value!r} is not 1 or 0 (true or false).")


def proof_value(value: Any, where: str) -> ProofPolicy:
    """`value` as a proof policy; ConfigError naming the valid values otherwise."""
    return cast("ProofPolicy", _one_of(value, PROOF_VALUES, "a proof policy", where))


def _layer_name(name: str, where: str) -> str:
    """A configured layer's name follows Lambda's rule: it is also a file and lock path."""
    from lambdalayer.aws.arns import check_layer_name

    try:
        return check_layer_name(name)
    except UsageError as exc:
        raise ConfigError(f"{where}: {exc.message}") from None


def _index(raw: Mapping[str, Any], base: Path, where: str) -> IndexSettings:
    """index_url / extra_index_url / find_links; a relative find_links is a folder beside
    the file."""
    def link(value: str) -> str:
        return value if "://" in value or Path(value).is_absolute() else str(base / value)
    return IndexSettings(
        index_url=_string(raw["index_url"], f"{where}.index_url") if "index_url" in raw
        else None,
        extra_index_urls=_strings(raw.get("extra_index_url", []), f"{where}.extra_index_url"),
        find_links=tuple(link(v) for v in _strings(raw.get("find_links", []),
                                                   f"{where}.find_links")),
    )


def _validated_targets(runtimes: tuple[str, ...], archs: tuple[str, ...], where: str,
                       table: RuntimeTable | None = None
                       ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    table = table or load_runtime_table()
    try:
        return (tuple(table.runtime(r).name for r in runtimes),
                tuple(table.architecture(a) for a in archs))
    except UsageError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def _interpreters(raw: Any, base: Path, where: str, table: RuntimeTable) -> dict[str, Path]:
    """`"python3.12-arm64" = "path"` entries, keyed as written canonically; paths relative
    to the file (or starting with ~) are made absolute."""
    if not isinstance(raw, dict):
        raise ConfigError(f'{where}: expected a table like {{ "python3.12-arm64" = '
                          '"/path/to/python3.12" }.')
    chosen: dict[str, Path] = {}
    for key, value in raw.items():
        runtime, separator, arch = str(key).replace("/", "-").partition("-")
        try:
            if not separator:
                raise UsageError("expected RUNTIME-ARCH, e.g. python3.12-arm64")
            name = f"{table.runtime(runtime).name}-{table.architecture(arch)}"
        except UsageError as exc:
            raise ConfigError(f"{where}: key {key!r}: {exc}") from None
        path = Path(_string(value, f"{where}.{key}")).expanduser()
        chosen[name] = path if path.is_absolute() else base / path
    return chosen


def _parse_layer(name: str, raw: Any, base: Path, where: str,
                 table: RuntimeTable) -> LayerConfig:
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: expected a table.")
    for key in raw:
        if key not in _LAYER_KEYS:
            raise _unknown(key, _LAYER_KEYS, where)
    sources = [k for k in ("recipe", "requirements", "packages") if k in raw]
    own = [k for k in ("project", "sources", "include") if k in raw]
    if len(sources) > 1 or not (sources or own):
        raise ConfigError(f"{where}: give one of recipe, requirements or packages, and/or "
                          f"project, sources, include (found {', '.join(sources) or 'none'}).")
    _flag(raw, "with_self", where)
    runtimes, archs = _validated_targets(
        _runtime_names(raw, where),
        _strings(raw.get("architectures", []), f"{where}.architectures"), where, table)
    perms = raw.get("permissions", {})
    if not isinstance(perms, dict):
        raise ConfigError(f"{where}.permissions: expected a table.")
    for key in perms:
        if key not in _PERMISSION_KEYS:
            raise _unknown(key, _PERMISSION_KEYS, f"{where}.permissions")
    _flag(perms, "public", f"{where}.permissions")
    options: dict[str, Any] = {}
    for key, request_field in BUILD_OPTION_KEYS.items():
        if key not in raw:
            continue
        value = raw[key]
        if key in _LIST_OPTIONS:
            value = _strings(value, f"{where}.{key}")
        elif key in _BOOL_OPTIONS and not isinstance(value, bool):
            raise ConfigError(f"{where}.{key}: expected true or false.")
        elif key == "compression_level" and (
                isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 9):
            raise ConfigError(f"{where}.compression_level: expected a whole number 0-9.")
        options[request_field] = value
    if "proof" in raw:
        # proof = false turns off the default import proof (like --no-proof).
        if not isinstance(raw["proof"], bool):
            raise ConfigError(f"{where}.proof: expected true or false.")
        if not raw["proof"]:
            options["no_proof"] = True
    requirements = raw.get("requirements")
    return LayerConfig(
        name=name,
        recipe=_string(raw["recipe"], f"{where}.recipe") if "recipe" in raw else None,
        requirements=(base / _string(requirements, f"{where}.requirements"))
        if requirements is not None else None,
        packages=_strings(raw.get("packages", []), f"{where}.packages"),
        runtimes=runtimes,
        architectures=archs,
        functions=_strings(raw.get("functions", []), f"{where}.functions"),
        regions=_strings(raw.get("regions", []), f"{where}.regions"),
        permissions=Permissions(
            public=bool(perms.get("public", False)),
            principals=_strings(perms.get("principals", []), f"{where}.permissions.principals"),
            org=_optional_string(perms, "org", f"{where}.permissions"),
        ),
        description=_optional_string(raw, "description", where),
        license=_optional_string(raw, "license", where),
        allow=_strings(raw.get("allow", []), f"{where}.allow"),
        proof_imports=_strings(raw.get("proof_imports", []), f"{where}.proof_imports"),
        build_options=options,
        sources=_strings(raw.get("sources", []), f"{where}.sources"),
        include=_strings(raw.get("include", []), f"{where}.include"),
        project=_string(raw["project"], f"{where}.project") if "project" in raw else None,
        with_self=bool(raw.get("with_self", False)),
        base=base,
        index=_index(raw, base, where),
    )


def parse_config(data: Mapping[str, Any], path: Path, where: str) -> ProjectConfig:
    """Validate one configuration table; ConfigError naming the key otherwise."""
    for key in data:
        if key not in _TOP_KEYS:
            raise _unknown(key, _TOP_KEYS, where)
    base = _base(path)
    declared = _declared_runtimes(data.get("new_runtimes", {}), path, f"{where}.new_runtimes")
    table = builtin_runtime_table().with_runtimes(declared)
    runtimes, archs = _validated_targets(
        _runtime_names(data, where),
        _strings(data.get("architectures", []), f"{where}.architectures"), where, table)
    regions = _strings(data.get("regions", []), f"{where}.regions")
    if "region" in data:
        regions = (_string(data["region"], f"{where}.region"), *regions)
    layers_raw = data.get("layers", {})
    if not isinstance(layers_raw, dict):
        raise ConfigError(f"{where}.layers: expected tables like [{where}.layers.NAME].")
    layers = {_layer_name(name, f"{where}.layers.{name}"):
              _parse_layer(name, raw, base, f"{where}.layers.{name}", table)
              for name, raw in layers_raw.items()}
    return ProjectConfig(
        path=path,
        out=base / _string(data.get("out", "dist"), f"{where}.out"),
        regions=tuple(dict.fromkeys(regions)),
        runtimes=runtimes,
        architectures=archs,
        recipes=base / _string(data["recipes"], f"{where}.recipes") if "recipes" in data
        else None,
        locks=base / _string(data.get("locks", "locks"), f"{where}.locks"),
        layers=layers,
        index=_index(data, base, where),
        interpreters=_interpreters(data.get("interpreters", {}), base,
                                   f"{where}.interpreters", table),
        proof_sandbox=proof_sandbox_value(data["proof_sandbox"], f"{where}.proof_sandbox")
        if "proof_sandbox" in data else None,
        declared_runtimes=declared,
        vulns=_flag(data, "vulns", where) if "vulns" in data else None,
        deny_licences=deny_patterns(_strings(data.get("deny_licences", []),
                                             f"{where}.deny_licences"), f"{where}.deny_licences"),
        proof=proof_value(data["proof"], f"{where}.proof") if "proof" in data else None,
    )


def _runtime_names(raw: Mapping[str, Any], where: str) -> tuple[str, ...]:
    """`runtimes`: the names to build. A table there is a declaration in the wrong place."""
    value = raw.get("runtimes", [])
    if isinstance(value, dict):
        name = next(iter(value), "python3.N")
        header = "tool.lambdalayer." if where.startswith("[tool.lambdalayer]") else ""
        raise ConfigError(f"{where}.runtimes: expected a list of runtime names to build. To "
                          f"declare a runtime, use [{header}new_runtimes.\"{name}\"] "
                          "(docs/configuration.md).")
    return _strings(value, f"{where}.runtimes")


def _declared_runtimes(raw: Any, path: Path, where: str) -> dict[str, Runtime]:
    """[new_runtimes."python3.N"] tables, each checked as runtimes.toml's entries are."""
    if not isinstance(raw, dict):
        raise ConfigError(f'{where}: expected tables like [{where}."python3.16"].')
    declared = {}
    for name, entry in raw.items():
        at = f'{where}."{name}"'
        if not isinstance(entry, dict):
            raise ConfigError(f'{at}: expected a table with os = "Amazon Linux 2023" '
                              '(and python, glibc, architectures).')
        try:
            declared[name] = declare_runtime(name, entry, where=at, declared_in=str(path))
        except ValueError as exc:
            raise ConfigError(str(exc), hint="A declared runtime is documented in "
                              "docs/configuration.md (new_runtimes).") from None
    return declared


def _read(path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = _toml.loads(path.read_text("utf-8"))
        return data
    except _toml.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}.") from None
    except OSError as exc:
        raise ConfigError(f"Cannot read {path}: {exc}.") from None


def _load_file(path: Path) -> ProjectConfig | None:
    data = _read(path)
    if path.name == "pyproject.toml":
        tool = data.get("tool", {})
        table = tool.get("lambdalayer") if isinstance(tool, dict) else None
        if table is None:
            return None
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [tool.lambdalayer] must be a table, not "
                              f"{type(table).__name__} {table!r}.")
        return parse_config(table, path, "[tool.lambdalayer]")
    return parse_config(data, path, path.name)


def find_config(start: Path | None = None) -> Path | None:
    """The configuration file that applies to `start` (default: the working directory)."""
    explicit = os.environ.get("LAMBDALAYER_CONFIG")
    if explicit:
        path = Path(explicit)
        if not path.is_file():
            raise ConfigError(f"LAMBDALAYER_CONFIG={explicit}: no such file.")
        return path
    here = (start or Path.cwd()).resolve()
    home = _home()
    for directory in (here, *here.parents):
        dedicated = directory / "lambdalayer.toml"
        if dedicated.is_file() and _trusted(dedicated):
            return dedicated
        pyproject = directory / "pyproject.toml"
        if pyproject.is_file() and _trusted(pyproject) \
                and "lambdalayer" in _tool_table(_read(pyproject)):
            return pyproject
        if directory == home or (directory / ".git").exists():
            break  # the repository's root or the home directory: nothing above is ours
    return None


def _tool_table(data: dict[str, Any]) -> dict[str, Any]:
    tool = data.get("tool", {})
    return tool if isinstance(tool, dict) else {}


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except (RuntimeError, OSError):
        return None


def _trusted(path: Path) -> bool:
    """Whether a found config file may be adopted (docs/trust.md).

    Judged by the entry itself (lstat), not what it links to: anyone who can write the
    directory could have put a link there to a real config of ours. In a directory
    others can write, only a regular file of our own counts; elsewhere a file (or a
    link) owned by us or by root (a system-wide install).
    """
    if not hasattr(os, "getuid"):
        return True  # Windows: no POSIX owner to compare
    try:
        entry = path.lstat()
        real = path.stat()
        folder = path.parent.stat()
    except OSError:
        return False
    me = os.getuid()
    if _others_can_write(folder, me):
        return stat.S_ISREG(entry.st_mode) and entry.st_uid == me
    return entry.st_uid in (me, 0) and real.st_uid in (me, 0) and stat.S_ISREG(real.st_mode)


def _others_can_write(folder: os.stat_result, me: int) -> bool:
    """World- or group-writable (sticky or not), or owned by another user."""
    return bool(folder.st_mode & (stat.S_IWOTH | stat.S_IWGRP)) or folder.st_uid not in (me, 0)


def _base(path: Path) -> Path:
    """What relative paths in a config are relative to: the real file's directory."""
    return path.resolve().parent if path.is_symlink() else path.parent


def _env_list(name: str) -> tuple[str, ...] | None:
    raw = os.environ.get(name)
    if raw is None:
        return None
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def load_config(start: Path | None = None) -> ProjectConfig:
    """The project configuration (file values) with `env` holding LAMBDALAYER_* overrides."""
    use_declared_runtimes({})  # an earlier config's declarations never outlive it
    path = find_config(start)
    config = (_load_file(path) if path else None) or ProjectConfig(path=None)
    # From here on every lookup by name (Target.parse, --runtime) knows the declared ones.
    use_declared_runtimes(config.declared_runtimes)
    runtimes = _env_list("LAMBDALAYER_RUNTIMES")
    archs = _env_list("LAMBDALAYER_ARCHITECTURES")
    checked = _validated_targets(runtimes or (), archs or (), "LAMBDALAYER_* environment")
    sandbox = os.environ.get("LAMBDALAYER_PROOF_SANDBOX", "").strip() or None  # "": not set
    vulns = os.environ.get("LAMBDALAYER_VULNS", "").strip() or None
    proof = os.environ.get("LAMBDALAYER_PROOF", "").strip() or None
    env = EnvOverrides(
        out=Path(os.environ["LAMBDALAYER_OUT"]) if os.environ.get("LAMBDALAYER_OUT") else None,
        region=os.environ.get("LAMBDALAYER_REGION") or None,
        recipes=Path(os.environ["LAMBDALAYER_RECIPES"])
        if os.environ.get("LAMBDALAYER_RECIPES") else None,
        runtimes=checked[0] if runtimes is not None else None,
        architectures=checked[1] if archs is not None else None,
        proof_sandbox=None if sandbox is None
        else proof_sandbox_value(sandbox, "LAMBDALAYER_PROOF_SANDBOX"),
        vulns=None if vulns is None else vulns_value(vulns, "LAMBDALAYER_VULNS"),
        proof=None if proof is None else proof_value(proof, "LAMBDALAYER_PROOF"),
    )
    return replace(config, env=env)


def configured_interpreters(config: ProjectConfig) -> ConfiguredInterpreters:
    """The config's [interpreters] table as the finder takes it (LAMBDALAYER_PYTHON_* win)."""
    from lambdalayer.interpreters.configured import NOTHING_CONFIGURED, ConfiguredInterpreters

    if not config.interpreters:
        return NOTHING_CONFIGURED  # and no packaging import on an up-to-date build's path
    from lambdalayer.targets.target import Target

    chosen = {}
    for key, path in config.interpreters.items():
        runtime, _, arch = key.partition("-")
        target = Target.parse(runtime, arch)
        chosen[(target.runtime.python_version, target.machine)] = (
            path, f'"{key}" in {config.path}')
    return ConfiguredInterpreters.of(chosen)
