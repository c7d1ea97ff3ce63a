"""Output that lines up and says what each thing is: the runtimes listing, the build's
package table, the size breakdown of your own code, build --help by purpose."""

from __future__ import annotations

import re
from pathlib import Path

from lambdalayer.common.distinfo import read_installed
from lambdalayer.reports.sizing import measure
from tests.helpers import CliRun, run_cli
from tests.package_index import make_wheel, serve_index


def test_runtimes_phase_column_lines_up_on_every_row() -> None:
    run = run_cli("runtimes")
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if line.startswith("python3")]
    phase = re.compile(r"(supported|deprecated|create blocked|update blocked)")
    starts = {match.start() for row in rows if (match := phase.search(row))}
    assert len(rows) >= 4 and len(starts) == 1, run.stdout


def _build(tmp_path: Path, *args: str) -> CliRun:
    files = tmp_path / "index"
    make_wheel(files, "ll-fixture-dated", "2026.10.19.post1",
               files={"ll_fixture_dated/__init__.py": b"X = 1\n" * 200})
    make_wheel(files, "ll-fixture-short", "1.0")
    with serve_index(files) as index:
        return run_cli("build", "lay", "-p", "ll-fixture-dated", "-p", "ll-fixture-short",
                       "--runtime", "python3.12", "--arch", "x86_64", "--no-proof",
                       "--out", str(tmp_path / "dist"), *args, cwd=tmp_path,
                       env={"UV_DEFAULT_INDEX": index,
                            "UV_CACHE_DIR": str(tmp_path / "uvcache")})


def test_a_long_version_does_not_shift_the_package_table(tmp_path: Path) -> None:
    run = _build(tmp_path)
    assert run.returncode == 0, run.stderr
    rows = [line for line in run.stdout.splitlines() if "zipped " in line and "%" in line]
    assert len(rows) == 2, run.stdout
    assert len({row.index("zipped") for row in rows}) == 1, run.stdout
    assert len({row.index("%") for row in rows}) == 1, run.stdout


def test_own_code_has_its_name_in_the_size_breakdown(tmp_path: Path) -> None:
    (tmp_path / "src" / "mycode").mkdir(parents=True)
    (tmp_path / "src" / "mycode" / "__init__.py").write_text("Y = 2\n" * 100)
    run = _build(tmp_path, "--source", "src")
    assert run.returncode == 0, run.stderr
    assert "your code (--source src)" in run.stdout, run.stdout
    assert "(other)" not in run.stdout


def test_largest_files_name_each_library_once(tmp_path: Path) -> None:
    """A per-runtime layout holds the same library in each runtime's site-packages."""
    site_dirs = {}
    for version in ("3.12", "3.13"):
        site = tmp_path / "python" / "lib" / f"python{version}" / "site-packages"
        (site / "pkg.libs").mkdir(parents=True)
        (site / "pkg.libs" / "libbig.so").write_bytes(b"x" * 5000)
        (site / "pkg" ).mkdir()
        (site / "pkg" / "small.py").write_bytes(b"y" * 100)
        site_dirs[site] = read_installed(site)
    sizes = measure(tmp_path, site_dirs, top=3)
    shown = [path.split("site-packages/")[1] for path, _ in sizes.largest_files]
    assert shown == ["pkg.libs/libbig.so", "pkg/small.py"]


def test_build_help_groups_its_options_by_purpose() -> None:
    run = run_cli("build", "--help", env={"COLUMNS": "100"})
    assert run.returncode == 0, run.stderr
    headings = [line for line in run.stdout.splitlines() if re.fullmatch(r"[A-Z][^:]*:", line)]
    assert headings == ["What goes in:", "Targets:", "Size and cold start:",
                        "Audit and import proof:", "Package index:", "Output:",
                        "AWS (for --for-function):", "Other options:"], headings
    other = run.stdout.split("Other options:")[1]
    assert other.split() == ["-h,", "--help", "Show", "this", "message", "and", "exit."]
    for option in ("--exclude", "--runtime", "--slim", "--proof-sandbox", "--index-url",
                   "--unpacked", "--profile"):
        assert run.stdout.count(f"  {option} ") == 1, option
