"""The public HTTP server refuses a request whose head never ends, before holding it all."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn

from samspil.runtime.http import MAX_REQUEST_HEAD_BYTES, http_protocol
from tests.support import wait_for


async def echo_length(scope: Any, receive: Any, send: Any) -> None:
    assert scope["type"] == "http"
    size = 0
    while True:
        message = await receive()
        size += len(message.get("body", b""))
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(size).encode()})


@pytest.fixture
async def server() -> AsyncIterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        echo_length, log_config=None, access_log=False, lifespan="off", http=http_protocol()
    )
    running = uvicorn.Server(config)
    task = asyncio.create_task(running.serve(sockets=[listener]))

    async def started() -> bool:
        return running.started

    await wait_for(started, timeout=10, interval=0.01)
    try:
        yield listener.getsockname()[1]
    finally:
        running.should_exit = True
        await task


async def exchange(port: int, head: bytes, body: bytes = b"") -> bytes:
    """Send while reading: a server that refuses closes the connection before it has it all."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    data = head + body

    async def send() -> None:
        with contextlib.suppress(ConnectionError):
            for start in range(0, len(data), 64 * 1024):
                writer.write(data[start : start + 64 * 1024])
                await writer.drain()

    sending = asyncio.create_task(send())
    answer = b""
    with contextlib.suppress(ConnectionError):
        while chunk := await reader.read(65536):
            answer += chunk
    await sending
    writer.close()
    return answer


def test_the_fast_parser_is_used_where_it_is_installed() -> None:
    assert http_protocol() != "h11"


async def test_a_header_larger_than_the_bound_is_refused_with_400(server: int) -> None:
    huge = b"x-filler: " + b"a" * (MAX_REQUEST_HEAD_BYTES * 4) + b"\r\n"
    answer = await exchange(server, b"GET / HTTP/1.1\r\nhost: x\r\n" + huge + b"\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:100]


async def test_a_request_with_a_body_in_the_same_read_is_served(server: int) -> None:
    body = b"b" * 64 * 1024
    head = f"POST / HTTP/1.1\r\nhost: x\r\ncontent-length: {len(body)}\r\nconnection: close\r\n\r\n"
    answer = await exchange(server, head.encode(), body)
    assert answer.startswith(b"HTTP/1.1 200") and f"\r\n{len(body)}\r\n".encode() in answer
