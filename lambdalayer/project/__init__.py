"""The project around the pipeline: config, recipes, locks, and what to deploy where.

Takes the working directory, flags and environment; gives `BuildRequest`s and
deploy plans. `config` finds and validates `[tool.lambdalayer]`/
`lambdalayer.toml`, `recipes` the built-in and user recipes, `lockfiles`
the per-target lock files, `precedence` merges defaults < config < environment <
flags, and `deploy` pairs published versions with configured functions.
"""
