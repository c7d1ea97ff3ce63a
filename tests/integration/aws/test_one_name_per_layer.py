"""One layer name per layer (docs/ci.md#one-layer-name-per-layer): a native layer built
for both architectures in one job (dist/psycopg-x86_64.zip, dist/psycopg-arm64.zip) is
published as two versions of `psycopg`, as the one-job-per-architecture fan-out publishes
it, and publishing again adds nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.aws.conftest import ACCOUNT, Aws, BuildLayer, Run

RunCli = Callable[..., Run]
ARN = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:psycopg"


def _both_archs(build_layer: BuildLayer, dist: Path | None = None) -> None:
    for arch in ("x86_64", "arm64"):
        build_layer("psycopg", stem=f"psycopg-{arch}", content=arch, architectures=(arch,),
                    packages=(("psycopg", "3.2.3"),), dist=dist)


def test_both_architectures_are_two_versions_of_one_name(
        aws: Aws, build_layer: BuildLayer, run: RunCli, tmp_path: Path) -> None:
    _both_archs(build_layer)
    github_output = tmp_path / "github_output"

    result = run("publish", "--json", env={"GITHUB_OUTPUT": str(github_output)})

    assert result.code == 0, result.stderr
    assert sorted((layer["name"], layer["version"]) for layer in result.json()["layers"]) == [
        ("psycopg", 1), ("psycopg", 2)]
    assert aws.version_numbers("psycopg") == [1, 2]
    by_arch = {tuple(aws.client("lambda").get_layer_version(
        LayerName="psycopg", VersionNumber=n)["CompatibleArchitectures"]): n for n in (1, 2)}
    assert set(by_arch) == {("x86_64",), ("arm64",)}
    lines = dict(line.split("=", 1) for line in github_output.read_text().splitlines())
    assert lines["layer_arn_psycopg_x86_64_us_east_1"] == f"{ARN}:{by_arch[('x86_64',)]}"
    assert lines["layer_arn_psycopg_arm64_us_east_1"] == f"{ARN}:{by_arch[('arm64',)]}"
    assert lines["layer_arn"] == lines["layer_arn_psycopg_us_east_1"]


def test_publishing_both_again_skips_both(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    _both_archs(build_layer)
    assert run("publish").code == 0

    again = run("publish", "--json")

    assert again.code == 0, again.stderr
    assert sorted((layer["version"], layer["skipped"]) for layer in again.json()["layers"]) == [
        (1, True), (2, True)]
    assert aws.version_numbers("psycopg") == [1, 2]


def test_one_job_and_the_fan_out_publish_the_same_versions(
        aws: Aws, build_layer: BuildLayer, run: RunCli, tmp_path: Path) -> None:
    # The fan-out: each architecture built in its own job, gathered in two folders.
    for arch in ("x86_64", "arm64"):
        build_layer("psycopg", content=arch, architectures=(arch,),
                    packages=(("psycopg", "3.2.3"),), dist=tmp_path / f"dist/layers-{arch}")
    fanned = run("publish", "dist/layers-x86_64", "dist/layers-arm64", "--json")
    assert fanned.code == 0, fanned.stderr
    # The same bytes from one job building both: nothing new to publish.
    _both_archs(build_layer, dist=tmp_path / "one-job")

    one_job = run("publish", "--out", "one-job", "--json")

    assert one_job.code == 0, one_job.stderr
    assert {layer["name"] for layer in one_job.json()["layers"]} == {"psycopg"}
    assert all(layer["skipped"] for layer in one_job.json()["layers"])
    assert aws.version_numbers("psycopg") == [1, 2]


def test_prune_keeps_the_newest_version_of_each_architecture(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    _both_archs(build_layer)
    first = run("publish", "--json")
    assert first.code == 0, first.stderr
    arm = next(layer["version"] for layer in first.json()["layers"]
               if layer["zip"].endswith("arm64.zip"))
    build_layer("psycopg", stem="psycopg-x86_64", content="x86_64 v2",
                architectures=("x86_64",), packages=(("psycopg", "3.2.4"),))
    assert run("publish", "dist/psycopg-x86_64.zip").code == 0

    result = run("prune", "psycopg", "--keep", "1", "--json")

    assert result.code == 0, result.stderr
    assert aws.version_numbers("psycopg") == [arm, 3]  # arm64's only version stays
