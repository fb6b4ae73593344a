"""Print the error catalogue as the Markdown table the README carries (a test keeps them in step)."""

from __future__ import annotations

import sys

from gateway.errors import CATALOGUE


def table() -> str:
    rows = [f"| `{s.code}` | {s.http_status} | {s.en} | {s.zh} |" for s in CATALOGUE.values()]
    return "\n".join(["| code | HTTP | meaning | 含义 |", "|---|---|---|---|", *rows])


if __name__ == "__main__":
    sys.stdout.write(table() + "\n")
