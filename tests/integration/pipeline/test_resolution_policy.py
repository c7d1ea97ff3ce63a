"""Which release `build` installs, from an index made by the test: the newest that fits
the target, or an older one with a note saying why."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from tests.helpers import CliRun, assert_clean_failure, run_cli
from tests.package_index import make_sdist, make_wheel, serve_index
from tests.unit.audit.fixtures import compile_so

pytestmark = pytest.mark.network  # isolated sdist builds fetch setuptools from PyPI

SPEED = "int speed(void) { return 1; }\n"


def build(index: str, tmp_path: Path, *args: str) -> CliRun:
    env = {"UV_DEFAULT_INDEX": index, "UV_CACHE_DIR": str(tmp_path / "uvcache"),
           "LAMBDALAYER_CACHE_DIR": str(tmp_path / "llcache")}
    return run_cli("build", *args, "--runtime", "python3.12", "--arch", "x86_64",
                   "--out", str(tmp_path / "dist"), "--json", env=env)


def test_stale_wheel_tag_is_judged_by_file_name_and_elf(tmp_path: Path) -> None:
    files = tmp_path / "index"
    native = compile_so(tmp_path / "cc", "_native.so", SPEED)
    make_wheel(files, "ll-fixture-stale", "1.0",
               file_tag="cp312-cp312-manylinux_2_17_x86_64",
               wheel_tag="cp312-cp312-linux_x86_64",
               files={"ll_fixture_stale/__init__.py": b"",
                      "ll_fixture_stale/_native.cpython-312-x86_64-linux-gnu.so":
                          native.read_bytes()})
    with serve_index(files) as index:
        run = build(index, tmp_path, "stale", "-p", "ll-fixture-stale")
    assert run.returncode == 0, run.stderr
    doc = run.json()
    assert any("WHEEL file says cp312-cp312-linux_x86_64" in w for w in doc["warnings"])
    [artifact] = doc["artifacts"]
    assert {f["code"] for f in artifact["findings"]} == {"wheel-tag-stale"}
    with zipfile.ZipFile(artifact["path"]) as archive:
        names = archive.namelist()
    assert ("python/lib/python3.12/site-packages/ll_fixture_stale/"
            "_native.cpython-312-x86_64-linux-gnu.so") in names


def test_stale_wheel_tag_does_not_hide_a_wrong_machine(tmp_path: Path) -> None:
    from tests.unit.audit.fixtures import set_machine

    files = tmp_path / "index"
    native = compile_so(tmp_path / "cc", "_native.so", SPEED)
    set_machine(native, 183)  # EM_AARCH64: the ELF audit still decides
    make_wheel(files, "ll-fixture-stale", "1.0",
               file_tag="cp312-cp312-manylinux_2_17_x86_64",
               wheel_tag="cp312-cp312-linux_x86_64",
               files={"ll_fixture_stale/_native.cpython-312-x86_64-linux-gnu.so":
                          native.read_bytes()})
    with serve_index(files) as index:
        run = build(index, tmp_path, "stale", "-p", "ll-fixture-stale")
    assert_clean_failure(run, 4)


def _versions(run: CliRun) -> dict[str, str]:
    [artifact] = run.json()["artifacts"]
    return {p["name"]: p["version"] for p in artifact["packages"]}


def test_newest_pure_sdist_is_built_over_an_older_wheel(tmp_path: Path) -> None:
    files = tmp_path / "index"
    make_wheel(files, "ll-fixture-newest", "1.0", file_tag="py3-none-any",
               wheel_tag="py3-none-any", files={"ll_fixture_newest/__init__.py": b"OLD = 1\n"})
    make_sdist(files, "ll-fixture-newest", "2.0", module="ll_fixture_newest")
    with serve_index(files) as index:
        run = build(index, tmp_path, "newest", "-p", "ll-fixture-newest")
    assert run.returncode == 0, run.stderr
    assert _versions(run)["ll-fixture-newest"] == "2.0"
    assert any("ll-fixture-newest 2.0: built from its sdist" in w
               for w in run.json()["warnings"])


def test_pin_below_the_newest_release_is_reported(tmp_path: Path) -> None:
    files = tmp_path / "index"
    for version in ("1.0", "2.0"):
        make_wheel(files, "ll-fixture-newest", version, file_tag="py3-none-any",
                   wheel_tag="py3-none-any", files={"ll_fixture_newest/__init__.py": b""})
    with serve_index(files) as index:
        run = build(index, tmp_path, "pinned", "-p", "ll-fixture-newest<2")
    assert run.returncode == 0, run.stderr
    assert _versions(run)["ll-fixture-newest"] == "1.0"
    assert any("not the newest release (2.0): your requirement" in w
               for w in run.json()["warnings"])


def test_native_newest_sdist_falls_back_to_the_older_wheel(tmp_path: Path) -> None:
    files = tmp_path / "index"
    make_wheel(files, "ll-fixture-native", "1.0", file_tag="py3-none-any",
               wheel_tag="py3-none-any", files={"ll_fixture_native/__init__.py": b""})
    make_sdist(files, "ll-fixture-native", "2.0", module="ll_fixture_native", native=True)
    with serve_index(files) as index:
        run = build(index, tmp_path, "native", "-p", "ll-fixture-native")
    assert run.returncode == 0, run.stderr
    assert _versions(run)["ll-fixture-native"] == "1.0"
    [note] = [w for w in run.json()["warnings"] if "ll-fixture-native" in w]
    assert "2.0 publishes only an sdist, and it was refused" in note
    assert "1.0 is the newest release with a wheel" in note


def test_failed_native_sdist_build_says_why_in_one_line(tmp_path: Path) -> None:
    files = tmp_path / "index"
    make_sdist(files, "ll-fixture-gdal", "3.9.0", module="ll_fixture_gdal", native=True,
               c_header="ll_fixture_gdal_missing.h")
    with serve_index(files) as index:
        run = build(index, tmp_path, "geo", "-p", "ll-fixture-gdal")
    assert_clean_failure(run, 3)
    message = run.json()["error"]["message"]
    assert "needs the C header ll_fixture_gdal_missing.h" in message
    assert "cannot compile native code" in message
    log = Path(message.split("The full build log: ")[1].strip())
    assert log.is_file() and "ll_fixture_gdal_missing.h" in log.read_text()
    assert len(run.stderr) < 1500  # not the build backend's whole output


def test_newest_pure_sdist_in_a_find_links_directory_is_built(tmp_path: Path) -> None:
    links = tmp_path / "links"
    make_wheel(links, "ll-fixture-linked", "1.0", file_tag="py3-none-any",
               files={"ll_fixture_linked/__init__.py": b"OLD = 1\n"})
    make_sdist(links, "ll-fixture-linked", "2.0", module="ll_fixture_linked")
    (tmp_path / "requirements.txt").write_text("--find-links ./links\nll-fixture-linked\n")
    (tmp_path / "index").mkdir()
    with serve_index(tmp_path / "index") as index:
        run = build(index, tmp_path, "linked", "-r", str(tmp_path / "requirements.txt"))
    assert run.returncode == 0, run.stderr
    assert _versions(run)["ll-fixture-linked"] == "2.0"
    assert any("ll-fixture-linked 2.0: built from its sdist" in w
               for w in run.json()["warnings"])


def test_sdist_note_names_the_release_the_layer_holds(tmp_path: Path) -> None:
    files = tmp_path / "index"
    make_wheel(files, "ll-fixture-newer", "1.0", file_tag="py3-none-any",
               files={"ll_fixture_newer/__init__.py": b""})
    make_wheel(files, "ll-fixture-dep", "1.0", file_tag="py3-none-any",
               files={"ll_fixture_dep/__init__.py": b""})
    make_sdist(files, "ll-fixture-newer", "1.2", module="ll_fixture_newer")
    # The newest release needs a dependency release that does not exist: unusable.
    make_sdist(files, "ll-fixture-newer", "1.3", module="ll_fixture_newer",
               requires=("ll-fixture-dep>=5",))
    with serve_index(files) as index:
        run = build(index, tmp_path, "newer", "-p", "ll-fixture-newer")
    assert run.returncode == 0, run.stderr
    assert _versions(run)["ll-fixture-newer"] == "1.2"
    [note] = [w for w in run.json()["warnings"] if "ll-fixture-newer" in w]
    assert note.startswith("ll-fixture-newer 1.2: built from its sdist"), note
    assert "the newest release, 1.3, could not be used" in note
    assert "ll-fixture-dep" in note
