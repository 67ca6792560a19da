"""A real MCP client (the official Python SDK) driven by a test over stdin/stdout.

usage: driver.py MODE -- CMD ARGS...   (MODE: legacy | auto)

Launches CMD as an MCP stdio server (with this process's environment), then reads one JSON
command per line on stdin and answers each with one JSON line on stdout:
  {"op": "list"}                          -> {"tools": [names]}
  {"op": "call", "name": N, "args": {..}} -> {"is_error": b, "text": "...", "structured": ...}
"""

import asyncio
import json
import os
import sys

from mcp import Client, StdioServerParameters


async def main():
    mode = sys.argv[1]
    assert sys.argv[2] == "--"
    command = sys.argv[3:]
    params = StdioServerParameters(command=command[0], args=command[1:], env=dict(os.environ))
    async with Client(params, mode=mode) as client:
        loop = asyncio.get_running_loop()
        while True:
            line = await loop.run_in_executor(None, sys.stdin.readline)
            if not line:
                break
            cmd = json.loads(line)
            if cmd["op"] == "list":
                tools = await client.list_tools()
                out = {"tools": sorted(t.name for t in tools.tools)}
            elif cmd["op"] == "call":
                r = await client.call_tool(cmd["name"], cmd.get("args", {}))
                text = "".join(getattr(c, "text", "") for c in r.content)
                out = {"is_error": r.is_error, "text": text, "structured": r.structured_content}
            else:
                raise SystemExit(f"unknown op {cmd['op']!r}")
            print(json.dumps(out), flush=True)


asyncio.run(main())
