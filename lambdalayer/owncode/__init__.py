"""Your own code, the files that are yours rather than an index's: checked, hashed, built.

Takes what you name on the command line or in the config: `--source DIR` folders and
`--include SRC:DEST` files (`sources`, which walks a folder with `folder` and its root
`.gitignore` with `gitignore`), local projects given as requirements (`local_projects`:
built into pure wheels before uv sees them) and `--project DIR` (`uv_project`: its
uv.lock exported as hashed requirements). Gives the checked paths and their digests
for the input hash, `resolve.requirements.RequirementInputs` for the resolver, and
the copies placed into the layer tree. Nothing here installs for a target or prints.
"""
