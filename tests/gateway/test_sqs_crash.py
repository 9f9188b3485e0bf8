"""kill -9 while clients send, receive and delete: after a restart on the same data dir every
acknowledged send is received (at least once) and no acknowledged delete comes back."""

from __future__ import annotations

import os
import signal
import threading
import time
from typing import Any

from tests.gateway.conftest import Server, start_server

SENDERS = 4
PER_SENDER = 100
KILL_AFTER = 150  # acknowledged sends


def test_acknowledged_sends_and_deletes_survive_kill_9(killable: Server) -> None:
    url = killable.client("sqs").create_queue(QueueName="durable")["QueueUrl"]
    sent: set[str] = set()
    deleting: set[str] = set()  # deletes asked for: acknowledged or not, they may have happened
    deleted: set[str] = set()
    lock = threading.Lock()

    def send(worker: int) -> None:
        client = killable.client("sqs", connect_timeout=2)
        for n in range(PER_SENDER):
            body = f"{worker}-{n}"
            try:
                client.send_message(QueueUrl=url, MessageBody=body)
            except Exception:
                return  # the server is gone: what was not acknowledged need not arrive
            with lock:
                sent.add(body)
                if len(sent) == KILL_AFTER:
                    os.kill(killable.process.pid, signal.SIGKILL)

    def consume() -> None:
        client = killable.client("sqs", connect_timeout=2)
        while True:
            try:
                got = client.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=1, WaitTimeSeconds=1
                )
                for message in got.get("Messages", []):
                    with lock:
                        deleting.add(message["Body"])
                    client.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
                    with lock:
                        deleted.add(message["Body"])
            except Exception:
                return

    workers = [threading.Thread(target=send, args=(w,)) for w in range(SENDERS)]
    workers.append(threading.Thread(target=consume))
    for thread in workers:
        thread.start()
    for thread in workers:
        thread.join()
    assert killable.process.wait(timeout=30) == -signal.SIGKILL
    assert len(sent) >= KILL_AFTER and deleted

    restarted = start_server(killable.data_dir)
    try:
        drained = drain(restarted.client("sqs"), "durable", sent - deleting)
    finally:
        restarted.stop()
    missing = sent - deleting - drained
    assert not missing, f"{len(missing)} acknowledged sends lost: {sorted(missing)[:5]}"
    returned = drained & deleted
    assert not returned, f"{len(returned)} acknowledged deletes came back: {sorted(returned)[:5]}"


def drain(sqs: Any, name: str, expected: set[str]) -> set[str]:
    """Every message left in the queue, once the expected ones arrived and nothing else is
    visible, delayed or in flight from before the restart (in flight for 1 s)."""
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    drained: set[str] = set()
    deadline = time.monotonic() + 60  # a bound on failure, not a measurement
    while True:
        assert time.monotonic() < deadline, f"{len(expected - drained)} never arrived"
        got = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=600, WaitTimeSeconds=1
        )
        drained.update(message["Body"] for message in got.get("Messages", []))
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        settled = (
            counts["ApproximateNumberOfMessages"] == "0"
            and counts["ApproximateNumberOfMessagesDelayed"] == "0"
            and int(counts["ApproximateNumberOfMessagesNotVisible"]) == len(drained)
        )
        if expected <= drained and settled:
            return drained
