"""A real server for the tests: the debug binary (or $CHANNELHUB_BIN) on
SQLite in a temporary directory, on a free loopback port."""

import asyncio
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


class Server:
    """A server of the test's own, which it may restart on the same port and database."""

    def __init__(self, *extra: str) -> None:
        self.directory = tempfile.mkdtemp(prefix="channelhub-py-")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.extra = extra
        self.process = None
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [BINARY, "serve", "--listen", f"127.0.0.1:{self.port}",
             "--database-url", f"sqlite://{self.directory}/db.sqlite", "--admin-token", ADMIN,
             "--exempt-loopback", *self.extra],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(self.directory, "log"), "a"))
        for _ in range(300):
            try:
                urllib.request.urlopen(f"{self.url}/readyz", timeout=1)
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("the server did not start")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=15)

    def restart(self) -> None:
        self.stop()
        self.start()


@pytest.fixture
def own_server():
    servers = []

    def make(*extra: str) -> Server:
        servers.append(Server(*extra))
        return servers[-1]

    yield make
    for server in servers:
        server.stop()


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


async def start_proxy(port: int, refuse):
    """A loopback HTTP proxy to the server on `port` that answers a request
    itself when `refuse(head)` gives a response (bytes), and passes the rest."""

    async def pipe(reader, writer):
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    async def handle(client_reader, client_writer):
        head = await client_reader.readuntil(b"\r\n\r\n")
        answer = refuse(head)
        if answer is not None:
            client_writer.write(answer)
            await client_writer.drain()
            client_writer.close()
            return
        upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", port)
        upstream_writer.write(head)
        await asyncio.gather(pipe(client_reader, upstream_writer), pipe(upstream_reader, client_writer))

    return await asyncio.start_server(handle, "127.0.0.1", 0)
