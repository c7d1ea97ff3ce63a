"""Orchestration: from a `BuildRequest` to deterministic zips and their manifests.

Takes a `request.BuildRequest` (the only type the CLI fills); gives a
`request.BuildResult` of `Artifact`s. `layer.build_layer` is the entry: `plan`
answers "already up to date?" without importing the resolver, then
`stages.run_pipeline` runs the stages in order: resolve/ -> shrink/ -> audit/ ->
proof/ -> archive/, with reports/ for sizes. Stages never import this folder.
"""
