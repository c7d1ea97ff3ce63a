"""The job summary of action.yml, from `lambdalayer build --json` and `publish --json`.

Run by the action's "Job summary" step as `python3 summary.py RUNNER_TEMP`; prints
Markdown for $GITHUB_STEP_SUMMARY. Per layer: targets, sizes, the import proof
(each artifact's `import_test`: status passed / failed / skipped, with a reason),
the sandbox each target's proof ran in (`sandbox_kind`: bwrap, box or none; from the
manifest's `proof` when the build did not prove the zip again), where it was
published, the licences of its distributions, the known vulnerabilities when the build
asked (`vulns`: this build's, else the manifest's), and the package changes against the
version it replaces. Then, when the action attached, each function with the layer version
it got and the command that undoes it (from `attach --json`).
Standard library only: it runs on the runner's python3, not in lambdalayer's venv.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any


def load(temp: str, name: str) -> Any:
    try:
        with open(os.path.join(temp, name), encoding="utf-8") as handle:
            return json.load(handle)
    except (OSError, ValueError):
        return None


def size(n: float) -> str:
    for unit in ("B", "KB", "MB"):
        if n < 1000:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n:.1f} GB"


def proof_cell(proof: Any) -> str:
    """The import proof of one artifact, as `build --json` reports it in `import_test`."""
    if not isinstance(proof, dict) or "status" not in proof:
        return "not reported by this lambdalayer"
    status = proof["status"]
    # A table cell: one line, no column separators.
    reason = " ".join(str(proof.get("reason") or "").split()).replace("|", "\\|")
    targets = [t for t in proof.get("targets") or [] if isinstance(t, dict)]
    if status == "passed":
        how = ", ".join(f"{t['target']} {_how(t)}" for t in targets if t.get("status") == "passed")
        return "passed" + (f" ({how})" if how else "")
    if status == "failed":
        failed = ", ".join(t["target"] for t in targets if t.get("status") == "failed")
        where = f" on {failed}" if failed else ""
        return f"**FAILED**{where}" + (f": {reason}" if reason else "")
    if status == "skipped":
        return "skipped" + (f": {reason}" if reason else "")
    return f"unknown status {status!r}"


def sandbox_cell(artifact: dict[str, Any]) -> str:
    """Which sandbox each target's proof ran in: this build's `import_test`, else what the
    manifest beside the zip recorded when the zip was proven (an up-to-date build)."""
    proof = artifact.get("import_test")
    targets = proof.get("targets") if isinstance(proof, dict) else None
    if not targets:
        targets = (load_path(artifact.get("manifest")) or {}).get("proof")
    kinds: dict[str, list[str]] = {}
    for target in targets if isinstance(targets, list) else []:
        if not isinstance(target, dict) or target.get("status") == "skipped":
            continue
        kind = target.get("sandbox_kind") or "not reported"
        kinds.setdefault(str(kind), []).append(str(target.get("target")))
    if not kinds:
        return "no proof ran"
    # none: the layer's code ran next to the job's secrets with only its environment
    # scrubbed (proof-sandbox: auto); said loudly.
    return "; ".join(f"{'**none** (unsandboxed)' if kind == 'none' else kind}: "
                     f"{', '.join(names)}" for kind, names in kinds.items())


def _cell(text: Any) -> str:
    """One table cell: one line, no column separators."""
    return " ".join(str(text).split()).replace("|", "\\|")


def licences_cell(artifact: dict[str, Any]) -> str:
    """`MIT (a, b); unknown (c)` from `build --json`'s `licences`."""
    by_licence: dict[str, list[str]] = {}
    for dist in artifact.get("licences") or []:
        if isinstance(dist, dict):
            by_licence.setdefault(str(dist.get("licence")), []).append(str(dist.get("name")))
    order = sorted(by_licence, key=lambda text: (text == "unknown", text.lower()))
    return _cell("; ".join(f"{text} ({', '.join(by_licence[text])})" for text in order))


def vulns_lines(artifact: dict[str, Any]) -> list[str]:
    """The vulnerability row (and a table of the advisories) when the build asked."""
    vulns = artifact.get("vulns")
    if not isinstance(vulns, dict):
        vulns = (load_path(artifact.get("manifest")) or {}).get("vulns")
    if not isinstance(vulns, dict):
        return []
    if vulns.get("problem"):
        return [f"| vulnerabilities | not checked: {_cell(vulns['problem'])} |"]
    found = [v for v in vulns.get("vulnerabilities") or [] if isinstance(v, dict)]
    if not found:
        return [f"| vulnerabilities | none known ({vulns.get('checked', 0)} distributions "
                f"checked) |"]
    fixes = " ".join(f"-p '{fix}'" for fix in vulns.get("fixes") or [])
    lines = [f"| vulnerabilities | **{len(found)} known**" +
             (f"; fix: `{_cell(fixes)}`" if fixes else "") + " |", "",
             "| package | advisory | severity | fixed in | |", "|---|---|---|---|---|"]
    for v in found:
        ids = ", ".join([str(v.get("id")), *map(str, v.get("aliases") or [])])
        lines.append(f"| {_cell(v.get('package'))} {_cell(v.get('version'))} | {_cell(ids)} | "
                     f"{_cell(v.get('severity'))} | "
                     f"{_cell(', '.join(map(str, v.get('fixed') or [])) or 'no fix yet')} | "
                     f"{_cell(v.get('summary') or '')} |")
    return lines


def load_path(path: Any) -> Any:
    if not isinstance(path, str) or not path:
        return None
    return load(os.path.dirname(path) or ".", os.path.basename(path))


def _how(target: dict[str, Any]) -> str:
    if target.get("covered_by"):
        return f"(same files as {target['covered_by']})"
    where = "natively" if target.get("how") == "native" else f"under {target.get('how')}"
    version = target.get("python_version")
    return f"{where}" + (f", CPython {version}" if version else "")


def _manifest_of(zip_path: Any) -> str | None:
    """dist/NAME.json for dist/NAME.zip: the manifest `build` wrote beside it."""
    if not isinstance(zip_path, str) or not zip_path.endswith(".zip"):
        return None
    return zip_path[: -len(".zip")] + ".json"


def changes(old: str, zip_path: str) -> str:
    diff = subprocess.run(["lambdalayer", "diff", old, zip_path, "--markdown"],
                          capture_output=True, text=True, check=False)
    if diff.returncode == 0:
        return f"Changes against {old}:\n\n{diff.stdout}"
    last = diff.stderr.strip().splitlines()[-1:] or ["?"]
    return f"No diff against {old}: it could not be read ({last[0]}).\n"


def artifact_lines(artifact: dict[str, Any], releases: list[dict[str, Any]]) -> list[str]:
    lines = [f"### {artifact['name']}\n", "| | |\n|---|---|",
             f"| targets | {', '.join(artifact['runtimes'])} on "
             f"{', '.join(artifact['architectures'])} |",
             f"| size | {size(artifact['size'])} zipped, "
             f"{size(artifact['unzipped_size'])} unzipped |",
             f"| proof | {proof_cell(artifact.get('import_test'))} |",
             f"| sandbox | {sandbox_cell(artifact)} |"]
    if artifact.get("licences"):
        lines.append(f"| licences | {licences_cell(artifact)} |")
    lines += [f"| {p['region']} | {'unchanged' if p['skipped'] else 'published'} `{p['arn']}` |"
              for p in releases]
    # Last: its advisories' table ends the artifact's table.
    lines += vulns_lines(artifact)
    lines.append("")
    old = next((p.get("supersedes") for p in releases if p.get("supersedes")), None)
    if old:
        lines.append(changes(old, artifact["path"]))
    elif releases and all(p["skipped"] for p in releases):
        # Not published: the newest version already has these bytes (the rows above).
        lines.append("Nothing changed: the newest published version already has these "
                     "bytes.\n")
    else:
        lines.append("No earlier published version to compare with.\n")
    return lines


def _version(arn: str) -> str:
    """`name:7` of a layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:7)."""
    parts = arn.split(":")
    return ":".join(parts[-2:]) if len(parts) >= 8 else arn


def function_lines(attached: Any) -> list[str]:
    """Each function `attach` touched: the layer versions it got, and the undo command."""
    functions = [f for f in (attached or {}).get("functions") or [] if isinstance(f, dict)]
    if not functions:
        return []
    lines = ["", "### Functions\n", "| function | region | layer version | undo |",
             "|---|---|---|---|"]
    for fn in functions:
        before = set(fn.get("before") or [])
        got = [arn for arn in fn.get("after") or [] if arn not in before]
        version = ", ".join(f"`{_version(arn)}`" for arn in got) or "unchanged"
        undo = f"`{fn['rollback']}`" if fn.get("rollback") else "nothing to undo"
        undo = undo.replace("|", "\\|")  # a table cell
        lines.append(f"| {fn.get('name')} | {fn.get('region')} | {version} | {undo} |")
    return lines


def summary(temp: str) -> list[str]:
    return _layer_lines(temp) + function_lines(load(temp, "lambdalayer-attach.json"))


def _layer_lines(temp: str) -> list[str]:
    build, published = load(temp, "lambdalayer-build.json"), load(temp, "lambdalayer-publish.json")
    lines = ["## Lambda layers\n"]
    layers = (published or {}).get("layers", [])
    if build is None and layers:
        # Published what earlier jobs built (the `artifacts` input): no build report here.
        lines += ["| layer | region | | sandbox |\n|---|---|---|---|"]
        lines += [f"| {p['name']} | {p['region']} | "
                  f"{'unchanged' if p['skipped'] else 'published'} `{p['arn']}` | "
                  f"{sandbox_cell({'manifest': _manifest_of(p.get('zip'))})} |" for p in layers]
        return lines
    if build is None or "error" in build:
        error = (build or {}).get("error") or {}
        lines.append("The build did not finish" + (f": {error['message']}" if error.get("message")
                                                   else "; see the Build step's log."))
        return lines
    for artifact in build["artifacts"]:
        releases = [p for p in layers
                    if os.path.abspath(p["zip"]) == os.path.abspath(artifact["path"])]
        lines += artifact_lines(artifact, releases)
    return lines


if __name__ == "__main__":
    print("\n".join(summary(sys.argv[1])))
