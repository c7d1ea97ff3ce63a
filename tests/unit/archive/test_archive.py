"""The deterministic zip writer."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lambdalayer.archive.zipwriter import iter_tree, write_zip, zips_as_is


def make_tree(root: Path, files: dict[str, bytes]) -> Path:
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def test_same_tree_same_bytes_whatever_the_workers_order_and_modes(tmp_path: Path) -> None:
    files = {f"python/pkg/m{i}.py": os.urandom(200) * (i + 1) for i in range(30)}
    first = make_tree(tmp_path / "a", files)
    second = make_tree(tmp_path / "b", dict(reversed(list(files.items()))))
    for path in second.rglob("*.py"):
        path.chmod(0o600)  # a private umask on the second host
        os.utime(path, (0, 1_000_000_000))
    write_zip(iter_tree(first), tmp_path / "a.zip", workers=1)
    write_zip(iter_tree(second), tmp_path / "b.zip", workers=8)
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_entries_are_world_readable_and_executables_keep_their_bit(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "t", {"python/tool.sh": b"#!/bin/sh\n", "python/a.py": b"x=1\n"})
    (root / "python/tool.sh").chmod(0o700)
    (root / "python/a.py").chmod(0o600)
    write_zip(iter_tree(root), tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        modes = {i.filename: (i.external_attr >> 16) & 0o777 for i in archive.infolist()}
    assert modes == {"python/a.py": 0o644, "python/tool.sh": 0o755}


def test_a_failed_write_leaves_no_file(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "t", {"python/a.py": b"x"})
    entries = [*iter_tree(root), ("python/gone.py", tmp_path / "does-not-exist")]
    with pytest.raises(FileNotFoundError):
        write_zip(entries, tmp_path / "out" / "layer.zip")
    assert list((tmp_path / "out").iterdir()) == []


def test_symlinks_are_not_followed(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "t", {"python/a.py": b"x"})
    (root / "python/link.py").symlink_to("/etc/passwd")
    assert [name for name, _ in iter_tree(root)] == ["python/a.py"]


@settings(max_examples=30, deadline=None)
@given(st.dictionaries(
    st.text(alphabet="abcdefgh_é", min_size=1, max_size=8),
    st.binary(max_size=2000), min_size=1, max_size=12,
))
def test_round_trip_any_content(tmp_path_factory: pytest.TempPathFactory,
                                files: dict[str, bytes]) -> None:
    root = make_tree(tmp_path_factory.mktemp("t"), {f"python/{k}.py": v for k, v in files.items()})
    out = root.parent / f"{root.name}.zip"
    stats = write_zip(iter_tree(root), out)
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        assert {i.filename: archive.read(i) for i in archive.infolist()} == {
            f"python/{k}.py": v for k, v in files.items()
        }
    assert stats.unzipped_size == sum(len(v) for v in files.values())


def test_modes_come_from_content_not_the_host_x_bit(tmp_path: Path) -> None:
    """Windows has no x bit for .so files and umasks differ: ELF and #! are 0755, the rest
    0644, whatever the file's mode on disk."""
    import stat

    files = {"lib.so": b"\x7fELF\x02\x01", "tool": b"#!/bin/sh\necho\n", "mod.py": b"x = 1\n",
             "data.bin": b"\x00\x01"}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        os.chmod(tmp_path / name, 0o755 if name == "mod.py" else 0o600)  # the host's bits lie
    zip_path = tmp_path / "out" / "l.zip"
    write_zip([(n, tmp_path / n) for n in files], zip_path)
    with zipfile.ZipFile(zip_path) as archive:
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}
    assert modes == {"lib.so": 0o755, "tool": 0o755, "mod.py": 0o644, "data.bin": 0o644}


def test_entries_are_sorted_and_carry_one_fixed_timestamp(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """Caught here, not only by the network tests: the writer must not use the clock or the
    order it was given."""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    root = make_tree(tmp_path / "t", {f"python/{c}.py": c.encode() for c in "zyxabc"})
    for path in root.rglob("*.py"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    files = sorted(iter_tree(root), reverse=True)
    write_zip(files, tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        infos = archive.infolist()
    names = [i.filename for i in infos]
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}


def test_zips_as_is_says_when_the_zip_would_differ_from_the_tree(tmp_path: Path) -> None:
    """`build --test-report` reports the proof of the tree as the zip's test only when
    they agree."""
    def tree(name: str) -> Path:
        root = tmp_path / name
        (root / "python" / "pkg").mkdir(parents=True)
        (root / "python" / "pkg" / "__init__.py").write_text("")
        return root

    plain = tree("plain")
    assert zips_as_is(plain)
    with_link = tree("link")
    (with_link / "python" / "alias.py").symlink_to(with_link / "python" / "pkg" / "__init__.py")
    empty_dir = tree("empty")
    (empty_dir / "python" / "namespace").mkdir()  # imports from the tree, gone from the zip
    nfd = tree("nfd")
    (nfd / "python" / "cafe\u0301.py").write_text("")
    fifo = tree("fifo")
    os.mkfifo(fifo / "python" / "pipe")
    for root in (with_link, empty_dir, nfd, fifo):
        assert not zips_as_is(root), root.name
