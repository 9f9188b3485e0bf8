"""kill -9 while clients upload: after a restart on the same data dir every acknowledged PUT
reads back with its ETag and bytes, and nothing half-written is listed or left on disk."""

from __future__ import annotations

import hashlib
import os
import random
import signal
import threading

from tests.gateway.conftest import Server, start_server

UPLOADERS = 4
PER_UPLOADER = 25
KILL_AFTER = 30  # acknowledged PUTs
BUCKET = "crash"


def test_acknowledged_puts_survive_kill_9_and_nothing_half_written_shows(killable: Server) -> None:
    killable.client("s3", s3={"addressing_style": "path"}).create_bucket(Bucket=BUCKET)
    attempted: dict[str, str] = {}  # key -> MD5 of the bytes sent
    acknowledged: dict[str, str] = {}
    lock = threading.Lock()

    def upload(worker: int) -> None:
        client = killable.client("s3", s3={"addressing_style": "path"}, connect_timeout=2)
        rng = random.Random(worker)
        for n in range(PER_UPLOADER):
            key = f"w{worker}/{n}"
            data = os.urandom(rng.randrange(1, 3 * 1024 * 1024))  # many span several writes
            md5 = hashlib.md5(data).hexdigest()
            with lock:
                attempted[key] = md5
            try:
                etag = client.put_object(Bucket=BUCKET, Key=key, Body=data)["ETag"]
            except Exception:
                return  # the server is gone: what was not acknowledged need not be there
            assert etag == f'"{md5}"'
            with lock:
                acknowledged[key] = md5
                if len(acknowledged) == KILL_AFTER:
                    os.kill(killable.process.pid, signal.SIGKILL)

    workers = [threading.Thread(target=upload, args=(w,)) for w in range(UPLOADERS)]
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert killable.process.wait(timeout=30) == -signal.SIGKILL
    assert len(acknowledged) >= KILL_AFTER

    restarted = start_server(killable.data_dir)
    try:
        s3 = restarted.client("s3", s3={"addressing_style": "path"})
        listed = {
            item["Key"]: item
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET)
            for item in page.get("Contents", [])
        }
        missing = set(acknowledged) - set(listed)
        assert not missing, f"acknowledged PUTs lost: {sorted(missing)[:5]}"
        for key, item in listed.items():
            # Listed means complete: acknowledged, or in flight and committed before the kill.
            assert key in attempted
            assert item["ETag"] == f'"{attempted[key]}"'
            body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
            assert len(body) == item["Size"]
            assert hashlib.md5(body).hexdigest() == attempted[key]
    finally:
        restarted.stop()
    objects = killable.data_dir / "objects"
    assert list((objects / "tmp").iterdir()) == []  # half-received bodies were deleted
    files = [path for path in (objects / "data").rglob("*") if path.is_file()]
    assert len(files) == len(listed)  # and so were files whose rows never committed
