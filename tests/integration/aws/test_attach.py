"""`lambdalayer attach` against a real moto_server."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.integration.aws.conftest import ACCOUNT, Aws, BuildLayer, Run

RunCli = Callable[..., Run]


def _arn(name: str, version: int) -> str:
    return f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:{name}:{version}"


def test_attach_keeps_other_layers_and_replaces_the_old_version_in_place(
        aws: Aws, run: RunCli) -> None:
    first = aws.publish_raw("makenaide-pg8000", b"1")
    other = aws.publish_raw("powertools")
    last = aws.publish_raw("otel")
    aws.create_function("makenaide-scanner", layers=[other, first, last])
    aws.publish_raw("makenaide-pg8000", b"2")

    result = run("attach", "--function", "makenaide-scanner", "--layer", "makenaide-pg8000",
                 "--json")

    assert result.code == 0, result.stderr
    [function] = result.json()["functions"]
    assert function["before"] == [other, first, last]
    assert function["after"] == [other, _arn("makenaide-pg8000", 2), last]
    assert function["changed"] is True
    assert function["region"] == "us-east-1"
    assert aws.layers_of("makenaide-scanner") == function["after"]


def test_attaching_what_is_there_is_a_no_op(aws: Aws, run: RunCli) -> None:
    arn = aws.publish_raw("makenaide-pg8000")
    aws.create_function("makenaide-scanner", layers=[arn])

    result = run("attach", "--function", "makenaide-scanner", "--layer", "makenaide-pg8000:1",
                 "--json")

    assert result.code == 0, result.stderr
    [function] = result.json()["functions"]
    assert (function["before"], function["after"], function["changed"]) == ([arn], [arn], False)


def test_attach_prints_the_previous_list_and_the_command_that_restores_it(
        aws: Aws, run: RunCli) -> None:
    other = aws.publish_raw("powertools")
    aws.publish_raw("makenaide-pg8000")
    aws.create_function("makenaide-scanner", layers=[other])

    result = run("attach", "--function", "makenaide-scanner", "--layer", "makenaide-pg8000")

    assert result.code == 0, result.stderr
    assert f"before: {other}" in result.stdout
    assert ("aws lambda update-function-configuration --region us-east-1 "
            f"--function-name makenaide-scanner --layers {other}") in result.stdout


def test_an_arm64_only_layer_is_refused_on_an_x86_64_function(aws: Aws, run: RunCli) -> None:
    aws.publish_raw("arm-only", archs=["arm64"])
    aws.create_function("makenaide-scanner", arch="x86_64")

    result = run("attach", "--function", "makenaide-scanner", "--layer", "arm-only")

    assert result.code == 4
    assert "x86_64" in result.stderr and "arm64" in result.stderr
    assert "Traceback" not in result.stderr
    assert aws.layers_of("makenaide-scanner") == []

    forced = run("attach", "--function", "makenaide-scanner", "--layer", "arm-only", "--force")
    assert forced.code == 0, forced.stderr
    assert aws.layers_of("makenaide-scanner") == [_arn("arm-only", 1)]


def test_a_runtime_the_layer_does_not_declare_is_refused(aws: Aws, run: RunCli) -> None:
    aws.publish_raw("py311-only", runtimes=["python3.11"])
    aws.create_function("makenaide-scanner", runtime="python3.12")

    result = run("attach", "--function", "makenaide-scanner", "--layer", "py311-only")

    assert result.code == 4
    assert "python3.12" in result.stderr and "python3.11" in result.stderr
    assert aws.layers_of("makenaide-scanner") == []


def test_dry_run_shows_before_and_after_and_changes_nothing(aws: Aws, run: RunCli) -> None:
    old = aws.publish_raw("makenaide-pg8000", b"1")
    aws.publish_raw("makenaide-pg8000", b"2")
    aws.create_function("makenaide-scanner", layers=[old])

    result = run("attach", "--function", "makenaide-scanner", "--layer", "makenaide-pg8000",
                 "--dry-run", "--json")

    assert result.code == 0, result.stderr
    [function] = result.json()["functions"]
    assert function["before"] == [old]
    assert function["after"] == [_arn("makenaide-pg8000", 2)]
    assert aws.layers_of("makenaide-scanner") == [old]


def test_a_sixth_layer_is_refused(aws: Aws, run: RunCli) -> None:
    five = [aws.publish_raw(f"layer{i}") for i in range(5)]
    aws.publish_raw("makenaide-pg8000")
    aws.create_function("makenaide-scanner", layers=five)

    result = run("attach", "--function", "makenaide-scanner", "--layer", "makenaide-pg8000")

    assert result.code == 4
    assert "at most 5" in result.stderr
    assert aws.layers_of("makenaide-scanner") == five


def test_several_functions_are_checked_before_any_changes(aws: Aws, run: RunCli) -> None:
    aws.publish_raw("x86-only", archs=["x86_64"])
    aws.create_function("ok-function", arch="x86_64")
    aws.create_function("arm-function", arch="arm64")

    result = run("attach", "--function", "ok-function", "--function", "arm-function",
                 "--layer", "x86-only")

    assert result.code == 4
    assert aws.layers_of("ok-function") == []


def test_without_layer_attach_uses_what_publish_recorded_in_dist(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer("pg8000")
    published = run("publish", "--layer-name", "makenaide-pg8000", "--json")
    assert published.code == 0, published.stderr
    aws.create_function("makenaide-db-initializer")
    aws.create_function("makenaide-scanner")

    result = run("attach", "--function", "makenaide-db-initializer",
                 "--function", "makenaide-scanner", "--json")

    assert result.code == 0, result.stderr
    arn = _arn("makenaide-pg8000", 1)
    assert [f["after"] for f in result.json()["functions"]] == [[arn], [arn]]
    assert aws.layers_of("makenaide-scanner") == [arn]


def test_without_layer_and_several_published_layers_attach_asks_which(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer("pg8000")
    build_layer("requests")
    assert run("publish", "--all").code == 0
    aws.create_function("makenaide-scanner")

    result = run("attach", "--function", "makenaide-scanner")

    assert result.code == 2
    assert "pg8000" in result.stderr and "requests" in result.stderr
    assert "--layer" in result.stderr


def test_a_full_layer_arn_is_accepted(aws: Aws, run: RunCli) -> None:
    arn = aws.publish_raw("makenaide-pg8000")
    aws.create_function("makenaide-scanner")

    result = run("attach", "--function", "makenaide-scanner", "--layer", arn, "--json")

    assert result.code == 0, result.stderr
    assert aws.layers_of("makenaide-scanner") == [arn]


def test_at_the_five_layer_limit_a_new_version_replaces_the_old_in_place(
        aws: Aws, run: RunCli) -> None:
    old = aws.publish_raw("makenaide-pg8000", b"1")
    others = [aws.publish_raw(f"layer{i}") for i in range(4)]
    aws.create_function("makenaide-scanner", layers=[others[0], old, *others[1:]])
    new = aws.publish_raw("makenaide-pg8000", b"2")

    result = run("attach", "--function", "makenaide-scanner", "--layer", "makenaide-pg8000")

    assert result.code == 0, result.stderr
    assert aws.layers_of("makenaide-scanner") == [others[0], new, *others[1:]]


def test_config_driven_attach_checks_every_function_before_changing_any(
        aws: Aws, build_layer: BuildLayer, run: RunCli, tmp_path: Path) -> None:
    build_layer("pg8000")
    assert run("publish", "--json").code == 0
    five = [aws.publish_raw(f"layer{i}") for i in range(5)]
    aws.create_function("first-ok")
    aws.create_function("second-full", layers=five)
    (tmp_path / "lambdalayer.toml").write_text(
        '[layers.pg8000]\nrecipe = "pg8000"\nfunctions = ["first-ok", "second-full"]\n')

    result = run("attach")

    assert result.code == 4, result.stderr
    assert "at most 5" in result.stderr
    assert aws.layers_of("first-ok") == []  # not changed: the second was refused first
    assert aws.layers_of("second-full") == five


def test_a_python310_function_with_a_layer_for_newer_runtimes_is_exit_4(
        aws: Aws, run: RunCli) -> None:
    """docs/commands/attach.md: a runtime the layer does not declare is exit 4, whatever
    the runtime's phase (python3.10 is deprecated)."""
    aws.publish_raw("py312-only", runtimes=["python3.12"])
    aws.create_function("legacy", runtime="python3.10")
    result = run("attach", "--function", "legacy", "--layer", "py312-only")
    assert result.code == 4, result.stderr
    assert "python3.10" in result.stderr and "python3.12" in result.stderr


def test_a_python310_function_and_the_layer_publish_recorded_is_exit_4(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer("pg8000", runtimes=("python3.12", "python3.13"))
    assert run("publish", "--layer-name", "makenaide-pg8000").code == 0
    aws.create_function("legacy", runtime="python3.10")
    for extra in ((), ("--dry-run",)):
        result = run("attach", "--function", "legacy", *extra)
        assert result.code == 4, result.stderr
        assert "python3.10" in result.stderr


def test_a_forced_dry_run_says_it_would_attach(aws: Aws, run: RunCli) -> None:
    aws.publish_raw("arm-only", archs=["arm64"])
    aws.create_function("makenaide-scanner", arch="x86_64")

    dry = run("attach", "--function", "makenaide-scanner", "--layer", "arm-only", "--force",
              "--dry-run")

    assert dry.code == 0, dry.stderr
    assert "(would attach because of --force)" in dry.stderr
    assert "attached because" not in dry.stderr
    assert aws.layers_of("makenaide-scanner") == []


def _publish_bytes(aws: Aws, name: str, payload: bytes) -> str:
    """A layer version whose zip is exactly `payload`'s bytes (fixed timestamps)."""
    import io
    import zipfile

    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr(zipfile.ZipInfo("python/marker.txt", (1980, 1, 1, 0, 0, 0)), payload)
    response = aws.client("lambda").publish_layer_version(
        LayerName=name, Content={"ZipFile": code.getvalue()},
        CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
    return str(response["LayerVersionArn"])


def test_the_same_bytes_under_another_name_replace_instead_of_stacking(
        aws: Aws, run: RunCli) -> None:
    """Following the README top to bottom stacked two layers with identical bytes on one
    function (a hand-published one and lambdalayer's): the new one takes its place."""
    handmade = _publish_bytes(aws, "makenaide-pg8000-by-hand", b"same")
    other = aws.publish_raw("other-layer", b"different")
    aws.create_function("makenaide-scanner", layers=[handmade, other])
    ours = _publish_bytes(aws, "makenaide-pg8000", b"same")

    dry = run("attach", "--function", "makenaide-scanner", "--layer", "makenaide-pg8000",
              "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    [planned] = dry.json()["functions"]
    assert planned["after"] == [ours, other] and planned["same_bytes"] == [handmade]
    assert aws.layers_of("makenaide-scanner") == [handmade, other]

    done = run("attach", "--function", "makenaide-scanner", "--layer", "makenaide-pg8000")
    assert done.code == 0, done.stderr
    assert aws.layers_of("makenaide-scanner") == [ours, other]
    assert f"replaces {handmade}: the same bytes" in done.stdout
    # Different bytes under another name are another layer: kept beside it.
    newer = _publish_bytes(aws, "makenaide-extra", b"other bytes")
    assert run("attach", "--function", "makenaide-scanner", "--layer",
               "makenaide-extra").code == 0
    assert aws.layers_of("makenaide-scanner") == [ours, other, newer]
