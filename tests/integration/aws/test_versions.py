"""`lambdalayer versions` and `prune` against a real moto_server."""

from __future__ import annotations

from collections.abc import Callable

from tests.integration.aws.conftest import Aws, Run

RunCli = Callable[..., Run]


def test_versions_lists_newest_first_with_the_functions_using_each(
        aws: Aws, run: RunCli) -> None:
    first = aws.publish_raw("makenaide-pg8000", b"1", archs=["arm64"])
    aws.publish_raw("makenaide-pg8000", b"22")
    aws.create_function("makenaide-scanner", layers=[first])

    result = run("versions", "makenaide-pg8000", "--json")

    assert result.code == 0, result.stderr
    document = result.json()
    assert (document["layer"], document["region"]) == ("makenaide-pg8000", "us-east-1")
    rows = document["versions"]
    assert [row["version"] for row in rows] == [2, 1]
    assert rows[1]["functions"] == ["makenaide-scanner"]
    assert rows[0]["functions"] == []
    assert rows[1]["architectures"] == ["arm64"]
    assert rows[0]["runtimes"] == ["python3.12"]
    assert all(row["size"] > 0 and row["created"] for row in rows)

    human = run("versions", "makenaide-pg8000", env={"COLUMNS": "200"})
    assert human.code == 0 and "makenaide-scanner" in human.stdout


def test_prune_keeps_the_newest_and_refuses_versions_still_attached(
        aws: Aws, run: RunCli) -> None:
    arns = [aws.publish_raw("makenaide-pg8000", str(i).encode()) for i in range(5)]
    aws.create_function("makenaide-scanner", layers=[arns[0]])

    dry = run("prune", "makenaide-pg8000", "--keep", "2", "--dry-run", "--json")
    assert dry.code == 0, dry.stderr
    assert [v["version"] for v in dry.json()["deleted"]] == [3, 2]
    assert aws.version_numbers("makenaide-pg8000") == [1, 2, 3, 4, 5]

    result = run("prune", "makenaide-pg8000", "--keep", "2")

    assert result.code == 0, result.stderr
    assert aws.version_numbers("makenaide-pg8000") == [1, 4, 5]
    assert "kept version 1" in result.stdout and "makenaide-scanner" in result.stdout

    forced = run("prune", "makenaide-pg8000", "--keep", "2", "--force", "--json")
    assert forced.code == 0, forced.stderr
    assert [v["version"] for v in forced.json()["deleted"]] == [1]
    assert aws.version_numbers("makenaide-pg8000") == [4, 5]


def test_versions_of_an_unknown_layer_is_a_clear_aws_error(aws: Aws, run: RunCli) -> None:
    result = run("versions", "no-such-layer")

    assert result.code == 5
    assert "no-such-layer" in result.stderr and "us-east-1" in result.stderr
    assert "Traceback" not in result.stderr


def test_versions_on_80_columns_keeps_words_whole(aws: Aws, run: RunCli) -> None:
    runtimes = ["python3.10", "python3.11", "python3.12", "python3.13", "python3.14"]
    arn = aws.publish_raw("makenaide-pg8000", b"1", runtimes=runtimes, archs=["x86_64", "arm64"])
    aws.create_function("makenaide-scanner", layers=[arn])

    result = run("versions", "makenaide-pg8000", env={"COLUMNS": "80"})

    assert result.code == 0, result.stderr
    words = result.stdout.split()
    for whole in ("version", "created", "runtimes", "arch", "size", "used", "by", "x86_64,",
                  "arm64", "makenaide-scanner", *[f"{r}," for r in runtimes[:-1]], runtimes[-1]):
        assert whole in words, (whole, result.stdout)
    assert all(len(line) <= 80 for line in result.stdout.splitlines()), result.stdout
