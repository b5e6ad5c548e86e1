"""Several channels on one connection: `events([...])` rides the server's
multiplexed socket (`GET /api/v1/ws`), one `subscribe` per channel, with the
guarantees `events(channel)` gives one channel (see `channelhub.subscribe`).

- Per channel, every event once and in order: each subscription keeps its
  own resume point (the id of the last event yielded, or the `position` the
  server answered `subscribed` with) and drops anything at or below it.
  Nothing is promised across channels.
- One subscription's ending (`unsubscribed`) touches only it: 4000 (slow
  consumer) subscribes again at once, 4011 (replay failed) after a backoff;
  4001/4002/4003/4004 and a refusal (`error` 400/401/403/404) end it for
  good. By default that ends the loop, as with one channel (a
  `SubscriptionClosed` or the REST exception, whose `channel` names the
  channel); with `on_close` the callable gets that exception and the other
  channels go on (the loop ends when none is left). With a callable token,
  4003 reconnects at once with the token it answers then.
- A socket that closes is reconnected with backoff and jitter, and every
  channel still followed is subscribed again after its resume point.
- `error` 429 (the socket's command rate) subscribes again after its
  `retry_after`.
- Against a server without the route (404 on the handshake), with
  `mode="poll"`, or when WebSockets are blocked while HTTP is answered
  (`mode="auto"`), each channel is followed on its own (per-channel
  socket or long-polling) and the items are merged.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import TYPE_CHECKING, Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from . import models
from .errors import BY_STATUS, ChannelhubError
from .subscribe import (
    FINAL,
    MAX_FRAME_BYTES,
    START,
    Gap,
    SubscriptionClosed,
    _End,
    _seconds,
    backoff_delay,
    classify_close,
)

if TYPE_CHECKING:
    from .client import AsyncChannelhub

#: Items a merged fallback holds before its channels wait for the caller.
_MERGE_QUEUE = 256
#: Seconds the server has to send `hello` once the socket is open.
HELLO_WITHIN = 10.0


class _NoRoute(Exception):
    """The server answers 404 to the multiplexed socket's handshake."""


class _Blocked(Exception):
    """WebSockets do not connect while the server answers HTTP."""


class _Lane:
    """One channel followed on the socket."""

    def __init__(self, channel: str, after: str | None) -> None:
        self.channel = channel
        #: The resume point (`START`: from the first stored event; None: from now).
        self.last = after
        #: Not followed any more (it ended for good).
        self.ended = False
        #: `subscribe` was sent on the current socket.
        self.subscribed = False
        #: When to subscribe again (the loop's clock), after a 4011 or a 429.
        self.due: float | None = None
        self.retries = 0

    def fresh(self, event: models.Event) -> bool:
        if self.last is not None and event.id <= self.last:
            return False
        self.last = event.id
        return True


def _lanes(channels: list[str], after: str | dict[str, str] | None) -> dict[str, _Lane]:
    if not channels or not all(isinstance(c, str) and c for c in channels):
        raise ValueError("channels is a non-empty list of channel ids")
    if len(set(channels)) != len(channels):
        raise ValueError("each channel may be listed once")
    if isinstance(after, dict):
        unknown = set(after) - set(channels)
        if unknown:
            raise ValueError(f"after names channels not listed: {sorted(unknown)}")
        return {c: _Lane(c, after.get(c)) for c in channels}
    if after not in (None, START):
        raise ValueError("after for several channels is a dict of channel to event id (or the nil id for all)")
    return {c: _Lane(c, after) for c in channels}


async def events_many(
    client: AsyncChannelhub,
    channels: list[str],
    *,
    after: str | dict[str, str] | None,
    on_close: Callable[[ChannelhubError], Any] | None,
    **options: Any,
) -> AsyncIterator[models.Event | Gap]:
    """Several channels as one async iterator; `options` are those of
    `subscribe.events` (`types`, `token`, `mode`, `on_gap`, `yield_gaps`,
    `backoff`, `poll_wait`, `ws_retry_after`). See the module's doc."""
    mode, backoff = options.pop("mode"), options["backoff"]
    if mode not in ("auto", "ws", "poll"):
        raise ValueError("mode is auto, ws or poll")
    lanes = _lanes(list(channels), after)
    types = list(options["types"] or [])
    session = _Session(
        client, lanes, types, options["token"], options["on_gap"], options["yield_gaps"], on_close, backoff
    )
    if mode == "poll":
        async with contextlib.aclosing(_merged(client, lanes, on_close, mode="poll", **options)) as items:
            async for item in items:
                yield item
        return
    attempt = 0
    blocked = 0
    while any(not lane.ended for lane in lanes.values()):
        verdict = "retry"
        wait = 0.0
        try:
            async with contextlib.aclosing(session.run()) as items:
                async for item in items:
                    yield item
            return  # every channel ended
        except _NoRoute:
            break
        except _End as end:
            if end.opened:
                if session.delivered or session.uptime() > 30:
                    attempt = blocked = 0
                verdict = "fatal" if end.code == 1009 else classify_close(end.code, end.reason)
                if end.code == 4003 and session.refreshable:
                    verdict = "resume"
                if verdict == "fatal":
                    raise SubscriptionClosed(end.code, end.reason) from None
            elif end.retry_after is not None:
                wait = end.retry_after
            elif await session.answers_http():
                blocked += 1
                if blocked >= 2 and mode == "auto":
                    break
        delay = 0.0 if verdict == "resume" and attempt == 0 else backoff_delay(attempt, *backoff)
        attempt += 1
        await asyncio.sleep(max(delay, wait))
    else:
        return
    # No multiplexed socket here: each channel on its own, merged.
    async with contextlib.aclosing(_merged(client, lanes, on_close, mode=mode, **options)) as items:
        async for item in items:
            yield item


class _Session:
    """The multiplexed socket's state across reconnects."""

    def __init__(self, client, lanes, types, token, on_gap, yield_gaps, on_close, backoff) -> None:
        self.client = client
        self.backoff = backoff
        #: The lane each `subscribe` of the current socket was sent for, by ref.
        self.refs_sent: dict[str, _Lane] = {}
        self.lanes: dict[str, _Lane] = lanes
        self.types = types
        self.token = token
        self.on_gap = on_gap
        self.yield_gaps = yield_gaps
        self.on_close = on_close
        self.refreshable = token is None and callable(getattr(client, "_token", None))
        self.delivered = False
        self.opened_at: float | None = None
        self.refs = 0

    def uptime(self) -> float:
        if self.opened_at is None:
            return 0.0
        return asyncio.get_running_loop().time() - self.opened_at

    async def answers_http(self) -> bool:
        """Whether the server answers HTTP at all (any status)."""
        try:
            await self.client.server_meta()
            return True
        except ChannelhubError:
            return True
        except (OSError, httpx.TransportError):
            return False

    def _end_lane(self, lane: _Lane, error: ChannelhubError) -> None:
        """A channel ends for good: told to `on_close`, else the loop ends."""
        error.channel = lane.channel
        lane.ended = True
        if self.on_close is None:
            raise error
        self.on_close(error)

    async def _subscribe(self, socket, lane: _Lane) -> None:
        self.refs += 1
        ref = f"s{self.refs}"
        self.refs_sent[ref] = lane
        frame: dict[str, Any] = {"ref": ref, "channel": lane.channel}
        if self.types:
            frame["types"] = self.types
        if lane.last is not None:
            frame["after"] = lane.last
        lane.subscribed, lane.due = True, None
        await socket.send(json.dumps({"subscribe": frame}))

    async def _connect(self):
        token = self.token if self.token is not None else self.client.current_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            return await connect(
                self.client.multiplexed_url(), additional_headers=headers,
                max_size=MAX_FRAME_BYTES, open_timeout=10,
            )
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as error:
            if isinstance(error, InvalidStatus):
                status = error.response.status_code
                if status == 404:
                    raise _NoRoute() from None
                if status in FINAL:
                    raise _refusal(status, error.response.body) from None
                if status in (429, 503):
                    wait = _seconds(error.response.headers.get("Retry-After"))
                    raise _End(False, status, str(error), retry_after=wait) from None
            raise _End(False, 1006, str(error)) from None

    async def run(self) -> AsyncIterator[models.Event | Gap]:
        """One socket's life: subscribe every channel still followed, then
        hand on what arrives. Ends (returns) when no channel is left; a
        closed socket raises `_End`."""
        socket = await self._connect()
        loop = asyncio.get_running_loop()
        self.opened_at = loop.time()
        self.delivered = False
        self.refs_sent.clear()
        for lane in self.lanes.values():
            lane.subscribed, lane.due = False, None
        try:
            try:
                first = json.loads(await asyncio.wait_for(socket.recv(), HELLO_WITHIN))
            except asyncio.TimeoutError:
                raise _End(True, 1006, f"no hello within {HELLO_WITHIN} s") from None
            hello = first.get("hello") if isinstance(first, dict) else None
            if not isinstance(hello, dict):
                raise _malformed(first)
            live = [lane for lane in self.lanes.values() if not lane.ended]
            bound = hello.get("max_subscriptions")
            if isinstance(bound, int) and len(live) > bound:
                raise ValueError(f"{len(live)} channels exceed the server's {bound} subscriptions per socket")
            for lane in live:
                await self._subscribe(socket, lane)
            while any(not lane.ended for lane in self.lanes.values()):
                dues = [lane.due for lane in self.lanes.values() if lane.due is not None and not lane.ended]
                timeout = max(0.0, min(dues) - loop.time()) if dues else None
                try:
                    message = await asyncio.wait_for(socket.recv(), timeout)
                except asyncio.TimeoutError:
                    for lane in self.lanes.values():
                        if lane.due is not None and lane.due <= loop.time() and not lane.ended:
                            await self._subscribe(socket, lane)
                    continue
                if not isinstance(message, str):
                    continue
                for item in self._frame(json.loads(message), loop.time()):
                    if item is _RECONNECT:
                        raise _End(True, 4003, "token expired")
                    self.delivered = True
                    yield item
                for lane in self.lanes.values():
                    if not lane.ended and not lane.subscribed and lane.due is None:
                        await self._subscribe(socket, lane)
        except ConnectionClosed as error:
            closed = error.rcvd
            raise _End(True, closed.code if closed else 1006, closed.reason if closed else "") from None
        finally:
            await socket.close()

    def _frame(self, frame: Any, now: float) -> list[Any]:
        """What one frame hands on; a lane to subscribe again is left
        unsubscribed (at once) or given a due time."""
        if not isinstance(frame, dict):
            raise _malformed(frame)
        if "id" in frame:
            event = models.Event.model_validate(frame)
            lane = self.lanes.get(event.channel_id)
            if lane is None or lane.ended or not lane.fresh(event):
                return []  # a channel not followed (any more), or a repeat
            lane.retries = 0  # it made progress
            return [event]
        if len(frame) != 1:
            raise _malformed(frame)
        kind, body = next(iter(frame.items()))
        if not isinstance(body, dict):
            raise _malformed(frame)
        # The channel a frame is about: named, or known by the ref it answers.
        lane = self.lanes.get(body.get("channel")) or self.refs_sent.get(body.get("ref"))
        if kind == "subscribed" and lane is not None:
            if lane.last is None:
                position = body.get("position")
                if not isinstance(position, str):
                    raise _malformed(frame)
                lane.last = position
        elif kind == "gap" and lane is not None:
            after, removed = body.get("after"), body.get("removed_through")
            if not isinstance(after, str) or not isinstance(removed, str):
                raise _malformed(frame)
            gap = Gap(after=after, removed_through=removed, channel=lane.channel)
            if self.on_gap is not None:
                self.on_gap(gap)
            return [gap] if self.yield_gaps else []
        elif kind == "unsubscribed" and lane is not None and not lane.ended:
            code, reason = body.get("code"), body.get("reason") or ""
            if not isinstance(code, int) or not isinstance(reason, str):
                raise _malformed(frame)
            lane.subscribed = False
            if code == 4003 and self.refreshable:
                return [_RECONNECT]
            verdict = classify_close(code, reason)
            if verdict == "fatal":
                self._end_lane(lane, SubscriptionClosed(code, reason))
            else:
                # A resume is at once the first time only (as for one channel).
                self._again(lane, now, 0.0 if verdict == "resume" and lane.retries == 0 else None)
        elif kind == "error":
            status, wait = body.get("status"), body.get("retry_after")
            if not isinstance(status, int):
                raise _malformed(frame)
            if lane is None:
                if status == 429:
                    return []  # a command past the rate, not ours to retry
                raise _refusal(status, body)  # a frame of ours the server could not read
            if lane.ended or status == 409:
                return []  # already on this socket
            lane.subscribed = False
            if status in FINAL:
                self._end_lane(lane, _refusal(status, body))
            elif status == 429:
                self._again(lane, now, float(wait) if isinstance(wait, (int, float)) and wait >= 0 else 1.0)
            else:
                self._again(lane, now, None)
        return []

    def _again(self, lane: _Lane, now: float, wait: float | None) -> None:
        """Subscribes the lane again after `wait` seconds, or after a backoff
        that grows until it delivers an event."""
        if wait is None:
            wait = backoff_delay(lane.retries, *self.backoff)
        lane.retries += 1
        lane.due = now + max(wait, 0.0)


def _malformed(frame: Any) -> ValueError:
    return ValueError(f"a malformed frame from the server: {json.dumps(frame)[:200]}")


#: A marker `_frame` answers when the socket must reconnect with a renewed token.
_RECONNECT = object()


def _refusal(status: int, body: Any) -> ChannelhubError:
    """The exception for a refusal: a problem document (or its bytes)."""
    problem: Any = body
    if isinstance(body, (bytes, bytearray)):
        try:
            problem = json.loads(body)
        except ValueError:
            problem = {}
    if not isinstance(problem, dict):
        problem = {}
    cls = BY_STATUS.get(status, ChannelhubError)
    title = str(problem.get("title") or "Error")
    detail = str(problem.get("detail") or title)
    return cls(status, title, detail, problem, problem.get("retry_after"))


async def _merged(client, lanes: dict[str, _Lane], on_close, *, mode: str, **options: Any) -> AsyncIterator[Any]:
    """Each channel still followed on its own (`events(channel)`), merged."""
    from .subscribe import events

    queue: asyncio.Queue = asyncio.Queue(maxsize=_MERGE_QUEUE)
    done = object()

    async def follow(lane: _Lane) -> None:
        try:
            async with contextlib.aclosing(events(client, lane.channel, after=lane.last, mode=mode, **options)) as items:
                async for item in items:
                    if isinstance(item, models.Event):
                        lane.last = item.id
                    await queue.put(item)
        except ChannelhubError as error:
            error.channel = lane.channel
            await queue.put(error)
        except Exception as error:  # noqa: BLE001 - handed to the caller
            await queue.put(error)
        await queue.put(done)

    live = [lane for lane in lanes.values() if not lane.ended]
    tasks = [asyncio.create_task(follow(lane)) for lane in live]
    try:
        running = len(tasks)
        while running:
            item = await queue.get()
            if item is done:
                running -= 1
            elif isinstance(item, ChannelhubError) and on_close is not None:
                on_close(item)
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
