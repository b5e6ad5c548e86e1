"""Findings of a review of this client, each shown failing before its fix."""

import asyncio
import time
import uuid

import httpx
import pytest

import channelhub
from channelhub import WebhookVerificationError, verify_webhook
from channelhub.client import _retriable

from conftest import ADMIN
from test_events import publish


def test_dot_segments_are_refused_not_resolved(server_url):
    with channelhub.Channelhub(server_url, token=ADMIN) as hub:
        for call in (lambda: hub.delete_event("victim", ".."), lambda: hub.get_channel("."),
                     lambda: hub.delete_webhook("victim", ""), lambda: hub.ws_url("..")):
            with pytest.raises(ValueError):
                call()


def test_an_empty_key_is_no_key_and_is_not_retried():
    assert _retriable(httpx.ConnectError("down"), "") is None
    assert _retriable(httpx.ConnectError("down"), None) is None
    assert _retriable(httpx.ConnectError("down"), "k") == 0.0


def test_a_server_that_closes_at_once_is_not_hammered():
    from websockets.asyncio.server import serve

    connections = []

    async def handler(socket):
        connections.append(time.monotonic())
        await socket.close(4000, "slow consumer")

    async def run():
        async with serve(handler, "127.0.0.1", 0) as server:
            port = server.sockets[0].getsockname()[1]
            async with channelhub.AsyncChannelhub(f"http://127.0.0.1:{port}") as hub:
                iterator = hub.events("c", after="01J00000000000000000000000", mode="ws", backoff=(0.1, 1.0))
                try:
                    await asyncio.wait_for(anext(iterator), 3)
                except TimeoutError:
                    pass

    asyncio.run(run())
    assert 2 <= len(connections) <= 15, f"{len(connections)} connections in 3 s"


def test_a_restart_before_the_first_event_is_survived(own_server):
    server = own_server()
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "empty-at-first", "is_public": True})

    async def follow():
        async with channelhub.AsyncChannelhub(server.url) as hub:
            async def restart_then_publish():
                await asyncio.sleep(0.5)
                await asyncio.to_thread(server.restart)
                await asyncio.to_thread(publish, server.url, "empty-at-first", ["after the restart"])

            asyncio.get_running_loop().create_task(restart_then_publish())
            async for event in hub.events("empty-at-first", backoff=(0.05, 0.5)):
                return event.data

    assert asyncio.run(asyncio.wait_for(follow(), 30)) == "after the restart"


def test_malformed_webhook_input_is_a_verification_error():
    body = b'{"id": "x"}'
    base = {"webhook-id": "msg_1", "webhook-timestamp": str(int(time.time())), "webhook-signature": "v1,AAAA"}
    cases = [
        ({**base, "webhook-timestamp": "\u00b9"}, {"secret": "whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ=="}),
        ({**base, "webhook-timestamp": "9" * 5000}, {"secret": "whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ=="}),
        ({k: v.encode() for k, v in base.items()}, {"secret": "whsec_" + "QUFBQUFBQUFBQUFBQUFBQQ=="}),
        (base, {"secret": "whsec_!!!!"}),
        (base, {"public_key": 123}),
    ]
    for headers, options in cases:
        with pytest.raises(WebhookVerificationError):
            verify_webhook(headers, body, **options)


def test_an_unreadable_answer_is_a_channelhub_error_and_no_timeout_is_allowed():
    """A 2xx body the client cannot read, or a redirect, is a ChannelhubError
    (not pydantic's), and `timeout=None` means no timeout."""
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    class Odd(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            if self.path.startswith("/api/v1/channels/moved"):
                self.send_response(302)
                self.send_header("Location", "http://elsewhere.invalid/")
                self.end_headers()
                return
            body = b'{"not": "a channel"}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *_):
            pass

    server = HTTPServer(("127.0.0.1", 0), Odd)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with channelhub.Channelhub(f"http://127.0.0.1:{server.server_port}", timeout=None) as hub:
            with pytest.raises(channelhub.ChannelhubError) as unreadable:
                hub.get_channel("odd")
            assert "cannot read" in unreadable.value.detail
            with pytest.raises(channelhub.ChannelhubError) as moved:
                hub.get_channel("moved")
            assert moved.value.status == 302
    finally:
        server.shutdown()


def test_a_handshake_refused_with_429_waits_its_retry_after_and_stays_on_websockets():
    """A WebSocket handshake answered 429 (or 503) with `Retry-After` is
    retried after that long, and is not taken for a proxy that blocks
    WebSockets (which would switch the subscription to polling)."""
    from websockets.asyncio.server import serve
    from websockets.datastructures import Headers
    from websockets.http11 import Response

    attempts = []
    polls = []
    event = {"id": "01J00000000000000000000001", "channel_id": "c", "type": None, "data": 1,
             "meta": None, "publisher_id": "p", "publisher_name": None,
             "created_at": "2026-12-07T10:00:00.000Z"}

    def process_request(connection, request):
        if not request.path.startswith("/api/v1/channels/c/ws"):
            # The HTTP probe and any poll: a plain answer, counted.
            polls.append(request.path)
            return connection.respond(200, "{}")
        attempts.append(time.monotonic())
        if len(attempts) <= 2:
            return Response(429, "Too Many Requests", Headers({"Retry-After": "1", "Content-Length": "0"}), b"")
        return None

    async def handler(socket):
        import json
        await socket.send(json.dumps(event))
        await asyncio.sleep(5)

    async def run():
        async with serve(handler, "127.0.0.1", 0, process_request=process_request) as server:
            port = server.sockets[0].getsockname()[1]
            async with channelhub.AsyncChannelhub(f"http://127.0.0.1:{port}") as hub:
                iterator = hub.events("c", after="01J00000000000000000000000", backoff=(0.05, 0.1))
                return await asyncio.wait_for(anext(iterator), 10)

    got = asyncio.run(run())
    assert got.id == event["id"]
    assert len(attempts) == 3, attempts
    assert attempts[1] - attempts[0] >= 0.9 and attempts[2] - attempts[1] >= 0.9, attempts
    assert not any("/events" in path for path in polls), f"it fell back to polling: {polls}"


def test_an_event_published_between_the_store_read_and_the_connect_is_not_lost(server_url, monkeypatch):
    """A channel empty at the start: the subscription reads the store, then
    connects. An event published between the two was in neither (and, with
    no later event, never delivered); the connect now resumes from the
    channel's first stored event. The store read publishes as it returns."""
    from channelhub.subscribe import _State

    channel = f"race-{uuid.uuid4().hex[:8]}"
    with channelhub.Channelhub(server_url, token=ADMIN) as hub:
        hub.create_channel({"id": channel, "is_public": True})
    original = _State.read_store
    raced = []

    async def racing(self, before=None):
        async for item in original(self, before):
            yield item
        if before is None and not raced:
            raced.append(await asyncio.to_thread(publish, server_url, channel, ["raced"]))

    monkeypatch.setattr(_State, "read_store", racing)

    async def first():
        async with channelhub.AsyncChannelhub(server_url) as hub:
            return await asyncio.wait_for(anext(hub.events(channel)), 10)

    event = asyncio.run(first())
    assert raced, "the store read ran"
    assert event.data == "raced"
