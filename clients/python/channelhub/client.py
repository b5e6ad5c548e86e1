"""The REST client: one method per operation of the server's OpenAPI
document, named as the TypeScript client names it (in snake_case), the same
methods on `Channelhub` (blocking, httpx.Client) and `AsyncChannelhub`
(asyncio, httpx.AsyncClient: await each call).

Each method builds its request once (`_Operations`); the two classes differ
only in how `_call` sends it. Bodies may be the generated models or plain
dicts; answers are the generated models (or `None` for a 204).
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import httpx
from pydantic import BaseModel, TypeAdapter, ValidationError

from . import models
from .errors import ChannelhubError, TooManyRequests, Unavailable, from_response
from .subscribe import backoff_delay

#: A token, or a callable answering the current one (called per request).
Token = str | Callable[[], str | None] | None


@dataclass
class Call:
    """One request, before it is sent."""

    method: str
    path: str
    query: Mapping[str, Any] = field(default_factory=dict)
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)
    #: How to read the answer: a model type, a TypeAdapter, "text", or None (no body).
    answer: Any = None
    #: Seconds the server may hold the request (a long-poll's `wait`).
    held: float = 0.0


def _segment(value: str) -> str:
    """One path segment. `.` and `..` would be resolved into another path
    (`delete_event(channel, "..")` would delete the channel): refused."""
    if value in ("", ".", ".."):
        raise ValueError(f"{value!r} is not an id")
    return quote(value, safe="")


def _body(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", exclude_unset=True, by_alias=True)
    return value


def _query(values: Mapping[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, value in values.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[name] = "true" if value else "false"
        elif isinstance(value, (list, tuple)):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = str(value)
    return out


def _read(call: Call, response: httpx.Response) -> Any:
    if response.status_code >= 400:
        raise from_response(response)
    if response.status_code >= 300:
        raise ChannelhubError(
            response.status_code, "Unexpected redirect",
            f"{call.method} {call.path} answered {response.status_code}; "
            "point the client at the server's own URL", {}, None,
        )
    if call.answer is None or response.status_code == 204:
        return None
    if call.answer == "text":
        return response.text
    try:
        if isinstance(call.answer, TypeAdapter):
            return call.answer.validate_json(response.content)
        return call.answer.model_validate_json(response.content)
    except ValidationError as error:
        raise ChannelhubError(
            response.status_code, "Unreadable answer",
            f"{call.method} {call.path} answered what this client cannot read: {error}", {}, None,
        ) from None


_TOKENS = TypeAdapter(list[models.TokenInfo])
_WEBHOOKS = TypeAdapter(list[models.Webhook])
_DELIVERIES = TypeAdapter(list[models.DeliveryAttempt])
_REVOCATIONS = TypeAdapter(list[models.Revocation])
_REGISTERED = TypeAdapter(models.CreatedWebhook | models.Webhook)
_PUBLISHED = TypeAdapter(models.Event | models.EventList)


class _Operations:
    """The operations, each building its `Call`; `_call` sends it."""

    url: str

    def _call(self, call: Call) -> Any:  # pragma: no cover - defined by the subclasses
        raise NotImplementedError

    # --- Channels ------------------------------------------------------------
    def create_channel(self, body: models.CreateChannel | Mapping[str, Any]):
        """Create a channel (admin)."""
        return self._call(Call("POST", "/channels", body=_body(body), answer=models.Channel))

    def list_channels(self, *, cursor: str | None = None, limit: int | None = None):
        """Channels in id order (anonymous callers see public ones)."""
        query = {"cursor": cursor, "limit": limit}
        return self._call(Call("GET", "/channels", query=query, answer=models.ChannelPage))

    def get_channel(self, channel: str):
        return self._call(Call("GET", f"/channels/{_segment(channel)}", answer=models.Channel))

    def update_channel(self, channel: str, body: models.UpdateChannel | Mapping[str, Any]):
        """Change a channel (admin); `None` values reset a field to its default."""
        path = f"/channels/{_segment(channel)}"
        return self._call(Call("PATCH", path, body=_body(body), answer=models.Channel))

    def delete_channel(self, channel: str) -> Any:
        return self._call(Call("DELETE", f"/channels/{_segment(channel)}"))

    # --- Tokens --------------------------------------------------------------
    def create_token(self, channel: str, body: models.CreateToken | Mapping[str, Any]):
        """Mint a channel token (admin); its secret is in the answer only."""
        path = f"/channels/{_segment(channel)}/tokens"
        return self._call(Call("POST", path, body=_body(body), answer=models.CreatedTokenBody))

    def list_tokens(self, channel: str):
        path = f"/channels/{_segment(channel)}/tokens"
        return self._call(Call("GET", path, answer=_TOKENS))

    def revoke_token(self, channel: str, token_id: str):
        path = f"/channels/{_segment(channel)}/tokens/{_segment(token_id)}"
        return self._call(Call("DELETE", path))

    # --- Events --------------------------------------------------------------
    def publish(
        self,
        channel: str,
        body: models.EventInput | models.EventBatchInput | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
    ):
        """Publish one event (`{"type", "data", "meta"}`) or a batch
        (`{"events": [...]}`, up to 100). With `idempotency_key`, a retry
        stores nothing twice."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else {}
        path = f"/channels/{_segment(channel)}/events"
        return self._call(Call("POST", path, body=_body(body), headers=headers, answer=_PUBLISHED))

    def poll_events(
        self,
        channel: str,
        *,
        cursor: str | None = None,
        since: str | None = None,
        type: str | list[str] | None = None,  # noqa: A002 - the API's name
        limit: int | None = None,
        wait: int | None = None,
    ):
        """A page of events after `cursor` (oldest first); `wait` (0–60 s)
        holds the request until one exists."""
        query = {"cursor": cursor, "since": since, "type": type, "limit": limit, "wait": wait}
        path = f"/channels/{_segment(channel)}/events"
        held = float(wait or 0)
        return self._call(Call("GET", path, query=query, answer=models.EventPage, held=held))

    def get_event(self, channel: str, event_id: str):
        path = f"/channels/{_segment(channel)}/events/{_segment(event_id)}"
        return self._call(Call("GET", path, answer=models.Event))

    def validate_events(self, channel: str, body: models.EventInput | models.EventBatchInput | Mapping[str, Any]):
        """Checks a publish (one event or a batch) as publishing would, strict
        types included, without storing it: a `Validation` when it would be
        stored, else the exception publishing would raise."""
        path = f"/channels/{_segment(channel)}/events/validate"
        return self._call(Call("POST", path, body=_body(body), answer=models.Validation))

    def delete_event(self, channel: str, event_id: str):
        path = f"/channels/{_segment(channel)}/events/{_segment(event_id)}"
        return self._call(Call("DELETE", path))

    def ws_url(self, channel: str, **query: Any) -> str:
        """The WebSocket URL of a channel (`types`, `after`, `token`, `close_codes`)."""
        url = self._url(f"/channels/{_segment(channel)}/ws", query)
        return "ws" + url.removeprefix("http")

    def multiplexed_url(self, **query: Any) -> str:
        """The URL of the multiplexed WebSocket: one socket, many channels
        (`subscribe` / `unsubscribe` / `refresh` frames; `token` is the
        connection credential)."""
        return "ws" + self._url("/ws", query).removeprefix("http")

    def stream_url(self, channel: str, **query: Any) -> str:
        """The SSE stream URL of a channel (`types`, `after`, `token`)."""
        return self._url(f"/channels/{_segment(channel)}/stream", query)

    def feed(self, channel: str):
        """The newest events as a JSON Feed."""
        path = f"/channels/{_segment(channel)}/feed.json"
        return self._call(Call("GET", path, answer=models.JsonFeed))

    def rss(self, channel: str):
        """The newest events as RSS 2.0 (text)."""
        return self._call(Call("GET", f"/channels/{_segment(channel)}/rss", answer="text"))

    # --- Webhooks ------------------------------------------------------------
    def register_webhook(self, channel: str, body: models.RegisterWebhook | Mapping[str, Any]):
        path = f"/channels/{_segment(channel)}/webhooks"
        return self._call(Call("POST", path, body=_body(body), answer=_REGISTERED))

    def list_webhooks(self, channel: str):
        path = f"/channels/{_segment(channel)}/webhooks"
        return self._call(Call("GET", path, answer=_WEBHOOKS))

    def list_deliveries(self, channel: str, webhook_id: str):
        path = f"/channels/{_segment(channel)}/webhooks/{_segment(webhook_id)}/deliveries"
        return self._call(Call("GET", path, answer=_DELIVERIES))

    def delete_webhook(self, channel: str, webhook_id: str):
        path = f"/channels/{_segment(channel)}/webhooks/{_segment(webhook_id)}"
        return self._call(Call("DELETE", path))

    # --- Trusted keys, the JWT deny-list, who am I ----------------------------
    def add_key(self, body: models.CreateKey | Mapping[str, Any]):
        return self._call(Call("POST", "/keys", body=_body(body), answer=models.TrustedKey))

    def list_keys(self):
        return self._call(Call("GET", "/keys", answer=models.KeyList))

    def remove_key(self, kid: str):
        return self._call(Call("DELETE", f"/keys/{_segment(kid)}", answer=models.Removed))

    def revoke_jwt(self, body: models.CreateRevocation | Mapping[str, Any]):
        return self._call(Call("POST", "/revocations", body=_body(body), answer=models.Revocation))

    def list_revocations(self):
        return self._call(Call("GET", "/revocations", answer=_REVOCATIONS))

    def delete_revocation(self, revocation_id: str):
        return self._call(Call("DELETE", f"/revocations/{_segment(revocation_id)}"))

    def whoami(self):
        return self._call(Call("GET", "/whoami", answer=models.Identity))

    def cluster_status(self):
        """Admin: every node sharing the server's database, the database's
        health and the webhook backlog."""
        return self._call(Call("GET", "/status", answer=models.ClusterStatus))

    # --- Zooid's server and token routes --------------------------------------
    def server_meta(self):
        return self._call(Call("GET", "/server", answer=models.ServerMeta))

    def update_server_meta(self, body: models.UpdateServerMeta | Mapping[str, Any]):
        return self._call(Call("PUT", "/server", body=_body(body), answer=models.ServerMeta))

    def directory_claim(self, body: models.DirectoryClaimBody | Mapping[str, Any]):
        path = "/directory/claim"
        return self._call(Call("POST", path, body=_body(body), answer=models.DirectoryClaim))

    def token_claims(self):
        return self._call(Call("GET", "/tokens/claims", answer=models.TokenClaims))

    def mint_token(self, body: models.MintToken | Mapping[str, Any]):
        return self._call(Call("POST", "/tokens", body=_body(body), answer=models.MintedJwt))

    # --- helpers ---------------------------------------------------------------
    def _url(self, path: str, query: Mapping[str, Any]) -> str:
        encoded = urlencode(_query(query))
        return f"{self.url}/api/v1{path}" + (f"?{encoded}" if encoded else "")


#: Events per publish request; `publish_batch` splits longer lists.
MAX_BATCH = 100


def _chunks(events: list[Any], idempotency_key: str | None):
    """Requests of at most 100 events, each with its own key (`key:index`
    when there are several) so that a retried chunk is recognised."""
    for index, start in enumerate(range(0, len(events), MAX_BATCH)):
        chunk = [_body(e) for e in events[start : start + MAX_BATCH]]
        key = idempotency_key
        if key is not None and len(events) > MAX_BATCH:
            key = f"{key}:{index}"
        yield chunk, key


def _retriable(error: BaseException, key: str | None) -> float | None:
    """Seconds to wait before retrying a publish, or None: only a keyed
    publish is retried (the server then stores nothing twice), after a
    network failure or a 429/503 (after its `Retry-After`)."""
    if not key:  # no key, or an empty one (sent as none)
        return None
    if isinstance(error, httpx.TransportError):
        return 0.0
    if isinstance(error, (TooManyRequests, Unavailable)):
        return error.retry_after or 0.0
    return None


#: Each operation of the API document ("METHOD /path") and its method here.
OPERATIONS: dict[str, str] = {
    "POST /channels": "create_channel",
    "GET /channels": "list_channels",
    "GET /channels/{channel_id}": "get_channel",
    "PATCH /channels/{channel_id}": "update_channel",
    "DELETE /channels/{channel_id}": "delete_channel",
    "POST /channels/{channel_id}/tokens": "create_token",
    "GET /channels/{channel_id}/tokens": "list_tokens",
    "DELETE /channels/{channel_id}/tokens/{token_id}": "revoke_token",
    "POST /channels/{channel_id}/events": "publish",
    "POST /channels/{channel_id}/events/validate": "validate_events",
    "GET /channels/{channel_id}/events": "poll_events",
    "GET /channels/{channel_id}/events/{event_id}": "get_event",
    "DELETE /channels/{channel_id}/events/{event_id}": "delete_event",
    "GET /channels/{channel_id}/ws": "ws_url",
    "GET /ws": "multiplexed_url",
    "GET /channels/{channel_id}/stream": "stream_url",
    "GET /channels/{channel_id}/feed.json": "feed",
    "GET /channels/{channel_id}/rss": "rss",
    "POST /channels/{channel_id}/webhooks": "register_webhook",
    "GET /channels/{channel_id}/webhooks": "list_webhooks",
    "GET /channels/{channel_id}/webhooks/{webhook_id}/deliveries": "list_deliveries",
    "DELETE /channels/{channel_id}/webhooks/{webhook_id}": "delete_webhook",
    "POST /keys": "add_key",
    "GET /keys": "list_keys",
    "DELETE /keys/{kid}": "remove_key",
    "POST /revocations": "revoke_jwt",
    "GET /revocations": "list_revocations",
    "DELETE /revocations/{revocation_id}": "delete_revocation",
    "GET /whoami": "whoami",
    "GET /status": "cluster_status",
    "GET /server": "server_meta",
    "PUT /server": "update_server_meta",
    "POST /directory/claim": "directory_claim",
    "GET /tokens/claims": "token_claims",
    "POST /tokens": "mint_token",
}


class _Base(_Operations):
    def __init__(self, url: str, *, token: Token = None, timeout: float | None = 30.0) -> None:
        self.url = url.rstrip("/")
        self._token = token
        self._timeout = timeout

    def current_token(self) -> str | None:
        """The token now (a callable token is asked)."""
        return self._token() if callable(self._token) else self._token

    def _request(self, call: Call) -> httpx.Request:
        headers = dict(call.headers)
        token = self.current_token()
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = httpx.Timeout(None if self._timeout is None else self._timeout + call.held)
        return httpx.Request(
            call.method,
            f"{self.url}/api/v1{call.path}",
            params=_query(call.query),
            json=call.body,
            headers=headers,
            extensions={"timeout": timeout.as_dict()},
        )


class Channelhub(_Base):
    """The blocking client. `with Channelhub(url, token=...) as hub:`."""

    def __init__(self, url: str, *, token: Token = None, timeout: float | None = 30.0) -> None:
        super().__init__(url, token=token, timeout=timeout)
        self._http = httpx.Client(timeout=timeout)

    def _call(self, call: Call) -> Any:
        return _read(call, self._http.send(self._request(call)))

    def close(self) -> None:
        self._http.close()

    def publish_batch(
        self, channel: str, events: list[Any], *, idempotency_key: str | None = None, retries: int = 3
    ) -> list[models.Event]:
        """Publishes any number of events, in order, in requests of 100. With
        `idempotency_key`, a request that failed on the way (network, 429,
        503) is retried up to `retries` times: it stores nothing twice."""
        import time

        stored: list[models.Event] = []
        for chunk, key in _chunks(events, idempotency_key):
            for attempt in range(retries + 1):
                try:
                    stored.extend(self.publish(channel, {"events": chunk}, idempotency_key=key).events)
                    break
                except (httpx.TransportError, TooManyRequests, Unavailable) as error:
                    wait = _retriable(error, key)
                    if wait is None or attempt == retries:
                        raise
                    time.sleep(max(wait, backoff_delay(attempt)))
        return stored

    def events(self, channel: str | list[str], **options: Any) -> Iterator[Any]:
        """`for event in hub.events(channel, ...)`: every event once, in order,
        across reconnects (see `channelhub.subscribe`; same options as
        `AsyncChannelhub.events`). The subscription runs on a thread of its
        own; leaving the loop ends it."""
        return _blocking_events(self.url, self._token, self._timeout, channel, options)

    def __enter__(self) -> Channelhub:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


class AsyncChannelhub(_Base):
    """The asyncio client: the same methods, each awaited.
    `async with AsyncChannelhub(url, token=...) as hub:`."""

    def __init__(self, url: str, *, token: Token = None, timeout: float | None = 30.0) -> None:
        super().__init__(url, token=token, timeout=timeout)
        self._http = httpx.AsyncClient(timeout=timeout)

    async def _call(self, call: Call) -> Any:
        return _read(call, await self._http.send(self._request(call)))

    async def aclose(self) -> None:
        await self._http.aclose()

    def with_token(self, token: Token) -> AsyncChannelhub:
        """The same server and connection pool, with another credential."""
        other = AsyncChannelhub.__new__(AsyncChannelhub)
        _Base.__init__(other, self.url, token=token, timeout=self._timeout)
        other._http = self._http
        return other

    async def publish_batch(
        self, channel: str, events: list[Any], *, idempotency_key: str | None = None, retries: int = 3
    ) -> list[models.Event]:
        """As `Channelhub.publish_batch`."""
        stored: list[models.Event] = []
        for chunk, key in _chunks(events, idempotency_key):
            for attempt in range(retries + 1):
                try:
                    answer = await self.publish(channel, {"events": chunk}, idempotency_key=key)
                    stored.extend(answer.events)
                    break
                except (httpx.TransportError, TooManyRequests, Unavailable) as error:
                    wait = _retriable(error, key)
                    if wait is None or attempt == retries:
                        raise
                    await asyncio.sleep(max(wait, backoff_delay(attempt)))
        return stored

    def events(self, channel: str | list[str], **options: Any) -> AsyncIterator[Any]:
        """`async for event in hub.events(channel, ...)`: every event once, in
        order, across reconnects and restarts, with gaps reported; options:
        `types`, `after`, `token`, `mode` (auto, ws, poll), `on_gap`,
        `yield_gaps`, `backoff`, `poll_wait`, `ws_retry_after` (see
        `channelhub.subscribe`). A list of channels shares one connection
        (the multiplexed socket; `after` is then a dict of channel to id,
        and `on_close` lets the others go on when one ends; see
        `channelhub.multiplexed`)."""
        from .subscribe import events

        return events(self, channel, **options)

    async def __aenter__(self) -> AsyncChannelhub:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.aclose()


#: Events the blocking iterator holds for a slow loop body before the
#: subscription waits for it.
_HIGH_WATER = 1000
_DONE = object()


def _blocking_events(url: str, token: Token, timeout: float, channel: str, options: dict) -> Iterator[Any]:
    """Runs the asyncio subscription on a thread and hands its items over."""
    items: queue.Queue = queue.Queue(maxsize=_HIGH_WATER)
    stop = threading.Event()
    loop = asyncio.new_event_loop()
    task_box: list[asyncio.Task] = []

    async def deliver(item: Any) -> bool:
        """Hands an item to the caller's loop; False once the loop has left."""
        while not stop.is_set():
            try:
                items.put_nowait(item)
                return True
            except queue.Full:
                await asyncio.sleep(0.05)
        return False

    async def run() -> None:
        ending: Any = (_DONE, None)
        try:
            async with AsyncChannelhub(url, token=token, timeout=timeout) as hub:
                # Closed on the way out, so its socket closes with the loop.
                async with contextlib.aclosing(hub.events(channel, **options)) as items:
                    async for item in items:
                        if not await deliver(item):
                            return
        except asyncio.CancelledError:
            return
        except BaseException as error:  # handed to the caller's loop
            ending = (_DONE, error)
        await deliver(ending)

    def thread() -> None:
        asyncio.set_event_loop(loop)
        task = loop.create_task(run())
        task_box.append(task)
        loop.run_until_complete(task)
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()

    worker = threading.Thread(target=thread, name=f"channelhub-events-{channel}", daemon=True)
    worker.start()
    try:
        while True:
            item = items.get()
            if isinstance(item, tuple) and len(item) == 2 and item[0] is _DONE:
                if item[1] is not None:
                    raise item[1]
                return
            yield item
    finally:
        stop.set()
        if task_box:
            try:
                loop.call_soon_threadsafe(task_box[0].cancel)
            except RuntimeError:
                pass  # the loop has finished already
        worker.join(timeout=5)
