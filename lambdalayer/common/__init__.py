"""Plumbing every stage may use, importing nothing else of lambdalayer.

Takes nothing of the pipeline; gives the pieces all stages share: `errors` (the
one exception base and the exit codes), `fileio` (atomic writes), `cache` (the
cache root and its member cache), `uvtool` (running uv), `distinfo` (reading
installed distributions), `limits` (Lambda's size limits), `redact`,
`interrupt` (signals), `workdirs`, `units`, `advice`, `_toml` and `zipread`
(the safe zip extractor).
"""
