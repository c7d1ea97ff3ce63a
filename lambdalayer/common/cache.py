"""lambdalayer's own cache: deflated zip members, under a size cap.

Where: `$LAMBDALAYER_CACHE_DIR`, else `$XDG_CACHE_HOME/lambdalayer`, else
`~/.cache/lambdalayer`. Cap: `$LAMBDALAYER_CACHE_MAX` (`2G`, `500M`, `0` turns
the cache off; decimal units), 2 GB by default; the least recently used
entries go first.

Wheels and unpacked wheels are uv's business: uv's own cache (`uv cache dir`)
already makes a `--force` rebuild download nothing and install in a third of
a second (measured for numpy+pandas+pyarrow), so lambdalayer leaves uv on it,
shared with the user's other uv work, rather than duplicating it. What a
forced rebuild of a large layer still spends its time on is deflating ~200 MB
of shared objects; this cache keeps each large file's deflate stream by
content digest, level and zlib version, so an unchanged file is zipped by
reading its stream back (archive.MemberCache).

A cache must never fail a build: every I/O error here means "miss".

Trust: anyone who can write the cache (a shared directory, a CI cache restored
from another branch) could otherwise put other bytes into a zip after the
audit passed the tree. So an entry is used only if it inflates to content
whose SHA-256 is the digest in its key (inflating is cheaper than deflating);
anything else is deleted and reported. The cache is created private (0700
directories, 0600 files) with a marker file, and `cache clean` deletes only
entries inside a directory that carries the marker.
"""

from __future__ import annotations

import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from lambdalayer.common import interrupt
from lambdalayer.common.errors import UsageError

DEFAULT_MAX = 2_000_000_000
_UNITS = {"": 1, "K": 10**3, "M": 10**6, "G": 10**9, "T": 10**12}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?\s*$", re.IGNORECASE)
# magic, payload length, CRC-32 of the payload, HMAC-SHA256 of (key, SHA-256 of the payload)
_HEADER = struct.Struct("<8sQI32s")
_MAGIC = b"LLDEFL02"
SECRET = ".lambdalayer-cache-secret"  # in the root, 0600: the key of every entry's HMAC
MEMBERS_DIR = "zip-members"
MARKER = ".lambdalayer-cache"  # in the root: this directory was made by lambdalayer
_MARKER_TEXT = b"lambdalayer zip member cache; `lambdalayer cache clean` empties it.\n"
# Backup tools skip directories tagged like this (https://bford.info/cachedir/).
_CACHEDIR_TAG = (b"Signature: 8a477f597d28d172789f06886806bc55\n"
                 b"# lambdalayer's cache: safe to delete.\n")
_INFLATE_BLOCK = 1 << 20


# What lambdalayer keeps in the cache root besides zip members: logs of local builds,
# Lambda's unzipped-size answers, provisioned interpreters, the import proof's bytecode
# (proof/runner.py: one folder per interpreter, one file per distinct module source), the
# index's answers about projects (resolve/index_cache.py).
LOGS_DIR = "logs"
BUILD_LOGS_DIR = "build-logs"
SIZES_DIR = "unzipped-sizes"
INTERPRETERS_DIR = "interpreters"
PROOF_BYTECODE_DIR = "proof-bytecode"
INDEX_ANSWERS_DIR = "index-answers"
# Wheel files by SHA-256, whose deflate streams zips reuse (docs/zip-format.md), and the
# record of which of their members were verified (pipeline/wheel_streams/).
WHEELS_DIR = "wheels"
# The runtime's own AWS SDK, installed for the proof of `--exclude :runtime:` layers
# (resolve/runtime_sdk.py): one folder per Python, architecture and boto3 release.
RUNTIME_SDK_DIR = "runtime-sdk"
# Memos of up-to-date builds, answered without loading the build (common/noop_memo.py).
NOOP_MEMO_DIR = "noop"  # noop_memo.NOOP_MEMO_DIR: it reads the cache without this module


def wheels_folder(folder: Path) -> None:
    """Make `folder` (`wheels/` of a cache root, or a folder below it) and the folders
    between it and the cache root, each private (0700) as the rest of the cache: also
    those an earlier release made with the umask's mode (0755). OSError when it cannot;
    a folder outside any `wheels/` is only made."""
    parts = folder.parts
    start = next((i for i in range(len(parts) - 1, -1, -1) if parts[i] == WHEELS_DIR), None)
    if start is None:  # not in a cache (a caller's own folder): only made
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        return
    folder.parents[len(parts) - start - 1].mkdir(mode=0o700, parents=True, exist_ok=True)
    for depth in range(start + 1, len(parts) + 1):
        here = Path(*parts[:depth])
        here.mkdir(mode=0o700, exist_ok=True)
        if here.stat().st_mode & 0o077:
            here.chmod(0o700)


LAMBDA_MODEL_RECORD = "lambda-model-runtimes.json"  # targets/lambda_model.py
INTERPRETERS_FOUND_RECORD = "interpreters-found.json"  # interpreters/memo.py
OWN_ENTRIES = frozenset({MEMBERS_DIR, LOGS_DIR, BUILD_LOGS_DIR, SIZES_DIR, INTERPRETERS_DIR,
                         "CACHEDIR.TAG", SECRET, LAMBDA_MODEL_RECORD, PROOF_BYTECODE_DIR,
                         INDEX_ANSWERS_DIR, WHEELS_DIR, RUNTIME_SDK_DIR,
                         NOOP_MEMO_DIR, INTERPRETERS_FOUND_RECORD})
# What `cache clean` may delete in each folder of ours: only names lambdalayer writes there
# (and its temporary files). Anything else, another tool's file included, stays.
_TEMPORARY = r"|^\.tmp-.*|^\..*\.tmp$"
_CLEANABLE = {
    MEMBERS_DIR: re.compile(r"^[0-9a-f]{2}$|^[0-9a-f]{64}-v\d+-.*" + _TEMPORARY),
    SIZES_DIR: re.compile(r"^[0-9a-f]{2}$|^[0-9a-f]{64}\.json$" + _TEMPORARY),
    LOGS_DIR: re.compile(r"^build-.*\.log$" + _TEMPORARY),
    BUILD_LOGS_DIR: re.compile(r"^.*-\d{8}T\d{6}\.log$" + _TEMPORARY),
    WHEELS_DIR: re.compile(r"^[0-9a-f]{2}$|^[0-9a-f]{64}\.(?:whl|verified)$" + _TEMPORARY),
    INDEX_ANSWERS_DIR: re.compile(r"^[0-9a-f]{40}$" + _TEMPORARY),
    # One folder per interpreter and layer, one per first byte, a file per module source
    # (proof/in_target.py: NAME.TAG.pyc, written as NAME.TAG.pyc.PID-RANDOM.tmp).
    PROOF_BYTECODE_DIR: re.compile(r"^[0-9a-f]{24}$|^[0-9a-f]{2}$|"
                                   r"^[0-9a-f]{64}\.[^/]+\.pyc(?:\.\d+-[0-9a-f]+\.tmp)?$"),
    # Everything below it is an installed SDK lambdalayer put there (uv --target).
    RUNTIME_SDK_DIR: re.compile(r".", re.DOTALL),
    NOOP_MEMO_DIR: re.compile(r"^[0-9a-f]{64}\.json(?:\.\d+\.tmp)?$"),
}


def _default_root() -> Path:
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "lambdalayer"


def cache_root() -> Path:
    """The cache directory (which may not exist yet)."""
    explicit = os.environ.get("LAMBDALAYER_CACHE_DIR")
    if explicit:
        return Path(explicit).expanduser()
    return _default_root()


def parse_size(text: str) -> int:
    """`2G`, `500M`, `1.5G`, `0` -> bytes (decimal units); UsageError otherwise."""
    match = _SIZE.match(text)
    if not match:
        raise UsageError(
            f"LAMBDALAYER_CACHE_MAX={text!r} is not a size. Write it like 2G, 500M or 0 "
            "(0 turns the cache off)."
        )
    return int(float(match.group(1)) * _UNITS[match.group(2).upper()])


def max_size() -> int:
    """The cap in bytes: `$LAMBDALAYER_CACHE_MAX`, else 2 GB."""
    raw = os.environ.get("LAMBDALAYER_CACHE_MAX")
    return DEFAULT_MAX if raw is None or not raw.strip() else parse_size(raw)


@dataclass(frozen=True, kw_only=True)
class CacheUsage:
    path: Path
    size: int
    files: int
    cap: int
    interpreters: int = 0  # bytes of it under interpreters/: kept by `cache clean`


def _entries(directory: Path) -> list[tuple[Path, int, float]]:
    """(file, bytes, mtime) for every file below `directory`; empty when there is none."""
    found = []
    for dirpath, _dirs, filenames in os.walk(directory):
        for name in filenames:
            path = Path(dirpath, name)
            try:
                info = path.stat()
            except OSError:
                continue  # removed by a concurrent build or clean
            found.append((path, info.st_size, info.st_mtime))
    return found


def usage(root: Path | None = None) -> CacheUsage:
    """How much the cache holds now."""
    root = root or cache_root()
    entries = _entries(root)
    kept = sum(size for _path, size, _mtime in _entries(root / INTERPRETERS_DIR))
    return CacheUsage(path=root, size=sum(e[1] for e in entries), files=len(entries),
                      cap=max_size(), interpreters=kept)


def is_lambdalayer_cache(root: Path) -> bool:
    """True when `root` holds lambdalayer's marker file (it made the directory)."""
    return (root / MARKER).is_file() and not (root / MARKER).is_symlink()


def ensure_root(root: Path) -> None:
    """Create the cache directory private (0700) with its marker; OSError when it cannot
    (a file, someone else's folder, the working directory or a folder containing it)."""
    real = Path(os.path.realpath(root))
    here = Path(os.path.realpath(os.getcwd()))
    if real == here or real in here.parents:
        raise OSError(f"{root} is or contains the working directory")
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if not is_lambdalayer_cache(root):
        if any(root.iterdir()) and not _unmarked_but_ours(root):
            # Someone else's directory (LAMBDALAYER_CACHE_DIR=~/.cache): never ours to fill.
            raise OSError(f"{root} is not empty and was not created by lambdalayer")
        (root / MARKER).write_bytes(_MARKER_TEXT)
        (root / "CACHEDIR.TAG").write_bytes(_CACHEDIR_TAG)


def usable_root() -> Path | None:
    """The cache directory, created and marked, or None when it cannot be ours (a file,
    another tool's folder, no permission): then nothing at all is written there, logs
    included."""
    root = cache_root()
    try:
        ensure_root(root)
    except (OSError, ValueError):
        return None
    return root if is_lambdalayer_cache(root) else None


def _secret(root: Path) -> bytes | None:
    """The key that authenticates entries: made once, private (0600), in the cache's root.

    Created through a link (fails if present), so two builds starting together agree on
    one key. None when there is none and none can be made: the cache then only misses."""
    path = root / SECRET
    try:
        if not path.exists():
            ensure_root(root)
            import tempfile  # here: reading the cache (an up-to-date build) needs none

            name: str | None = None
            try:
                with interrupt.deferred():  # created and named as one step
                    descriptor, name = tempfile.mkstemp(dir=root, prefix=".tmp-")
                with os.fdopen(descriptor, "wb") as handle:
                    handle.write(os.urandom(32))
                os.link(name, path)
            except FileExistsError:
                pass  # another build made it first: use that one
            finally:
                if name is not None:
                    Path(name).unlink(missing_ok=True)
        if path.is_symlink():
            return None
        data = path.read_bytes()
    except OSError:
        return None
    return data if len(data) == 32 else None


def sign(root: Path, message: bytes) -> bytes | None:
    """HMAC-SHA256 of `message` under the cache's secret (None when there is none): what
    lets a record in the cache prove that lambdalayer wrote it."""
    import hashlib
    import hmac

    key = _secret(root)
    return None if key is None else hmac.new(key, message, hashlib.sha256).digest()


def _unmarked_but_ours(root: Path) -> bool:
    """True for lambdalayer's default cache directory holding only what lambdalayer puts
    there: left without a marker by a version before markers. An explicit
    LAMBDALAYER_CACHE_DIR is never adopted (its `logs/` could be anyone's)."""
    if os.environ.get("LAMBDALAYER_CACHE_DIR") or root != _default_root():
        return False
    return all(entry.name in OWN_ENTRIES and not entry.is_symlink() for entry in root.iterdir())


def clean(root: Path | None = None) -> int:
    """Delete the cache's entries; returns the bytes freed. Safe to run during a build
    (the build then simply misses). Interpreters from `interpreters add` stay: a build after
    a clean is slower, never less proven.

    Only in a directory lambdalayer created (its marker file): pointed at ~/.cache
    or a project, it refuses rather than delete what is not its own.
    """
    root = root or cache_root()
    if not root.exists():
        return 0
    if not is_lambdalayer_cache(root):
        raise UsageError(
            f"{root} was not created by lambdalayer (it has no {MARKER} file), so "
            "`cache clean` deletes nothing there. Check LAMBDALAYER_CACHE_DIR; delete the "
            "directory yourself if it really is a lambdalayer cache.")
    freed = 0
    for name, pattern in _CLEANABLE.items():  # interpreters/ stays: `interpreters add`
        child = root / name
        if child.is_symlink() or not child.is_dir():
            continue  # never follow a link out of the cache
        freed += _clean_folder(child, pattern)
    found = root / INTERPRETERS_FOUND_RECORD  # what was found is looked for again
    try:
        freed += found.lstat().st_size
        found.unlink()
    except OSError:
        pass
    return freed


def _clean_folder(folder: Path, pattern: re.Pattern[str]) -> int:
    """Delete what lambdalayer wrote below `folder` (names matching `pattern` at every
    level); another tool's files and the folders holding them stay."""
    freed = 0
    for dirpath, dirnames, filenames in os.walk(folder, topdown=True):
        dirnames[:] = [d for d in dirnames if pattern.match(d)
                       and not os.path.islink(os.path.join(dirpath, d))]
        for name in filenames:
            if not pattern.match(name):
                continue
            path = Path(dirpath, name)
            try:
                size = path.lstat().st_size
                path.unlink()
                freed += size
            except OSError:
                continue
    for dirpath, _dirs, _files in sorted(os.walk(folder), key=lambda w: -len(w[0])):
        if Path(dirpath) != folder and not pattern.match(Path(dirpath).name):
            continue
        try:
            Path(dirpath).rmdir()  # only when empty: a foreign file keeps its folder
        except OSError:
            continue
    return freed


def trim(root: Path, cap: int) -> int:
    """Delete least recently used entries until the cache holds at most `cap` bytes."""
    entries = sorted(_entries(root), key=lambda e: (e[2], str(e[0])))
    total = sum(e[1] for e in entries)
    freed = 0
    for path, size, _mtime in entries:
        if total <= cap:
            break
        try:
            path.unlink()
        except OSError:
            continue
        total -= size
        freed += size
    return freed


class DeflateCache:
    """archive.MemberCache on disk: one file per member, verified on every read."""

    def __init__(self, root: Path, cap: int) -> None:
        self.root = root
        self.directory = root / MEMBERS_DIR
        self.cap = cap
        self._size: int | None = None  # bytes on disk, counted on the first put
        self.discarded: list[str] = []  # keys of entries that failed verification
        self._key: bytes | None = None

    def _mac(self, key: str, payload: bytes) -> bytes | None:
        """HMAC of the key and the digest of the stored bytes (what goes into the zip)."""
        import hashlib
        import hmac

        if self._key is None:
            self._key = _secret(self.root)
        if self._key is None:
            return None
        message = key.encode("utf-8") + hashlib.sha256(payload).digest()
        return hmac.new(self._key, message, hashlib.sha256).digest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / key

    def get(self, key: str) -> bytes | None:
        path = self._path(key)
        try:
            blob = path.read_bytes()
            os.utime(path)  # recently used: trimmed last
        except OSError:
            return None
        if len(blob) < _HEADER.size:
            return None
        magic, length, crc, mac = _HEADER.unpack_from(blob)
        payload = blob[_HEADER.size:]
        if magic != _MAGIC or length != len(payload) or zlib.crc32(payload) != crc:
            path.unlink(missing_ok=True)  # damaged or an older format: compress afresh
            return None
        import hmac

        expected = self._mac(key, payload)
        if expected is None:
            return None  # no key to check with: a miss, never an unchecked hit
        # The content alone is not enough: another deflate stream of the same content
        # (stored blocks, another level) would change the zip's bytes and its CodeSha256.
        if not hmac.compare_digest(mac, expected) or not _inflates_to(payload, key):
            # Well-formed but not the content its key names: planted or poisoned.
            path.unlink(missing_ok=True)
            self.discarded.append(key)
            return None
        return payload

    def put(self, key: str, data: bytes) -> None:
        path = self._path(key)
        if path.exists():
            return
        temporary: Path | None = None
        try:
            ensure_root(self.root)
            mac = self._mac(key, data)
            if mac is None:
                return
            blob = _HEADER.pack(_MAGIC, len(data), zlib.crc32(data), mac) + data
            self.directory.mkdir(mode=0o700, exist_ok=True)
            path.parent.mkdir(mode=0o700, exist_ok=True)
            import tempfile

            with interrupt.deferred():  # created and named as one step
                descriptor, name = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
                temporary = Path(name)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(blob)
            os.replace(temporary, path)
        except BaseException as exc:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
            if isinstance(exc, OSError):
                return
            raise
        if self._size is None:
            self._size = sum(e[1] for e in _entries(self.directory))
        else:
            self._size += len(blob)
        if self._size > self.cap:
            # Trim to 90% so a build that adds a little does not trim on every put.
            trim(self.directory, self.cap * 9 // 10)
            self._size = None


def _inflates_to(payload: bytes, key: str) -> bool:
    """True when the raw deflate stream `payload` inflates to content whose SHA-256 is the
    digest that starts `key` (archive._cache_key: "<sha256 hex>-v1-...")."""
    import hashlib

    expected = key.split("-", 1)[0]
    digest = hashlib.sha256()
    inflater = zlib.decompressobj(-15)
    try:
        for start in range(0, len(payload), _INFLATE_BLOCK):
            digest.update(inflater.decompress(payload[start:start + _INFLATE_BLOCK]))
        digest.update(inflater.flush())
    except zlib.error:
        return False
    return inflater.eof and not inflater.unused_data and digest.hexdigest() == expected


def member_cache() -> DeflateCache | None:
    """The zip member cache, or None when the cap is 0 (`LAMBDALAYER_CACHE_MAX=0`)."""
    cap = max_size()
    return DeflateCache(cache_root(), cap) if cap > 0 else None


def open_member_cache() -> tuple[DeflateCache | None, str | None]:
    """member_cache(), or (None, warning) when its directory cannot be written.

    An unwritable or full cache directory costs speed, never the build.
    """
    found = member_cache()
    if found is None:
        return None, None
    try:
        ensure_root(found.root)  # private, marked; refuses someone else's directory
        found.directory.mkdir(mode=0o700, exist_ok=True)
        import tempfile

        with tempfile.TemporaryFile(dir=found.directory, prefix=".probe-"):
            pass
    except OSError as exc:
        return None, (f"The build cache {found.directory} cannot be written "
                      f"({exc.strerror or exc}); building without it. Fix its permissions, "
                      "or point LAMBDALAYER_CACHE_DIR elsewhere (LAMBDALAYER_CACHE_MAX=0 "
                      "turns the cache off).")
    return found, None


def proof_bytecode_dir(identity: str) -> Path | None:
    """The private folder where the import proof keeps the bytecode one interpreter
    compiled (`identity` names the interpreter), created; None when the cache is off
    (`LAMBDALAYER_CACHE_MAX=0`) or cannot be written: the proof then compiles as before."""
    import hashlib

    if max_size() <= 0:
        return None
    root = cache_root()
    directory = root / PROOF_BYTECODE_DIR / hashlib.sha256(identity.encode()).hexdigest()[:24]
    try:
        ensure_root(root)
        (root / PROOF_BYTECODE_DIR).mkdir(mode=0o700, exist_ok=True)
        directory.mkdir(mode=0o700, exist_ok=True)
    except OSError:
        return None
    return directory


def trim_proof_bytecode() -> None:
    """Keep the proof's bytecode within an eighth of the cap, the oldest written first."""
    cap = max_size()
    directory = cache_root() / PROOF_BYTECODE_DIR
    if cap > 0 and directory.is_dir() and not directory.is_symlink():
        trim(directory, cap // 8)


def uv_cache_dir() -> Path | None:
    """Where uv keeps wheels and unpacked trees (`UV_CACHE_DIR` or uv's default)."""
    from lambdalayer.common.uvtool import run_uv

    result = run_uv(["cache", "dir"])
    text = result.stdout.strip()
    return Path(text) if result.returncode == 0 and text else None


def clean_uv() -> bool:
    """`uv cache clean`: True when uv succeeded."""
    from lambdalayer.common.uvtool import run_uv

    return run_uv(["cache", "clean"]).returncode == 0
