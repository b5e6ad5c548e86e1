"""Every REST operation through the client, against the real server, as a
user calls them: through the blocking client and through the asyncio one."""

import asyncio
import base64
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

import channelhub
from channelhub import models

from conftest import ADMIN


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        length = int(self.headers["Content-Length"])
        Receiver.received.append(self.rfile.read(length))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_):
        pass


def clients(kind: str, called: set[str]):
    """A client class for the test: the blocking one, or the asyncio one
    driven by a loop of its own (each call awaited), with each operation's
    name recorded when called."""

    if kind == "blocking":
        def wrap(name):
            method = getattr(channelhub.Channelhub, name)

            def call(self, *args, **kwargs):
                called.add(name)
                return method(self, *args, **kwargs)

            return call

        names = {n: wrap(n) for n in channelhub.OPERATIONS.values()}
        return type("RecordingChannelhub", (channelhub.Channelhub,), names)

    class AsyncDriven:
        def __init__(self, url, token=None):
            self._loop = asyncio.new_event_loop()
            self._hub = channelhub.AsyncChannelhub(url, token=token)

        def __getattr__(self, name):
            attr = getattr(self._hub, name)
            if not callable(attr):
                return attr

            def call(*args, **kwargs):
                called.add(name)
                result = attr(*args, **kwargs)
                return self._loop.run_until_complete(result) if asyncio.iscoroutine(result) else result

            return call

        def __enter__(self):
            return self

        def __exit__(self, *_):
            self._loop.run_until_complete(self._hub.aclose())
            self._loop.close()

    return AsyncDriven


@pytest.mark.parametrize("kind", ["blocking", "asyncio"])
def test_every_operation(server_url, kind):
    called: set[str] = set()
    Client = clients(kind, called)

    channel = unique(f"py-{kind[:3]}")
    with Client(server_url, token=ADMIN) as admin:
        created = admin.create_channel({"id": channel, "is_public": False, "tags": ["a"]})
        assert isinstance(created, models.Channel) and created.id == channel
        assert any(c.id == channel for c in admin.list_channels(limit=1000).channels)
        assert admin.get_channel(channel).tags == ["a"]
        assert admin.update_channel(channel, {"description": "from Python"}).description == "from Python"

        publisher = admin.create_token(channel, {"kind": "publish", "publisher_id": "py-agent"})
        subscriber = admin.create_token(channel, {"kind": "subscribe"})
        assert {t.id for t in admin.list_tokens(channel)} >= {publisher.id, subscriber.id}

        with Client(server_url, token=publisher.token) as pub:
            checked = pub.validate_events(channel, {"events": [{"type": "note", "data": {"n": 0}}] * 2})
            assert (checked.valid, checked.events) == (True, 2)
            one = pub.publish(channel, {"type": "note", "data": {"n": 1}}, idempotency_key="k1")
            again = pub.publish(channel, {"type": "note", "data": {"n": 1}}, idempotency_key="k1")
            assert one.id == again.id, "a repeated key stores nothing twice"
            batch = pub.publish(channel, {"events": [{"type": "note", "data": {"n": n}} for n in (2, 3)]})
            assert [e.data["n"] for e in batch.events] == [2, 3]
            with pytest.raises(channelhub.Forbidden):
                pub.delete_channel(channel)

        # A token given as a callable, asked per request.
        with Client(server_url, token=lambda: subscriber.token) as reader:
            page = reader.poll_events(channel, limit=2)
            assert [e.data["n"] for e in page.events] == [1, 2] and page.has_more
            rest = reader.poll_events(channel, cursor=page.cursor, type=["note"])
            assert [e.data["n"] for e in rest.events] == [3]
            quiet = reader.poll_events(channel, cursor=rest.cursor, wait=1)
            assert quiet.events == []
            assert reader.get_event(channel, one.id).data == {"n": 1}
            assert reader.whoami().kind == "channel_token"
        status = admin.cluster_status()
        assert status.database_ready and [n.state for n in status.nodes if n.this_node] == ["up"]
        with pytest.raises(channelhub.Unauthorized) as refused:
            Client(server_url).poll_events(channel)
        assert refused.value.status == 401 and "private" in refused.value.detail

        assert admin.ws_url(channel, types="note").startswith("ws://")
        # The multiplexed socket, with the subscribe token as its credential.
        from websockets.sync.client import connect

        with connect(admin.multiplexed_url(token=subscriber.token)) as mux:
            assert json.loads(mux.recv(timeout=10))["hello"]["credential"]["kind"] == "token"
            mux.send(json.dumps({"subscribe": {"ref": "s1", "channel": channel, "after": one.id}}))
            frames = [json.loads(mux.recv(timeout=10)) for _ in range(4)]
        assert [f.get("id") or next(iter(f)) for f in frames] == [
            "subscribed", *(e.id for e in batch.events), "caught_up"]
        assert admin.stream_url(channel, after=one.id).endswith(f"after={one.id}")
        assert any(item.id == one.id for item in admin.feed(channel).items)
        assert "<rss" in admin.rss(channel)
        admin.delete_event(channel, one.id)
        with pytest.raises(channelhub.NotFound):
            admin.get_event(channel, one.id)

        receiver = HTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=receiver.serve_forever, daemon=True).start()
        try:
            hook = admin.register_webhook(channel, {"url": f"http://127.0.0.1:{receiver.server_port}/hook"})
            assert any(w.id == hook.id for w in admin.list_webhooks(channel))
            admin.publish(channel, {"type": "note", "data": {"n": 4}})
            for _ in range(100):
                if admin.list_deliveries(channel, hook.id):
                    break
                time.sleep(0.1)
            assert admin.list_deliveries(channel, hook.id)[0].outcome == "success"
            admin.delete_webhook(channel, hook.id)
        finally:
            receiver.shutdown()

        private = ed25519.Ed25519PrivateKey.generate()
        raw = private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        kid = unique("key")
        assert admin.add_key({"kid": kid, "kty": "OKP", "crv": "Ed25519", "x": x}).kid == kid
        assert any(k.kid == kid for k in admin.list_keys().keys)
        assert admin.remove_key(kid).ok
        revocation = admin.revoke_jwt({"jti": unique("jti")})
        assert any(r.id == revocation.id for r in admin.list_revocations())
        admin.delete_revocation(revocation.id)

        assert admin.server_meta().name
        assert admin.update_server_meta({"description": "set from Python"}).description == "set from Python"
        claim = admin.directory_claim({"channels": [channel]})
        assert json.loads(base64.urlsafe_b64decode(claim.claim + "==")).get("channels") == [channel]
        minted = admin.mint_token({"scopes": [f"sub:{channel}"], "sub": "py", "expires_in": "5m"})
        with Client(server_url, token=minted.token) as holder:
            assert holder.token_claims().scopes == [f"sub:{channel}"]

        admin.revoke_token(channel, publisher.id)
        admin.delete_channel(channel)
        with pytest.raises(channelhub.NotFound):
            admin.get_channel(channel)

    missing = set(channelhub.OPERATIONS.values()) - called
    assert not missing, f"operations this test does not call: {sorted(missing)}"


def test_limits_carry_retry_after(server_url):
    with channelhub.Channelhub(server_url, token=ADMIN) as admin:
        with pytest.raises(channelhub.BadRequest) as invalid:
            admin.create_channel({"id": "Not An Id"})
        assert invalid.value.retry_after is None
        assert "channel id" in invalid.value.detail


def test_the_asyncio_client(server_url):
    async def run():
        channel = unique("aio")
        async with channelhub.AsyncChannelhub(server_url, token=ADMIN) as admin:
            await admin.create_channel({"id": channel, "is_public": True})
            waiting = asyncio.create_task(admin.poll_events(channel, wait=30))
            await asyncio.sleep(0.3)
            published = await admin.publish(channel, {"type": "t", "data": "async"})
            page = await waiting
            assert [e.id for e in page.events] == [published.id], "a long-poll is woken by the publish"
            assert (await admin.get_channel(channel)).event_count == 1
            with pytest.raises(channelhub.NotFound):
                await admin.get_event(channel, "01ARZ3NDEKTSV4RRFFQ69G5FAV")
            await admin.delete_channel(channel)

    asyncio.run(run())


def test_publish_batch_splits_and_keys_each_request(server_url):
    channel = unique("batch")
    with channelhub.Channelhub(server_url, token=ADMIN) as hub:
        hub.create_channel({"id": channel, "is_public": True})
        events = [{"type": "n", "data": n} for n in range(250)]
        stored = hub.publish_batch(channel, events, idempotency_key="load-1")
        assert [e.data for e in stored] == list(range(250)), "in order, in requests of 100"
        again = hub.publish_batch(channel, events, idempotency_key="load-1")
        assert [e.id for e in again] == [e.id for e in stored], "a repeat stores nothing twice"
        assert hub.get_channel(channel).event_count == 250

    async def run():
        async with channelhub.AsyncChannelhub(server_url, token=ADMIN) as hub:
            return await hub.publish_batch(channel, events[:120])

    assert len(asyncio.run(run())) == 120
