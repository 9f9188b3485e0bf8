"""The bench's raw HTTP client: requests it writes, answers it reads."""

from __future__ import annotations

import asyncio
import base64

from bench import coldhttp


def test_invoke_request_is_a_complete_http_request() -> None:
    request = coldhttp.invoke_request("fn", "3", tail=True)
    head, body = request.split(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    assert lines[0] == "POST /2015-03-31/functions/fn/invocations?Qualifier=3 HTTP/1.1"
    assert f"Content-Length: {len(body)}" in lines
    assert "X-Amz-Log-Type: Tail" in lines
    assert body == b'{"n": 1}'


async def test_answer_reads_status_headers_body_and_log_tail() -> None:
    tail = base64.b64encode(b"REPORT RequestId: x\tRestore Duration: 4.25 ms").decode()
    reader = asyncio.StreamReader()
    reader.feed_data(
        b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 8\r\n"
        + f"X-Amz-Log-Result: {tail}\r\n\r\n".encode()
        + b'{"n": 1}'
    )
    answer = await coldhttp._answer(reader, started=0.0)
    assert answer.ok and answer.status == 200
    found = coldhttp.NEW_INSTANCE.search(answer.log)
    assert found is not None and float(found[1]) == 4.25


async def test_answer_without_content_length_reads_to_the_end() -> None:
    reader = asyncio.StreamReader()
    reader.feed_data(b"HTTP/1.1 429 Too Many Requests\r\n\r\n{}")
    reader.feed_eof()
    answer = await coldhttp._answer(reader, started=0.0)
    assert (answer.status, answer.body, answer.ok) == (429, b"{}", False)
