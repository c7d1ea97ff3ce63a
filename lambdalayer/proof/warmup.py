"""The proof's lookups, done while the build resolves instead of after the audit.

Before the first import the proof needs the box (proof/sandbox.find_sandbox runs a
`true` in bubblewrap once per command, about 50 ms) and one interpreter per target
(interpreters/find.find_for: a probe of each CPython, `uv python find` for a version the
host lacks). None of that depends on the layer, so `start` runs them in threads while
uv resolves (the main thread only waits on uv then) and `wait` joins them before the
proof looks them up itself: the same functions, the same answers (each is cached for
the command), only asked earlier. Once they are answered, the layer's bytecode starts
being compiled from what uv unpacks (proof/early.py). Nothing here runs any of the
layer's code; a lookup that fails here fails the same way when the proof asks again,
where it is reported.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence

from lambdalayer.interpreters.configured import NOTHING_CONFIGURED, ConfiguredInterpreters
from lambdalayer.targets.target import Target

_started: list[threading.Thread] = []


def lookups(targets: Sequence[Target]) -> list[tuple[str, str]]:
    """(X.Y, machine) pairs runner.pick_interpreter may ask find_for about: each target's
    own machine (native code), then this host's and the other one (pure Python runs
    anywhere, unemulated first)."""
    from lambdalayer.interpreters.find import host_machine

    host = host_machine()
    other = "aarch64" if host == "x86_64" else "x86_64"
    pairs: dict[tuple[str, str], None] = {}
    for target in targets:
        for machine in (target.machine, host, other):
            pairs[(target.runtime.python_version, machine)] = None
    return list(pairs)


def start(targets: Sequence[Target],
          configured: ConfiguredInterpreters = NOTHING_CONFIGURED, *,
          uv_since: float | None = None) -> None:
    """Find the box and the targets' interpreters in daemon threads (see the module);
    with `uv_since` (uv's start, time.time()), then start compiling what uv unpacks
    for the first target (proof/early.py)."""
    from lambdalayer.interpreters.find import find_for
    from lambdalayer.proof.sandbox import find_sandbox

    def box() -> None:
        with contextlib.suppress(Exception):  # raised again, and reported, when asked
            find_sandbox()

    def interpreter(version: str, machine: str) -> None:
        with contextlib.suppress(Exception):
            find_for(version, machine, configured)

    jobs = [threading.Thread(target=box, daemon=True, name="proof-warmup-box")]
    jobs += [threading.Thread(target=interpreter, args=pair, daemon=True,
                              name=f"proof-warmup-{pair[0]}-{pair[1]}")
             for pair in lookups(targets)]
    for job in jobs:
        job.start()
    _started.extend(jobs)
    if uv_since is not None and targets:
        from lambdalayer.proof import early

        early.start(targets[0], configured, uv_since, lookups=jobs)


def wait() -> None:
    """Join what `start` began (nothing when it was not called): the proof then finds
    every answer cached instead of asking a second time beside a running lookup."""
    while _started:
        _started.pop().join()
