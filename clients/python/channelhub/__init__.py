"""The Python client for channelhub: typed REST for every operation of the
server's OpenAPI document, blocking (`Channelhub`) and asyncio
(`AsyncChannelhub`), with the server's problems as exceptions;
subscriptions that lose nothing (`events()`); webhook verification."""

from . import models
from .client import OPERATIONS, AsyncChannelhub, Channelhub
from .subscribe import Gap, SubscriptionClosed
from .webhooks import WebhookVerificationError, verify_webhook
from .errors import (
    BadRequest,
    ChannelhubError,
    Conflict,
    Forbidden,
    Gone,
    NotFound,
    PayloadTooLarge,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    Unprocessable,
)

__all__ = [
    "OPERATIONS",
    "AsyncChannelhub",
    "BadRequest",
    "Channelhub",
    "ChannelhubError",
    "Conflict",
    "Forbidden",
    "Gap",
    "Gone",
    "NotFound",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "SubscriptionClosed",
    "Unprocessable",
    "WebhookVerificationError",
    "models",
    "verify_webhook",
]
