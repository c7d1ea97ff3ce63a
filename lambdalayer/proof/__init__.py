"""Stage 5, proof: run the layer on a real interpreter of each target.

Takes a layer tree or zip and its targets; gives per-target import results.
`prove` is the proof `build` uses; `runner` lays the layer out as Lambda does
(`/opt`, its sys.path order) and runs `in_target.py` in an isolated interpreter
that interpreters/ found and launches; `target_run` and `result` hold the
results; `compile` writes target bytecode with each runtime's own interpreter.
"""
