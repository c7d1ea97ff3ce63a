"""Pure planning: layer lists, compatibility, prune choice, descriptions, ARNs, outputs."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from lambdalayer.archive.manifest import Manifest, PackageRecord
from lambdalayer.aws.arns import check_layer_name, layer_identity, parse_layer_arn
from lambdalayer.aws.attach import (
    AttachResult,
    FunctionState,
    LayerChoice,
    compatibility_problems,
    plan_layers,
)
from lambdalayer.aws.publish import PublishedLayer, github_output_lines, layer_description
from lambdalayer.aws.versions import VersionInfo, plan_prune
from lambdalayer.common.errors import UsageError

PREFIX = "arn:aws:lambda:us-east-1:123456789012:layer:"


def arn(name: str, version: int) -> str:
    return f"{PREFIX}{name}:{version}"


def test_new_layer_goes_last() -> None:
    assert plan_layers([arn("a", 1)], arn("b", 1)) == (arn("a", 1), arn("b", 1))


def test_older_version_is_replaced_in_place() -> None:
    before = [arn("a", 1), arn("b", 1), arn("c", 4)]
    assert plan_layers(before, arn("b", 7)) == (arn("a", 1), arn("b", 7), arn("c", 4))


def test_attached_version_is_a_no_op() -> None:
    before = (arn("a", 1), arn("b", 2))
    assert plan_layers(before, arn("b", 2)) == before


def test_same_name_in_another_account_is_another_layer() -> None:
    foreign = "arn:aws:lambda:us-east-1:999999999999:layer:b:3"
    assert plan_layers([foreign], arn("b", 1)) == (foreign, arn("b", 1))


layer_arns = st.builds(arn, st.sampled_from("abcdefg"), st.integers(1, 5))


@given(st.lists(layer_arns, max_size=5, unique_by=layer_identity), layer_arns)
def test_plan_properties(before: list[str], new: str) -> None:
    after = plan_layers(before, new)
    assert new in after
    identities = [layer_identity(a) for a in after]
    assert len(identities) == len(set(identities))  # never two versions of one layer
    others = [a for a in before if layer_identity(a) != layer_identity(new)]
    assert [a for a in after if a != new] == others  # everything else kept, in order
    assert plan_layers(after, new) == after  # idempotent


def _function(runtime: str = "python3.12", arch: str = "x86_64") -> FunctionState:
    return FunctionState(name="fn", runtime=runtime, architecture=arch, layers=(),
                         revision_id=None)


def _layer(runtimes: tuple[str, ...] = (), archs: tuple[str, ...] = ()) -> LayerChoice:
    return LayerChoice(arn=arn("l", 1), name="l", version=1, runtimes=runtimes,
                       architectures=archs)


def test_compatibility_names_both_sides() -> None:
    problems = compatibility_problems(_function(arch="x86_64"), _layer(archs=("arm64",)))
    assert len(problems) == 1 and "x86_64" in problems[0] and "arm64" in problems[0]
    assert compatibility_problems(_function(), _layer(("python3.12",), ("x86_64",))) == []
    # A version that declares nothing cannot be checked, so it is not refused.
    assert compatibility_problems(_function(), _layer()) == []


def test_rollback_command_restores_the_previous_list() -> None:
    result = AttachResult(name="fn", region="eu-west-1", before=(arn("a", 1),),
                          after=(arn("a", 2),), changed=True)
    assert result.rollback_command == (
        "aws lambda update-function-configuration --region eu-west-1 --function-name fn "
        f"--layers {arn('a', 1)}")
    empty = AttachResult(name="fn", region="eu-west-1", before=(), after=(arn("a", 2),),
                         changed=True)
    assert empty.rollback_command.endswith("--layers '[]'")


def _version(number: int, *functions: str) -> VersionInfo:
    return VersionInfo(version=number, arn=arn("l", number), created="", runtimes=(),
                       architectures=(), size=0, description="", functions=functions)


def test_prune_keeps_newest_and_spares_versions_in_use() -> None:
    versions = [_version(1, "scanner"), _version(2), _version(3), _version(4)]
    plan = plan_prune(versions, keep=2, force=False)
    assert [v.version for v in plan.keep] == [4, 3]
    assert [v.version for v in plan.delete] == [2]
    assert [v.version for v in plan.in_use] == [1]
    forced = plan_prune(versions, keep=2, force=True)
    assert [v.version for v in forced.delete] == [2, 1]
    assert [v.version for v in plan_prune(versions, keep=10, force=False).delete] == []


def _manifest(packages: list[tuple[str, str]], description: str | None = None) -> Manifest:
    return Manifest(name="x", zip="x.zip", sha256="", code_sha256="", size=0, unzipped_size=0,
                    runtimes=[], architectures=[], tool_version="", inputs_hash="", inputs={},
                    description=description,
                    packages=[PackageRecord(name=n, version=v, tags=[]) for n, v in packages])


def test_description_names_pins_and_recipe_text() -> None:
    manifest = _manifest([("pg8000", "1.31.2"), ("scramp", "1.4.5")], "PostgreSQL driver")
    assert layer_description(manifest) == "PostgreSQL driver: pg8000==1.31.2, scramp==1.4.5"


def test_long_descriptions_end_with_a_count_of_what_did_not_fit() -> None:
    manifest = _manifest([(f"package-number-{i}", "1.0.0") for i in range(40)])
    text = layer_description(manifest)
    assert len(text) <= 256
    assert text.startswith("package-number-0==1.0.0, ")
    assert text.endswith(" more")


@given(st.lists(st.tuples(st.text(min_size=1, max_size=80), st.text(min_size=1, max_size=40)),
                max_size=60),
       st.one_of(st.none(), st.text(max_size=400)))
def test_description_never_exceeds_256(packages: list[tuple[str, str]],
                                       description: str | None) -> None:
    assert len(layer_description(_manifest(packages, description))) <= 256


def test_parse_layer_arn() -> None:
    parsed = parse_layer_arn(arn("makenaide-pg8000", 3))
    assert parsed is not None
    assert (parsed.region, parsed.account, parsed.name, parsed.version) == (
        "us-east-1", "123456789012", "makenaide-pg8000", 3)
    assert parsed.layer_arn == f"{PREFIX}makenaide-pg8000"
    assert parse_layer_arn(f"{PREFIX}x").version is None  # type: ignore[union-attr]
    assert parse_layer_arn("makenaide-pg8000:3") is None


def test_layer_names_lambda_refuses_are_usage_errors() -> None:
    assert check_layer_name("makenaide-pg8000") == "makenaide-pg8000"
    with pytest.raises(UsageError, match="--layer-name"):
        check_layer_name("numpy.pandas")


@pytest.mark.parametrize("name", ["", "pg8000\n", "../pg8000", "a/b", "sp ace", "x" * 141,
                                  "caf\u00e9"])
def test_each_name_outside_lambdas_rule_is_refused(name: str) -> None:
    with pytest.raises(UsageError, match="cannot be a Lambda layer name"):
        check_layer_name(name)


def test_the_longest_name_lambda_takes_is_taken() -> None:
    assert check_layer_name("x" * 140) == "x" * 140


def test_github_output_has_one_default_and_one_key_per_layer_and_region() -> None:
    results = [PublishedLayer(name="pg8000", region=region, arn=arn("pg8000", 1), version=1,
                              skipped=False, zip_path=Path("dist/pg8000.zip"))
               for region in ("us-east-1", "eu-west-1")]
    assert github_output_lines(results) == [
        f"layer_arn={arn('pg8000', 1)}",
        f"layer_arn_pg8000_us_east_1={arn('pg8000', 1)}",
        f"layer_arn_pg8000_eu_west_1={arn('pg8000', 1)}",
    ]
    assert github_output_lines([]) == []
