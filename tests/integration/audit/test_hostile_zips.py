"""`check` of a crafted zip stays within a stated memory bound (256 MB) and prints a
bounded report."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.hostile import (
    elf_with_huge_strings,
    elf_with_shared_version_chain,
    zip_of,
    zip_with_huge_record,
)

MEMORY_BOUND = 256 * 1024 * 1024
# Seconds of CPU for the whole `check`, start-up included (CPU, not wall time, so a busy
# test machine does not fail it).
TIME_BOUND = 2.0
OUTPUT_BOUND = 64 * 1024

_MEASURE = """
import resource, subprocess, sys
run = subprocess.run([sys.executable, "-m", "lambdalayer", *sys.argv[1:]],
                     capture_output=True, timeout=120)
usage = resource.getrusage(resource.RUSAGE_CHILDREN)
sys.stdout.buffer.write(b"%d %d %f\\n" % (run.returncode, usage.ru_maxrss,
                                         usage.ru_utime + usage.ru_stime))
sys.stdout.buffer.write(run.stdout)
"""


def _peak(*args: str) -> tuple[int, int, bytes]:
    """(exit status, peak RSS in bytes, stdout) of `lambdalayer ARGS` in its own process."""
    status, peak, stdout, _ = _measured(*args)
    return status, peak, stdout


def _measured(*args: str) -> tuple[int, int, bytes, float]:
    """`_peak` and the CPU seconds of `lambdalayer ARGS` (its start-up included)."""
    done = subprocess.run([sys.executable, "-c", _MEASURE, *args], capture_output=True,
                          timeout=180, check=True)
    first, _, stdout = done.stdout.partition(b"\n")
    status, kilobytes, seconds = first.split()
    return int(status), int(kilobytes) * 1024, stdout, float(seconds)


def test_huge_string_table_with_repeated_needed_entries(tmp_path: Path) -> None:
    """16.5 KB zipped: a 16 MiB .dynstr string and 40 DT_NEEDED at the same offset (2.7 GB
    and 50 MB of JSON before the caps)."""
    archive = zip_of(tmp_path / "evil.zip", {"python/evil.so": elf_with_huge_strings()})
    assert archive.stat().st_size < 64 * 1024
    status, peak, stdout = _peak("check", str(archive), "--runtime", "python3.12", "--arch",
                                 "x86_64", "--json")
    assert status == 4
    assert peak < MEMORY_BOUND, f"peak RSS {peak / 1e6:.0f} MB"
    assert len(stdout) < OUTPUT_BOUND
    codes = {f["code"] for f in json.loads(stdout)["findings"]}
    assert "corrupt-elf" in codes


def test_long_but_legal_names_are_read_once(tmp_path: Path) -> None:
    """Strings just under the cap, repeated: deduplicated, so the report stays small and
    the file is read (its one missing library reported), not over its parse budget."""
    elf = elf_with_huge_strings(strtab_size=4000, needed=5000)
    archive = zip_of(tmp_path / "long.zip", {"python/long.so": elf})
    status, peak, stdout = _peak("check", str(archive), "--runtime", "python3.12", "--arch",
                                 "x86_64", "--json")
    assert status == 4 and peak < MEMORY_BOUND
    assert len(stdout) < OUTPUT_BOUND
    codes = {f["code"] for f in json.loads(stdout)["findings"]}
    assert "missing-library" in codes and "unreadable-elf" not in codes


def test_version_needs_sharing_one_auxiliary_chain(tmp_path: Path) -> None:
    """1,024 version-need entries all pointing at one chain of 256 auxiliaries naming one
    4,096-byte string (a ~2 KB zip): each loop is capped, their product was not (1.1 GB).
    The file's total budget stops it: an `unreadable-elf` finding, within 256 MB and 2 s."""
    archive = zip_of(tmp_path / "chain.zip",
                     {"python/chain.so": elf_with_shared_version_chain()})
    assert archive.stat().st_size < 4 * 1024
    status, peak, stdout, elapsed = _measured(
        "check", str(archive), "--runtime", "python3.12", "--arch", "x86_64", "--json")
    assert status == 4
    assert peak < MEMORY_BOUND, f"peak RSS {peak / 1e6:.0f} MB"
    assert elapsed < TIME_BOUND, f"{elapsed:.2f} s"
    codes = {f["code"]: f for f in json.loads(stdout)["findings"]}
    assert "unreadable-elf" in codes, sorted(codes)
    assert "bytes of strings per file" in codes["unreadable-elf"]["message"]


def test_twenty_chains_of_short_strings_stay_within_the_time_bound(tmp_path: Path) -> None:
    """Short strings pass the string budget; the entry budget is what stops each file
    (16 s of CPU for twenty files before it)."""
    chain = elf_with_shared_version_chain(auxiliaries=1024, string_size=8)
    archive = zip_of(tmp_path / "twenty.zip",
                     {f"python/chain{index}.so": chain for index in range(20)})
    status, peak, stdout, elapsed = _measured(
        "check", str(archive), "--runtime", "python3.12", "--arch", "x86_64", "--json")
    assert status == 4 and peak < MEMORY_BOUND
    assert elapsed < TIME_BOUND, f"{elapsed:.2f} s"
    paths = {f["path"] for f in json.loads(stdout)["findings"] if f["code"] == "unreadable-elf"}
    assert paths == {f"python/chain{index}.so" for index in range(20)}


def test_a_huge_record_is_not_read_by_check_or_diff(tmp_path: Path) -> None:
    """63 KB zipped: one RECORD of 16 million rows (64 MB) made `diff` take 400 MB and 36 s.
    Past its budget the RECORD is not read: a warning, and its files count without a
    package (docs/trust.md)."""
    archive = zip_with_huge_record(tmp_path / "evil.zip")
    plain = zip_of(tmp_path / "plain.zip", {"python/plain.py": b"VALUE = 1\n"})
    status, peak, stdout, seconds = _measured("check", str(archive), "--runtime", "python3.12",
                                              "--arch", "x86_64", "--json")
    assert status == 4 and peak < MEMORY_BOUND and seconds < 3 * TIME_BOUND, (peak, seconds)
    findings = json.loads(stdout)["findings"]
    [unread] = [f for f in findings if f["code"] == "unreadable-record"]
    assert unread["path"] == "python/evil-1.0.dist-info/RECORD"
    assert unread["severity"] == "warning"
    status, peak, stdout, seconds = _measured("diff", str(plain), str(archive), "--json")
    assert status == 0 and peak < MEMORY_BOUND and seconds < 3 * TIME_BOUND, (peak, seconds)
    [warning] = json.loads(stdout)["warnings"]
    assert "evil-1.0.dist-info/RECORD was not read" in warning


def test_a_record_of_too_many_short_rows_is_not_read(tmp_path: Path) -> None:
    """Under the byte budget (1.2 MB) but past the row budget (250,000 rows per file)."""
    archive = zip_with_huge_record(tmp_path / "rows.zip", rows=300_000)
    status, peak, stdout, seconds = _measured("diff", str(archive), str(archive), "--json")
    assert status == 0 and peak < MEMORY_BOUND and seconds < 3 * TIME_BOUND, (peak, seconds)
    assert any("more than 250,000 table entries per file" in w
               for w in json.loads(stdout)["warnings"])


def test_a_real_sized_record_is_read(tmp_path: Path) -> None:
    """20,000 rows (a big real package): read, its files counted under its name."""
    info = "python/big-1.0.dist-info"
    rows = "".join(f"big/m{i}.py,,\n" for i in range(20_000)).encode()
    archive = zip_of(tmp_path / "big.zip", {
        f"{info}/METADATA": b"Metadata-Version: 2.1\nName: big\nVersion: 1.0\n",
        f"{info}/RECORD": rows, "python/big/m0.py": b"x = 1\n"})
    status, _, stdout, _ = _measured("diff", str(archive), str(archive), "--json")
    assert status == 0
    document = json.loads(stdout)
    assert document["warnings"] == [] and "big" in document["new"]["packages"]
