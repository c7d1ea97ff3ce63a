"""The wheels' own deflate streams, reused in the layer zip (docs/zip-format.md).

One home for the idea: `fetch.py` finds (and downloads) the wheel file each installed
distribution came from, `members.py` reads a wheel's deflated members and checks each
against the layer file it would stand for, and `reuse.py` ties them to a build (every
wheel looked for while the layer is installed, audited and proven; which layer files
may be copied from which member; which wheels a build could not have). It lives under
the pipeline because it needs both the index client (resolve/) and the zip writer
(archive/), which takes the streams as `archive.zipwriter.StreamSource`s.
"""
