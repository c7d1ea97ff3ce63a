"""lambdalayer: AWS Lambda layers for any runtime and architecture, from any host.

One folder per pipeline stage, each taking the previous stage's plain data:
targets/ -> resolve/ (resolve, install) -> shrink/ -> audit/ -> proof/ ->
archive/ (zip, manifest) -> aws/ (publish, attach), with interpreters/ for the
CPythons that stand in for a runtime and reports/ for sizes and differences.
pipeline/ runs the stages; project/ turns config, recipes and locks into build
requests; cli/ is the only layer that parses options, prints or exits;
common/errors.py defines the exit code of every failure. docs/architecture.md
has the map.
"""

import os as _os


def _read_version() -> str:
    """The version hatch-vcs wrote at build or install time, from the git tag
    (pyproject.toml); 0.0.0 for a source tree that was never built. (os.path, not
    pathlib: every command, an answered rebuild too, starts here.)"""
    try:
        with open(_os.path.join(_os.path.dirname(__file__), "VERSION"), encoding="ascii") as f:
            return f.read().strip() or "0.0.0"
    except OSError:
        return "0.0.0"


__version__ = _read_version()
