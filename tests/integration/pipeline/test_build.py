"""`lambdalayer build` against the real package index."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from lambdalayer.resolve.index_query import newest_offer
from lambdalayer.targets.runtimes import load_runtime_table
from tests.helpers import assert_clean_failure, run_cli

pytestmark = pytest.mark.network

# From the runtime table, not a literal: a deprecation date passing must not break the suite.
CURRENT_RUNTIMES = [r.name for r in load_runtime_table().current()]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def pg8000_build(tmp_path_factory: pytest.TempPathFactory) -> dict:
    out = tmp_path_factory.mktemp("pg8000") / "dist"
    run = run_cli("build", "pg8000", "--out", str(out), "--json")
    assert run.returncode == 0, run.stderr
    return {"out": out, "doc": run.json(), "stderr": run.stderr}


def test_pg8000_recipe_is_one_pure_zip_for_every_runtime(pg8000_build: dict) -> None:
    doc = pg8000_build["doc"]
    assert doc["schema"] == 1
    [artifact] = doc["artifacts"]
    assert artifact["name"] == "pg8000"
    assert artifact["runtimes"] == CURRENT_RUNTIMES
    assert artifact["architectures"] == ["x86_64", "arm64"]
    versions = {p["name"]: p["version"] for p in artifact["packages"]}
    assert versions["pg8000"] == "1.31.6"
    assert versions["scramp"] == "1.5.0"
    assert set(versions) == {"pg8000", "scramp", "asn1crypto", "python-dateutil", "tzdata"}
    for key in ("path", "sha256", "code_sha256", "size", "unzipped_size", "findings"):
        assert key in artifact
    zip_path = Path(artifact["path"])
    assert sha256(zip_path) == artifact["sha256"]


def test_pg8000_zip_holds_importable_tree_without_installer_leftovers(pg8000_build: dict) -> None:
    zip_path = pg8000_build["out"] / "pg8000.zip"
    with zipfile.ZipFile(zip_path) as archive:
        names = archive.namelist()
        infos = archive.infolist()
    assert "python/pg8000/__init__.py" in names
    assert "python/scramp/__init__.py" in names
    assert any(n.startswith("python/pg8000-1.31.6.dist-info/") for n in names)
    assert all(n.startswith("python/") for n in names)
    assert not any("/bin/" in n or "__pycache__" in n or n.endswith(".pyc") for n in names)
    assert names == sorted(names)
    assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert all((i.external_attr >> 16) & 0o444 == 0o444 for i in infos)


def test_manifest_sits_beside_the_zip(pg8000_build: dict) -> None:
    import json

    manifest = json.loads((pg8000_build["out"] / "pg8000.json").read_text())
    assert manifest["zip"] == "pg8000.zip"
    assert manifest["recipe"] == "pg8000"
    assert manifest["code_sha256"] == pg8000_build["doc"]["artifacts"][0]["code_sha256"]
    assert manifest["inputs_hash"]
    assert all(p["tags"] == ["py3-none-any"] or "py3-none-any" in p["tags"]
               for p in manifest["packages"])


def test_rebuild_elsewhere_with_other_umask_is_byte_identical(
    pg8000_build: dict, tmp_path: Path
) -> None:
    other_cwd = tmp_path / "elsewhere"
    other_cwd.mkdir()
    run = run_cli("build", "pg8000", "--out", "out", "--force", cwd=other_cwd, umask=0o077,
                  env={"TZ": "Pacific/Kiritimati"})
    assert run.returncode == 0, run.stderr
    assert sha256(other_cwd / "out" / "pg8000.zip") == sha256(pg8000_build["out"] / "pg8000.zip")


def test_source_date_epoch_sets_the_timestamps(tmp_path: Path) -> None:
    run = run_cli("build", "pg8000", "--out", str(tmp_path),
                  env={"SOURCE_DATE_EPOCH": "1700000000"})
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(tmp_path / "pg8000.zip") as archive:
        assert {i.date_time for i in archive.infolist()} == {(2023, 11, 14, 22, 13, 20)}


def test_unchanged_rebuild_does_nothing_and_says_so(tmp_path: Path) -> None:
    first = run_cli("build", "pg8000", "--out", str(tmp_path), "--json")
    assert first.returncode == 0
    zip_path = tmp_path / "pg8000.zip"
    mtime = zip_path.stat().st_mtime_ns
    second = run_cli("build", "pg8000", "--out", str(tmp_path), "--json")
    assert second.returncode == 0
    assert second.json()["artifacts"][0]["up_to_date"] is True
    assert "up to date" in second.stderr  # --json: people's lines on stderr
    assert zip_path.stat().st_mtime_ns == mtime
    forced = run_cli("build", "pg8000", "--out", str(tmp_path), "--force")
    assert forced.returncode == 0
    assert zip_path.stat().st_mtime_ns != mtime


def test_a_tampered_zip_is_not_up_to_date(tmp_path: Path) -> None:
    # The manifest's digest, not the file's presence, decides "up to date": a zip edited
    # after the build (same name, same size) is rebuilt to the bytes the inputs make.
    first = run_cli("build", "pg8000", "--out", str(tmp_path), "--json", "--no-proof")
    assert first.returncode == 0, first.stderr
    zip_path = tmp_path / "pg8000.zip"
    good = zip_path.read_bytes()
    tampered = bytearray(good)
    tampered[len(tampered) // 2] ^= 0xFF
    zip_path.write_bytes(bytes(tampered))

    again = run_cli("build", "pg8000", "--out", str(tmp_path), "--json", "--no-proof")

    assert again.returncode == 0, again.stderr
    assert zip_path.read_bytes() == good  # rebuilt, not trusted


def test_markers_are_evaluated_for_the_target_runtime(tmp_path: Path) -> None:
    # anyio needs exceptiongroup below Python 3.11 only. This host is 3.11+,
    # so a resolver that evaluated markers for the host would leave it out.
    run = run_cli("build", "tools", "-p", "anyio", "--runtime", "python3.10",
                  "--runtime", "python3.12", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    with zipfile.ZipFile(tmp_path / "tools.zip") as archive:
        names = archive.namelist()
    py310 = "python/lib/python3.10/site-packages/"
    py312 = "python/lib/python3.12/site-packages/"
    assert any(n.startswith(py310 + "exceptiongroup/") for n in names)
    assert not any(n.startswith(py312 + "exceptiongroup/") for n in names)
    assert any(n.startswith(py312 + "anyio/") for n in names)


def test_glibc_of_each_runtime_decides_the_numpy_version(tmp_path: Path) -> None:
    run = run_cli("build", "np", "-p", "numpy", "--runtime", "python3.11", "--runtime",
                  "python3.12", "--arch", "x86_64", "--out", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr
    manifest = __import__("json").loads((tmp_path / "np.json").read_text())
    by_version = {p["version"]: p["tags"] for p in manifest["packages"]}
    assert len(by_version) == 2
    old, new = sorted(by_version, key=lambda v: tuple(int(x) for x in v.split(".")[:3]))
    # python3.11 (Amazon Linux 2, glibc 2.26): a manylinux2014 (2_17) wheel.
    assert any("cp311" in t and ("manylinux2014" in t or "manylinux_2_17" in t)
               for t in by_version[old])
    # python3.12 (Amazon Linux 2023, glibc 2.34): the newest release.
    offer = newest_offer("numpy")
    assert offer is not None
    assert new == offer.version
    with zipfile.ZipFile(tmp_path / "np.zip") as archive:
        names = archive.namelist()
    assert any(n.startswith(f"python/lib/python3.11/site-packages/numpy-{old}.dist-info/")
               for n in names)
    assert any(n.startswith(f"python/lib/python3.12/site-packages/numpy-{new}.dist-info/")
               for n in names)


def test_arm64_build_carries_aarch64_machine_code(tmp_path: Path) -> None:
    run = run_cli("build", "pgbin", "-p", "psycopg2-binary", "--runtime", "python3.12",
                  "--arch", "arm64", "--out", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    assert artifact["architectures"] == ["arm64"]
    with zipfile.ZipFile(tmp_path / "pgbin.zip") as archive:
        extension = next(n for n in archive.namelist()
                         if n.startswith("python/lib/python3.12/site-packages/psycopg2/_psycopg")
                         and n.endswith(".so"))
        header = archive.read(extension)[:20]
    assert header[:4] == b"\x7fELF"
    assert int.from_bytes(header[18:20], "little") == 183  # EM_AARCH64


def test_native_layer_for_both_archs_is_one_zip_per_arch(tmp_path: Path) -> None:
    run = run_cli("build", "pgbin", "-p", "psycopg2-binary", "--runtime", "python3.12",
                  "--out", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr
    artifacts = run.json()["artifacts"]
    assert sorted(Path(a["path"]).name for a in artifacts) == ["pgbin-arm64.zip",
                                                               "pgbin-x86_64.zip"]
    # One layer name, as when two CI jobs build one architecture each: publish makes two
    # versions of `pgbin`, not two layers (docs/ci.md#one-layer-name-per-layer).
    assert [a["name"] for a in artifacts] == ["pgbin", "pgbin"]
    assert {json.loads((tmp_path / f"pgbin-{arch}.json").read_text())["name"]
            for arch in ("x86_64", "arm64")} == {"pgbin"}


def test_native_layer_without_runtime_asks_for_one(tmp_path: Path) -> None:
    run = run_cli("build", "pgbin", "-p", "psycopg2-binary", "--out", str(tmp_path))
    assert_clean_failure(run, 2)
    assert "--runtime" in run.stderr
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


def test_sdist_only_native_package_is_refused_with_the_alternative(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    run = run_cli("build", "db", "-p", "psycopg2", "--runtime", "python3.11", "--out", str(out))
    assert_clean_failure(run, 3)
    assert "psycopg2-binary" in run.stderr
    assert "pg8000" in run.stderr
    assert "python3.11" in run.stderr
    assert not out.exists()


def test_pure_python_sdist_is_built_into_a_universal_wheel(tmp_path: Path) -> None:
    # docopt has only ever been published as an sdist; it is pure Python.
    run = run_cli("build", "cli", "-p", "docopt==0.6.2", "--out", str(tmp_path), "--json")
    assert run.returncode == 0, run.stderr
    [artifact] = run.json()["artifacts"]
    assert artifact["packages"][0]["name"] == "docopt"
    with zipfile.ZipFile(tmp_path / "cli.zip") as archive:
        assert "python/docopt.py" in archive.namelist()


def test_lock_file_hashes_are_enforced(tmp_path: Path) -> None:
    good = tmp_path / "good.txt"
    good.write_text(
        "six==1.17.0 \\\n"
        "    --hash=sha256:4721f391ed90541fddacab5acf947aa0d3dc7d27b2e1e8eda2be8970586c3274\n"
    )
    run = run_cli("build", "six", "-r", str(good), "--out", str(tmp_path / "ok"))
    assert run.returncode == 0, run.stderr
    bad = tmp_path / "bad.txt"
    bad.write_text("six==1.17.0 --hash=sha256:" + "0" * 64 + "\n")
    out = tmp_path / "bad-out"
    run = run_cli("build", "six", "-r", str(bad), "--out", str(out))
    assert_clean_failure(run, 3)
    assert "hash" in run.stderr.lower()
    assert not out.exists()


@pytest.mark.parametrize(
    ("args", "code", "needle"),
    [
        (["build", "pg800"], 2, "did you mean 'pg8000'"),
        (["build", "x", "-p", "six", "--runtime", "python3.8"], 2, "python3.14"),
        (["build", "x", "-p", "six", "--arch", "sparc"], 2, "arm64"),
        (["build", "x", "-p", "zzqq-no-such-package-lambdalayer"], 3, "not found"),
        (["build", "x", "-r", "missing-requirements.txt"], 2, "no such file"),
        (["build", "x", "-p", "foo>>=1"], 2, "not a valid requirement"),
    ],
)
def test_bad_input_is_a_clean_error_and_writes_nothing(
    tmp_path: Path, args: list[str], code: int, needle: str
) -> None:
    out = tmp_path / "dist"
    run = run_cli(*args, "--out", str(out), cwd=tmp_path)
    assert_clean_failure(run, code)
    assert needle.lower() in run.stderr.lower()
    assert not out.exists()


def test_unreadable_requirements_file(tmp_path: Path) -> None:
    unreadable = tmp_path / "req.txt"
    unreadable.write_bytes(b"\xff\xfe\x00garbage")
    run = run_cli("build", "x", "-r", str(unreadable), "--out", str(tmp_path / "dist"))
    assert_clean_failure(run, 2)
    assert "req.txt" in run.stderr
