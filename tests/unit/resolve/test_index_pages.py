"""Index pages are read only within bounds (docs/trust.md, "What an index may answer"):
the real reader on crafted pages, each refusal a named reason, each check fast."""

from __future__ import annotations

import json
import time

import pytest

from lambdalayer.resolve.index_query import Refused, read_page

REAL = json.dumps({"meta": {"api-version": "1.1"}, "name": "x", "versions": ["1.0"],
                   "files": [{"filename": "x-1.0-py3-none-any.whl", "url": "x.whl",
                              "hashes": {"sha256": "ab" * 32},
                              "core-metadata": {"sha256": "cd" * 32},
                              "requires-python": ">=3.9", "yanked": "[[[{{ \"bad\" \\"}]}
                  ).encode()


def test_a_real_page_is_read_and_brackets_in_strings_do_not_count() -> None:
    [entry] = read_page(REAL)
    assert entry["filename"] == "x-1.0-py3-none-any.whl"
    assert entry["yanked"] == '[[[{{ "bad" \\'


@pytest.mark.parametrize(("body", "said"), [
    (b"[" * 500_000, "nested deeper than 10 levels"),
    (b"[" * 11 + b"]" * 11, "nested deeper than 10 levels"),
    (b'{"files": [}', "do not pair"),
    (b"<html>x</html>", "not JSON"),
    (b'{"files": 1' + b"1" * 5000 + b"}", "not JSON"),  # past int's digit limit
    (b"\xff\xfe", "not JSON"),
    (b'{"files": {}}', "lists no files"),
    (json.dumps({"files": [{"filename": "x-" + "1" * 5000 + "-py3-none-any.whl"}]}).encode(),
     "a file name of 5,019 characters"),
])
def test_a_page_outside_the_bounds_is_refused_with_its_reason(body: bytes, said: str) -> None:
    with pytest.raises(Refused, match=said):
        read_page(body)


HANG = 120.0


@pytest.mark.parametrize("body", [
    b'["' + b'\\"' * 2_000_000,  # an unterminated string of escaped quotes
    b"[]" * 2_000_000,
    b'"' * 4_000_000,
])
def test_the_nesting_check_takes_linear_time(body: bytes) -> None:
    # A hang guard, not a stopwatch: quadratic work (regex backtracking, a pass per
    # bracket) on these 4 MB runs for hours; linear work, a fraction of a second even
    # on a loaded machine.
    started = time.monotonic()
    with pytest.raises(Refused):
        read_page(body)
    assert time.monotonic() - started < HANG
