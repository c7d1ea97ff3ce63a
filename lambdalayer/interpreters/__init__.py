"""CPythons that stand in for a Lambda runtime: find them, launch them, provision more.

Takes a target (runtime x architecture); gives an interpreter and how to start it
(natively, under qemu-user, or through a root filesystem's loader). `find` picks
one, `launch` builds its command line, `provision` adds one (uv or Debian). Used
by resolution (sdist builds), the proof and the CLI alike.
"""
