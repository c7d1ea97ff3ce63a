"""A termination signal during `publish`: regions already published are recorded first."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import pytest

from lambdalayer.archive.manifest import read_manifest
from lambdalayer.aws.client import AwsSettings
from lambdalayer.aws.publish import PublishOptions, PublishProgress, prepare_layer, publish
from lambdalayer.common.interrupt import Terminated
from tests.integration.aws.conftest import Aws, BuildLayer


def test_sigterm_mid_publish_records_the_finished_region(
        aws: Aws, build_layer: BuildLayer, monkeypatch: pytest.MonkeyPatch) -> None:
    manifest_path = build_layer("pg8000").with_suffix(".json")
    release = threading.Event()
    main = threading.main_thread().ident
    assert main is not None

    def raise_terminated(signum: int, _frame: FrameType | None) -> None:
        raise Terminated(signum)  # what lambdalayer.common.interrupt's handler raises

    previous = signal.signal(signal.SIGTERM, raise_terminated)
    try:
        def progress(event: PublishProgress) -> None:
            if event.region == "eu-west-1" and event.stage == "checking":
                release.wait(10)  # still on its way when the signal comes
            if event.region == "us-east-1" and event.stage == "done":
                # A real signal to the main thread, as `docker stop` sends one.
                signal.pthread_kill(main, signal.SIGTERM)

        with pytest.raises(Terminated):
            publish([prepare_layer(manifest_path)],
                    clients=AwsSettings(endpoint_url=aws.url).factory(),
                    options=PublishOptions(regions=("us-east-1", "eu-west-1")),
                    progress=progress)
    finally:
        release.set()
        signal.signal(signal.SIGTERM, previous)

    recorded = {p.region for p in read_manifest(manifest_path).published}
    assert recorded == {"us-east-1"}
    assert aws.version_numbers("pg8000") == [1]
