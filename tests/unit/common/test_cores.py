"""Cores claimed by critical work: whoever waits for a spare core waits while every core
is claimed, and never once a claim is given back (common/cores.py)."""

from __future__ import annotations

import threading
import time

from lambdalayer.common import cores


def test_a_claim_of_every_core_holds_waiters_until_it_is_given_back() -> None:
    every = cores._cores()
    stop = threading.Event()
    stop.set()  # a waiter that would block returns False at once instead
    assert cores.spare() and cores.wait_for_spare(stop)
    with cores.claimed(every):
        assert not cores.spare()
        assert not cores.wait_for_spare(stop)
    assert cores.spare() and cores.wait_for_spare(stop)


def test_a_claim_of_fewer_cores_than_the_machine_has_holds_nobody() -> None:
    stop = threading.Event()
    stop.set()
    with cores.claimed(cores._cores() - 1):
        assert cores.spare() and cores.wait_for_spare(stop)


def test_a_waiting_thread_goes_on_when_the_claim_ends_even_after_an_error() -> None:
    events: list[str] = []
    waiting = threading.Event()

    def waiter() -> None:
        waiting.set()
        cores.wait_for_spare()
        events.append("went on")

    thread = threading.Thread(target=waiter)
    try:
        with cores.claimed(cores._cores()):
            thread.start()
            assert waiting.wait(30)
            events.append("released")
            raise RuntimeError("the import failed")
    except RuntimeError:
        pass
    thread.join(30)
    assert events == ["released", "went on"]


def test_a_claim_gives_cores_back_early_never_more_than_it_took() -> None:
    every = cores._cores()
    with cores.claimed(every) as give_back:
        assert not cores.spare()
        give_back()
        assert cores.spare() and cores._CLAIMED[0] == every - 1
        give_back(every + 5)  # more than it holds: only what it holds
        assert cores._CLAIMED[0] == 0
    assert cores._CLAIMED[0] == 0  # the block's end gives back nothing twice


def test_a_core_given_back_wakes_the_waiter_at_once() -> None:
    """The waiter is woken by the give-back itself, not by its next poll (an hour off)."""
    woke = threading.Event()
    with cores.claimed(cores._cores()) as give_back:
        waiter = threading.Thread(target=lambda: woke.set() if cores.wait_for_spare(
            poll=3600) else None)
        waiter.start()
        time.sleep(0.2)  # the waiter waiting (it passes anyway if it comes later)
        give_back()
        waiter.join(timeout=30)
    assert woke.is_set()
