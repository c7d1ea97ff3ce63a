"""Which package indexes a build uses: the `--index-url`/`--extra-index-url`/`--find-links`
options (flags or config), passed to uv, and the same list for the index queries
that explain a failure.

uv does not read pip's configuration. lambdalayer passes PIP_INDEX_URL and
PIP_EXTRA_INDEX_URL on to uv when nothing else names those indexes (flags, config,
UV_* variables, uv.toml, requirement files), and the build says so (`from_pip`); a
pip.conf `index-url` that is not used is warned about once (`pip_conf_note`).

The query behind an error message asks only the indexes uv itself would ask, in
uv's order (extra indexes before the default one: uv's `first-index` strategy), so
a private package name never goes to the public index when the build does not.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lambdalayer.common.redact import redact_url, strip_credentials

DEFAULT_INDEX = "https://pypi.org/simple"
# Requirement-file options that choose indexes (pip's syntax, which uv reads too).
_FILE_OPTION = re.compile(
    r"^(?P<opt>-i|--index-url|--extra-index-url|-f|--find-links|--no-index)(?:[=\s]+(?P<val>\S+))?")


@dataclass(frozen=True, kw_only=True)
class IndexSettings:
    """Index options given to lambdalayer (flags, else the layer's config, else the project's)."""

    index_url: str | None = None
    extra_index_urls: tuple[str, ...] = ()
    find_links: tuple[str, ...] = ()
    # --offline: uv installs from its cache only, and the index is not asked (not part
    # of the build's inputs: the same versions offline or not are the same layer).
    offline: bool = False
    # Where indexes came from when not from lambdalayer's own options ("index: URL (from
    # PIP_INDEX_URL)"), said once by the build; not an input (the URLs are).
    origins: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.index_url or self.extra_index_urls or self.find_links)

    def uv_args(self) -> list[str]:
        """The uv options that carry no credentials (uv_env has the others)."""
        secret = self._secret_options()
        args: list[str] = []
        if self.index_url and "index" not in secret:
            args += ["--index-url", self.index_url]
        if "extra" not in secret:
            for url in self.extra_index_urls:
                args += ["--extra-index-url", url]
        if "links" not in secret:
            for link in self.find_links:
                args += ["--find-links", link]
        if self.offline:
            args.append("--offline")
        return args

    def uv_env(self) -> dict[str, str]:
        """The options whose URLs carry credentials, as uv's environment variables.

        A command line is readable by every local user (/proc/PID/cmdline); a process's
        environment only by its owner. uv reads each variable as the option it stands
        for (a flag replaces the variable, so an option goes whole: all its values in
        the variable, in order), and merges requirement-file options with it as with
        the flag."""
        secret = self._secret_options()
        env: dict[str, str] = {}
        if self.index_url and "index" in secret:
            env["UV_INDEX_URL"] = self.index_url
        if "extra" in secret:
            env["UV_EXTRA_INDEX_URL"] = " ".join(self.extra_index_urls)  # space-separated
        if "links" in secret:
            env["UV_FIND_LINKS"] = ",".join(_without_comma(u) for u in self.find_links)
        return env

    def _secret_options(self) -> set[str]:
        options = {"index": [self.index_url or ""], "extra": list(self.extra_index_urls),
                   "links": list(self.find_links)}
        return {name for name, urls in options.items()
                if any(strip_credentials(u) != u for u in urls)}

    def record(self) -> dict[str, Any]:
        """For manifests, fingerprints and JSON: the URLs with credentials redacted."""
        return {"index_url": redact_url(self.index_url) if self.index_url else None,
                "extra_index_urls": [redact_url(u) for u in self.extra_index_urls],
                "find_links": [redact_url(u) for u in self.find_links]}

    def then(self, files: IndexSettings) -> IndexSettings:
        """These (command-line) settings combined with a requirement file's, as uv does:
        our index URL wins, extra indexes and find-links add up (ours first)."""
        return IndexSettings(
            index_url=self.index_url or files.index_url,
            extra_index_urls=tuple(dict.fromkeys(self.extra_index_urls + files.extra_index_urls)),
            find_links=tuple(dict.fromkeys(self.find_links + files.find_links)))

    def lock_lines(self) -> list[str]:
        """The options as requirement-file lines for a lock meant to be committed: URLs
        without credentials (uv takes those from its own sources, docs/trust.md), and
        no local find-links folder (a path on this machine; the build passes it)."""
        lines = [f"--index-url {strip_credentials(self.index_url)}"] if self.index_url else []
        lines += [f"--extra-index-url {strip_credentials(u)}" for u in self.extra_index_urls]
        lines += [f"--find-links {strip_credentials(u)}" for u in self.find_links
                  if _URL_SCHEME.match(u)]
        return lines

    def over(self, lower: IndexSettings) -> IndexSettings:
        """These settings where given, `lower`'s elsewhere (flags over config)."""
        return IndexSettings(index_url=self.index_url or lower.index_url,
                             extra_index_urls=self.extra_index_urls or lower.extra_index_urls,
                             find_links=self.find_links or lower.find_links,
                             offline=self.offline or lower.offline,
                             origins=self.origins or lower.origins)


@dataclass(frozen=True, kw_only=True)
class QueryPlan:
    """The indexes to ask about a project, in uv's order, or why none may be asked."""

    urls: tuple[str, ...]
    skipped: str | None = None
    # Local --find-links directories (flag, config, UV_FIND_LINKS, requirement files): uv
    # takes releases from them as from an index, so the newest-release rule looks there too.
    find_links: tuple[Path, ...] = ()


_URL_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def _without_comma(link: str) -> str:
    """A --find-links entry fit for UV_FIND_LINKS (comma-separated): a comma in a URL
    percent-escaped, a local path holding one as a file:// URL (which escapes it)."""
    if "," not in link:
        return link
    if _URL_SCHEME.match(link):
        return link.replace(",", "%2C")
    return Path(link).expanduser().resolve().as_uri()
_FIND_LINKS = re.compile(r"^(?:-f|--find-links)(?:[=\s]+(?P<val>\S+))")


def file_settings(files: Iterable[tuple[str, Path]]) -> IndexSettings:
    """The index options written in requirement files ((text, the file's folder) pairs):
    what uv reads from them, for a locked build that no longer reads those files. A
    relative find-links folder is taken from the file's folder."""
    found = _file_options(text for text, _ in files)
    links: list[str] = []
    for text, folder in files:
        for raw in text.splitlines():
            match = _FIND_LINKS.match(raw.strip())
            if match and match.group("val"):
                value = match.group("val")
                links.append(value if _URL_SCHEME.match(value) or Path(value).is_absolute()
                             else str(folder / value))
    return IndexSettings(index_url=next(iter(found["index"]), None),
                         extra_index_urls=tuple(dict.fromkeys(found["extra"])),
                         find_links=tuple(dict.fromkeys(links)))


def _env_urls(*names: str) -> list[str]:
    return [u for n in names for u in os.environ.get(n, "").split() if u]


def _file_options(texts: Iterable[str]) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {"index": [], "extra": [], "no-index": [], "find-links": []}
    for text in texts:
        for raw in text.splitlines():
            match = _FILE_OPTION.match(raw.strip())
            if not match:
                continue
            opt, value = match.group("opt"), match.group("val") or ""
            if opt in ("-i", "--index-url"):
                found["index"].append(value)
            elif opt == "--extra-index-url":
                found["extra"].append(value)
            elif opt == "--no-index":
                found["no-index"].append(opt)
            elif opt in ("-f", "--find-links"):
                found["find-links"].append(value)
    return found


def _local_dirs(links: Iterable[str], bases: Iterable[Path]) -> tuple[Path, ...]:
    """The --find-links entries that are local directories (a path or a file:// URL),
    a relative one tried against each of `bases`. Remote pages are not read."""
    found: list[Path] = []
    for link in links:
        if not link:
            continue
        if link.startswith("file://"):
            link = link[len("file://"):]
        elif "://" in link:
            continue
        path = Path(link).expanduser()
        candidates = [path] if path.is_absolute() else [base / path for base in bases]
        found.extend(c.resolve() for c in candidates if c.is_dir())
    return tuple(dict.fromkeys(found))


def _uv_config_files(start: Path) -> list[Path]:
    """uv's own settings files that apply here (project, user, system), when any."""
    if os.environ.get("UV_NO_CONFIG"):
        return []
    if os.environ.get("UV_CONFIG_FILE"):
        return [Path(os.environ["UV_CONFIG_FILE"])]
    found: list[Path] = []
    for directory in (start, *start.parents):
        if (directory / "uv.toml").is_file():
            found.append(directory / "uv.toml")
            break
        if (directory / "pyproject.toml").is_file():
            found.append(directory / "pyproject.toml")
            break
    xdg = os.environ.get("XDG_CONFIG_HOME")
    user = (Path(xdg) if xdg else Path.home() / ".config") / "uv" / "uv.toml"
    return [*found, user, Path("/etc/uv/uv.toml")]


def _uv_config_indexes(start: Path) -> tuple[list[str], list[str]] | None:
    """(default index, extra indexes) from uv.toml / [tool.uv]; None when one cannot be read."""
    from lambdalayer.common import _toml

    primary: list[str] = []
    extra: list[str] = []
    for path in _uv_config_files(start):
        try:
            data = _toml.loads(path.read_text("utf-8"))
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError, _toml.TOMLDecodeError):
            return None
        if path.name == "pyproject.toml":
            data = data.get("tool", {}).get("uv", {})
        for table in (data, data.get("pip", {})):
            if not isinstance(table, dict):
                continue
            if isinstance(table.get("index-url"), str):
                primary.append(table["index-url"])
            extras = table.get("extra-index-url", [])
            extra.extend(e for e in (extras if isinstance(extras, list) else [extras])
                         if isinstance(e, str))
            for index in table.get("index", []) if isinstance(table.get("index"), list) else []:
                if isinstance(index, dict) and isinstance(index.get("url"), str):
                    (primary if index.get("default") else extra).append(index["url"])
    return primary, extra


def is_offline(settings: IndexSettings) -> bool:
    """--offline, or uv's own UV_OFFLINE."""
    return settings.offline or os.environ.get("UV_OFFLINE", "").lower() in {"1", "true", "yes"}


def query_plan(settings: IndexSettings, requirement_texts: Iterable[str] = (),
               start: Path | None = None, bases: Iterable[Path] = (), *,
               even_offline: bool = False) -> QueryPlan:
    """The indexes uv would consult, most preferred first.

    Precedence as uv's: command-line options (here: flags/config) and UV_*
    variables over requirement-file options over uv.toml over PyPI. Extra
    indexes come before the default one. `bases` are the directories relative
    --find-links paths of requirement files may be relative to (besides the
    working directory). `even_offline`: the indexes an online build would ask (whose
    kept answers an offline build may read).
    """
    if not even_offline and is_offline(settings):
        return QueryPlan(urls=(), skipped="the build is offline (--offline or UV_OFFLINE)")
    files = _file_options(requirement_texts)
    find_links = _local_dirs(
        [*settings.find_links, *os.environ.get("UV_FIND_LINKS", "").replace(",", " ").split(),
         *files["find-links"]], [Path.cwd(), *bases])
    if files["no-index"] or os.environ.get("UV_NO_INDEX"):
        return QueryPlan(urls=(), skipped="the build uses no index (--no-index)",
                         find_links=find_links)
    configured = _uv_config_indexes((start or Path.cwd()).resolve())
    if configured is None:
        return QueryPlan(urls=(), skipped="uv's settings file could not be read")
    config_primary, config_extra = configured
    primary = (settings.index_url
               or next(iter(_env_urls("UV_DEFAULT_INDEX", "UV_INDEX_URL")), None)
               or next(iter(files["index"]), None)
               or next(iter(config_primary), None)
               or DEFAULT_INDEX)
    extras = [*settings.extra_index_urls, *_env_urls("UV_INDEX", "UV_EXTRA_INDEX_URL"),
              *files["extra"], *config_extra]
    ordered = [u.rstrip("/") for u in [*extras, primary]]
    return QueryPlan(urls=tuple(dict.fromkeys(ordered)), find_links=find_links)


def _index_named_elsewhere(requirement_texts: Iterable[str], start: Path | None) -> tuple[
        bool, bool]:
    """(a default index, extra indexes) named by uv's own variables, requirement files or
    uv's settings files: those win over pip's settings, as they would for uv."""
    files = _file_options(requirement_texts)
    configured = _uv_config_indexes((start or Path.cwd()).resolve()) or ([], [])
    primary = bool(_env_urls("UV_DEFAULT_INDEX", "UV_INDEX_URL") or files["index"]
                   or configured[0] or files["no-index"] or os.environ.get("UV_NO_INDEX"))
    extra = bool(_env_urls("UV_INDEX", "UV_EXTRA_INDEX_URL") or files["extra"]
                 or configured[1])
    return primary, extra


def from_pip(settings: IndexSettings, requirement_texts: Iterable[str] = (),
             start: Path | None = None) -> IndexSettings:
    """`settings` with PIP_INDEX_URL / PIP_EXTRA_INDEX_URL where nothing else names those
    indexes (a company's CI often sets only pip's variables), each use said in `origins`.
    Credentials in them go to uv through its environment, as for any index."""
    pip_index = next(iter(_env_urls("PIP_INDEX_URL")), None)
    pip_extra = tuple(_env_urls("PIP_EXTRA_INDEX_URL"))
    if not pip_index and not pip_extra:
        return settings
    primary, extra = _index_named_elsewhere(requirement_texts, start)
    index_url, extras, origins = settings.index_url, settings.extra_index_urls, []
    if pip_index and not index_url and not primary:
        index_url = pip_index
        origins.append(f"index: {redact_url(pip_index)} (from PIP_INDEX_URL)")
    if pip_extra and not extras and not extra:
        extras = pip_extra
        origins.append("extra index: " + " ".join(redact_url(u) for u in pip_extra)
                       + " (from PIP_EXTRA_INDEX_URL)")
    if not origins:
        return settings
    return IndexSettings(index_url=index_url, extra_index_urls=extras,
                         find_links=settings.find_links, offline=settings.offline,
                         origins=(*settings.origins, *origins))


def _pip_conf_files() -> list[Path]:
    """pip's configuration files, in pip's order (PIP_CONFIG_FILE alone when set)."""
    chosen = os.environ.get("PIP_CONFIG_FILE")
    if chosen is not None:
        return [] if chosen in ("", os.devnull) else [Path(chosen)]
    xdg = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(":")
    files = [Path("/etc/pip.conf"), *(Path(d) / "pip" / "pip.conf" for d in dirs if d),
             Path.home() / ".pip" / "pip.conf", Path(xdg) / "pip" / "pip.conf"]
    if os.environ.get("VIRTUAL_ENV"):
        files.append(Path(os.environ["VIRTUAL_ENV"]) / "pip.conf")
    return files


def pip_conf_note(settings: IndexSettings, requirement_texts: Iterable[str] = (),
                  start: Path | None = None) -> str | None:
    """A warning when pip's configuration file sets `index-url` that this build does not
    use (uv does not read pip.conf): the build would go to another index than pip would.
    None when nothing names another index, or the build's index is chosen anyway."""
    import configparser

    if settings.index_url or os.environ.get("PIP_INDEX_URL"):
        return None
    found: tuple[Path, str] | None = None
    for path in _pip_conf_files():
        parser = configparser.RawConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, UnicodeDecodeError, configparser.Error):
            continue
        for section in ("global", "install"):
            if parser.has_option(section, "index-url"):
                found = (path, parser.get(section, "index-url").strip())
    if found is None or _index_named_elsewhere(requirement_texts, start)[0]:
        return None
    path, url = found
    return (f"{path} sets pip's index-url {redact_url(url)}, which uv does not read: this "
            f"build uses {DEFAULT_INDEX}. To build from that index, pass --index-url, set "
            "index_url in [tool.lambdalayer], or PIP_INDEX_URL / UV_INDEX_URL; "
            "PIP_CONFIG_FILE=/dev/null silences this.")
