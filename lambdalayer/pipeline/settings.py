"""The request, read once and split into what each stage takes (stages._run calls it).

No stage module sees the whole `BuildRequest`: what a stage depends on is the fields
of its own settings (`resolving.Resolving`, `layout.Layout`, `auditing.Auditing`,
`proving.Proving`, `artifacts.Writing`).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

from lambdalayer.pipeline.artifacts import Writing
from lambdalayer.pipeline.auditing import Auditing
from lambdalayer.pipeline.layout import Layout
from lambdalayer.pipeline.pairfix import search_pairs
from lambdalayer.pipeline.proving import Proving
from lambdalayer.pipeline.request import BuildRequest
from lambdalayer.pipeline.resolving import Resolving
from lambdalayer.pipeline.sboms import layer_facts
from lambdalayer.shrink.apply import ShrinkOptions
from lambdalayer.targets.target import Target


@dataclass(frozen=True, kw_only=True)
class StageSettings:
    resolving: Resolving
    layout: Layout
    auditing: Auditing
    proving: Proving
    writing: Writing


def split_request(request: BuildRequest, targets: list[Target]) -> StageSettings:
    """Each stage's settings from `request`, for these targets."""
    recipe = request.recipe
    proof_imports = request.proof_imports or (recipe.proof_imports if recipe else ())
    return StageSettings(
        resolving=Resolving(
            name=request.name, inputs={str(t): request.inputs_for(t) for t in targets},
            # A recipe is reviewed: its native layers may default to every current runtime.
            runtimes_chosen=bool(request.runtimes or recipe)),
        layout=Layout(shrink=_shrink_options(request), sources=request.sources,
                      includes=request.includes, inputs=request.inputs),
        auditing=Auditing(layer=request.name, allow=request.allow,
                          deny_licences=request.deny_licences,
                          includes_only=bool(request.includes and not request.sources)),
        proving=Proving(
            skip=request.no_proof, imports=proof_imports, inputs=request.inputs,
            local_projects=request.local_projects, sources=request.sources,
            includes=request.includes, excludes=request.excludes,
            test_report=request.test_report, interpreters=request.interpreters,
            out_dir=request.out_dir, sandbox_required=request.proof_sandbox == "required",
            required=request.proof == "required", fix_pairs=request.fix_pairs,
            search_pairs=partial(search_pairs, request)),
        writing=Writing(
            name=request.name, out_dir=request.out_dir, recipe=recipe.name if recipe else None,
            description=request.description or (recipe.description if recipe else None),
            license=request.license or (recipe.license if recipe else None),
            proof_imports=proof_imports, allowed=tuple(sorted(request.allow)),
            sbom_facts=partial(layer_facts, request)),
    )


def _shrink_options(request: BuildRequest) -> ShrinkOptions:
    """The request's size options; the requirements are parsed only when --exclude needs them."""
    requirements = tuple(request.inputs.all_requirements) if request.excludes else ()
    return ShrinkOptions(excludes=request.excludes, slim=request.slim,
                         slim_patterns=request.slim_patterns, strip=request.strip,
                         requirements=requirements)
