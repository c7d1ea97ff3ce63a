"""Stage 2, resolve and install: from requirements to a laid-out layer tree per target.

Takes `requirements.RequirementInputs` (specs, files, index settings, local
projects, a uv project's lock) and a target; gives the installed distributions
in Lambda's layout (a `resolution.Resolution` per target). `resolver` runs uv for
the target (a wheel's tags are judged in `resolver._check_fit`), `newest` asks
the index when uv settled for an older release and says why, `still_current`
tries uv's cache alone first, `index_query` asks the index what it offers,
`index_settings` says which indexes, `install` lays trees out. Your own files
and projects are `owncode/`'s: it fills these inputs, this folder never imports it.
"""
