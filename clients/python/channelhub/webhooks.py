"""Webhook deliveries checked as the TypeScript client checks them
(Standard Webhooks): `webhook-timestamp` within a tolerance (a replay is
refused), and a `v1,` HMAC-SHA256 signature with the webhook's `whsec_`
secret (checked by the `standardwebhooks` library) and/or a `v1a,` Ed25519
signature with the server's `whpk_` key (`/.well-known/channelhub.json`;
that check needs `cryptography`: `pip install 'channelhub[ed25519]'`).
Deduplicate on `webhook-id`."""

from __future__ import annotations

import base64
import binascii
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from standardwebhooks.webhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError as _StandardRefusal

from . import models


class WebhookVerificationError(Exception):
    """A delivery that is not proven to come from the server."""


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            return value[0] if isinstance(value, (list, tuple)) else value
    return None


def _b64(text: str) -> bytes | None:
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def verify_webhook(
    headers: Mapping[str, Any],
    body: bytes | str,
    *,
    secret: str | None = None,
    public_key: str | None = None,
    tolerance: float = 300,
    now: float | None = None,
) -> models.Event:
    """Checks a delivery and answers its event. Pass the body exactly as
    received, and at least one of `secret` and `public_key`. Whatever the
    input, a delivery that is not proven is a `WebhookVerificationError`.
    (The `v1` check is also bounded by the library's own ±5 minutes.)"""
    try:
        return _verify(headers, body, secret, public_key, tolerance, now)
    except WebhookVerificationError:
        raise
    except Exception as error:  # malformed input of any kind: not proven
        raise WebhookVerificationError(f"the delivery cannot be checked: {error}") from None


def _verify(
    headers: Mapping[str, Any],
    body: bytes | str,
    secret: str | None,
    public_key: str | None,
    tolerance: float,
    now: float | None,
) -> models.Event:
    message_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not message_id or not timestamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    if not secret and not public_key:
        raise WebhookVerificationError("pass a secret or a public_key")
    current = time.time() if now is None else now
    if not re.fullmatch(r"[0-9]{1,12}", timestamp) or abs(current - int(timestamp)) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is outside the tolerance")
    raw = body.encode() if isinstance(body, str) else bytes(body)
    signed = f"{message_id}.{timestamp}.".encode() + raw
    entries = [entry.partition(",") for entry in signatures.split(" ")]

    if secret:
        # The library checks the timestamp too (±5 min), within ours above.
        standard_headers = {
            "webhook-id": message_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": signatures,
        }
        verified = False
        try:
            Webhook(secret).verify(raw, standard_headers, json_parse=False)
            verified = True
        except _StandardRefusal:
            pass
        except Exception as bad:  # noqa: BLE001 - the library's other refusals
            raise WebhookVerificationError(f"the secret is not a whsec_<base64> secret: {bad}") from None
        if verified:
            return models.Event.model_validate(json.loads(raw))
    if public_key:
        try:
            from cryptography.exceptions import InvalidSignature
            from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
        except ImportError as missing:  # pragma: no cover - depends on the install
            raise WebhookVerificationError(
                "checking v1a signatures needs cryptography: pip install 'channelhub[ed25519]'"
            ) from missing
        key_bytes = _b64(public_key.removeprefix("whpk_"))
        if key_bytes is None or len(key_bytes) != 32:
            raise WebhookVerificationError("public_key is not a whpk_<base64> Ed25519 key")
        verifier = Ed25519PublicKey.from_public_bytes(key_bytes)
        for version, _, signature in entries:
            given = _b64(signature)
            if version != "v1a" or given is None:
                continue
            try:
                verifier.verify(given, signed)
                return models.Event.model_validate(json.loads(raw))
            except InvalidSignature:
                continue
    raise WebhookVerificationError("no signature matches")
