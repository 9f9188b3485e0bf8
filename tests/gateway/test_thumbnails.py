"""The seeds' example end to end: `gureum deploy examples/thumbnails`, a photo uploaded with
boto3, thumbnails in three sizes in the other bucket and three announcements on the queue."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from tests.gateway.conftest import Server, start_server

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "thumbnails"


@pytest.fixture(scope="module")
def thumbnails_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("thumbnails") / "data")
    try:
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
            "GUREUM_ENDPOINT": running.url,
        }
        done = subprocess.run(
            [sys.executable, "-m", "gureum", "deploy", str(EXAMPLE), "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout)
        assert summary["buckets"] == ["uploads", "thumbnails"]
        assert set(summary["queues"]) == {"thumbnails-ready"}
        yield running
    finally:
        running.stop()


def photo(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="JPEG")
    return out.getvalue()


def test_an_uploaded_photo_gets_three_thumbnails_announced_on_the_queue(
    thumbnails_server: Server,
) -> None:
    s3 = thumbnails_server.client("s3", s3={"addressing_style": "path"})
    sqs = thumbnails_server.client("sqs")
    s3.put_object(Bucket="uploads", Key="trips/seoul.jpg", Body=photo(1600, 1200))
    s3.put_object(Bucket="uploads", Key="notes.txt", Body=b"not a photo")  # filtered out

    queue = sqs.get_queue_url(QueueName="thumbnails-ready")["QueueUrl"]
    announced: list[dict[str, Any]] = []
    for _ in range(10):  # long polls: each returns as soon as a message is there
        reply = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=3, WaitTimeSeconds=20)
        for message in reply.get("Messages", []):
            announced.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=message["ReceiptHandle"])
        if len(announced) >= 3:
            break
    sizes = {a["thumbnail"]: (a["width"], a["height"]) for a in announced}
    assert sizes == {
        "small/trips/seoul.png": (64, 48),
        "medium/trips/seoul.png": (256, 192),
        "large/trips/seoul.png": (1024, 768),
    }
    for key, size in sizes.items():
        body = s3.get_object(Bucket="thumbnails", Key=key)["Body"].read()
        with Image.open(io.BytesIO(body)) as image:
            assert (image.format, image.size) == ("PNG", size)
    listed = s3.list_objects_v2(Bucket="thumbnails")["Contents"]
    assert sorted(o["Key"] for o in listed) == sorted(sizes)  # nothing for notes.txt
