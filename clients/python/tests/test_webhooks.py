"""A real delivery from the server, checked by `verify_webhook` with the
webhook's secret (v1) and the server's key (v1a), and by the independent
`standardwebhooks` library (v1); tampering, a replayed timestamp and a
wrong key are refused."""

import json
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from standardwebhooks.webhooks import Webhook

import channelhub
from channelhub import WebhookVerificationError, verify_webhook

from conftest import ADMIN


def test_a_real_delivery(own_server):
    server = own_server("--allow-private-webhooks")
    deliveries = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            deliveries.append((dict(self.headers.items()), body))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *_):
            pass

    receiver = HTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        with channelhub.Channelhub(server.url, token=ADMIN) as hub:
            hub.create_channel({"id": "hooked", "is_public": True})
            hook = hub.register_webhook("hooked", {"url": f"http://127.0.0.1:{receiver.server_port}/in"})
            published = hub.publish("hooked", {"type": "t", "data": {"x": 1}})
            for _ in range(100):
                if deliveries:
                    break
                time.sleep(0.1)
        headers, body = deliveries[0]
    finally:
        receiver.shutdown()
    with urllib.request.urlopen(f"{server.url}/.well-known/channelhub.json") as response:
        public_key = json.load(response)["webhook_public_key"]

    assert verify_webhook(headers, body, secret=hook.secret).id == published.id
    assert verify_webhook(headers, body, public_key=public_key).data == {"x": 1}
    # The independent implementation agrees (it checks v1 only).
    assert Webhook(hook.secret).verify(body, headers)["id"] == published.id

    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body.replace(b'"x":1', b'"x":2'), secret=hook.secret)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body, secret=hook.secret, now=time.time() + 3600)
    with pytest.raises(WebhookVerificationError):
        verify_webhook(headers, body, secret="whsec_" + "A" * 32)
    with pytest.raises(WebhookVerificationError):
        verify_webhook({k: v for k, v in headers.items() if k.lower() != "webhook-id"}, body, secret=hook.secret)
