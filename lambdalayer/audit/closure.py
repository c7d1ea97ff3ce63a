"""Which native files an import loads, and which ones only a dlopen on demand does.

Importing a Python extension module makes the dynamic loader map it and, through
DT_NEEDED, every library it links to (ld.so(8)); a missing library there fails the
import. A package may also ship shared objects that no extension module links to:
client plugins, database drivers, codec or SASL modules, which the package opens
with dlopen only when a feature asks for them (MySQL's WebAuthn authentication
plugin, Qt platform plugins, ODBC drivers). A missing library in one of those
breaks that feature, not the import, so the audit reports it as a warning.

`import_closure` gives the layer paths the loader maps when every extension
module of the layer is imported; `on_demand` turns an error finding about a file
outside it into that warning.

The closure is static: a package that opens a library with dlopen (ctypes.CDLL)
while it imports loads a file no DT_NEEDED names. Where the import proof ran, it
reports which of the layer's ELF files the interpreter mapped (/proc/self/maps);
those files and their own closure count as loaded at import (`mapped`), and their
findings stay errors, saying so (`mapped_at_import`). A file in the static closure
that was not mapped stays in it: a lazy import maps it later.
"""

from __future__ import annotations

import dataclasses
import posixpath
from collections.abc import Iterable, Mapping

from lambdalayer.audit.findings import Finding
from lambdalayer.audit.tree import LayerFile, import_roots, module_name
from lambdalayer.targets.target import Target

# Findings about whether the loader can map a file: the ones the closure decides.
LOAD_CODES = frozenset({"missing-library", "glibc-too-new", "glibcxx-too-new", "cxxabi-too-new",
                        "wrong-machine", "library-not-on-search-path",
                        "unverified-system-library"})
_PLAIN_SCAN_LIMIT = 64 << 20  # a plain-named .so larger than this counts as a module


def _exports_init(layer_file: LayerFile, stem: str) -> bool:
    """True when the object exports PyInit_<stem>, the symbol CPython's import calls
    (PEP 489); a library or plugin that merely has a module-like name does not.
    Anything unreadable counts as a module: the audit then stays as strict as before."""
    if layer_file.size > _PLAIN_SCAN_LIMIT:
        return True
    wanted = f"PyInit_{stem}".encode("ascii", "replace")
    try:
        data = layer_file.path.read_bytes()
    except OSError:
        return True
    # The name sits NUL-terminated in .dynstr; a cheap test first, then the symbol table.
    if wanted + b"\0" not in data:
        return False
    try:
        import io

        from elftools.common.exceptions import ELFError
        from elftools.elf.elffile import ELFFile

        elf = ELFFile(io.BytesIO(data))
        dynsym = elf.get_section_by_name(".dynsym")
        if dynsym is None:
            return True
        symbols = dynsym.get_symbol_by_name(wanted.decode("ascii"))  # type: ignore[attr-defined]
        return bool(symbols) and any(s["st_shndx"] != "SHN_UNDEF" for s in symbols)
    except (ELFError, ValueError, KeyError, OSError, AttributeError):
        return True


def is_extension_module(layer_file: LayerFile, target: Target) -> bool:
    """A file the target's `import` loads as a module: under an import root, a dotted
    module name, and an extension suffix (`.cpython-3XY-….so`, `.abi3.so`; a plain
    `name.so` only when it exports PyInit_name)."""
    rel = layer_file.rel
    if not any(rel.startswith(root) for root in import_roots(target)):
        return False
    if module_name(rel, target) is None:
        return False
    name = posixpath.basename(rel)
    if not name.endswith(".so"):
        return False
    stem, _, tag = name[:-3].partition(".")
    if tag == "abi3" or tag.startswith("cpython-"):
        return True
    if tag:
        return False  # "libfoo.so" is fine, "libssl.1.1.so" or "x.pypy39.so" is not a module
    return _exports_init(layer_file, stem)


def import_closure(target: Target, files: Iterable[LayerFile],
                   resolved: Mapping[str, Mapping[str, str | None]],
                   mapped: Iterable[str] = ()) -> frozenset[str]:
    """Layer paths the loader maps when every extension module in `files` is imported:
    the modules and the DT_NEEDED closure through the layer's own libraries
    (`resolved`, from rules.resolve_needed, which honours RPATH/RUNPATH and /opt/lib).
    `mapped` (layer paths the proof's interpreter mapped) start the walk too."""
    seen: set[str] = set()
    files = list(files)
    present = {f.rel for f in files}
    frontier = [f.rel for f in files if is_extension_module(f, target)]
    frontier += [rel for rel in mapped if rel in present]
    while frontier:
        rel = frontier.pop()
        if rel in seen:
            continue
        seen.add(rel)
        frontier.extend(found for found in resolved.get(rel, {}).values()
                        if found is not None and found not in seen)
    return frozenset(seen)


def may_be_on_demand(layer_file: LayerFile, target: Target) -> bool:
    """Files a package can dlopen on demand: shared objects inside the importable tree.
    Libraries in the layer's lib/ and programs in bin/ were put there to be used as they
    are, so their findings stay what they were."""
    name = posixpath.basename(layer_file.rel)
    loadable = name.endswith(".so") or ".so." in name
    return loadable and any(layer_file.rel.startswith(root) for root in import_roots(target))


def load_reason(finding: Finding, os_name: str) -> str:
    """Why the loader cannot map the file of a load finding, as a clause ("it needs ...")."""
    subject = finding.subject
    if finding.code == "missing-library":
        return f"it needs {subject}, which is neither in the layer nor on {os_name}"
    if finding.code in ("glibc-too-new", "glibcxx-too-new", "cxxabi-too-new"):
        return f"it needs symbol version {subject}, newer than {os_name} provides"
    if finding.code == "wrong-machine":
        return "it is built for another machine than the target's"
    if finding.code == "library-not-on-search-path":
        return f"it needs {subject}, which the layer has but not where the loader looks"
    return f"it needs {subject}, which {os_name} is expected but not verified to have"


def on_demand(finding: Finding, os_name: str) -> Finding:
    """`finding` about a file outside the import closure: a warning that says what it
    means (the feature that loads the file fails on Lambda; imports do not)."""
    severity = "warning" if finding.severity == "error" else finding.severity
    name = posixpath.basename(finding.path)
    message = (
        f"Loaded only on demand: no extension module of the layer links to {name} (a "
        f"plugin or driver that the package opens with dlopen when a feature needs it), "
        f"and {load_reason(finding, os_name)}. Importing the package works on Lambda, but the "
        f"feature that loads {name} will not work there (the plugin or driver fails to "
        "load). If you need it, bundle what it needs in the layer's lib/ directory.")
    return dataclasses.replace(finding, severity=severity, message=message, load="on-demand")


def mapped_at_import(finding: Finding) -> Finding:
    """`finding` about a file only the proof's mapped files put in the closure: it stays
    what it was (an error), and says why the static closure did not count it."""
    name = posixpath.basename(finding.path)
    message = (f"{finding.message} Loaded at import: the import proof saw {name} mapped "
               "although no extension module links to it (the package opens it with dlopen, "
               "e.g. ctypes.CDLL, while it imports), so this fails the import on Lambda.")
    return dataclasses.replace(finding, message=message, load="import")


def classify_load(findings: Iterable[Finding], closure: frozenset[str],
                  candidates: frozenset[str], os_name: str,
                  missed: frozenset[str] = frozenset()) -> list[Finding]:
    """Mark each load finding: "import" inside the closure, "on-demand" (a warning) for
    a file in `candidates` (may_be_on_demand) outside it; other findings unchanged.
    `missed`: files of the closure that only the proof's mapped files put there."""
    marked = []
    for finding in findings:
        if finding.code not in LOAD_CODES or not finding.path:
            marked.append(finding)
        elif finding.path not in closure and finding.path in candidates:
            marked.append(on_demand(finding, os_name))
        elif finding.path in missed:
            marked.append(mapped_at_import(finding))
        elif finding.path in closure:
            marked.append(dataclasses.replace(finding, load="import"))
        else:
            marked.append(finding)  # lib/ or bin/ outside the closure: used as it is
    return marked
