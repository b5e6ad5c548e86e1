"""A real server for the tests: the debug binary (or $CHANNELHUB_BIN) on
SQLite in a temporary directory, on a free loopback port."""

import os
import socket
import subprocess
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
BINARY = os.environ.get("CHANNELHUB_BIN", os.path.join(ROOT, "target", "debug", "channelhub"))
ADMIN = "python-client-admin-token-0123456789"


@pytest.fixture(scope="session")
def server_url():
    with tempfile.TemporaryDirectory() as directory, socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        probe.close()
        process = subprocess.Popen(
            [BINARY, "serve", "--listen", f"127.0.0.1:{port}",
             "--database-url", f"sqlite://{directory}/db.sqlite", "--admin-token", ADMIN,
             "--exempt-loopback", "--allow-private-webhooks",
             "--jwt-secret", "python-client-secret-0123456789abcdef"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(directory, "log"), "w"))
        url = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                urllib.request.urlopen(f"{url}/readyz", timeout=1)
                break
            except OSError:
                time.sleep(0.05)
        else:
            raise RuntimeError("the server did not start")
        try:
            yield url
        finally:
            process.terminate()
            process.wait(timeout=10)
