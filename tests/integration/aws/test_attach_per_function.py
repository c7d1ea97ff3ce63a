"""`attach --function …` without --layer: each function gets the layer built for it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.aws.conftest import ACCOUNT, Aws, BuildLayer, Run

RunCli = Callable[..., Run]


def _arn(name: str, version: int) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}:{version}"


def test_each_function_gets_its_architectures_layer_from_several_build_folders(
        aws: Aws, run: RunCli, build_layer: BuildLayer, tmp_path: Path) -> None:
    # As gathered from two CI jobs: the same layer name, one zip per architecture.
    build_layer("multi", content="arm", dist=tmp_path / "dist" / "arm64",
                architectures=("arm64",))
    build_layer("multi", content="x86", dist=tmp_path / "dist" / "x86_64")
    published = run("publish", "dist/arm64", "dist/x86_64", "--json")
    assert published.code == 0, published.stderr
    by_zip = {Path(layer["zip"]).parent.name: layer["arn"]
              for layer in published.json()["layers"]}
    assert sorted(by_zip.values()) == [_arn("multi", 1), _arn("multi", 2)]
    aws.create_function("fn-x86", arch="x86_64")
    aws.create_function("fn-arm", arch="arm64")

    result = run("attach", "--function", "fn-arm", "--function", "fn-x86",
                 "--out", "dist/x86_64", "--out", "dist/arm64", "--json")

    assert result.code == 0, result.stderr
    assert aws.layers_of("fn-x86") == [by_zip["x86_64"]]
    assert aws.layers_of("fn-arm") == [by_zip["arm64"]]


def test_a_function_no_built_layer_fits_is_refused_before_any_change(
        aws: Aws, run: RunCli, build_layer: BuildLayer) -> None:
    build_layer("only-x86")
    assert run("publish").code == 0
    aws.create_function("fn-x86")
    aws.create_function("fn-arm", arch="arm64")

    result = run("attach", "--function", "fn-x86", "--function", "fn-arm")

    assert result.code == 4, result.stderr  # docs/commands/attach.md: exit 4
    assert "no layer published to us-east-1 is built for function 'fn-arm'" in result.stderr
    assert "python3.12 on arm64" in result.stderr
    assert "Traceback" not in result.stderr
    assert aws.layers_of("fn-x86") == []


def test_two_different_layers_that_fit_ask_for_a_choice(
        aws: Aws, run: RunCli, build_layer: BuildLayer) -> None:
    build_layer("pg8000")
    build_layer("orjson", packages=(("orjson", "3.10.0"),))
    assert run("publish", "dist/pg8000.zip", "dist/orjson.json").code == 0
    aws.create_function("fn")

    result = run("attach", "--function", "fn")

    assert result.code == 2, result.stderr
    assert "Several layers published to us-east-1 fit function 'fn'" in result.stderr
    assert "--layer NAME" in result.stderr


def test_publish_refuses_a_folder_with_no_built_layer(run: RunCli, tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    result = run("publish", "empty")
    assert result.code == 2
    assert "No built layers in empty" in result.stderr
