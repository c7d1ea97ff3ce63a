"""A failed import whose cause lies in another distribution of the layer.

`from amazon.ion.simple_types import _IonNature` in ionhash fails once amazon-ion
drops `_IonNature`: ionhash's own files are fine, the pair no longer fits. The
interpreter says so in two shapes, which name the module that lacks something:

    ImportError: cannot import name '_IonNature' from 'amazon.ion.simple_types' (...)
    AttributeError: module 'amazon.ion' has no attribute 'x'

When that module belongs to another distribution of the layer, the failure is a
`Conflict` naming both distributions and their versions.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

_CANNOT_IMPORT = re.compile(r"cannot import name '([^']+)' from '([\w.]+)'")
_NO_ATTRIBUTE = re.compile(r"module '([\w.]+)' has no attribute '([^']+)'")


@dataclass(frozen=True, kw_only=True)
class Conflict:
    """`dist` (at `version`) needs `name` from `module`, which `provider` at
    `provider_version` in the layer does not have."""

    dist: str
    version: str
    provider: str
    provider_version: str
    name: str
    module: str

    def describe(self) -> str:
        return (f"{self.dist} {self.version} needs `{self.name}` from {self.provider} "
                f"({self.module}), which {self.provider} {self.provider_version} in the layer "
                f"does not have: the two releases do not fit together")


def find_conflict(dist: str, error: str | None, owners: Mapping[str, str],
                  versions: Mapping[str, str]) -> Conflict | None:
    """The Conflict behind `dist`'s import error, or None when the error is not about a
    module of another distribution in the layer. `owners` maps top-level module names to
    distributions, `versions` distributions to their versions."""
    if not error:
        return None
    match = _CANNOT_IMPORT.search(error)
    if match:
        name, module = match.group(1), match.group(2)
    else:
        match = _NO_ATTRIBUTE.search(error)
        if not match:
            return None
        module, name = match.group(1), match.group(2)
    provider = owners.get(module.split(".", 1)[0])
    if provider is None or provider == dist:
        return None
    return Conflict(dist=dist, version=versions.get(dist, "?"), provider=provider,
                    provider_version=versions.get(provider, "?"), name=name, module=module)
