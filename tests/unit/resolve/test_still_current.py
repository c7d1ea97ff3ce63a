"""When uv's cache alone may stand for an online resolution: the file installed must be
the one the index offers now, with no other file uv could prefer."""

from __future__ import annotations

from concurrent.futures import Future

import pytest

from lambdalayer.common.distinfo import InstalledDist
from lambdalayer.resolve import index_cache, still_current
from lambdalayer.resolve.index_query import IndexAnswer, IndexOffer
from lambdalayer.resolve.index_settings import QueryPlan
from lambdalayer.targets.target import Target

PY312 = Target.parse("python3.12", "x86_64")
NATIVE = "cp312-cp312-manylinux_2_17_x86_64"


def dist(name: str, version: str, *tags: str) -> InstalledDist:
    return InstalledDist(name=name, display_name=name, version=version, tags=tags,
                         root_is_purelib=True, requires=(), extras=(), requires_python=None,
                         files=(), dist_info=f"{name}-{version}.dist-info")


def offer(version: str, *wheels: str, sdist: bool = False) -> IndexOffer:
    return IndexOffer(name="p", version=version, wheel_platforms=(), has_sdist=sdist,
                      wheel_files=tuple(f"p-{version}-{w}.whl" for w in wheels))


@pytest.mark.parametrize(("installed", "offered", "built", "current"), [
    (dist("p", "1.0", "py3-none-any"), offer("1.0", "py3-none-any"), False, True),
    (dist("p", "1.0", "py2-none-any", "py3-none-any"), offer("1.0", "py2.py3-none-any"),
     False, True),
    (dist("p", "1.0", "py3-none-any"), offer("1.1", "py3-none-any"), False, False),
    (dist("p", "1.0", "py3-none-any"), offer("1.0.0", "py3-none-any"), False, True),
    # a second wheel that fits: uv might prefer it
    (dist("p", "1.0", "py3-none-any"), offer("1.0", "py3-none-any", "py312-none-any"),
     False, False),
    # other platforms' wheels do not count
    (dist("p", "1.0", NATIVE), offer("1.0", NATIVE, "cp312-cp312-musllinux_1_2_x86_64",
                                     "cp312-cp312-win_amd64", "cp313-cp313-" + NATIVE[12:]),
     False, True),
    (dist("p", "1.0", NATIVE), offer("1.0", "cp312-abi3-manylinux_2_17_x86_64"), False, False),
    (dist("p", "1.0", "py3-none-any"), offer("1.0"), False, False),
    (dist("p", "1.0", "py3-none-any"), None, False, False),
    # built from the sdist: the release must still publish only an sdist
    (dist("p", "1.0", "py3-none-any"), offer("1.0", sdist=True), True, True),
    (dist("p", "1.0", "py3-none-any"), offer("1.0", "py3-none-any", sdist=True), True, False),
    (dist("p", "1.0", "py3-none-any"), offer("1.0"), True, False),
    (dist("p", "1.0", "py3-none-any"), offer("2.0", sdist=True), True, False),
    (dist("p", "not a version", "py3-none-any"), offer("1.0", "py3-none-any"), False, False),
])
def test_the_file_installed_is_the_one_offered(installed: InstalledDist,
                                               offered: IndexOffer | None, built: bool,
                                               current: bool) -> None:
    assert still_current._offered(installed, offered, PY312, built=built) is current


def test_pages_read_this_build_are_not_asked_again(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[str] = []

    def once(key: tuple[QueryPlan, str], ask: object) -> Future[IndexAnswer]:
        asked.append(key[1])
        done: Future[IndexAnswer] = Future()
        done.set_result(IndexAnswer(offer=offer("1.0", "py3-none-any")))
        return done

    monkeypatch.setattr(index_cache, "once", once)
    dists = [dist("fresh", "9.9", "py3-none-any"), dist("p", "1.0", "py3-none-any")]
    plan = QueryPlan(urls=())
    assert still_current.still_current(dists, plan, PY312, built=(), fresh={"fresh"})
    assert asked == ["p"]
    assert not still_current.still_current([dist("p", "0.9", "py3-none-any")], plan, PY312,
                                           built=(), fresh=set())
