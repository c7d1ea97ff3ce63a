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

__version__ = "0.1.0"
