"""Nothing lost: outputs never land on what lambdalayer did not write, names never become
paths, and every bad value or path is a message (docs/safety.md).

Builds a tiny local wheel (no index, under a second each) as a user would.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdalayer.archive.manifest import Manifest, PublishedVersion
from lambdalayer.common.workdirs import sweep_partials
from tests.helpers import assert_clean_failure, run_cli
from tests.package_index import make_wheel, serve_index

TARGET = ["--runtime", "python3.12", "--arch", "x86_64", "--no-proof"]


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A git checkout with notes and sources, and a wheel to build."""
    root = tmp_path / "proj"
    (root / "src").mkdir(parents=True)
    (root / "src" / "app.py").write_text("print('app')\n")
    (root / "notes.txt").write_text("years of notes\n")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    make_wheel(root, "tinypkg", "1.0")
    return root


def build(project: Path, *args: str, name: str = "tiny") -> list[str]:
    return ["build", name, "-p", "./tinypkg-1.0-py3-none-any.whl", *TARGET, *args]


def tree(root: Path, skip: tuple[Path, ...] = ()) -> dict[str, str]:
    """Every file below `root` (links as their target) with its digest, minus `skip`."""
    found = {}
    for dirpath, dirs, files in os.walk(root):
        here = Path(dirpath)
        dirs[:] = [d for d in dirs if here / d not in skip]
        for name in files:
            path = here / name
            if path in skip:
                continue
            found[str(path.relative_to(root))] = (
                f"link:{os.readlink(path)}" if path.is_symlink()
                else hashlib.sha256(path.read_bytes()).hexdigest())
    return found


@pytest.mark.parametrize("target", [".", "..", "/", "src/..", "dist"])
def test_unpacked_never_empties_the_project_or_dist(project: Path, target: str) -> None:
    assert run_cli(*build(project), cwd=project).returncode == 0
    before = tree(project)
    run = run_cli(*build(project, "--unpacked", target), cwd=project)
    assert_clean_failure(run, 2)
    assert "--unpacked" in run.stderr
    assert tree(project) == before


def test_unpacked_replaces_only_what_it_wrote(project: Path) -> None:
    out = project.parent / "artifacts"
    assert run_cli(*build(project, "--unpacked", str(out)), cwd=project).returncode == 0
    assert (out / "python" / "tinypkg" / "__init__.py").is_file()
    again = run_cli(*build(project, "--unpacked", str(out), "--force"), cwd=project)
    assert again.returncode == 0, again.stderr
    (out / "mine.txt").write_text("not lambdalayer's")
    refused = run_cli(*build(project, "--unpacked", str(out), "--force"), cwd=project)
    assert_clean_failure(refused, 2)
    assert "mine.txt" in refused.stderr and (out / "mine.txt").read_text() == "not lambdalayer's"
    nonempty = project.parent / "someone"
    nonempty.mkdir()
    (nonempty / "data.csv").write_text("1,2\n")
    assert_clean_failure(run_cli(*build(project, "--unpacked", str(nonempty)), cwd=project), 2)
    assert (nonempty / "data.csv").read_text() == "1,2\n"


@pytest.mark.parametrize("name", ["../package", "a/b", "sp ace", "x" * 300, "dots.name",
                                  "tab\tname", "ünïcode", "new\nline"])
def test_names_are_checked_before_anything_is_written(project: Path, name: str) -> None:
    (project / "package.json").write_text("{}")
    before = tree(project.parent)
    run = run_cli(*build(project, name=name), cwd=project)
    assert_clean_failure(run, 2)
    assert "letter, a digit, '-' or '_'" in run.stderr
    assert tree(project.parent) == before


def test_a_name_of_140_characters_builds(project: Path) -> None:
    run = run_cli(*build(project, name="n" * 140), cwd=project)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("args", [
    ["--out", "/dev/null"], ["--out", "afile/dist"], ["--unpacked", "afile/x"],
    ["--unpacked", "/dev/null"], ["--report", "afile/r.html"], ["--report", "/dev/null"],
    ["--report", "notes.txt"], ["--out", "."], ["--out", "src/.."],
])
def test_bad_output_paths_are_messages(project: Path, args: list[str]) -> None:
    (project / "afile").write_text("a file")
    before = tree(project)
    run = run_cli(*build(project, *args), cwd=project)
    assert_clean_failure(run, 2)
    assert tree(project) == before


def test_report_output_is_checked(project: Path) -> None:
    (project / "afile").write_text("a file")
    assert run_cli(*build(project), cwd=project).returncode == 0
    before = tree(project)
    for output in ("afile/r.html", "/dev/null", "notes.txt", "dist/tiny.json"):
        assert_clean_failure(run_cli("report", "dist/tiny.zip", "-o", output, cwd=project), 2)
    assert tree(project) == before
    assert run_cli("report", "dist/tiny.zip", "-o", "r.html", cwd=project).returncode == 0
    assert run_cli("report", "dist/tiny.zip", "-o", "r.html", cwd=project).returncode == 0


def test_a_read_only_output_folder_is_a_message(project: Path) -> None:
    locked = project.parent / "locked"
    if os.geteuid() != 0:
        locked.mkdir(mode=0o500)
        assert_clean_failure(run_cli(*build(project, "--out", str(locked / "dist")),
                                     cwd=project), 2)
        return
    # Root writes into a folder without write bits: a read-only filesystem stands in.
    from tests.integration.pipeline.test_disk_faults import mount_tmpfs

    for read_only in mount_tmpfs(locked, "ro,size=64k"):
        run = run_cli(*build(project, "--out", str(read_only / "dist")), cwd=project)
        assert_clean_failure(run, 2)


@pytest.mark.parametrize("args", [["build", "--json", "--bogus"],
                                  ["build", "--json", "--compression-level", "12"],
                                  ["check", "--json"], ["publish", "--json", "--nope"]])
def test_usage_errors_under_json_are_json(args: list[str]) -> None:
    run = run_cli(*args)
    assert run.returncode == 2
    document = json.loads(run.stdout)
    assert document["error"]["exit_code"] == 2 and document["error"]["message"]


def test_a_dead_builds_partial_files_are_swept(project: Path) -> None:
    dist = project / "dist"
    dist.mkdir()
    dead = 2**22 + 12345  # above pid_max's default: no such process
    left = [dist / f".tiny.zip.{dead}.partial", dist / f"..tiny.zip.{dead}.partial.abc.tmp",
            dist / f".tiny.json.{dead}.partial"]
    for path in left:
        path.write_bytes(b"")
        os.utime(path, (0, 0))
    alive = dist / f".tiny.zip.{os.getppid()}.partial"  # a live process's: kept
    alive.write_bytes(b"")
    os.utime(alive, (0, 0))
    assert run_cli(*build(project), cwd=project).returncode == 0
    assert not any(p.exists() for p in left)
    assert alive.exists()
    assert sweep_partials(dist) == 0


def _manifest(version: int) -> PublishedVersion:
    return PublishedVersion(region="us-east-1", version=version,
                            arn=f"arn:aws:lambda:us-east-1:123456789012:layer:tiny:{version}")


def test_an_older_version_never_replaces_a_newer_one() -> None:
    manifest = Manifest(name="tiny", zip="tiny.zip", sha256="", code_sha256="", size=0,
                        unzipped_size=0, runtimes=[], architectures=[], packages=[],
                        tool_version="", inputs_hash="", inputs={})
    manifest.record_published(_manifest(20))
    manifest.record_published(_manifest(19))
    assert manifest.published == [_manifest(20)]
    manifest.record_published(_manifest(21))
    assert manifest.published == [_manifest(21)]


# --- config values of every wrong type -----------------------------------------------

_WRONG = {"int": "5", "bool": "true", "list": "[1, 2]", "table": "{ a = 1 }",
          "nul": '"a\\u0000b"', "float": "1.5", "string": '"x"'}
_TOP = ["out", "region", "regions", "runtimes", "architectures", "recipes", "locks",
        "layers", "interpreters", "index_url", "extra_index_url", "find_links"]
_LAYER = ["recipe", "requirements", "packages", "runtimes", "architectures", "functions",
          "regions", "permissions", "description", "license", "allow", "slim", "strip",
          "exclude", "slim_patterns", "compile", "compression_level", "proof_imports",
          "proof", "sources", "include", "project", "with_self", "index_url",
          "extra_index_url", "find_links"]


def _config_cases() -> list[tuple[str, str]]:
    cases = [("[tool]\nlambdalayer = 5\n", "tool"), ("tool = 5\n", "tool-scalar")]
    for key in _TOP:
        for kind, value in _WRONG.items():
            cases.append((f"[tool.lambdalayer]\n{key} = {value}\n", f"top-{key}-{kind}"))
    for key in _LAYER:
        for kind, value in _WRONG.items():
            body = f'{key} = {value}\n' if key == "packages" else \
                f'packages = ["tinypkg"]\n{key} = {value}\n'
            cases.append((f"[tool.lambdalayer.layers.l1]\n{body}", f"layer-{key}-{kind}"))
    cases.append(('[tool.lambdalayer.layers."a/b"]\npackages = ["x"]\n', "layer-name"))
    cases.append(('[tool.lambdalayer.layers.l1]\npackages = ["x"]\n'
                  '[tool.lambdalayer.layers.l1.permissions]\npublic = "yes"\n', "public"))
    return cases


def _main(args: list[str]) -> int:
    """The CLI's entry point in this process (hundreds of cases: a process each is slow)."""
    from lambdalayer.cli import main

    try:
        main(args)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def test_every_config_key_of_every_wrong_type_is_a_message(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
) -> None:
    """`build --layer nope` reads the whole config and stops before building: an exception
    other than the CLI's exit fails the test (that would be a traceback)."""
    failures = []
    for text, label in _config_cases():
        case = tmp_path / label
        case.mkdir()
        (case / ".git").mkdir()
        (case / "pyproject.toml").write_text("[project]\nname = 'p'\n" + text)
        monkeypatch.chdir(case)
        code = _main(["build", "--layer", "nope", "--json"])
        out, err = capsys.readouterr()
        if code != 2 or "error:" not in err or json.loads(out)["error"]["exit_code"] != 2:
            failures.append((label, code, err[-300:]))
    assert failures == []
    # The process-level check once: the real entry point, the real exit code.
    run = run_cli("build", "--layer", "nope", cwd=tmp_path / "tool")
    assert_clean_failure(run, 2)


# --- a property: names, paths and config values through the CLI ----------------------

_PATHS = st.sampled_from([".", "..", "/", "dist", "src", "src/..", "notes.txt",
                          "notes.txt/x", "/dev/null", "", "link-out", "link-out/x",
                          "x" * 300, "ünï/cødé", "new-dir/deeper", "dist/tiny.json"])
_NAMES = st.one_of(st.sampled_from(["tiny", "../up", "a/b", "", "sp ace", "x" * 141]),
                   st.text(min_size=0, max_size=20))


@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=_NAMES, option=st.sampled_from(["--out", "--unpacked", "--report"]),
       path=_PATHS)
def test_property_no_traceback_and_nothing_changed_outside_outputs(
        project: Path, name: str, option: str, path: str) -> None:
    if "\x00" in name or "\x00" in path:  # cannot be passed as an argument at all
        return
    outside = project.parent / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "keep.txt").write_text("keep")
    link = project / "link-out"
    if not link.is_symlink():
        link.symlink_to(outside)
    allowed = {project / "dist"}
    if path:
        allowed.add(Path(os.path.abspath(project / path)))
    before = tree(project.parent, skip=tuple(allowed))
    run = run_cli(*build(project, option, path, name=name), cwd=project)
    assert run.returncode in (0, 2), (run.returncode, run.stderr)
    assert "Traceback" not in run.stderr + run.stdout
    after = tree(project.parent, skip=tuple(allowed))
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    # What --unpacked/--report wrote, and its record beside it, are the named outputs.
    changed = {c for c in changed if ".lambdalayer-unpacked" not in c
               and not str(project.parent / c).startswith(str(Path(os.path.realpath(
                   project / path)) if path else "\0"))}
    assert changed == set(), changed


@pytest.mark.parametrize("line", ["description = 5", "license = [1]",
                                  'find_links = ["a\\u0000b"]'])
def test_a_layer_value_of_the_wrong_type_fails_before_the_build(project: Path,
                                                                line: str) -> None:
    """These were read only late (the manifest, the index query): a traceback then."""
    (project / "pyproject.toml").write_text(
        "[tool.lambdalayer.layers.l1]\n"
        'packages = ["./tinypkg-1.0-py3-none-any.whl"]\nruntimes = ["python3.12"]\n'
        f'architectures = ["x86_64"]\nproof = false\n{line}\n')
    run = run_cli("build", "l1", cwd=project)
    assert_clean_failure(run, 2)
    assert not (project / "dist").exists()


@pytest.fixture
def index_requests(tmp_path: Path) -> Iterator[tuple[str, list[tuple[str, bool]]]]:
    """A loopback index offering tinypkg, and the list of the requests it received."""
    files = tmp_path / "index-files"
    make_wheel(files, "tinypkg", "1.0")
    seen: list[tuple[str, bool]] = []
    with serve_index(files, requests=seen) as url:
        yield url, seen


def _read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """An existing, empty folder on a read-only file system (root writes through 0555)."""
    from tests.integration.pipeline.test_disk_faults import mount_tmpfs

    yield from mount_tmpfs(tmp_path / "ro", "ro,size=64k")


@pytest.mark.parametrize(("option", "value", "said"), [
    ("--out", "/proc/foo", "kernel's /proc file system"),
    ("--out", "afile", "exists and is not a folder"),
    ("--out", "afile/dist", "is a file, not a folder"),
    ("--out", "READ-ONLY", "read-only file system"),
    ("--out", "READ-ONLY/dist", "read-only file system"),
    ("--unpacked", "/proc/foo", "kernel's /proc file system"),
    ("--unpacked", "afile", "exists and is not a folder"),
    ("--unpacked", "READ-ONLY/tree", "read-only file system"),
    ("--report", "/proc/r.html", "kernel's /proc file system"),
    ("--report", "/sys/r.html", "kernel's /sys file system"),
    ("--report", "READ-ONLY/r.html", "read-only file system"),
])
def test_an_output_that_cannot_be_written_fails_before_resolving(
        project: Path, tmp_path: Path, index_requests: tuple[str, list[tuple[str, bool]]],
        option: str, value: str, said: str) -> None:
    """Each refused at once with our own message (exit 2), before the index
    is asked anything, instead of a traceback after resolving, auditing and proving."""
    (project / "afile").write_text("a file")
    url, seen = index_requests
    for read_only in (_read_only_folder(tmp_path) if "READ-ONLY" in value else [None]):
        path = value.replace("READ-ONLY", str(read_only))
        run = run_cli("build", "tiny", "-p", "tinypkg", "--index-url", url, *TARGET,
                      option, path, cwd=project)
        assert_clean_failure(run, 2)
        assert said in run.stderr and option in run.stderr, run.stderr
        assert len(run.stderr.strip().split("\n\n")) <= 2  # one paragraph (and its hint)
        assert seen == []  # "at once": before the first request, not within N seconds


def test_report_o_on_a_read_only_file_system_or_proc_is_a_message(
        project: Path, tmp_path: Path) -> None:
    assert run_cli(*build(project), cwd=project).returncode == 0
    for output, said in (("/proc/r.html", "kernel's /proc"), ("dist", "is a folder")):
        run = run_cli("report", "dist/tiny.zip", "-o", output, cwd=project)
        assert_clean_failure(run, 2)
        assert said in run.stderr, run.stderr
    for read_only in _read_only_folder(tmp_path):
        run = run_cli("report", "dist/tiny.zip", "-o", str(read_only / "r.html"), cwd=project)
        assert_clean_failure(run, 2)
        assert "read-only file system" in run.stderr, run.stderr
