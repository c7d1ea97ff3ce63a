"""`lambdalayer publish` against a real moto_server."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lambdalayer.archive.manifest import manifest_path_for, read_manifest
from lambdalayer.aws.client import AwsSettings
from lambdalayer.aws.publish import PublishOptions, prepare_layer, publish
from tests.integration.aws.conftest import ACCOUNT, Aws, BuildLayer, Run

RunCli = Callable[..., Run]


def test_publish_creates_a_version_described_by_the_manifest(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    zip_path = build_layer(runtimes=("python3.11", "python3.12"),
                           architectures=("x86_64", "arm64"))

    result = run("publish", "--json")

    assert result.code == 0, result.stderr
    document = result.json()
    assert document["schema"] == 1
    arn = f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:pg8000:1"
    assert [{k: layer[k] for k in ("name", "region", "arn", "version", "skipped")}
            for layer in document["layers"]] == [
        {"name": "pg8000", "region": "us-east-1", "arn": arn, "version": 1, "skipped": False}]
    version = aws.client("lambda").get_layer_version(LayerName="pg8000", VersionNumber=1)
    assert version["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert version["CompatibleArchitectures"] == ["x86_64", "arm64"]
    assert version["Description"] == "pg8000==1.31.2, scramp==1.4.5"
    assert version["LicenseInfo"] == "MIT"
    assert version["Content"]["CodeSha256"] == read_manifest(
        manifest_path_for(zip_path)).code_sha256
    recorded = read_manifest(manifest_path_for(zip_path)).published
    assert [(p.region, p.arn, p.version) for p in recorded] == [("us-east-1", arn, 1)]


def test_republishing_the_same_zip_is_skipped_and_force_publishes(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer()
    assert run("publish").code == 0

    again = run("publish", "--json")

    assert again.code == 0, again.stderr
    assert [(layer["version"], layer["skipped"]) for layer in again.json()["layers"]] == [
        (1, True)]
    assert aws.version_numbers("pg8000") == [1]

    forced = run("publish", "--force", "--json")
    assert [(layer["version"], layer["skipped"]) for layer in forced.json()["layers"]] == [
        (2, False)]
    assert aws.version_numbers("pg8000") == [1, 2]


def test_a_changed_zip_makes_a_new_version(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer(content="v1")
    assert run("publish").code == 0
    zip_path = build_layer(content="v2")

    result = run("publish", str(zip_path), "--json")

    assert [(layer["version"], layer["skipped"]) for layer in result.json()["layers"]] == [
        (2, False)]
    assert read_manifest(manifest_path_for(zip_path)).published[0].version == 2


def test_layer_name_and_several_regions_in_one_run(
        aws: Aws, build_layer: BuildLayer, run: RunCli, tmp_path: Path) -> None:
    zip_path = build_layer()
    github_output = tmp_path / "github_output"

    result = run("publish", "dist/pg8000.zip", "--layer-name", "makenaide-pg8000",
                 "--region", "ap-northeast-2", "--region", "us-east-1", "--json",
                 env={"GITHUB_OUTPUT": str(github_output)})

    assert result.code == 0, result.stderr
    arns = [layer["arn"] for layer in result.json()["layers"]]
    assert arns == [f"arn:aws:lambda:ap-northeast-2:{ACCOUNT}:layer:makenaide-pg8000:1",
                    f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:makenaide-pg8000:1"]
    assert aws.version_numbers("makenaide-pg8000", "ap-northeast-2") == [1]
    assert aws.version_numbers("makenaide-pg8000", "us-east-1") == [1]
    recorded = read_manifest(manifest_path_for(zip_path)).published
    assert sorted(p.arn for p in recorded) == sorted(arns)
    assert github_output.read_text().splitlines() == [
        f"layer_arn={arns[0]}",
        f"layer_arn_makenaide_pg8000_ap_northeast_2={arns[0]}",
        f"layer_arn_makenaide_pg8000_us_east_1={arns[1]}",
    ]


def test_without_zip_all_publishes_every_layer_in_out(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer("pg8000")
    build_layer("requests", packages=(("requests", "2.32.3"),))

    result = run("publish", "--out", "dist", "--all", "--json")

    assert result.code == 0, result.stderr
    assert sorted(layer["name"] for layer in result.json()["layers"]) == ["pg8000", "requests"]
    assert aws.version_numbers("requests") == [1]


def test_grants_get_layer_version_to_accounts_orgs_and_everyone(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer()
    args = ("publish", "--public", "--principal", "111122223333", "--org", "o-abc123", "--json")

    result = run(*args)

    assert result.code == 0, result.stderr
    policy = json.loads(aws.client("lambda").get_layer_version_policy(
        LayerName="pg8000", VersionNumber=1)["Policy"])
    statements = {s["Sid"]: s for s in policy["Statement"]}
    assert set(statements) == {"lambdalayer-public", "lambdalayer-account-111122223333",
                               "lambdalayer-org-o-abc123"}
    assert all(s["Action"] == "lambda:GetLayerVersion" for s in statements.values())
    assert statements["lambdalayer-account-111122223333"]["Principal"] == "111122223333"
    # Re-running (skipped: same bytes) keeps the grants and does not fail on them.
    again = run(*args)
    assert again.code == 0, again.stderr
    assert again.json()["layers"][0]["skipped"] is True


def test_a_zip_over_50_mb_without_a_bucket_is_refused_before_any_upload(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer(pad_to=51 * 1024 * 1024)

    result = run("publish")

    assert result.code == 2
    assert "S3" in result.stderr and "--s3-bucket" in result.stderr
    assert "Traceback" not in result.stderr
    assert aws.version_numbers("pg8000") == []


def test_large_zips_go_through_the_s3_bucket(aws: Aws, build_layer: BuildLayer) -> None:
    aws.client("s3").create_bucket(Bucket="layers-us-east-1")
    zip_path = build_layer()
    layer = prepare_layer(manifest_path_for(zip_path))
    events: list[str] = []

    # The 50 MB limit scaled down: the S3 path is the same for any size.
    results = publish([layer], clients=AwsSettings().factory(),
                      options=PublishOptions(regions=("us-east-1",),
                                             s3_bucket="layers-{region}",
                                             direct_upload_limit=100),
                      progress=lambda event: events.append(event.stage))

    assert [(r.version, r.via_s3) for r in results] == [(1, True)]
    key = f"lambdalayer/pg8000/{layer.sha256}.zip"
    stored = aws.client("s3").get_object(Bucket="layers-us-east-1", Key=key)["Body"].read()
    assert stored == zip_path.read_bytes()
    detail = aws.client("lambda").get_layer_version(LayerName="pg8000", VersionNumber=1)
    assert detail["Content"]["CodeSha256"] == layer.code_sha256
    assert "uploading" in events


def test_a_zip_that_no_longer_matches_its_manifest_is_refused(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    zip_path = build_layer()
    with zip_path.open("ab") as handle:
        handle.write(b"tampered")

    result = run("publish")

    assert result.code == 2
    assert "does not match its manifest" in result.stderr
    assert aws.version_numbers("pg8000") == []


def test_a_zip_replaced_after_it_was_hashed_is_not_uploaded(
        aws: Aws, build_layer: BuildLayer) -> None:
    """publish uploads the bytes it hashed: a swap between the check and the upload (a
    concurrent build, an attacker) is refused, not published under the old digest."""
    import pytest

    from lambdalayer.common.errors import UsageError

    zip_path = build_layer()
    layer = prepare_layer(manifest_path_for(zip_path))
    zip_path.write_bytes(zip_path.read_bytes() + b"swapped")
    with pytest.raises(UsageError, match="changed while it was being published"):
        publish([layer], clients=AwsSettings().factory(),
                options=PublishOptions(regions=("us-east-1",)), progress=lambda event: None)
    assert aws.version_numbers("pg8000") == []


def test_skip_compares_with_the_newest_version_not_an_older_one(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer()
    assert run("publish").code == 0  # version 1: these bytes
    aws.publish_raw("pg8000", b"someone else's bytes")  # version 2: other bytes

    again = run("publish", "--json")

    assert again.code == 0, again.stderr
    assert [(layer["version"], layer["skipped"]) for layer in again.json()["layers"]] == [
        (3, False)]


def test_a_new_version_says_what_it_supersedes(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer(content="v1")
    first = run("publish", "--json")
    assert "supersedes" not in first.json()["layers"][0]
    build_layer(content="v2")

    result = run("publish", "--json")

    [layer] = result.json()["layers"]
    assert layer["supersedes"] == f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:pg8000:1"
    # moto hands out s3:// locations, which cannot be downloaded: said, not fatal.
    assert layer["changes"] is None
    assert "previous version not readable" in layer["changes_unavailable"]
    human = run("publish", "--force")
    assert human.code == 0 and "no diff: previous version not readable" in human.stdout


def test_bare_publish_of_several_unrelated_layers_lists_them_and_publishes_nothing(
        aws: Aws, build_layer: BuildLayer, run: RunCli) -> None:
    build_layer("pg8000")
    build_layer("requests")

    refused = run("publish")

    assert refused.code == 2, refused.stderr
    assert "pg8000, requests" in refused.stderr and "--all" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert aws.client("lambda").list_layers()["Layers"] == []

    picked = run("publish", "--layer", "requests", "--json")
    assert picked.code == 0, picked.stderr
    assert [layer["name"] for layer in picked.json()["layers"]] == ["requests"]

    every = run("publish", "--all", "--json")
    assert every.code == 0, every.stderr
    assert sorted(layer["name"] for layer in every.json()["layers"]) == ["pg8000", "requests"]


def test_concurrent_publishes_leave_the_newest_version_in_the_manifest(
        aws: Aws, build_layer: BuildLayer, run: RunCli, tmp_path: Path) -> None:
    """Four `publish --force` runs into one dist/ finish in any order; the manifest (under
    its lock, keeping a newer version) ends with the newest, which `attach` then uses. Two
    regions make the race likely: each run records both at once, and the run that got the
    newest version in one region often got an older one in the other."""
    zip_path = build_layer()
    regions = ("us-east-1", "us-west-2")
    aws.create_function("makenaide-scanner")
    deadline = time.monotonic() + 20
    rounds = 0
    # An unlocked read-modify-write loses the race only now and then: several rounds.
    while rounds < 2 or (rounds < 6 and time.monotonic() < deadline):
        rounds += 1
        processes = [subprocess.Popen(
            [sys.executable, "-m", "lambdalayer", "publish", "--force", "dist/pg8000.zip",
             "--region", regions[0], "--region", regions[1], "--json"],
            cwd=tmp_path, env=aws.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True) for _ in range(4)]
        outputs = [p.communicate(timeout=120) for p in processes]
        assert all(p.returncode == 0 for p in processes), outputs
        newest = {r: max(aws.version_numbers("pg8000", r)) for r in regions}
        recorded = read_manifest(manifest_path_for(zip_path)).published
        assert {p.region: p.version for p in recorded} == newest, f"round {rounds}"

    dry = run("attach", "--function", "makenaide-scanner", "--dry-run", "--json")

    assert dry.code == 0, dry.stderr
    [function] = dry.json()["functions"]
    assert function["after"] == [
        f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:pg8000:{newest['us-east-1']}"]
