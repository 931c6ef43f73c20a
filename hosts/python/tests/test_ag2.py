"""AG2 1.x (``ag2`` 1.2): ``agentrace.ag2.TelemetryMiddleware`` against AG2's own
``TelemetryMiddleware`` on the same scripted run (``ag2_scenario.py``): a tool that asks the
human, a sub-agent used as a tool, and a failing model call.

With ``compat="ag2"`` the trees are the same span for span (names, kinds, error statuses);
attributes agree except where listed, each with the reason.
"""

from __future__ import annotations

import json
from pathlib import Path

from span_trees import CONTENT_OPT_IN, differences, run, shape

#: The scripted run; the ``builtin`` and ``ours_ag2`` fixtures (conftest.py) run it.
SCENARIO = Path(__file__).with_name("ag2_scenario.py")

#: Attributes only AG2's middleware writes, and why agentrace does not.
BUILTIN_ONLY = dict(CONTENT_OPT_IN)

#: Attributes only agentrace writes, and why.
AGENTRACE_ONLY = {
    "error.type": "semconv requires error.type on a failed operation; AG2 records an exception event",
}

#: Attributes both write with different values.
DIFFERENT_VALUES = {
    # AG2 makes a new tool call id per run.
    "gen_ai.tool.call.id": lambda builtin, ours: bool(builtin) and bool(ours),
}


def test_the_run_reaches_every_hook(builtin):
    assert shape(builtin) == [
        (0, "invoke_agent lead", "INTERNAL", "UNSET"),
        (1, "chat gpt-4o-mini", "CLIENT", "UNSET"),
        (1, "execute_tool confirm", "INTERNAL", "UNSET"),
        (2, "await_human_input lead", "INTERNAL", "UNSET"),
        (1, "chat gpt-4o-mini", "CLIENT", "UNSET"),
        (1, "execute_tool research", "INTERNAL", "UNSET"),
        (2, "invoke_agent researcher", "INTERNAL", "UNSET"),
        (3, "chat gpt-4o-mini", "CLIENT", "UNSET"),
        (1, "chat gpt-4o-mini", "CLIENT", "UNSET"),
        (0, "invoke_agent flaky", "INTERNAL", "ERROR"),
        (1, "chat gpt-4o-mini", "CLIENT", "ERROR"),
    ]


def test_in_ag2_mode_the_tree_is_the_builtin_tree(builtin, ours_ag2):
    assert shape(ours_ag2) == shape(builtin)


def test_in_ag2_mode_attributes_differ_only_where_listed(builtin, ours_ag2):
    unexplained = differences(builtin, ours_ag2, BUILTIN_ONLY, AGENTRACE_ONLY, DIFFERENT_VALUES)
    assert not unexplained, "\n".join(unexplained)
    failed = [s for s in ours_ag2 if s["status"] == "ERROR"]
    assert {s["attributes"]["error.type"] for s in failed} == {"ScriptedRateLimitError"}


def test_in_semconv_mode_human_input_is_agentrace_s_operation(builtin, tmp_path):
    ours = run(SCENARIO, "agentrace", tmp_path)
    # The spec has no human-input operation: agentrace names it after its own (human_input,
    # gen_ai.operation.name agentrace.human_input), AG2 await_human_input.
    expected = [(d, n.replace("await_human_input", "human_input"), k, s) for d, n, k, s in shape(builtin)]
    assert shape(ours) == expected


def test_with_content_capture_tool_and_human_content_is_recorded(tmp_path):
    ours = run(SCENARIO, "agentrace-ag2", tmp_path, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    confirm = next(s for s in ours if s["name"] == "execute_tool confirm")
    assert json.loads(confirm["attributes"]["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    # semconv: the result as JSON (here a JSON string); AG2 writes the bare text.
    assert json.loads(confirm["attributes"]["gen_ai.tool.call.result"]) == "the human said yes"
    human = next(s for s in ours if s["name"] == "await_human_input lead")
    assert human["attributes"]["ag2.human_input.response"] == "yes"
    delegated = next(s for s in ours if s["name"] == "execute_tool research")
    assert json.loads(delegated["attributes"]["gen_ai.tool.call.result"]) == "Paris is sunny."
    outputs = [json.loads(s["attributes"]["gen_ai.output.messages"]) for s in ours
               if s["name"].startswith("chat") and s["status"] != "ERROR"]
    assert outputs and all(m[0]["finish_reason"] for m in outputs)
