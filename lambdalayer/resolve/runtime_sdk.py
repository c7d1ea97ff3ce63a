"""The runtime's own AWS SDK, installed for the proof of a `--exclude :runtime:` layer.

`runtime_sdk` installs the releases targets/runtime_sdk.toml lists for the runtime
(AWS's "Runtime-included SDK versions" table) with uv, for the target's Python and
platform, into lambdalayer's cache, once per (Python, architecture, release). The proof
places that folder where Lambda has the SDK, after the layer (proof/runner.py).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from lambdalayer.common.cache import RUNTIME_SDK_DIR, cache_root, ensure_root, max_size
from lambdalayer.common.uvtool import run_uv
from lambdalayer.resolve.index_settings import IndexSettings
from lambdalayer.targets.runtime_sdk import RuntimeSdk, listed_release
from lambdalayer.targets.target import Target

_INSTALL_TIMEOUT = 300.0  # seconds; a slow index leaves the modules "not tried"


def runtime_sdk(target: Target, index: IndexSettings) -> RuntimeSdk:
    """The runtime's SDK for `target`, installed once into the cache (from `index`, as
    the build's packages are). Never raises for a failed install: the folder is None
    and `reason` says why (the proof then leaves those modules "not tried")."""
    runtime = target.runtime.name
    boto3, botocore, unverified = listed_release(runtime)
    specs = [f"boto3=={boto3}", f"botocore=={botocore}"] if boto3 and botocore else ["boto3"]
    python = target.runtime.python_version
    if max_size() <= 0:
        return RuntimeSdk(runtime=runtime, folder=None, boto3=boto3, unverified=unverified,
                          reason="the cache is off (LAMBDALAYER_CACHE_MAX=0)")
    root = cache_root()
    key = f"python{python}-boto3-{boto3 or 'newest'}"  # pure Python: any arch
    folder = root / RUNTIME_SDK_DIR / key
    if folder.is_symlink():  # never follow a link out of the cache: install afresh
        folder.unlink()
    if (folder / ".complete").is_file():
        return RuntimeSdk(runtime=runtime, folder=folder, boto3=boto3, unverified=unverified)
    try:
        ensure_root(root)
        (root / RUNTIME_SDK_DIR).mkdir(mode=0o700, exist_ok=True)
        reason = _install(folder, specs, target, index)
    except OSError as exc:
        reason = f"cannot write {root / RUNTIME_SDK_DIR}: {exc.strerror or exc}"
    return RuntimeSdk(runtime=runtime, folder=None if reason else folder, boto3=boto3,
                      unverified=unverified, reason=reason)


def _install(folder: Path, specs: list[str], target: Target, index: IndexSettings) -> str | None:
    """uv installs `specs` into a fresh folder beside `folder`, renamed into place when
    complete (two builds at once: the second rename loses, and its copy is removed)."""
    staging = Path(tempfile.mkdtemp(prefix=".tmp-", dir=folder.parent))
    try:
        args = ["pip", "install", "--target", str(staging / "site"),
                "--python-platform", target.uv_platform,
                "--python-version", target.runtime.python_version,
                "--only-binary", ":all:", "--no-installer-metadata", "--link-mode", "copy",
                *index.uv_args(), *specs]
        result = run_uv(args, timeout=_INSTALL_TIMEOUT, env=index.uv_env())
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["uv failed"])[-1]
            return f"uv could not install {' '.join(specs)}: {last}"
        (staging / "site" / ".complete").touch()
        try:
            os.rename(staging / "site", folder)
        except OSError:
            if not (folder / ".complete").is_file():
                raise
        return None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
