"""Stage 2, build: from a `BuildRequest` to deterministic zips and their manifests.

Takes a `request.BuildRequest` (the only type the CLI fills); gives a
`request.BuildResult` of `Artifact`s. `layer.build_layer` is the entry: `plan`
answers "already up to date?" without importing the resolver, then `pipeline`
strings the stages together: `resolve` (uv via `uvtool`, `requirements`, index
queries in `index`) -> `install` (the layer layout) -> shrink/ -> audit/ ->
proof/ (bytecode) -> `sizing` -> `archive` (the zip writer, with `cache` of
compressed members) -> `manifest`. `request` imports nothing of the pipeline.
"""
