"""lambdalayer: AWS Lambda layers for any runtime and architecture, from any host.

One folder per pipeline stage, each taking the previous stage's plain data:
targets/ -> build/ (resolve, install) -> shrink/ -> audit/ -> proof/ ->
build/ (archive, manifest) -> aws/ (publish, attach). project/ turns config,
recipes and locks into build requests; cli/ is the only layer that parses
options, prints or exits; errors.py maps every failure to an exit code.
"""

__version__ = "0.1.0"
