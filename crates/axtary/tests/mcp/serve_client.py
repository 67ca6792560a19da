"""Drives `axtary mcp serve` with the official Python MCP SDK client.

usage: serve_client.py AXTARY_BIN MODE STEP  (MODE: legacy | auto; STEP: list | call NAME ARGS_JSON)
Prints one JSON object on stdout with what the client saw.
"""
import asyncio
import json
import os
import sys

from mcp import Client, StdioServerParameters


async def main() -> None:
    binary, mode, step = sys.argv[1], sys.argv[2], sys.argv[3]
    env = {k: os.environ[k] for k in ("AXTARY_HOME", "HOME") if k in os.environ}
    params = StdioServerParameters(command=binary, args=["mcp", "serve", "--agent", "mcp-test"], env=env)
    async with Client(params, mode=mode) as client:
        if step == "list":
            tools = await client.list_tools()
            print(json.dumps({
                "protocol_version": client.protocol_version,
                "server": client.server_info.name if client.server_info else None,
                "tools": sorted(t.name for t in tools.tools),
                "schemas": {t.name: t.input_schema for t in tools.tools},
            }))
        elif step == "call":
            name, args = sys.argv[4], json.loads(sys.argv[5])
            result = await client.call_tool(name, args)
            print(json.dumps({
                "is_error": result.is_error,
                "text": " ".join(c.text for c in result.content if getattr(c, "type", "") == "text"),
                "structured": result.structured_content,
            }))
        else:
            raise SystemExit(f"unknown step {step}")


asyncio.run(main())
