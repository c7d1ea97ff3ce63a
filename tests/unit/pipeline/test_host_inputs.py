"""What changes a layer's bytes on this host is a build input (pipeline/plan.py;
docs/zip-format.md)."""

from __future__ import annotations

import os
import stat
import zipfile
from pathlib import Path

import pytest

from lambdalayer.archive import compressor
from lambdalayer.archive.manifest import hash_inputs
from lambdalayer.archive.zipwriter import fixed_timestamp, timestamp_warning, write_zip
from lambdalayer.interpreters import find as interpreters
from lambdalayer.interpreters.find import Interpreter
from lambdalayer.pipeline.plan import inputs_record, plan_targets
from lambdalayer.pipeline.request import BuildRequest
from lambdalayer.resolve.requirements import RequirementInputs, read_requirement_file


def _request(tmp_path: Path, **options: object) -> BuildRequest:
    return BuildRequest(name="l", inputs=RequirementInputs(specs=("chardet==5.2.0",)),
                        out_dir=tmp_path / "dist", runtimes=("python3.12",),
                        architectures=("x86_64",), **options)  # type: ignore[arg-type]


def _hash(request: BuildRequest) -> str:
    return hash_inputs(inputs_record(request, plan_targets(request)))


def test_requirement_files_are_recorded_relative_to_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = []
    for where in ("checkout", "moved/elsewhere"):
        project = tmp_path / where
        project.mkdir(parents=True)
        (project / "requirements.txt").write_text("chardet==5.2.0\n")
        monkeypatch.chdir(project)
        inputs = RequirementInputs(files=(read_requirement_file(Path("requirements.txt")),))
        request = BuildRequest(name="l", inputs=inputs, out_dir=Path("dist"),
                               runtimes=("python3.12",))
        record = inputs_record(request, plan_targets(request))
        assert record["requirement_files"] == ["requirements.txt"]
        hashes.append(hash_inputs(record))
    assert hashes[0] == hashes[1]


def test_compile_interpreter_versions_are_inputs(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def fake(version: str) -> Interpreter:
        return Interpreter(path="/x/python", version=f"{version}.{patch}", machine="x86_64",
                           system="Linux", libc="glibc")

    monkeypatch.setattr(interpreters, "find_interpreter", fake)
    patch = 1
    request = _request(tmp_path, compile=True)
    record = inputs_record(request, plan_targets(request))
    assert record["compile_interpreters"] == {"python3.12": "3.12.1"}
    first = hash_inputs(record)
    patch = 8
    assert _hash(request) != first
    assert "compile_interpreters" not in inputs_record(_request(tmp_path),
                                                       plan_targets(_request(tmp_path)))


@pytest.mark.skipif(os.name == "nt", reason="the stand-in strip tool is a shell script")
def test_strip_tool_and_its_version_are_inputs(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    tool = tmp_path / "my-strip"
    hashes = []
    for version in ("17.0.6", "18.1.8"):
        tool.write_text(f"#!/bin/sh\necho 'LLVM version {version}'\n")
        tool.chmod(0o755)
        monkeypatch.setenv("LAMBDALAYER_STRIP", str(tool))
        from lambdalayer.shrink import strip

        strip._tool_version.cache_clear()
        request = _request(tmp_path, strip=True)
        record = inputs_record(request, plan_targets(request))
        assert record["strip_tools"] == {"x86_64": [f"my-strip: LLVM version {version}"]}
        hashes.append(hash_inputs(record))
    assert hashes[0] != hashes[1]


def test_the_compressor_is_an_input_and_a_foreign_one_is_warned_about(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    request = _request(tmp_path)
    assert inputs_record(request, plan_targets(request))["compressor"] == {
        "implementation": compressor.implementation(), "output": compressor.output_digest(6)}
    assert not any("deflate" in w for w in plan_targets(request).warnings)
    before = _hash(request)
    monkeypatch.setattr(compressor, "output_digest", lambda level=6: "0123456789abcdef")
    assert _hash(request) != before
    assert any("deflate" in w and "--compression-level 0" in w
               for w in plan_targets(request).warnings)
    # Stored entries do not depend on the compressor: no warning then.
    assert not any("deflate" in w for w in plan_targets(_request(
        tmp_path, compression_level=0)).warnings)


def test_this_host_writes_the_reference_deflate() -> None:
    """The recorded CodeSha256 values (tests/data/host_identity.json) assume it."""
    assert not compressor.differs_from_reference(), compressor.implementation()


def test_level_0_writes_stored_entries(tmp_path: Path) -> None:
    source = tmp_path / "a.py"
    source.write_bytes(b"x = 1\n" * 1000)
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 << 20))  # chunked path
    out = tmp_path / "o.zip"
    write_zip([("a.py", source), ("big.bin", big)], out, level=0)
    with zipfile.ZipFile(out) as archive:
        assert {i.compress_type for i in archive.infolist()} == {zipfile.ZIP_STORED}
        assert archive.testzip() is None
        assert archive.read("big.bin") == big.read_bytes()


@pytest.mark.parametrize(("epoch", "stamp", "warned"), [
    ("5000000000", (2107, 12, 31, 23, 59, 58), "after 2107"),
    ("99999999999999999999", (2107, 12, 31, 23, 59, 58), "after 2107"),
    ("0", (1980, 1, 1, 0, 0, 0), "before 1980"),
    ("1700000000", (2023, 11, 14, 22, 13, 20), None),
])
def test_source_date_epoch_is_clamped_to_what_a_zip_can_hold(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, epoch: str,
        stamp: tuple[int, ...], warned: str | None) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", epoch)
    assert fixed_timestamp() == stamp
    message = timestamp_warning()
    assert (message is None) if warned is None else (message is not None and warned in message)
    source = tmp_path / "f"
    source.write_text("x")
    write_zip([("f", source)], tmp_path / "o.zip")
    with zipfile.ZipFile(tmp_path / "o.zip") as archive:
        assert archive.infolist()[0].date_time == stamp
    warnings = plan_targets(_request(tmp_path)).warnings
    assert any(warned in w for w in warnings) if warned else not any(
        "SOURCE_DATE_EPOCH" in w for w in warnings)


def test_mode_does_not_depend_on_stat(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Emulated Windows: no file has an x bit, yet the .so and the script stay 0755."""
    for name, data in {"_c.so": b"\x7fELF\x02", "run": b"#!/bin/sh\n", "m.py": b""}.items():
        (tmp_path / name).write_bytes(data)
    real_stat = os.stat_result

    def no_x(self: Path, *, follow_symlinks: bool = True) -> os.stat_result:
        st = os.stat(self, follow_symlinks=follow_symlinks)
        fields = list(st)
        fields[0] = stat.S_IFREG | 0o666 if stat.S_ISREG(st.st_mode) else st.st_mode
        return real_stat(fields)

    monkeypatch.setattr(Path, "stat", no_x)
    write_zip([(n, tmp_path / n) for n in ("_c.so", "run", "m.py")], tmp_path / "o.zip")
    monkeypatch.undo()
    with zipfile.ZipFile(tmp_path / "o.zip") as archive:
        modes = {i.filename: stat.S_IMODE(i.external_attr >> 16) for i in archive.infolist()}
    assert modes == {"_c.so": 0o755, "run": 0o755, "m.py": 0o644}
