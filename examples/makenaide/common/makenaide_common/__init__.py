"""makenaide's shared code: the database connection and schema both functions use.

It ships in the makenaide-pg8000 layer (`sources = ["common"]` in
pyproject.toml), beside the pg8000 driver it needs; neither function
bundles a copy.
"""
