"""Build the proof's minimal root, then run the interpreter in it (the "box" sandbox).

Run by lambdalayer's own Python (`python -I -S box.py SPEC ARGV...`) as the first
process of new user (root mapped to the caller), mount, PID, IPC, UTS and network
namespaces that util-linux `unshare` made (proof/sandbox.py). Standard library only;
nothing here is imported by lambdalayer. It does what bubblewrap does for the same
view: a tmpfs root holding read-only binds of what the interpreter needs, the layer
at /opt, its own /proc, a minimal /dev, a size-limited /tmp; pivot_root into it,
the old root detached; every capability dropped (bounding, ambient, effective,
permitted, inheritable) and no_new_privs set, so the code cannot remount a bind
writable; then exec. Any failure exits 125 with one line on stderr.
"""

from __future__ import annotations

import ctypes
import json
import os
import platform
import sys

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME, MS_STRICTATIME = 1024, 2048, 1 << 21, 1 << 24
MNT_DETACH = 2
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
# statvfs's f_flag bits -> the mount flags a user namespace must keep on a remount.
_LOCKED = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
           (1024, MS_NOATIME), (2048, MS_NODIRATIME), (4096, MS_RELATIME))
_DEVICES = ("null", "zero", "full", "random", "urandom", "tty")

_libc = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int,
           data: str | None = None) -> None:
    _check(_libc.mount(source and source.encode(), target.encode(),
                       fstype and fstype.encode(), ctypes.c_ulong(flags),
                       data and data.encode()), f"mount {source or fstype} on {target}")


def _place(path: str, directory: bool) -> None:
    """Make the mount point `path` (a folder, or an empty file for a file bind)."""
    if directory:
        os.makedirs(path, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        if not os.path.lexists(path):
            with open(path, "w"):
                pass


def _bind(source: str, target: str, writable: bool) -> None:
    _place(target, os.path.isdir(source))
    # Not recursive: mounts below `source` stay hidden rather than writable.
    _mount(source, target, None, MS_BIND)
    if writable:
        return
    locked = os.statvfs(source).f_flag
    keep = sum(flag for bit, flag in _LOCKED if locked & bit)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | keep)


def _dev(root: str) -> None:
    target = root + "/dev"
    _place(target, True)
    _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=0755,size=64k")
    for name in _DEVICES:
        if os.path.exists(f"/dev/{name}"):
            _place(f"{target}/{name}", False)
            _mount(f"/dev/{name}", f"{target}/{name}", None, MS_BIND)
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                       ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
        os.symlink(link, f"{target}/{name}")
    os.makedirs(f"{target}/shm")


def _build(root: str, mounts: list[list[str]]) -> None:
    for kind, source, destination in mounts:
        target = root + destination
        if kind == "symlink":
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.symlink(source, target)
        elif kind in ("ro", "rw"):
            _bind(source, target, kind == "rw")
        elif kind == "proc":
            _place(target, True)
            _mount("proc", target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif kind == "dev":
            _dev(root)
        elif kind == "tmpfs":
            _place(target, True)
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV,
                   f"mode=1777,size={int(source)}")
        elif kind == "dir":
            _place(target, True)
        elif kind == "folder":
            _place(target, True)
            _mount("tmpfs", target, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        elif kind == "freeze":
            _mount(None, target, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _enter(root: str) -> None:
    """pivot_root into `root`, the host's tree detached and gone."""
    number = _PIVOT_ROOT.get(platform.machine())
    if number is None:
        raise OSError(0, f"pivot_root: unknown machine {platform.machine()}")
    os.makedirs(root + "/.old-root")
    _check(_libc.syscall(number, root.encode(), (root + "/.old-root").encode()), "pivot_root")
    os.chdir("/")
    _check(_libc.umount2(b"/.old-root", MNT_DETACH), "umount the host's root")
    os.rmdir("/.old-root")
    _mount(None, "/", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _drop_capabilities() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    for capability in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            break  # past the last capability this kernel knows
    # capset(2) with empty sets: header {version 3, pid 0}, two empty data structs.
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)
    data = (ctypes.c_uint32 * 6)()
    _check(_libc.capset(header, data), "capset")


def main() -> None:
    spec = json.loads(sys.argv[1])
    argv = sys.argv[2:]
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        # A fresh tmpfs on the caller's empty folder, in the private mount namespace: the
        # host never sees what is built on it.
        root = spec.get("root") or "/mnt"
        _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=1m")
        _build(root, spec["mounts"])
        _enter(root)
        os.chdir(spec["cwd"])
        _drop_capabilities()
    except OSError as exc:
        sys.stderr.write(f"lambdalayer box: {exc.strerror or exc}\n")
        os._exit(125)
    try:
        os.execv(argv[0], argv)
    except OSError as exc:
        sys.stderr.write(f"lambdalayer box: cannot run {argv[0]}: {exc.strerror}\n")
        os._exit(127)


if __name__ == "__main__":
    main()
