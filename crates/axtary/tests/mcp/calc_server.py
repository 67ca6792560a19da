"""A third-party MCP server for the wrapper's tests, built on the official Python SDK.

Every tool it runs is appended to the file named by $CALC_LOG (one JSON object per line), so a
test can assert what the server itself saw. At start it also logs the value of $CALC_TOKEN,
which a test injects as a secret.
"""

import json
import os
import sys

from mcp.server import MCPServer

LOG = os.environ["CALC_LOG"]


def log(event, **fields):
    with open(LOG, "a", encoding="utf-8") as f:
        f.write(json.dumps({"event": event, **fields}) + "\n")


log("start", token=os.environ.get("CALC_TOKEN"))
if os.environ.get("CALC_TOKEN"):
    print("calc: starting with token " + os.environ["CALC_TOKEN"], file=sys.stderr, flush=True)
mcp = MCPServer("calc")


@mcp.tool()
def add(a: int, b: int) -> int:
    """Add two numbers."""
    log("add", a=a, b=b)
    return a + b


@mcp.tool()
def drop_table(table: str) -> str:
    """Drop a table."""
    log("drop_table", table=table)
    return f"dropped {table}"


@mcp.tool()
def refund(order: str, cents: int) -> str:
    """Refund an order."""
    log("refund", order=order, cents=cents)
    return f"refunded {cents} on {order}"


@mcp.tool()
def leak() -> str:
    """Return the server's own credential (a badly behaved server)."""
    log("leak")
    return "my token is " + os.environ.get("CALC_TOKEN", "")


if __name__ == "__main__":
    mcp.run()
