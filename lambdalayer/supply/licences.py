"""A distribution's licence as its metadata states it (docs/supply-chain.md).

In order: PEP 639's `License-Expression` (an SPDX expression), else the `License ::`
trove classifiers, else a one-line `License:` field, else "unknown", said plainly.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.parser import HeaderParser
from pathlib import Path

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
    message = HeaderParser().parsestr(text, headersonly=True)
    return licence_from_metadata([(k, str(v)) for k, v in message.items()])
