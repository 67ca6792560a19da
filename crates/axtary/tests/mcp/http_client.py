"""Drives the daemon's `/mcp` endpoint with the official Python MCP SDK client (Streamable HTTP).

usage: http_client.py URL TOKEN MODE STEP  (MODE: legacy | auto; STEP: list | call NAME ARGS_JSON)
TOKEN is sent as `Authorization: Bearer TOKEN` (`-` sends no Authorization header).
Prints one JSON object on stdout with what the client saw; a failure to connect or a protocol
error prints {"exception": "..."} and exits 0, so the test can assert on it.
"""
import asyncio
import builtins
import json
import sys

from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


def describe(e: BaseException) -> str:
    # anyio task groups wrap the real failure in (nested) exception groups.
    group = getattr(builtins, "BaseExceptionGroup", ())
    while isinstance(e, group) and len(e.exceptions) == 1:
        e = e.exceptions[0]
    return f"{type(e).__name__}: {e}"


async def main() -> None:
    url, token, mode, step = sys.argv[1:5]
    headers = {"Authorization": f"Bearer {token}"} if token != "-" else {}
    http = create_mcp_http_client(headers=headers)
    async with http:
        transport = streamable_http_client(url, http_client=http)
        async with Client(transport, mode=mode) as client:
            if step == "list":
                tools = await client.list_tools()
                out = {
                    "protocol_version": client.protocol_version,
                    "server": client.server_info.name if client.server_info else None,
                    "tools": sorted(t.name for t in tools.tools),
                    "schemas": {t.name: t.input_schema for t in tools.tools},
                }
            elif step == "call":
                name, args = sys.argv[5], json.loads(sys.argv[6])
                result = await client.call_tool(name, args)
                out = {
                    "protocol_version": client.protocol_version,
                    "is_error": result.is_error,
                    "text": " ".join(c.text for c in result.content if getattr(c, "type", "") == "text"),
                    "structured": result.structured_content,
                }
            else:
                raise SystemExit(f"unknown step {step}")
    print(json.dumps(out))


try:
    asyncio.run(main())
except SystemExit:
    raise
except BaseException as e:  # noqa: BLE001 - the test asserts on what went wrong
    print(json.dumps({"exception": describe(e)}))
