"""What the Python checks beside the Rust tests share (tests/jwt,
tests/mcp_clients): the debug binary (or $CHANNELHUB_BIN) started on
SQLite with an admin token and any extra flags, REST calls to it, and
`check`."""

import json
import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BINARY = os.environ.get("CHANNELHUB_BIN", os.path.join(ROOT, "target", "debug", "channelhub"))
ADMIN = "python-checks-admin-token-0123456789"
CHECKS = 0


def check(condition, what):
    global CHECKS
    if not condition:
        raise SystemExit(f"FAILED: {what}")
    CHECKS += 1


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, *extra):
        self.dir = tempfile.TemporaryDirectory()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen(
            [BINARY, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--database-url", f"sqlite://{self.dir.name}/db.sqlite",
             "--admin-token", ADMIN, "--exempt-loopback", *extra],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.dir.name, "log"), "w"))
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{self.url}/readyz", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise SystemExit("the server did not start")

    def call(self, method, path, token=ADMIN, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(f"{self.url}/api/v1{path}", data=data, method=method)
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                text = response.read()
                return response.status, json.loads(text) if text else None
        except urllib.error.HTTPError as err:
            return err.code, json.loads(err.read() or b"null")

    def close(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)
        self.dir.cleanup()
