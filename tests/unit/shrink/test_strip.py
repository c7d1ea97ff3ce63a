"""`--strip` on real ELF files from this machine's Python."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lambdalayer.shrink.strip import elf_files, strip_tree, strippable_bytes
from tests.conftest import require


def host_extension() -> Path | None:
    """An unstripped extension module of the running (pyenv-built) Python."""
    version = f"python{sys.version_info[0]}.{sys.version_info[1]}"
    dynload = Path(sys.base_prefix) / "lib" / version / "lib-dynload"
    for path in sorted(dynload.glob("_bisect*.so")) + sorted(dynload.glob("*.so")):
        if strippable_bytes(path) > 0:
            return path
    return None


@pytest.fixture
def layer(tmp_path: Path) -> tuple[Path, Path, Path]:
    source = host_extension()
    require(source is not None, "no unstripped extension module in this Python's lib-dynload")
    assert source is not None
    site = tmp_path / "layer" / "python"
    site.mkdir(parents=True)
    module = site / source.name
    # uv hard-links installed files from its cache; the "cache" copy must not change.
    cache_copy = tmp_path / "uv-cache" / source.name
    cache_copy.parent.mkdir()
    shutil.copy2(source, cache_copy)
    module.hardlink_to(cache_copy)
    (site / "notes.txt").write_text("not ELF")
    return site.parent, module, cache_copy


def test_strip_shrinks_so_files_keeps_them_loadable_and_spares_the_cache(
    layer: tuple[Path, Path, Path],
) -> None:
    root, module, cache_copy = layer
    original = cache_copy.read_bytes()
    estimate = strippable_bytes(module)
    result = strip_tree(root)
    require(result.stripped == 1, f"no strip tool here: {result.warnings}")
    assert cache_copy.read_bytes() == original
    assert module.stat().st_size < len(original)
    # The section-table estimate is what the size report promises: it must be close.
    assert abs(result.saved - estimate) <= 0.05 * estimate
    assert strippable_bytes(module) == 0
    name = module.name.split(".")[0]
    check = subprocess.run(
        [sys.executable, "-c", f"import sys; sys.path.insert(0, {str(module.parent)!r}); "
                               f"import {name}; print({name}.__file__)"],
        capture_output=True, text=True, check=True)
    assert str(module.parent) in check.stdout


def test_same_input_same_output(layer: tuple[Path, Path, Path], tmp_path: Path) -> None:
    root, module, cache_copy = layer
    other = tmp_path / "again"
    other.mkdir()
    shutil.copy2(cache_copy, other / module.name)
    strip_tree(root)
    strip_tree(other)
    assert (other / module.name).read_bytes() == module.read_bytes()


def test_without_a_strip_tool_files_stay_and_a_warning_says_what_to_install(
    layer: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    root, module, cache_copy = layer
    empty = tmp_path / "empty-path"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = strip_tree(root)
    assert result.stripped == 0
    assert module.read_bytes() == cache_copy.read_bytes()
    [warning] = result.warnings
    assert "llvm-strip" in warning and "1 x86_64" in warning


def test_a_tool_that_does_not_understand_the_machine_is_passed_over(
    layer: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
) -> None:
    root, module, _cache = layer
    real = shutil.which("llvm-strip") or shutil.which("strip")
    require(real is not None, "no strip tool on PATH")
    tools = tmp_path / "tools"
    tools.mkdir()
    # A cross strip for another machine fails on our file, as GNU strip does on aarch64.
    fake = tools / "x86_64-linux-gnu-strip"
    fake.write_text("#!/bin/sh\necho 'Unable to recognise the format' >&2\nexit 1\n")
    fake.chmod(0o755)
    (tools / "llvm-strip").symlink_to(str(real))
    monkeypatch.setenv("PATH", str(tools))
    result = strip_tree(root)
    assert result.stripped == 1 and result.tools == ("llvm-strip",)
    assert [e.path for e in elf_files(root)] == [module]


@pytest.mark.skipif(sys.platform == "win32", reason="the stand-in keg tool is a shell script")
def test_llvm_strip_is_found_in_homebrews_keg_and_the_override_wins(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdalayer.shrink import strip as strip_module

    keg = tmp_path / "opt" / "llvm" / "bin"
    keg.mkdir(parents=True)
    (keg / "llvm-strip").write_text("#!/bin/sh\n")
    (keg / "llvm-strip").chmod(0o755)
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(strip_module, "HOMEBREW_LLVM", (str(tmp_path / "nope"), str(keg)))
    assert strip_module.candidate_tools(183) == [str(keg / "llvm-strip")]
    monkeypatch.setenv("LAMBDALAYER_STRIP", "/somewhere/llvm-strip-18")
    assert strip_module.candidate_tools(183) == ["/somewhere/llvm-strip-18"]


def test_install_hints_name_the_hosts_own_package_manager() -> None:
    from lambdalayer.shrink.strip import install_hint

    assert "brew install llvm" in install_hint("aarch64", "Darwin")
    assert "LLVM.LLVM" in install_hint("aarch64", "Windows")
    assert "binutils-aarch64-linux-gnu" in install_hint("aarch64", "Linux")


def test_a_launch_the_machine_refuses_for_the_moment_is_tried_again(
    layer: tuple[Path, Path, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A loaded runner out of processes (EAGAIN) or memory (ENOMEM) for a moment: the
    same tool strips the file once it launches, giving the bytes a quiet machine gives;
    the file is not left as it was, nor handed to the next tool. (The fault is simulated:
    no real machine refuses a fork on demand.)"""
    import errno

    from lambdalayer.shrink import strip

    root, module, _cache_copy = layer
    tool = shutil.which("llvm-strip") or shutil.which("strip")
    require(tool is not None, "no strip tool here")
    monkeypatch.setenv("LAMBDALAYER_STRIP", str(tool))  # that tool alone: no fallback
    quiet = tmp_path / "quiet"
    shutil.copytree(root, quiet)
    require(strip_tree(quiet).stripped == 1, "no strip tool here")
    refusals = [errno.EAGAIN, errno.ENOMEM]
    real = subprocess.run

    def loaded(*args: object, **kwargs: object) -> object:
        if refusals:
            raise OSError(refusals.pop(0), "Resource temporarily unavailable")
        return real(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(strip.subprocess, "run", loaded)
    result = strip_tree(root)
    assert (result.stripped, result.warnings) == (1, ())
    assert module.read_bytes() == (quiet / "python" / module.name).read_bytes()
