"""The Python client for channelhub: typed REST for every operation of the
server's OpenAPI document, blocking (`Channelhub`) and asyncio
(`AsyncChannelhub`), with the server's problems as exceptions."""

from . import models
from .client import OPERATIONS, AsyncChannelhub, Channelhub
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
    "Gone",
    "NotFound",
    "PayloadTooLarge",
    "TooManyRequests",
    "Unauthorized",
    "Unavailable",
    "Unprocessable",
    "models",
]
