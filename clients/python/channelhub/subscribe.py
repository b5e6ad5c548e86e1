"""Subscriptions that lose nothing, as the TypeScript client's: a WebSocket
(or long-polling) session that reconnects with backoff and jitter and
resumes after the last event handed on, so every event arrives once, in
order, across reconnects and server restarts.

- The resume point is the id of the last event yielded; anything at or
  below it is a duplicate and is dropped (the server promises none on
  `after=`; this is the safety net).
- Without `after`, the subscription starts at the channel's newest event
  (read from its feed), so a reconnect before the first event has a point.
- A gap (events after the resume point removed by retention before they
  were read) is reported to `on_gap` and, with `yield_gaps=True`, yielded
  as a `Gap`.
- Close codes (asked for with `close_codes=app`): 4001 token revoked, 4002
  channel made private, 4003 token expired, 4004 channel deleted end the
  subscription with a `ChannelhubError`; 4000 (slow consumer) resumes at
  once; anything else reconnects after a backoff. When the client's token
  is a callable (a JWT your code renews), 4003 reconnects at once with the
  token it answers then.
- `mode="auto"` long-polls when WebSockets cannot connect while the server
  answers HTTP (a proxy that blocks them), and tries a WebSocket again
  after `ws_retry_after` seconds. `Retry-After` on 429/503 is honoured.
"""

from __future__ import annotations

import asyncio
import json
import random
from contextlib import aclosing
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from . import models
from .errors import ChannelhubError

if TYPE_CHECKING:
    from .client import AsyncChannelhub

#: The resume point before a channel's first event (the zero ULID).
START = "00000000000000000000000000"
#: Refusals a retry cannot cure.
FINAL = {400, 401, 403, 404, 410}
#: Largest frame accepted from the server (an event is at most ~1 MiB).
MAX_FRAME_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class Gap:
    """Events after `after` up to and including `removed_through` were
    removed before this subscriber read them."""

    after: str
    removed_through: str
    #: The channel (always set by `events()`).
    channel: str | None = None


class SubscriptionClosed(ChannelhubError):
    """The server ended the subscription for good (`close_code` says why)."""

    def __init__(self, code: int, reason: str) -> None:
        detail = f"WebSocket closed with {code}" + (f' "{reason}"' if reason else "")
        super().__init__(0, reason or "WebSocket closed", detail, {}, None)
        self.close_code = code


def classify_close(code: int, reason: str) -> str:
    """`resume` (at once), `retry` (after a backoff) or `fatal`."""
    reason = reason or ""
    if code == 4000:
        return "resume"
    if code in (4001, 4002, 4003, 4004):
        return "fatal"
    if code == 1008:
        return "resume" if ("slow" in reason.lower() or "behind" in reason.lower()) else "fatal"
    if code == 1000 and "deleted" in reason.lower():
        return "fatal"
    return "retry"


def backoff_delay(attempt: int, initial: float = 0.25, maximum: float = 10.0) -> float:
    """A random point in the upper half of the exponential step (seconds)."""
    step = min(maximum, initial * 2 ** min(attempt, 30))
    return step / 2 + random.random() * (step / 2)


class _End(Exception):
    def __init__(self, opened: bool, code: int, reason: str, retry_after: float | None = None) -> None:
        self.opened, self.code, self.reason = opened, code, reason
        # A handshake refused with 429/503: how long the server asked to wait.
        self.retry_after = retry_after


async def events(
    client: AsyncChannelhub,
    channel: str | list[str],
    *,
    types: list[str] | None = None,
    after: str | dict[str, str] | None = None,
    token: str | None = None,
    mode: str = "auto",
    on_gap: Callable[[Gap], Any] | None = None,
    yield_gaps: bool = False,
    on_close: Callable[[ChannelhubError], Any] | None = None,
    backoff: tuple[float, float] = (0.25, 10.0),
    poll_wait: int = 30,
    ws_retry_after: float = 60.0,
) -> AsyncIterator[models.Event | Gap]:
    """The subscription as an async iterator; see the module's doc. A list
    of channels shares one connection (`channelhub.multiplexed`)."""
    if not isinstance(channel, str):
        # Every option but these is passed on as it is.
        options = dict(locals())
        del options["client"], options["channel"], options["after"], options["on_close"]
        from .multiplexed import events_many

        async with aclosing(events_many(client, channel, after=after, on_close=on_close, **options)) as items:
            async for item in items:
                yield item
        return
    if on_close is not None:
        raise ValueError("on_close is for several channels (one channel's ending ends its loop)")
    if mode not in ("auto", "ws", "poll"):
        raise ValueError("mode is auto, ws or poll")
    state = _State(client, channel, types, after, token, on_gap, yield_gaps)
    use_ws = mode != "poll"
    attempt = 0
    blocked = 0
    if state.last is None and not state.started_empty:
        await state.anchor(backoff)
    while True:
        verdict = "retry"
        wait = 0.0
        if use_ws:
            try:
                if state.last is None and state.started_empty:
                    async for item in state.read_store():
                        yield item
                state.delivered = False
                async for item in state.run_ws():
                    state.delivered = True
                    yield item
            except _End as end:
                if end.opened:
                    # Back off afresh only after a connection that did some
                    # good: one closed at once, again and again, must not spin.
                    if state.delivered or state.uptime() > 30:
                        attempt = blocked = 0
                    verdict = classify_close(end.code, end.reason)
                    if end.code == 4003 and state.refreshable:
                        # The token expired, and the client's token is a
                        # callable: reconnect with the one it answers now.
                        verdict = "resume"
                    if verdict == "fatal":
                        raise SubscriptionClosed(end.code, end.reason) from None
                elif end.retry_after is not None:
                    # Throttled, not blocked: wait as asked, stay on WebSockets.
                    wait = end.retry_after
                elif await state.answers_http():
                    blocked += 1
                    if blocked >= 2 and mode == "auto":
                        use_ws = False
                        continue
            except (httpx.TransportError, ChannelhubError) as error:
                # Reading the store failed (a restart, a 503): retry; a refusal ends it.
                if isinstance(error, ChannelhubError) and error.status in FINAL:
                    raise
        else:
            deadline = asyncio.get_running_loop().time() + ws_retry_after
            try_ws = mode == "auto"
            async for item in state.run_poll(poll_wait, deadline if try_ws else None):
                yield item
            if state.poll_verdict == "resume":
                use_ws = True
                attempt = blocked = 0
                continue
        # A resume is at once the first time only.
        delay = 0.0 if verdict == "resume" and attempt == 0 else backoff_delay(attempt, *backoff)
        attempt += 1
        await asyncio.sleep(max(delay, wait))


class _State:
    def __init__(self, client, channel, types, after, token, on_gap, yield_gaps) -> None:
        self.client = client
        self.channel = channel
        self.types = list(types or [])
        self.last: str | None = after
        self.token = token
        self.on_gap = on_gap
        self.yield_gaps = yield_gaps
        self.started_empty = False
        if after == START:
            # The channel's start: every stored event, then live ones.
            self.last, self.started_empty = None, True
        self.poll_verdict = "retry"
        #: A token that expires is renewed by asking the client's callable.
        self.refreshable = token is None and callable(getattr(client, "_token", None))
        #: Whether the current connection handed on anything, and since when it is up.
        self.delivered = False
        self.opened_at: float | None = None

    def uptime(self) -> float:
        """Seconds the current connection has been up."""
        if self.opened_at is None:
            return 0.0
        return asyncio.get_running_loop().time() - self.opened_at

    def _as(self):
        """The client, with the subscription's token when it has its own."""
        return self.client if self.token is None else self.client.with_token(self.token)

    async def anchor(self, backoff: tuple[float, float]) -> None:
        for attempt in range(1_000_000):
            try:
                feed = await self._as().feed(self.channel)
                self.last = feed.items[0].field_channelhub.id if feed.items else None
                self.started_empty = self.last is None
                return
            except ChannelhubError as error:
                if error.status in FINAL:
                    raise
            except (OSError, httpx.TransportError):
                pass
            await asyncio.sleep(backoff_delay(attempt, *backoff))

    def _fresh(self, event: models.Event) -> bool:
        if self.last is not None and event.id <= self.last:
            return False
        self.last = event.id
        return True

    def _gap(self, gap: Gap) -> list[Gap]:
        if self.on_gap is not None:
            self.on_gap(gap)
        return [gap] if self.yield_gaps else []

    async def read_store(self, before: str | None = None) -> AsyncIterator[models.Event]:
        """For a channel empty at the start, with no event seen yet: what was
        stored since, from the first (up to `before`)."""
        while True:
            page = await self._as().poll_events(self.channel, cursor=self.last, type=self.types or None, limit=1000)
            for event in page.events:
                if before is not None and event.id >= before:
                    return
                if self._fresh(event):
                    yield event
            if not page.has_more:
                return

    async def run_ws(self) -> AsyncIterator[models.Event | Gap]:
        # A channel empty at the start, with no event seen yet, resumes from
        # its first stored event (the nil id): an event published between the
        # store read above and this connect is then replayed, not lost.
        after = self.last if self.last is not None else (START if self.started_empty else None)
        query = {"close_codes": "app", "after": after, "types": ",".join(self.types) or None}
        url = self.client.ws_url(self.channel, **query)
        token = self.token if self.token is not None else self.client.current_token()
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        try:
            socket = await connect(url, additional_headers=headers, max_size=MAX_FRAME_BYTES, open_timeout=10)
        except (OSError, InvalidHandshake, asyncio.TimeoutError) as error:
            if isinstance(error, InvalidStatus) and error.response.status_code in FINAL:
                await self.answers_http()  # raises the REST refusal, with its words
            if isinstance(error, InvalidStatus) and error.response.status_code in (429, 503):
                wait = _seconds(error.response.headers.get("Retry-After"))
                raise _End(False, error.response.status_code, str(error), retry_after=wait) from None
            raise _End(False, 1006, str(error)) from None
        self.opened_at = asyncio.get_running_loop().time()
        try:
            async for message in socket:
                if not isinstance(message, str):
                    continue
                frame = json.loads(message)
                if "gap" in frame and "id" not in frame:
                    gap = Gap(
                        after=frame["gap"]["after"], removed_through=frame["gap"]["removed_through"], channel=self.channel
                    )
                    for item in self._gap(gap):
                        yield item
                    continue
                event = models.Event.model_validate(frame)
                if self.last is None and self.started_empty:
                    # The first live event of a channel empty at the start may
                    # follow events published before this socket opened.
                    async for stored in self.read_store(before=event.id):
                        yield stored
                if self._fresh(event):
                    yield event
            raise _End(True, socket.close_code or 1006, socket.close_reason or "")
        except ConnectionClosed as error:
            closed = error.rcvd
            raise _End(True, closed.code if closed else 1006, closed.reason if closed else "") from None
        finally:
            await socket.close()

    async def answers_http(self) -> bool:
        """Whether the server answers HTTP (a refusal there ends the subscription)."""
        try:
            await self._as().get_channel(self.channel)
            return True
        except ChannelhubError as error:
            if error.status in FINAL:
                raise
            return False
        except (OSError, httpx.TransportError):
            return False

    async def run_poll(self, wait: int, deadline: float | None) -> AsyncIterator[models.Event | Gap]:
        """Long-polls until an error (`retry`) or, with a deadline, until it is
        time to try a WebSocket again (`resume`)."""
        loop = asyncio.get_running_loop()
        announced = False
        self.poll_verdict = "retry"
        while True:
            if deadline is not None and loop.time() >= deadline:
                self.poll_verdict = "resume"
                return
            try:
                page = await self._as().poll_events(
                    self.channel, cursor=self.last, type=self.types or None, limit=1000,
                    wait=wait if announced else 0,
                )
            except ChannelhubError as error:
                if error.status in FINAL:
                    raise
                if error.retry_after:
                    await asyncio.sleep(error.retry_after)
                return
            except (OSError, httpx.TransportError):
                return
            announced = True
            if page.gap is not None and self.last is not None:
                for item in self._gap(Gap(after=self.last, removed_through=page.gap.removed_through, channel=self.channel)):
                    yield item
            for event in page.events:
                if self._fresh(event):
                    yield event


def _seconds(retry_after: str | None) -> float:
    """A `Retry-After` in seconds (0 when absent or not a number of seconds)."""
    try:
        return max(0.0, float(retry_after)) if retry_after else 0.0
    except ValueError:
        return 0.0
