"""Comparing span trees: AG2's built-in tracing against agentrace on the same scripted run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


#: Content attributes AG2's tracing records unconditionally; semconv makes them opt-in and
#: agentrace records them only with content capture on.
CONTENT_OPT_IN = {
    "gen_ai.input.messages": "content, opt-in in semconv",
    "gen_ai.output.messages": "content, opt-in in semconv",
    "gen_ai.tool.call.arguments": "content, opt-in in semconv",
    "gen_ai.tool.call.result": "content, opt-in in semconv",
    "ag2.human_input.prompt": "content (what the human was asked)",
    "ag2.human_input.response": "content (what the human typed)",
}


def run(scenario: Path, tracing: str, tmp: Path, **env: str) -> list[dict[str, Any]]:
    """Runs a scenario script under one tracing in its own interpreter; its spans."""
    out = tmp / f"{tracing}.json"
    result = subprocess.run(
        [sys.executable, str(scenario), tracing, str(out)],
        cwd=scenario.parent, capture_output=True, text=True, timeout=300,
        env=dict(os.environ, **env),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(out.read_text())["spans"]


def in_tree_order(spans: list[dict[str, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """(depth, span) depth first, siblings by start time."""
    ids = {span["span_id"] for span in spans}
    children: dict[str, list[dict[str, Any]]] = {}
    roots = []
    for span in spans:
        (children.setdefault(span["parent_id"], []) if span["parent_id"] in ids else roots).append(span)
    ordered: list[tuple[int, dict[str, Any]]] = []

    def walk(span: dict[str, Any], depth: int) -> None:
        ordered.append((depth, span))
        for child in sorted(children.get(span["span_id"], []), key=lambda s: s["start_time"]):
            walk(child, depth + 1)

    for root in sorted(roots, key=lambda s: s["start_time"]):
        walk(root, 0)
    return ordered


def shape(spans: list[dict[str, Any]]) -> list[tuple[int, str, str, str]]:
    return [(depth, s["name"], s["kind"], s["status"]) for depth, s in in_tree_order(spans)]


def parsed(value: Any) -> Any:
    """JSON text compared by meaning (AG2 writes ``", "`` separators, agentrace ``","``)."""
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def differences(
    builtin: list[dict[str, Any]],
    ours: list[dict[str, Any]],
    builtin_only: dict[str, str],
    ours_only: dict[str, str],
    different_values: dict[str, Callable[[Any, Any], bool]],
) -> list[str]:
    """Attribute differences between two trees of the same shape that no list explains."""
    found = []
    for (_, theirs), (_, mine) in zip(in_tree_order(builtin), in_tree_order(ours), strict=True):
        a, b = theirs["attributes"], mine["attributes"]
        for key in a.keys() - b.keys() - builtin_only.keys():
            found.append(f"{theirs['name']}: only AG2 writes {key}={a[key]!r}")
        for key in b.keys() - a.keys() - ours_only.keys():
            found.append(f"{mine['name']}: only agentrace writes {key}={b[key]!r}")
        for key in a.keys() & b.keys():
            same = different_values.get(key, lambda x, y: parsed(x) == parsed(y))
            if not same(a[key], b[key]):
                found.append(f"{mine['name']}: {key}: AG2 {a[key]!r}, agentrace {b[key]!r}")
    return sorted(set(found))
