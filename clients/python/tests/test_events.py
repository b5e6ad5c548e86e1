"""`events()` as a user iterates it: every event once, in order, across a
server restart; gaps reported; fatal closes end the loop; long-polling;
the blocking iterator."""

import asyncio
import json
import threading
import time
import urllib.request

import httpx
import pytest

import channelhub
from channelhub.subscribe import Gap, SubscriptionClosed, classify_close

from conftest import ADMIN, start_proxy


def publish(url: str, channel: str, values) -> list[str]:
    with channelhub.Channelhub(url, token=ADMIN) as hub:
        return [hub.publish(channel, {"type": "n", "data": value}).id for value in values]


def test_every_event_once_in_order_across_a_restart(own_server):
    server = own_server()
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "across", "is_public": True})
    first = publish(server.url, "across", range(5))

    async def follow():
        seen = []
        async with channelhub.AsyncChannelhub(server.url, token=ADMIN) as hub:
            async for event in hub.events("across", after=first[0], backoff=(0.05, 0.5)):
                seen.append(event.data)
                if len(seen) == 4:
                    # The server goes away and comes back; more is published meanwhile.
                    await asyncio.to_thread(server.restart)
                    await asyncio.to_thread(publish, server.url, "across", range(5, 10))
                if len(seen) == 9:
                    return seen

    seen = asyncio.run(asyncio.wait_for(follow(), 60))
    assert seen == list(range(1, 10)), "after the first id: each event once, in order"


def test_a_gap_is_reported_and_the_rest_delivered(own_server):
    server = own_server("--retention-interval", "0.2")
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "holes", "is_public": True, "retention": {"max_events": 2}})
    ids = publish(server.url, "holes", range(6))
    time.sleep(1.0)  # retention keeps the newest two

    async def follow(mode):
        gaps = []
        async with channelhub.AsyncChannelhub(server.url) as hub:
            items = []
            async for item in hub.events("holes", after=ids[0], mode=mode, on_gap=gaps.append, yield_gaps=True):
                items.append(item)
                if len([i for i in items if not isinstance(i, Gap)]) == 2:
                    return gaps, items

    for mode in ("ws", "poll"):
        gaps, items = asyncio.run(asyncio.wait_for(follow(mode), 30))
        assert len(gaps) == 1 and gaps[0].after == ids[0], mode
        assert isinstance(items[0], Gap), "the gap comes before the events after it"
        assert [i.data for i in items[1:]] == [4, 5], mode


def test_a_deleted_channel_ends_the_loop(own_server):
    server = own_server()
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "doomed", "is_public": True})

    async def follow():
        async with channelhub.AsyncChannelhub(server.url, token=ADMIN) as hub:
            async def delete_soon():
                await asyncio.sleep(0.5)
                await hub.delete_channel("doomed")

            asyncio.get_running_loop().create_task(delete_soon())
            async for _ in hub.events("doomed"):
                pass

    with pytest.raises(SubscriptionClosed) as closed:
        asyncio.run(asyncio.wait_for(follow(), 30))
    assert closed.value.close_code == 4004
    assert classify_close(4000, "") == "resume" and classify_close(1011, "") == "retry"


def test_a_refused_credential_ends_the_loop_with_rests_words(own_server):
    server = own_server()
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "shut", "is_public": False})

    async def follow(mode):
        async with channelhub.AsyncChannelhub(server.url) as hub:
            async for _ in hub.events("shut", mode=mode):
                pass

    for mode in ("ws", "poll"):
        with pytest.raises(channelhub.Unauthorized):
            asyncio.run(asyncio.wait_for(follow(mode), 30))


def test_the_blocking_iterator_and_long_polling(own_server):
    server = own_server()
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "blocking", "is_public": True})
        threading.Timer(0.5, publish, (server.url, "blocking", range(3))).start()
        for mode in ("auto", "poll"):
            seen = []
            for event in hub.events("blocking", mode=mode, after=None if mode == "auto" else "00000000000000000000000000", poll_wait=2):
                seen.append(event.data)
                if len(seen) == 3:
                    break
            assert seen == [0, 1, 2], mode


def test_a_slow_consumer_close_and_a_restart_in_a_burst_lose_nothing(own_server):
    # A small queue: a subscriber that stops reading during a burst is closed
    # as a slow consumer (4000) and resumes; then the server restarts in the
    # middle of another burst.
    server = own_server("--subscriber-queue-frames", "8", "--subscriber-queue-bytes", "4096")
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "burst", "is_public": True})
    start = publish(server.url, "burst", ["start"])[0]

    slow_closes = []

    def slow_consumer_closes() -> float:
        with urllib.request.urlopen(f"{server.url}/metrics") as response:
            for line in response.read().decode().splitlines():
                if line.startswith("channelhub_slow_consumer_disconnects_total"):
                    return float(line.rsplit(" ", 1)[1])
        return 0.0

    async def follow():
        seen = []
        async with channelhub.AsyncChannelhub(server.url, token=ADMIN) as hub:
            async for event in hub.events("burst", after=start, backoff=(0.05, 0.5)):
                seen.append(event.data)
                if len(seen) == 1:
                    await asyncio.sleep(3)  # not reading while the rest arrives
                if len(seen) == 150:
                    slow_closes.append(await asyncio.to_thread(slow_consumer_closes))
                    # A burst with a restart in its middle.
                    await asyncio.to_thread(publish, server.url, "burst", range(400, 450))
                    await asyncio.to_thread(server.restart)
                    await asyncio.to_thread(publish, server.url, "burst", range(450, 500))
                if len(seen) == 250:
                    return seen

    async def both():
        follower = asyncio.create_task(follow())
        await asyncio.sleep(0.5)
        # 150 × 60 KB: more than the socket buffers hold while it does not read.
        await asyncio.to_thread(publish, server.url, "burst", [{"pad": "x" * 60000, "n": n} for n in range(150)])
        return await follower

    seen = asyncio.run(asyncio.wait_for(both(), 90))
    assert [s["n"] for s in seen[:150]] == list(range(150)), "every event once, in order, after the slow close"
    assert seen[150:] == list(range(400, 500))
    assert slow_closes and slow_closes[0] >= 1, f"the subscriber was closed as a slow consumer ({slow_closes})"


def test_keyed_publishes_are_retried_and_unkeyed_ones_are_not(own_server):
    server = own_server()
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "retried", "is_public": True})
        server.stop()
        with pytest.raises(httpx.TransportError):
            hub.publish_batch("retried", [{"data": 1}])
        threading.Timer(1.0, server.start).start()
        stored = hub.publish_batch("retried", [{"data": n} for n in range(3)], idempotency_key="k", retries=8)
        assert [e.data for e in stored] == [0, 1, 2]
        assert hub.get_channel("retried").event_count == 3


def test_duplicates_are_dropped_and_garbage_is_a_clear_error():
    """A server that repeats an event id, then sends garbage."""
    from websockets.asyncio.server import serve

    frames = [
        {"id": "01J00000000000000000000001", "channel_id": "c", "type": None, "data": 1, "meta": None,
         "publisher_id": "p", "publisher_name": None, "created_at": "2026-01-01T00:00:00.000Z"},
        {"id": "01J00000000000000000000001", "channel_id": "c", "type": None, "data": "again", "meta": None,
         "publisher_id": "p", "publisher_name": None, "created_at": "2026-01-01T00:00:00.000Z"},
    ]

    async def handler(socket):
        for frame in frames:
            await socket.send(json.dumps(frame))
        await socket.send("{not json")
        await asyncio.sleep(5)

    async def run():
        async with serve(handler, "127.0.0.1", 0) as ws_server:
            port = ws_server.sockets[0].getsockname()[1]
            seen = []
            async with channelhub.AsyncChannelhub(f"http://127.0.0.1:{port}") as hub:
                with pytest.raises(ValueError):
                    async for event in hub.events("c", after="01J00000000000000000000000", mode="ws"):
                        seen.append(event.data)
            return seen

    assert asyncio.run(asyncio.wait_for(run(), 20)) == [1], "the repeated id is dropped, the garbage raises"


def test_blocked_websockets_fall_back_to_long_polling(own_server):
    """Behind a proxy that refuses WebSocket upgrades (502) but passes HTTP,
    `mode="auto"` long-polls, and loses nothing."""
    server = own_server()
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "proxied", "is_public": True})

    def refuse(head: bytes):
        if b"upgrade: websocket" in head.lower():
            return b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        return None

    async def run():
        proxy = await start_proxy(server.port, refuse)
        port = proxy.sockets[0].getsockname()[1]
        async with channelhub.AsyncChannelhub(f"http://127.0.0.1:{port}") as hub:
            threading.Timer(1.5, publish, (server.url, "proxied", range(3))).start()
            seen = []
            async for event in hub.events("proxied", backoff=(0.05, 0.2), poll_wait=2):
                seen.append(event.data)
                if len(seen) == 3:
                    break
        proxy.close()
        return seen

    seen = asyncio.run(asyncio.wait_for(run(), 60))
    assert seen == [0, 1, 2]


def test_a_callable_token_carries_a_subscription_past_its_jwts_expiry(own_server):
    server = own_server("--jwt-secret", "python-events-secret-0123456789abcdef", "--jwt-leeway", "0")
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "renewed", "is_public": False})
    minted = []

    def token() -> str:
        # Each call mints a JWT that lives 2 s (as an application would renew it).
        with channelhub.Channelhub(server.url, token=ADMIN) as hub:
            minted.append(hub.mint_token({"scopes": ["sub:renewed"], "expires_in": "2s"}).token)
        return minted[-1]

    async def follow():
        seen = []
        async with channelhub.AsyncChannelhub(server.url, token=token) as hub:
            async for event in hub.events("renewed", after="00000000000000000000000000"):
                seen.append(event.data)
                if len(seen) == 2:
                    return seen

    def publish_later():
        publish(server.url, "renewed", ["before expiry"])
        time.sleep(4)  # past the first token's expiry
        publish(server.url, "renewed", ["after expiry"])

    threading.Timer(0.5, publish_later).start()
    seen = asyncio.run(asyncio.wait_for(follow(), 30))
    assert seen == ["before expiry", "after expiry"]
    assert len(set(minted)) >= 2, "a new token was asked for after the first expired"


def test_the_blocking_iterator_raises_refusals_and_ends_its_thread(own_server):
    server = own_server()
    with channelhub.Channelhub(server.url, token=ADMIN) as hub:
        hub.create_channel({"id": "closed-door", "is_public": False})
        hub.create_channel({"id": "open-door", "is_public": True})
    threads = threading.active_count()
    with channelhub.Channelhub(server.url) as anonymous:
        with pytest.raises(channelhub.Unauthorized):
            for _ in anonymous.events("closed-door"):
                pass
        threading.Timer(0.3, publish, (server.url, "open-door", ["one", "two"])).start()
        for event in anonymous.events("open-door"):
            assert event.data == "one"
            break  # leaving the loop ends the subscription and its thread
    for _ in range(50):
        if threading.active_count() <= threads:
            break
        time.sleep(0.1)
    assert threading.active_count() <= threads, "the subscription's thread ended"
