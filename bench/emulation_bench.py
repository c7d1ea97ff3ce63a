"""What the qemu-user CPU model costs an emulated CPython, measured in one run (medians).

    LAMBDALAYER_INTERPRETERS=DIR python bench/emulation_bench.py [--repeat 7]

For every arm64 CPython root filesystem found (as `lambdalayer interpreters add`
makes them), the start-up plus `import json, decimal, ssl, ctypes` is timed under
qemu-aarch64 twice, alternating: with the options lambdalayer passes
(launch.qemu_cpu_args: Graviton2's core, neoverse-n1, on qemu 7.0 and later) and
with qemu's default CPU (the baseline: what a plain `qemu-aarch64 -L ROOT` runs).
Debian trixie and later build with pointer authentication, so the gap shows on
CPython 3.13 and 3.14.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import time

from lambdalayer.interpreters.find import root_filesystems
from lambdalayer.interpreters.launch import elf_machine, find_qemu, qemu_cpu_args

_IMPORTS = "import json, decimal, ssl, ctypes"


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=7)
    options = parser.parse_args()
    qemu = find_qemu("aarch64")
    if qemu is None:
        raise SystemExit("qemu-aarch64 is not on PATH (apt-get install qemu-user)")
    os.environ.pop("QEMU_CPU", None)  # the baseline is qemu's own default
    ours = qemu_cpu_args(qemu, "aarch64")
    print(f"{qemu}: lambdalayer passes {' '.join(ours) or '(nothing: qemu < 6.0)'}")
    found = False
    for root in root_filesystems():
        for exe in sorted((root / "usr" / "bin").glob("python3.[0-9]*")):
            if not exe.name.replace("python", "").replace(".", "").isdigit() \
                    or elf_machine(exe) != "aarch64":
                continue
            found = True
            tail = ["-L", str(root), str(exe), "-I", "-S", "-c", _IMPORTS]
            with_ours, default = [], []
            timed([qemu, *ours, *tail])  # warm the page cache
            for _ in range(options.repeat):
                with_ours.append(timed([qemu, *ours, *tail]))
                default.append(timed([qemu, *tail]))
            a, b = statistics.median(with_ours), statistics.median(default)
            print(f"{exe.name} ({root.name}): {a:.2f} s with lambdalayer's -cpu, "
                  f"{b:.2f} s with qemu's default: ratio default/ours {b / a:.2f}")
    if not found:
        raise SystemExit("no arm64 CPython root filesystem: `lambdalayer interpreters add "
                         "--runtime python3.13 --arch arm64 --from-debian trixie`")


if __name__ == "__main__":
    main()
