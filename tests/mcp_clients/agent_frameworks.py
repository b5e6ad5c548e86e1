"""Two agent frameworks' own MCP clients against channelhub's /mcp, without
a model: the OpenAI Agents SDK (`MCPServerStreamableHttp`) and LangGraph's
`langchain-mcp-adapters` (`MultiServerMCPClient`) each list the tools and
call them as an agent would, with the timeouts the README tells users to
set. Starts the debug binary (or $CHANNELHUB_BIN) on SQLite.

    python tests/mcp_clients/agent_frameworks.py
    # needs: pip install openai-agents==0.24.0 langchain-mcp-adapters==0.3.2
"""

import asyncio
import json
import os
import sys
import threading
import time
from datetime import timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import harness  # noqa: E402
from harness import ADMIN, Server, check  # noqa: E402

from agents.mcp import MCPServerStreamableHttp  # noqa: E402
from langchain_mcp_adapters.client import MultiServerMCPClient  # noqa: E402

TOOLS = ["get_channel", "list_channels", "publish_events", "read_events", "wait_for_events"]


def structured(result):
    """A tool result's structured content (or its JSON text)."""
    if getattr(result, "structuredContent", None):
        return result.structuredContent
    return json.loads(result.content[0].text)


async def openai_agents(server):
    async with MCPServerStreamableHttp(
        params={"url": f"{server.url}/mcp", "headers": {"Authorization": f"Bearer {ADMIN}"}},
        client_session_timeout_seconds=70,
    ) as mcp:
        tools = sorted(t.name for t in await mcp.list_tools())
        check(tools == TOOLS, f"OpenAI Agents SDK lists the tools ({tools})")
        published = structured(await mcp.call_tool(
            "publish_events", {"channel": "frameworks", "events": [{"type": "note", "data": "from agents"}]}))
        check(len(published["events"]) == 1, "OpenAI Agents SDK publishes")

        def publish_later():
            time.sleep(1)
            server.call("POST", "/channels/frameworks/events", body={"type": "note", "data": "woke"})

        threading.Thread(target=publish_later, daemon=True).start()
        woken = structured(await mcp.call_tool(
            "wait_for_events", {"channel": "frameworks", "after": published["cursor"], "timeout_seconds": 25}))
        check([e["data"] for e in woken["events"]] == ["woke"], "OpenAI Agents SDK: a wait is woken")


async def langchain(server):
    client = MultiServerMCPClient({"channelhub": {
        "transport": "streamable_http", "url": f"{server.url}/mcp",
        "headers": {"Authorization": f"Bearer {ADMIN}"}, "timeout": timedelta(seconds=70)}})
    tools = {t.name: t for t in await client.get_tools()}
    check(sorted(tools) == TOOLS, f"langchain-mcp-adapters lists the tools ({sorted(tools)})")
    answer = await tools["read_events"].ainvoke({"channel": "frameworks", "limit": 5})
    text = answer if isinstance(answer, str) else json.dumps(answer)
    check("from agents" in text and "woke" in text, "langchain-mcp-adapters reads the events")
    refused = await tools["get_channel"].ainvoke({"channel": "no-such-channel"})
    check("(404)" in str(refused), f"langchain-mcp-adapters sees REST's 404 as the tool's answer ({refused})")


def main():
    server = Server()
    try:
        status, _ = server.call("POST", "/channels", body={"id": "frameworks", "is_public": True})
        check(status == 201, "create the channel")
        asyncio.run(openai_agents(server))
        asyncio.run(langchain(server))
    finally:
        server.close()
    print(f"Agent frameworks over MCP: {harness.CHECKS} checks passed")


if __name__ == "__main__":
    main()
