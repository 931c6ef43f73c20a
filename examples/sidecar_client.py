#!/usr/bin/env python3
"""Drives the agentrace sidecar from Python with nothing but the standard library.

One agent turn with a chat call and a tool call, reported as it happens:

    agentrace serve --output trace.jsonl &
    python3 examples/sidecar_client.py http://127.0.0.1:4320 [TOKEN]

Prints the traceparent of the turn, which a real agent would propagate to the services it calls.
"""

import json
import sys
import urllib.error
import urllib.request


class Sidecar:
    """A minimal client: report events, get each start's ids back."""

    def __init__(self, url, token=None):
        self.url = url.rstrip("/")
        self.token = token

    def post(self, path, body):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        request = urllib.request.Request(
            self.url + path, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            raise SystemExit(f"{path}: HTTP {error.code}: {error.read().decode()}") from None

    def start(self, operation, parent=None, **fields):
        event = {"type": "start", "operation": operation, "fields": fields}
        if parent:
            event["parent_span_id"] = parent["span_id"]
            event["trace_id"] = parent["trace_id"]
        return self.post("/v1/events", event)["results"][0]

    def end(self, span, **fields):
        self.post("/v1/events", {"type": "end", "span_id": span["span_id"], "fields": fields})


def main():
    if len(sys.argv) not in (2, 3):
        raise SystemExit(__doc__)
    sidecar = Sidecar(sys.argv[1], sys.argv[2] if len(sys.argv) == 3 else None)

    turn = sidecar.start("invoke_agent", agent={"name": "planner"}, conversation_id="conv-42")
    chat = sidecar.start("chat", parent=turn, provider="openai",
                         request={"model": "gpt-4o", "temperature": 0.2})
    sidecar.end(chat, response={"model": "gpt-4o-2024-08-06", "finish_reasons": ["tool_calls"]},
                usage={"input_tokens": 120, "output_tokens": 18})
    tool = sidecar.start("execute_tool", parent=turn,
                         tool={"name": "get_weather", "call_id": "call_1", "type": "function"})
    sidecar.end(tool)
    sidecar.end(turn)
    sidecar.post("/v1/flush", {})
    print(turn["traceparent"])


if __name__ == "__main__":
    main()
