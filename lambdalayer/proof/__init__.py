"""Stage 5, proof: run the layer on a real interpreter of each target.

Takes a layer tree or zip and its targets; gives per-target import results.
`interpreters` finds a CPython for a runtime, `smoke` lays the layer out as
Lambda does (`/opt`, its sys.path order) and runs `smoke_runner.py` in it
isolated; `compile` writes target bytecode with each runtime's own interpreter.
"""
