"""A distribution's licence as its metadata states it (docs/supply-chain.md).

In order: PEP 639's `License-Expression` (an SPDX expression), else the `License ::`
trove classifiers, else a one-line `License:` field, else "unknown", said plainly.
And `denied_terms`: whether a licence needs one that `--deny-licence` refuses.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

UNKNOWN = "unknown"
_CLASSIFIER = "License :: "
_MAX_FIELD = 80  # longer `License:` fields are whole licence texts, not names


@dataclass(frozen=True, kw_only=True)
class Licence:
    """What a distribution's metadata says about its licence."""

    expression: str | None = None  # SPDX, from License-Expression
    names: tuple[str, ...] = ()  # from classifiers or a short License: field
    source: str = UNKNOWN  # "License-Expression" | "classifier" | "License" | "unknown"

    @property
    def text(self) -> str:
        """One line for people: the expression, the names joined by " AND ", or unknown."""
        if self.expression:
            return self.expression
        return " AND ".join(self.names) if self.names else UNKNOWN


def _classifier_name(value: str) -> str:
    """`License :: OSI Approved :: MIT License` -> `MIT License`."""
    return value.split("::")[-1].strip()


def licence_from_metadata(headers: list[tuple[str, str]]) -> Licence:
    """The licence stated by METADATA `headers` (name, value pairs in file order)."""
    expression = next((v.strip() for k, v in headers
                       if k.lower() == "license-expression" and v.strip()), None)
    if expression:
        return Licence(expression=expression, source="License-Expression")
    classifiers = tuple(dict.fromkeys(
        _classifier_name(v) for k, v in headers
        if k.lower() == "classifier" and v.startswith(_CLASSIFIER)
        and _classifier_name(v) not in {"OSI Approved", ""}))
    if classifiers:
        return Licence(names=classifiers, source="classifier")
    field = next((v.strip() for k, v in headers if k.lower() == "license"), "")
    if field and "\n" not in field and len(field) <= _MAX_FIELD and field.upper() != "UNKNOWN":
        return Licence(names=(field,), source="License")
    return Licence()


def read_licence(dist_info: Path) -> Licence:
    """The licence of the distribution installed as `dist_info` (a *.dist-info folder)."""
    try:
        text = (dist_info / "METADATA").read_text("utf-8", errors="replace")
    except OSError:
        return Licence()
    from email.parser import HeaderParser  # here: Licence alone is read from manifests

    message = HeaderParser().parsestr(text, headersonly=True)
    return licence_from_metadata([(k, str(v)) for k, v in message.items()])


# --- --deny-licence: does a distribution's licence need a denied one? ------------------
#
# A pattern is an SPDX licence id (`GPL-3.0-only`), a glob over ids (`AGPL-*`), an id with
# its exception (`GPL-2.0-only WITH Classpath-exception-2.0`) or `unknown`; compared
# without regard to case. An SPDX expression is judged as a choice: `A OR B` passes when
# either side passes (the user may take the allowed licence), `A AND B` fails when either
# side fails; `X WITH E` is licence X with an exception, so denying X denies it too.
# Classifiers (and a short `License:` field that is no SPDX expression) name licences, not
# a choice between them: each must pass; a name matches by itself or by its SPDX id below.

_DEPRECATED_GNU = re.compile(r"^(A?GPL|LGPL)-(\d\.\d)(\+?)$", re.IGNORECASE)
_ID = re.compile(r"[A-Za-z0-9.+:-]+")
_PATTERN = re.compile(r"[A-Za-z0-9.+:*?-]+( WITH [A-Za-z0-9.+:*?-]+)?", re.IGNORECASE)
# The License :: classifiers whose SPDX id is certain (no version left unsaid).
CLASSIFIER_IDS = {
    "MIT License": "MIT", "MIT No Attribution License (MIT-0)": "MIT-0",
    "ISC License (ISCL)": "ISC", "The Unlicense (Unlicense)": "Unlicense",
    "Mozilla Public License 2.0 (MPL 2.0)": "MPL-2.0",
    "GNU General Public License v2 (GPLv2)": "GPL-2.0-only",
    "GNU General Public License v2 or later (GPLv2+)": "GPL-2.0-or-later",
    "GNU General Public License v3 (GPLv3)": "GPL-3.0-only",
    "GNU General Public License v3 or later (GPLv3+)": "GPL-3.0-or-later",
    "GNU Affero General Public License v3": "AGPL-3.0-only",
    "GNU Affero General Public License v3 or later (AGPLv3+)": "AGPL-3.0-or-later",
    "GNU Lesser General Public License v2 (LGPLv2)": "LGPL-2.0-only",
    "GNU Lesser General Public License v2 or later (LGPLv2+)": "LGPL-2.0-or-later",
    "GNU Lesser General Public License v3 (LGPLv3)": "LGPL-3.0-only",
    "GNU Lesser General Public License v3 or later (LGPLv3+)": "LGPL-3.0-or-later",
}


def check_pattern(pattern: str) -> str:
    """`pattern` stripped, or ValueError saying what a pattern is."""
    text = " ".join(pattern.split())
    if text.lower() == UNKNOWN or _PATTERN.fullmatch(text):
        return text
    raise ValueError(f"{pattern!r} is not a licence to deny: give one SPDX id (GPL-3.0-only), "
                     "a glob over ids (AGPL-*), 'ID WITH EXCEPTION' or unknown; repeat the "
                     "option for several")


def _canonical(licence_id: str) -> str:
    """SPDX's deprecated GNU ids as their current ones: GPL-3.0 -> GPL-3.0-only."""
    match = _DEPRECATED_GNU.match(licence_id)
    if not match:
        return licence_id
    return f"{match[1]}-{match[2]}-{'or-later' if match[3] else 'only'}"


def _term_denied(term: str, patterns: list[str]) -> bool:
    """Whether one licence (an id, `ID WITH EXC`, or a classifier's name) is denied."""
    base, _, _exception = term.partition(" WITH ")
    names = {term.lower(), _canonical(base).lower(), base.lower(), _canonical(term).lower()}
    if base in CLASSIFIER_IDS:
        names.add(CLASSIFIER_IDS[base].lower())
    return any(fnmatch.fnmatchcase(name, p.lower()) for name in names for p in patterns)


def _tokens(expression: str) -> list[str] | None:
    """SPDX expression tokens, or None when the text is not one (e.g. "MIT License")."""
    tokens = re.findall(r"\(|\)|[^\s()]+", expression)
    for token in tokens:
        if token not in "()" and token.upper() not in {"AND", "OR", "WITH"} \
                and not _ID.fullmatch(token):
            return None
    return tokens


def _judge(tokens: list[str], patterns: list[str]) -> tuple[bool, list[str]]:
    """(passes, the denied terms that fail it): `OR` binds looser than `AND`."""
    position = 0

    def term() -> tuple[bool, list[str]]:
        nonlocal position
        token = tokens[position]
        position += 1
        if token == "(":
            result = either()
            if position >= len(tokens) or tokens[position] != ")":
                raise ValueError("unbalanced parentheses")
            position += 1
            return result
        if token in {")"} or token.upper() in {"AND", "OR", "WITH"}:
            raise ValueError(f"unexpected {token}")
        name = token
        if position + 1 < len(tokens) and tokens[position].upper() == "WITH":
            name = f"{token} WITH {tokens[position + 1]}"
            position += 2
        denied = _term_denied(name, patterns)
        return (not denied, [name] if denied else [])

    def joined(word: str, inner: Any, passes: Any) -> tuple[bool, list[str]]:
        nonlocal position
        results = [inner()]
        while position < len(tokens) and tokens[position].upper() == word:
            position += 1
            results.append(inner())
        ok = passes(r[0] for r in results)
        return ok, [] if ok else [t for r in results if not r[0] for t in r[1]]

    def both() -> tuple[bool, list[str]]:
        return joined("AND", term, all)

    def either() -> tuple[bool, list[str]]:
        return joined("OR", both, any)

    result = either()
    if position != len(tokens):
        raise ValueError("trailing tokens")
    return result


def denied_terms(licence: Licence, patterns: list[str]) -> list[str]:
    """The licences of `licence` that `patterns` deny and it cannot do without ([]: it
    passes). "unknown" denies a licence the metadata does not state."""
    if not patterns:
        return []
    if licence.source == UNKNOWN:
        return [UNKNOWN] if any(p.lower() == UNKNOWN for p in patterns) else []
    texts = [licence.expression] if licence.expression else list(licence.names)
    denied: list[str] = []
    for text in texts:
        tokens = _tokens(text)
        try:
            ok, terms = _judge(tokens, patterns) if tokens else (True, [])
        except (ValueError, IndexError):
            tokens = None
        if not tokens:  # a name, not an expression: matched as written
            ok, terms = (False, [text]) if _term_denied(text, patterns) else (True, [])
        if not ok:
            denied.extend(terms)
    return list(dict.fromkeys(denied))
