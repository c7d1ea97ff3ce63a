"""Findings: what the readers' facts mean for one Target on Lambda.

Each rule is a function from facts to findings; messages say what will happen on
Lambda and what to do instead. Codes are part of the user-facing contract.
"""

from __future__ import annotations

import dataclasses
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from packaging import tags as packaging_tags
from packaging.utils import canonicalize_name

from lambdalayer.audit.elf import Classified, ElfInfo, Kind
from lambdalayer.audit.findings import Finding
from lambdalayer.audit.syslibs import BaseImageLibs
from lambdalayer.audit.tree import (
    LayerFile,
    LayerTree,
    dist_version,
    distribution_name,
    import_roots,
    module_name,
)
from lambdalayer.common.advice import alternative, import_libraries
from lambdalayer.targets.target import Target

# Lambda's size limits are common/limits.py (docs/lambda-facts.md).

# Lambda's LD_LIBRARY_PATH (AWS docs, "Defined runtime environment variables"):
# /var/lang/lib:/lib64:/usr/lib64:/var/runtime:/var/runtime/lib:/var/task:
# /var/task/lib:/opt/lib. Of those only /opt/lib is inside a layer.
LAYER_LIBRARY_DIRS = ("lib",)

# Suffixes that mark a file as something an import or dlopen loads, so a foreign
# binary with one breaks an import; other foreign binaries (setuptools' launcher
# .exe files, say) are dead weight, not a failure.
_LOADABLE = re.compile(r"\.(so|pyd|dylib)$|\.so\.[0-9.]+$")
_CPYTHON_TAG = re.compile(r"^cpython-(?P<major>\d)(?P<minor>\d+)(?P<ft>t?)(?:-(?P<plat>.+))?$")
_OTHER_IMPL_TAG = re.compile(r"^(?P<impl>pypy|graalpy)[\w.-]*$")


@dataclass(frozen=True, kw_only=True)
class Context:
    """What every rule needs: the target, the tree and the base image's libraries."""

    target: Target
    tree: LayerTree
    syslibs: BaseImageLibs
    layer: str = "layer"  # the layer name the fixes rebuild (a manifest's, a zip's)

    @property
    def where(self) -> str:
        return f"{self.target.runtime.name} on {self.target.arch}"

    def build_hint(self, package: str | None) -> str:
        """A command that runs as printed: the layer's name, the package, the target.
        Without a package (a layer for another runtime) the layer's own recipe or
        configuration: `lambdalayer build NAME`."""
        spec = f" -p {package}" if package else ""
        return (f"lambdalayer build {self.layer}{spec} --runtime {self.target.runtime.name} "
                f"--arch {self.target.arch}")

    def finding(self, layer_file: LayerFile | str, code: str, severity: str, message: str,
                *, subject: str | None = None, evidence: str | None = None) -> Finding:
        rel = layer_file if isinstance(layer_file, str) else layer_file.rel
        package = self.tree.package_of(rel, self.target) if rel else None
        # The command in the message, when there is one: said once per package by `check`.
        hint = self.build_hint(package)
        return Finding(severity=severity, code=code, path=rel, message=message,
                       package=package, subject=subject, evidence=evidence,
                       fix=hint if hint in message else None)


def import_failure(ctx: Context, layer_file: LayerFile, *, loadable_name: bool) -> str:
    """How the import of this file fails on the target, in the words Python uses."""
    module = module_name(layer_file.rel, ctx.target)
    if module is None:
        return "anything that loads it fails"
    top = module.split(".", 1)[0]
    also = f" (and so `import {top}`)" if top != module else ""
    if loadable_name:
        return f"`import {module}`{also} fails with ImportError (invalid ELF header)"
    return (f"`import {module}`{also} fails with ModuleNotFoundError: "
            f"No module named '{module}'")


def _extension_suffix_ok(name: str, target: Target) -> bool | None:
    """True/False when `name` looks like a CPython extension, None when it does not."""
    if name.endswith(".pyd"):
        return False
    if not name.endswith(".so"):
        return None
    stem = name[:-3]
    if "." not in stem:
        return True  # plain "mod.so": CPython loads it
    tag = stem.split(".", 1)[1]
    if tag == "abi3":
        return True
    match = _CPYTHON_TAG.match(tag)
    if match:
        return (
            (int(match.group("major")), int(match.group("minor"))) == target.runtime.python
            and not match.group("ft")
            and match.group("plat") in (None, f"{target.machine}-linux-gnu")
        )
    if _OTHER_IMPL_TAG.match(tag):
        return False
    return None  # "libopenblas-r0.3.23.so" and friends: not an extension name


def foreign_binary(ctx: Context, layer_file: LayerFile, kind: Classified) -> Finding:
    """Mach-O or PE: built for macOS or Windows, never loadable on Lambda."""
    system = "macOS" if kind.kind is Kind.MACHO else "Windows"
    code = "foreign-binary-macho" if kind.kind is Kind.MACHO else "foreign-binary-pe"
    archs = ", ".join(kind.machines) or "unknown"
    fat = "universal " if kind.fat else ""
    package = ctx.tree.package_of(layer_file.rel, ctx.target)
    name = posixpath.basename(layer_file.rel)
    if not _LOADABLE.search(name):
        return ctx.finding(layer_file, code, "warning",
                           f"A {fat}{system} binary ({archs}): Lambda ({ctx.where}) cannot run "
                           "it; it is dead weight in the layer unless something executes it.")
    loadable_name = _extension_suffix_ok(name, ctx.target) is True
    return ctx.finding(
        layer_file, code, "error",
        f"Built for {system} ({fat}{archs}), not Linux: on Lambda ({ctx.where}) "
        f"{import_failure(ctx, layer_file, loadable_name=loadable_name)}. The layer was "
        f"probably built on a {system} machine from its {system} wheel; build it for "
        f"Lambda instead: {ctx.build_hint(package)}.",
    )


def wrong_machine(ctx: Context, layer_file: LayerFile, info: ElfInfo) -> Finding | None:
    """An ELF file for another machine or word size than the target's."""
    if info.bits == 64 and info.machine == ctx.target.machine:
        return None
    built = f"{info.bits}-bit {info.machine}"
    package = ctx.tree.package_of(layer_file.rel, ctx.target)
    loadable = _extension_suffix_ok(posixpath.basename(layer_file.rel), ctx.target) is not False
    failure = (import_failure(ctx, layer_file, loadable_name=True).replace(
        "(invalid ELF header)", "(wrong ELF class or machine)") if loadable
               else "the loader rejects it")
    return ctx.finding(
        layer_file, "wrong-machine", "error",
        f"Built for {built}; the {ctx.target.arch} Lambda needs 64-bit {ctx.target.machine}, "
        f"so {failure}. Build the layer for {ctx.target.arch}: {ctx.build_hint(package)} "
        f"(or target --arch {'arm64' if info.machine == 'aarch64' else 'x86_64'} if that "
        "is where the function runs).",
    )


def _version(text: str) -> tuple[int, ...] | None:
    try:
        return tuple(int(part) for part in text.split("."))
    except ValueError:
        return None


def _highest(pairs: list[tuple[str, str]], prefix: str) -> tuple[tuple[int, ...], str, str] | None:
    best: tuple[tuple[int, ...], str, str] | None = None
    for library, version in pairs:
        number = _version(version[len(prefix):])
        if number is not None and (best is None or number > best[0]):
            best = (number, version, library)
    return best


def symbol_versions(ctx: Context, layer_file: LayerFile, info: ElfInfo,
                    resolved: dict[str, str | None]) -> Iterator[Finding]:
    """GLIBC_ / GLIBCXX_ / CXXABI_ versions above what the runtime's OS provides.
    `resolved` maps each DT_NEEDED to where the layer provides it (`resolve_needed`)."""
    os_ = ctx.target.runtime.os
    # Version needs on a library bundled in the layer are that library's business.
    system = dataclasses.replace(info, version_needs=tuple(
        (lib, versions) for lib, versions in info.version_needs
        if resolved.get(lib) is None))
    package = ctx.tree.package_of(layer_file.rel, ctx.target)
    module = module_name(layer_file.rel, ctx.target)
    who = f"`import {module}`" if module else "loading it"
    checks = (
        ("GLIBC_", os_.glibc, "glibc-too-new", "glibc",
         f"Use a wheel tagged manylinux_{os_.glibc[0]}_{os_.glibc[1]} or older "
         f"(an older release of the package if the newest has none): "
         f"{ctx.build_hint(package)} picks one."),
        ("GLIBCXX_", os_.libstdcxx, "glibcxx-too-new", "libstdc++",
         f"Use a wheel built for manylinux_{os_.glibc[0]}_{os_.glibc[1]} or older "
         f"(or bundle a newer libstdc++): {ctx.build_hint(package)}."),
        ("CXXABI_", os_.cxxabi, "cxxabi-too-new", "libstdc++ C++ ABI",
         f"Use a wheel built for manylinux_{os_.glibc[0]}_{os_.glibc[1]} or older: "
         f"{ctx.build_hint(package)}."),
    )
    for prefix, available, code, what, advice in checks:
        best = _highest(system.versions_from(prefix), prefix)
        if best is None or best[0] <= available:
            continue
        have = ".".join(map(str, available))
        yield ctx.finding(
            layer_file, code, "error",
            f"Needs {best[1]} from {best[2]}, but {ctx.target.runtime.name} runs on "
            f"{os_.name} with {what} {have}: {who} fails with ImportError: "
            f"version `{best[1]}' not found. {advice}", subject=best[1],
        )


def _layer_dirs(rel: str, entries: tuple[str, ...]) -> list[str]:
    """RPATH/RUNPATH entries as layer directories; $ORIGIN is the object's directory and
    the layer sits at /opt. Entries outside /opt (or with $LIB, $PLATFORM) are dropped."""
    origin = "/opt/" + posixpath.dirname(rel)
    dirs = []
    for entry in entries:
        expanded = entry.replace("${ORIGIN}", origin).replace("$ORIGIN", origin)
        if "$" in expanded:
            continue
        normal = posixpath.normpath(expanded)
        if normal.startswith("/opt/"):
            dirs.append(normal[len("/opt/"):])
    return dirs


def search_dirs(layer_file: LayerFile, info: ElfInfo) -> list[str]:
    """Layer directories the loader searches for this object's own DT_NEEDED, in order.

    glibc (ld.so(8)): DT_RPATH (only when there is no DT_RUNPATH), LD_LIBRARY_PATH,
    DT_RUNPATH, then the system. See `resolve_needed` for the inherited DT_RPATH.
    """
    return [*(_layer_dirs(layer_file.rel, info.rpath) if not info.runpath else []),
            *LAYER_LIBRARY_DIRS, *_layer_dirs(layer_file.rel, info.runpath)]


def _find(ctx: Context, dirs: list[str], library: str) -> str | None:
    for directory in dirs:
        found = ctx.tree.resolve(f"{directory}/{library}")
        if found is not None:
            return found
    return None


def resolve_needed(ctx: Context, elves: list[tuple[LayerFile, ElfInfo]],
                   ) -> dict[str, dict[str, str | None]]:
    """For each ELF file, each DT_NEEDED -> the layer file the loader would use (or None).

    Besides the object's own search path, glibc searches the DT_RPATH of the object
    that loaded it, and of that one's loader, and so on, when the object itself has no
    DT_RUNPATH. Older auditwheel repairs rely on that: the extension carries
    RPATH=$ORIGIN/../pkg.libs and the bundled libraries carry none. So resolution
    repeats, following who-loads-whom, until nothing new is found.
    """
    by_rel = {layer_file.rel: (layer_file, info) for layer_file, info in elves}
    resolved: dict[str, dict[str, str | None]] = {}
    loaders: dict[str, set[str]] = {}
    for layer_file, info in elves:
        own = search_dirs(layer_file, info)
        mapping: dict[str, str | None] = {}
        for library in info.needed:
            found = None if "/" in library else _find(ctx, own, library)
            mapping[library] = found
            if found is not None:
                loaders.setdefault(found, set()).add(layer_file.rel)
        resolved[layer_file.rel] = mapping
    for _ in range(8):  # dependency chains in real layers are 2-4 deep
        changed = False
        for rel, mapping in resolved.items():
            layer_file, info = by_rel[rel]
            if info.runpath:
                continue  # DT_RUNPATH switches off every DT_RPATH, its loaders' too
            for library, found in mapping.items():
                if found is not None or "/" in library:
                    continue
                for ancestor in _ancestors(rel, loaders):
                    _, ancestor_info = by_rel[ancestor]
                    if ancestor_info.runpath or not ancestor_info.rpath:
                        continue
                    hit = _find(ctx, _layer_dirs(ancestor, ancestor_info.rpath), library)
                    if hit is not None:
                        mapping[library] = hit
                        loaders.setdefault(hit, set()).add(rel)
                        changed = True
                        break
        if not changed:
            break
    return resolved


def _ancestors(rel: str, loaders: dict[str, set[str]]) -> list[str]:
    seen: list[str] = []
    frontier = sorted(loaders.get(rel, ()))
    while frontier and len(seen) < 64:
        current = frontier.pop(0)
        if current in seen or current == rel:
            continue
        seen.append(current)
        frontier.extend(sorted(loaders.get(current, ())))
    return seen


def missing_libraries(ctx: Context, layer_file: LayerFile, info: ElfInfo,
                      resolved: dict[str, str | None],
                      basenames: dict[str, list[str]]) -> Iterator[Finding]:
    """DT_NEEDED entries neither bundled where the loader looks nor on the base image."""
    module = module_name(layer_file.rel, ctx.target)
    who = f"`import {module}`" if module else "loading it"
    package = ctx.tree.package_of(layer_file.rel, ctx.target)
    for library in info.needed:
        if "/" in library or library in ctx.syslibs.present:
            continue
        if resolved.get(library) is not None:
            continue
        if library in ctx.syslibs.unverified:
            yield ctx.finding(
                layer_file, "unverified-system-library", "warning",
                f"Needs {library}, which is not in the layer; {ctx.target.runtime.os.name} "
                "is expected to provide it but lambdalayer has not verified that. If "
                f"{who} fails on Lambda, bundle the library in the layer's lib/ directory.",
                subject=library)
            continue
        elsewhere = basenames.get(library, [])
        if elsewhere:
            yield ctx.finding(
                layer_file, "library-not-on-search-path", "warning",
                f"Needs {library}; the layer has it at {elsewhere[0]}, but not where the "
                "loader looks for this file (its RPATH/RUNPATH, its loaders' RPATH, "
                f"/opt/lib). It loads only if another module loaded {library} first; "
                f"otherwise {who} fails with "
                f"ImportError: {library}: cannot open shared object file.", subject=library)
            continue
        if library.startswith("libc.musl-") or library.startswith("ld-musl-"):
            advice = ("It was built for musl libc (Alpine Linux); Lambda uses glibc. Install "
                      f"the package's manylinux wheel: {ctx.build_hint(package)}.")
        elif package and alternative(package):
            advice = f"Use {alternative(package)} instead."
        elif library in ctx.syslibs.hints:
            advice = ctx.syslibs.hints[library]
        elif layer_file.rel in ctx.tree.recorded_paths():
            # Installed from a wheel already: "use a wheel" would repeat what the user did.
            advice = (f"The wheel does not bundle {library}: put it in the layer's lib/ "
                      "directory (/opt/lib is on Lambda's LD_LIBRARY_PATH), or choose a "
                      "package that bundles it.")
        else:
            advice = ("Use a manylinux wheel, which bundles its libraries "
                      f"({ctx.build_hint(package)}), or put {library} in the layer's lib/ "
                      "directory (/opt/lib is on Lambda's LD_LIBRARY_PATH).")
        # The research behind "absent" (docs/ ids) is for --json/--verbose, not the message.
        evidence = (f"seen absent: {ctx.syslibs.sources[library]}"
                    if library in ctx.syslibs.absent else None)
        yield ctx.finding(
            layer_file, "missing-library", "error",
            f"Needs {library}, which is neither in the layer nor on {ctx.target.runtime.os.name}"
            f": {who} fails with ImportError: {library}: cannot open shared object "
            f"file. {advice}", subject=library, evidence=evidence)


def extension_name(ctx: Context, layer_file: LayerFile) -> Finding | None:
    """A CPython extension whose file name the target interpreter will not load."""
    if not any(layer_file.rel.startswith(root) for root in import_roots(ctx.target)):
        return None
    name = posixpath.basename(layer_file.rel)
    if _extension_suffix_ok(name, ctx.target) is not False:
        return None
    module = module_name(layer_file.rel, ctx.target)
    directory = posixpath.dirname(layer_file.rel)
    stem = name.split(".", 1)[0]
    for sibling in ctx.tree.files:
        # Another build of the same module that does fit: this one is just dead weight.
        if (posixpath.dirname(sibling) == directory and sibling != layer_file.rel
                and posixpath.basename(sibling).split(".", 1)[0] == stem
                and _extension_suffix_ok(posixpath.basename(sibling), ctx.target)):
            return None
    tag = name[len(stem) + 1:]
    version = ctx.target.runtime.python
    built = _describe_tag(tag)
    wanted = (f".cpython-{version[0]}{version[1]}-{ctx.target.machine}-linux-gnu.so, "
              ".abi3.so or .so")
    package = ctx.tree.package_of(layer_file.rel, ctx.target)
    failure = (f"`import {module}` fails with ModuleNotFoundError: No module named "
               f"'{module}'" if module else "its import fails")
    return ctx.finding(
        layer_file, "wrong-abi-suffix", "error",
        f"This extension is for {built}; {ctx.target.runtime.name} only loads files ending "
        f"in {wanted}, so {failure}. Build it for this target: {ctx.build_hint(package)}.",
    )


def _describe_tag(tag: str) -> str:
    match = _CPYTHON_TAG.match(tag.removesuffix(".so"))
    if tag.endswith(".pyd") or re.search(r"(^|-)win(32|_amd64|_arm64)", tag):
        return "Windows"
    if match:
        version = f"CPython {match.group('major')}.{match.group('minor')}"
        if match.group("ft"):
            version += " free-threaded"
        platform = match.group("plat") or ""
        if "darwin" in platform:
            return f"{version} on macOS"
        if "musl" in platform:
            return f"{version} on musl libc (Alpine Linux)"
        if platform:
            return f"{version} on {platform}"
        return version
    impl = _OTHER_IMPL_TAG.match(tag.removesuffix(".so"))
    if impl:
        return "PyPy" if impl.group("impl") == "pypy" else "GraalPy"
    return f"another interpreter ({tag})"


def _stale_linux_tag(target: Target, tag: str) -> bool:
    """`cp312-cp312-linux_x86_64` that would fit if its platform were manylinux."""
    try:
        parsed = packaging_tags.parse_tag(tag)
    except ValueError:
        return False
    return any(
        t.platform == f"linux_{target.machine}"
        and packaging_tags.Tag(t.interpreter, t.abi, f"manylinux_2_17_{target.machine}")
        in target.supported_tags
        for t in parsed)


def wheel_tags(ctx: Context, dir_name: str, wheel: LayerFile) -> Finding | None:
    """*.dist-info/WHEEL `Tag:` lines of which none fits the target."""
    try:
        text = wheel.path.read_text("utf-8", errors="replace")
    except OSError:
        return None
    tags = [line.split(":", 1)[1].strip() for line in text.splitlines()
            if line.lower().startswith("tag:")]
    if not tags:
        return None
    for tag in tags:
        try:
            if ctx.target.accepts_wheel_tag(tag):
                return None
        except ValueError:
            continue  # malformed tag: it cannot fit
    version = dist_version(dir_name)
    package = ctx.tree.package_of(wheel.rel, ctx.target) or dir_name.split("-", 1)[0]
    if any(_stale_linux_tag(ctx.target, tag) for tag in tags):
        # A vendor renamed auditwheel's output without rewriting WHEEL: the file
        # name (which the installer chose by) fitted; the ELF checks decide.
        return ctx.finding(
            wheel, "wheel-tag-stale", "warning",
            f"{package} {version or ''}: its WHEEL file says {', '.join(tags)}, a tag no "
            "installer picks for Lambda; the wheel was most likely renamed to a manylinux "
            "name without rewriting WHEEL. The ELF audit of its files decides whether it "
            "loads on Lambda.")
    glibc = ctx.target.runtime.os.glibc
    return ctx.finding(
        wheel, "wheel-tag-mismatch", "error",
        f"{package} {version or ''} was installed from a wheel tagged {', '.join(tags)}; "
        f"{ctx.where} takes only cp{ctx.target.runtime.python[0]}"
        f"{ctx.target.runtime.python[1]}, abi3 or none wheels for manylinux_"
        f"{glibc[0]}_{glibc[1]}_{ctx.target.machine} or older (or pure-Python ones). "
        f"Rebuild it for this target (lambdalayer picks a release that has a fitting "
        f"wheel): {ctx.build_hint(package)}.",
    )


def python_dir(ctx: Context, files: list[LayerFile]) -> Finding | None:
    """A layer with nothing the target's Python can import."""
    if any(f.rel.startswith("python/") for f in files) or not ctx.tree.files:
        return None
    others = sorted(ctx.tree.runtime_dirs() - {ctx.target.runtime.python_version})
    if others:
        dirs = ", ".join(f"python/lib/python{v}/" for v in others)
        pins = installed_pins(ctx.tree)
        fix = (f"lambdalayer build {ctx.layer} {' '.join(f'-p {p}' for p in pins)} "
               f"--runtime {ctx.target.runtime.name} --arch {ctx.target.arch}") if pins else None
        how = f": {fix}" if fix else " (lambdalayer build NAME --runtime ...)"
        finding = ctx.finding(
            "", "missing-python-dir", "error",
            f"The layer only has {dirs}; {ctx.target.runtime.name} looks in /opt/python and "
            f"/opt/python/lib/python{ctx.target.runtime.python_version}/site-packages, so "
            f"none of its packages import there. Build it for {ctx.target.runtime.name}{how}.")
        return dataclasses.replace(finding, fix=fix)
    tops = sorted({rel.split("/", 1)[0] for rel in ctx.tree.files})[:5]
    return ctx.finding(
        "", "missing-python-dir", "error",
        f"The layer has no python/ directory (it starts with {', '.join(tops)}). Lambda "
        "extracts layers to /opt and Python looks only in /opt/python and "
        "/opt/python/lib/pythonX.Y/site-packages, so nothing in it can be imported. Put "
        "the packages under python/ (lambdalayer build does).")


def installed_pins(tree: LayerTree) -> list[str]:
    """NAME==VERSION of every distribution in the layer (its *.dist-info directories):
    the -p options that rebuild the same packages for another runtime."""
    pins = set()
    for dir_name, wheel in tree.wheel_files(list(tree.files.values())):
        dist_info = posixpath.dirname(wheel.rel)
        name, version = distribution_name(tree, dist_info, dir_name), dist_version(dir_name)
        if version and re.fullmatch(r"[A-Za-z0-9._-]+", name + version):
            pins.add(f"{name}=={version}")
    return sorted(pins, key=str.lower)


def import_time_libraries(ctx: Context, dir_name: str, wheel: LayerFile,
                          basenames: dict[str, list[str]]) -> Iterator[Finding]:
    """Sonames a pure package loads with ctypes/cffi at import (alternatives.toml data),
    which neither the layer nor the target OS has."""
    name = canonicalize_name(dir_name.split("-", 1)[0])
    for library in import_libraries().get(name, ()):
        if library in ctx.syslibs.present or basenames.get(library):
            continue
        package = ctx.tree.package_of(wheel.rel, ctx.target) or name
        better = alternative(name)
        advice = f"Use {better} instead." if better else (
            f"Put {library} in the layer's lib/ directory (/opt/lib).")
        yield ctx.finding(
            wheel, "needs-system-library", "error",
            f"{package} loads {library} (ctypes/cffi) when imported; "
            f"{ctx.target.runtime.os.name} does not have it and the layer does not bundle "
            f"it, so its import fails on Lambda (OSError: cannot load library). {advice}",
            subject=library)
