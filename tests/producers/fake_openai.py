"""A scripted OpenAI-compatible chat completions server (standard library only), so that real
producers (instrumentation libraries around the real ``openai`` client) can run offline.

    python fake_openai.py PORT_FILE

Listens on an ephemeral loopback port, writes it to PORT_FILE, and answers
``POST /v1/chat/completions``: when the request offers tools and holds no tool result yet, a
call of the first tool; otherwise a text answer. Token counts follow from the text, so runs are
repeatable. Streaming is not offered.
"""

from __future__ import annotations

import http.server
import json
import sys


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        request = json.loads(self.rfile.read(length) or b"{}")
        if not self.path.endswith("/chat/completions"):
            self.send_error(404, "only /v1/chat/completions")
            return
        messages = request.get("messages", [])
        tools = request.get("tools") or []
        prompt_tokens = sum(len(str(m.get("content") or "").split()) for m in messages)
        if tools and not any(m.get("role") == "tool" for m in messages):
            name = tools[0]["function"]["name"]
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": name, "arguments": json.dumps({"city": "Paris"})}}],
            }
            finish = "tool_calls"
        else:
            message = {"role": "assistant",
                       "content": "Sunny in Paris. Questions to jane.doe@example.com."}
            finish = "stop"
        completion_tokens = len(str(message.get("content") or "x").split())
        body = json.dumps({
            "id": "chatcmpl-fake-1",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": request.get("model", "gpt-4o-mini"),
            "system_fingerprint": "fp_fake",
            "service_tier": "default",
            "choices": [{"index": 0, "message": message, "finish_reason": finish}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                      "total_tokens": prompt_tokens + completion_tokens},
        }).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def main() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    with open(sys.argv[1], "w") as port_file:
        port_file.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    main()
