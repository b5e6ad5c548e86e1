"""Errors: the server's problem documents (RFC 9457) as exceptions, one
class per status, each with `status`, `title`, `detail`, the whole
`problem`, and `retry_after` (seconds, from `Retry-After`) where the server
says when to retry (429, 503)."""

from __future__ import annotations

from typing import Any

import httpx


class ChannelhubError(Exception):
    """A refused request."""

    def __init__(self, status: int, title: str, detail: str, problem: dict[str, Any], retry_after: float | None) -> None:
        super().__init__(f"{title} ({status}): {detail}")
        self.status = status
        self.title = title
        self.detail = detail
        self.problem = problem
        self.retry_after = retry_after
        #: The channel a subscription of several channels lost (`events([...])`).
        self.channel: str | None = None


class BadRequest(ChannelhubError):
    """400: the request is malformed; nothing was changed."""


class Unauthorized(ChannelhubError):
    """401: no credential, or one that is not valid here."""


class Forbidden(ChannelhubError):
    """403: the credential does not allow this."""


class NotFound(ChannelhubError):
    """404."""


class Conflict(ChannelhubError):
    """409: it exists already, or a bound is reached."""


class Gone(ChannelhubError):
    """410: what the request names was removed."""


class PayloadTooLarge(ChannelhubError):
    """413."""


class Unprocessable(ChannelhubError):
    """422: an idempotency key reused for a different request."""


class TooManyRequests(ChannelhubError):
    """429: a limit; retry after `retry_after` seconds."""


class Unavailable(ChannelhubError):
    """503: the server or its database is busy; retry after `retry_after`."""


BY_STATUS: dict[int, type[ChannelhubError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Gone,
    413: PayloadTooLarge,
    422: Unprocessable,
    429: TooManyRequests,
    503: Unavailable,
}


def from_response(response: httpx.Response) -> ChannelhubError:
    """The exception for a refused response."""
    try:
        problem = response.json()
        if not isinstance(problem, dict):
            problem = {}
    except ValueError:
        problem = {}
    title = str(problem.get("title") or response.reason_phrase or "Error")
    detail = str(problem.get("detail") or response.text[:500])
    retry_after = None
    header = response.headers.get("retry-after")
    if header is not None:
        try:
            retry_after = float(header)
        except ValueError:
            retry_after = None
    cls = BY_STATUS.get(response.status_code, ChannelhubError)
    return cls(response.status_code, title, detail, problem, retry_after)
