"""A small, exact subset of `.gitignore` matching, for the file at a folder's root.

Supported as git documents them (gitignore(5)): blank lines and `#` comments,
`\\#`/`\\!` escapes, trailing-space trimming, `!` negation (last match wins),
a trailing `/` (directories only), a `/` at the start or in the middle
(anchored to the folder), `*`, `?`, `[...]` and `**` (`**/x`, `x/**`, `a/**/b`).
Not supported: `.gitignore` files in subfolders, global excludes. As in git, a
file inside an excluded directory cannot be re-included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, kw_only=True)
class Rule:
    pattern: re.Pattern[str]
    negated: bool
    dir_only: bool


def _translate(glob: str) -> str:
    """A gitignore glob (no leading `/`) as a regex over a `/`-separated relative path."""
    out = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i) and (i == 0 or glob[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("/**", i) and i + 3 == len(glob):
            out.append("/.*")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[":
            end = glob.find("]", i + 2)
            if end == -1:
                out.append(re.escape("["))
                i += 1
                continue
            body = glob[i + 1:end]
            if body.startswith("!"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif glob[i] == "\\" and i + 1 < len(glob):
            out.append(re.escape(glob[i + 1]))
            i += 2
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


def parse_rule(line: str) -> Rule | None:
    """One line of a .gitignore, or None for blanks and comments."""
    line = line.rstrip("\n")
    # Trailing spaces are dropped unless escaped with a backslash.
    stripped = line.rstrip(" ")
    if stripped.endswith("\\") and len(stripped) < len(line):
        stripped += " "
    line = stripped
    if not line or line.startswith("#"):
        return None
    negated = line.startswith("!")
    if negated or line.startswith(("\\#", "\\!")):
        line = line[1:]
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    if not line:
        return None
    anchored = "/" in line
    line = line.lstrip("/")
    regex = _translate(line)
    if not anchored:
        regex = "(?:.*/)?" + regex
    return Rule(pattern=re.compile(f"^{regex}$", re.S), negated=negated, dir_only=dir_only)


@dataclass(frozen=True, kw_only=True)
class GitIgnore:
    rules: tuple[Rule, ...] = ()

    def ignored(self, rel: str, *, is_dir: bool) -> bool:
        """Whether `rel` (relative to the folder, `/`-separated) is excluded by itself.

        Callers walk top-down and do not descend into excluded directories.
        """
        result = False
        for rule in self.rules:
            if rule.dir_only and not is_dir:
                continue
            if rule.pattern.match(rel):
                result = not rule.negated
        return result


def load_gitignore(folder: Path) -> GitIgnore:
    """The rules of `folder/.gitignore` (none when there is no such file)."""
    path = folder / ".gitignore"
    try:
        text = path.read_text("utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return GitIgnore()
    rules = [rule for rule in map(parse_rule, text.splitlines()) if rule is not None]
    return GitIgnore(rules=tuple(rules))
