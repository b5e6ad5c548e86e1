"""The official Python MCP SDK (PyPI `mcp`) against channelhub's /mcp, in
both handshakes: `auto` (the current revision, negotiated with
server/discover) and `legacy` (initialize, 2025-11-25 and earlier), and
over stdio through `channelhub mcp` (the relay in the same binary). Starts
the debug binary (or $CHANNELHUB_BIN) on SQLite; exits non-zero on the
first failure.

    python tests/mcp_clients/python_sdk.py      # needs: pip install mcp==2.3.0
"""

import asyncio
import os
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import ADMIN, BINARY, Server, check  # noqa: E402

from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

async def session(server, token, mode, body):
    if mode == "stdio":
        # `channelhub mcp`, the binary's stdio relay, started by the SDK as
        # a local MCP server, as hosts that only start processes do.
        env = {"PATH": os.environ.get("PATH", ""), "CHANNELHUB_URL": server.url}
        if token:
            env["CHANNELHUB_TOKEN"] = token
        params = StdioServerParameters(command=BINARY, args=["mcp"], env=env)
        async with Client(params) as client:
            return await body(client)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    http = create_mcp_http_client(headers=headers)
    async with http:
        transport = streamable_http_client(f"{server.url}/mcp", http_client=http)
        async with Client(transport, mode=mode) as client:
            return await body(client)


async def run(server, mode):
    channel = f"sdk-{mode}"
    status, _ = server.call("POST", "/channels", body={"id": channel, "is_public": False})
    check(status == 201, "create the channel")
    status, sub = server.call("POST", f"/channels/{channel}/tokens", body={"kind": "subscribe"})
    check(status == 201, "mint a subscribe token")

    async def as_admin(client):
        version = client.session.protocol_version
        check(version is not None, f"{mode}: a protocol was negotiated")
        tools = {t.name: t for t in (await client.list_tools()).tools}
        check(sorted(tools) == ["get_channel", "list_channels", "publish_events", "read_events",
                                "wait_for_events"], f"{mode}: the five tools are listed")
        check(all(t.output_schema for t in tools.values()), f"{mode}: each tool has an output schema")
        listed = await client.call_tool("list_channels", {})
        check(not listed.is_error and any(c["id"] == channel for c in listed.structured_content["channels"]),
              f"{mode}: the admin lists the private channel")
        published = await client.call_tool("publish_events", {
            "channel": channel, "events": [{"type": "note", "data": {"n": n}} for n in range(3)],
            "idempotency_key": f"key-{mode}"})
        check(not published.is_error and len(published.structured_content["events"]) == 3,
              f"{mode}: publish_events stores three events")
        again = await client.call_tool("publish_events", {
            "channel": channel, "events": [{"type": "note", "data": {"n": n}} for n in range(3)],
            "idempotency_key": f"key-{mode}"})
        check(again.structured_content["replayed"] is True, f"{mode}: a repeated key is replayed")
        return version, published.structured_content["cursor"]

    version, cursor = await session(server, ADMIN, mode, as_admin)

    async def as_subscriber(client):
        newest = await client.call_tool("read_events", {"channel": channel, "limit": 2})
        check(not newest.is_error and [e["data"]["n"] for e in newest.structured_content["events"]] == [1, 2],
              f"{mode}: read_events answers the newest events, oldest first")
        refused = await client.call_tool("publish_events", {"channel": channel, "events": [{"data": 1}]})
        check(refused.is_error and "(403)" in refused.content[0].text,
              f"{mode}: a subscribe token may not publish (a tool error, REST's 403)")
        # A wait woken by a REST publish, reporting progress meanwhile.
        progress = []

        async def on_progress(value, total, message):
            progress.append((value, total, message))

        def publish_later():
            time.sleep(11)
            server.call("POST", f"/channels/{channel}/events", body={"type": "note", "data": {"n": 3}})

        threading.Thread(target=publish_later, daemon=True).start()
        started = time.monotonic()
        woken = await client.call_tool("wait_for_events", {"channel": channel, "after": cursor,
                                                           "timeout_seconds": 30},
                                       read_timeout_seconds=40, progress_callback=on_progress)
        check(not woken.is_error and [e["data"]["n"] for e in woken.structured_content["events"]] == [3],
              f"{mode}: wait_for_events is woken by the publish ({woken.structured_content})")
        check(time.monotonic() - started < 25, f"{mode}: the wait ended at the publish, not its timeout")
        check(progress and progress[0][1] == 30, f"{mode}: progress was reported while waiting ({progress})")
        quiet = await client.call_tool("wait_for_events", {
            "channel": channel, "after": woken.structured_content["cursor"], "timeout_seconds": 1})
        check(quiet.structured_content["timed_out"] is True
              and quiet.structured_content["cursor"] == woken.structured_content["cursor"],
              f"{mode}: a quiet wait times out with the same cursor")

    await session(server, sub["token"], mode, as_subscriber)

    async def anonymous(client):
        hidden = await client.call_tool("read_events", {"channel": channel})
        check(hidden.is_error and "(401)" in hidden.content[0].text,
              f"{mode}: an anonymous client cannot read the private channel")

    await session(server, None, mode, anonymous)
    print(f"{mode}: protocol {version}: ok")


def main():
    server = Server()
    try:
        for mode in ("auto", "legacy", "stdio"):
            asyncio.run(run(server, mode))
    finally:
        server.close()
    print(f"MCP Python SDK: {harness.CHECKS} checks passed")


if __name__ == "__main__":
    main()
