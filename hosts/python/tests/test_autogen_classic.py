"""Classic AG2 (``autogen`` 0.14): ``agentrace.autogen`` against AG2's built-in
``autogen.opentelemetry`` on the same scripted run (``classic_scenario.py``).

With ``compat="ag2"`` the span trees must be the same: same hierarchy, names, kinds and error
statuses, span for span. Attributes must agree too, except where listed below with the reason;
each listed difference is where the built-in module departs from GenAI semconv v1.41 (or adds
what agentrace reports under its own names), and the test fails if an unlisted one appears.
"""

from __future__ import annotations

import json
from pathlib import Path

from span_trees import CONTENT_OPT_IN, differences, run, shape

#: The scripted run; the ``builtin`` and ``ours_ag2`` fixtures (conftest.py) run it.
SCENARIO = Path(__file__).with_name("classic_scenario.py")

#: Attributes only the built-in module writes, and why agentrace does not.
BUILTIN_ONLY = {
    **CONTENT_OPT_IN,
    "ag2.code_execution.output": "content (program output)",
    "ag2.chats.summaries": "content (the chats' summaries)",
    # gen_ai.agent.name is not an attribute of inference (chat) spans in v1.41.
    "gen_ai.agent.name": "not defined on inference spans in semconv",
}

#: Attributes only agentrace writes, and why.
AGENTRACE_ONLY = {
    "error.type": "semconv requires error.type on a failed operation; AG2 sets only the status",
    "gen_ai.agent.description": "semconv agent attribute AG2 leaves out",
    "gen_ai.request.temperature": "semconv request attribute AG2 leaves out when set in llm_config",
    "gen_ai.response.id": "semconv recommended; AG2 leaves it out",
    "gen_ai.provider.name": "AG2 reads the recipient's provider only from a positional argument",
    "gen_ai.request.model": "AG2 reads the recipient's model only from a positional argument",
    "agentrace.conversation.method": "agentrace detail: how the conversation started",
    "agentrace.conversation.recipient": "agentrace detail: the agent spoken to",
    "agentrace.human_input.mode": "agentrace detail: the agent's human_input_mode",
    "agentrace.code_execution.executor": "agentrace detail: the code executor's class",
}

#: Attributes both write with different values.
DIFFERENT_VALUES = {
    # semconv: gen_ai.response.finish_reasons is a string[]; AG2 writes one JSON string.
    "gen_ai.response.finish_reasons": lambda builtin, ours: json.loads(builtin) == ours,
    # New ids per run.
    "gen_ai.conversation.id": lambda builtin, ours: bool(builtin) and bool(ours),
    "ag2.chats.ids": lambda builtin, ours: len(json.loads(builtin)) == len(json.loads(ours)),
}


def test_the_run_reaches_every_instrumentation_point(builtin):
    names = [name for _, name, _, _ in shape(builtin)]
    for expected in [
        "conversation user_proxy", "invoke_agent assistant", "chat gpt-4o-mini", "execute_tool get_weather",
        "await_human_input user_proxy", "execute_code code_runner", "speaker_selection",
        "conversation checking_agent", "invoke_agent speaker_selection_agent", "agent.initiate_chats",
        "execute_tool convert_currency", "conversation caller",
    ]:
        assert expected in names, f"{expected} not in {names}"
    assert [name for _, name, _, status in shape(builtin) if status == "ERROR"] == [
        "conversation caller", "invoke_agent flaky", "chat gpt-4o-mini",
    ]
    assert len(builtin) == 54


def test_in_ag2_mode_the_tree_is_the_builtin_tree(builtin, ours_ag2):
    assert shape(ours_ag2) == shape(builtin)


def test_in_ag2_mode_attributes_differ_only_where_listed(builtin, ours_ag2):
    unexplained = differences(builtin, ours_ag2, BUILTIN_ONLY, AGENTRACE_ONLY, DIFFERENT_VALUES)
    assert not unexplained, "\n".join(unexplained)


def test_in_semconv_mode_only_the_non_spec_operations_are_renamed(builtin, tmp_path):
    ours = run(SCENARIO, "agentrace", tmp_path)
    # The spec has no operation for these AG2 concepts; agentrace names them after its own
    # operations (gen_ai.operation.name agentrace.*), AG2 after its methods.
    renamed = {"await_human_input": "human_input", "execute_code": "code_execution",
               "agent.initiate_chats": "multi_conversation"}

    def semconv_name(name: str) -> str:
        base, _, target = name.partition(" ")
        return f"{renamed.get(base, base)} {target}".strip()

    assert shape(ours) == [(d, semconv_name(n), k, s) for d, n, k, s in shape(builtin)]
    operations = {s["attributes"]["gen_ai.operation.name"] for s in ours}
    assert operations == {"chat", "invoke_agent", "execute_tool", "agentrace.conversation",
                          "agentrace.human_input", "agentrace.code_execution",
                          "agentrace.speaker_selection", "agentrace.multi_conversation"}, operations
    # Without capture no content leaves the process.
    assert not [k for s in ours for k in s["attributes"] if k.endswith("messages") or "arguments" in k]


def test_with_content_capture_messages_follow_the_parts_format(tmp_path):
    ours = run(SCENARIO, "agentrace-ag2", tmp_path, OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    calls = [s for s in ours if s["name"] == "chat gpt-4o-mini" and s["status"] != "ERROR"]
    assert calls
    for call in calls:
        inputs = json.loads(call["attributes"]["gen_ai.input.messages"])
        outputs = json.loads(call["attributes"]["gen_ai.output.messages"])
        assert all("parts" in m and "role" in m for m in inputs)
        # semconv: every output message has a finish_reason (AG2 leaves it out).
        assert all(m.get("finish_reason") for m in outputs), outputs
    tool = next(s for s in ours if s["name"] == "execute_tool get_weather")
    assert json.loads(tool["attributes"]["gen_ai.tool.call.arguments"]) == {"city": "Paris"}
    human = next(s for s in ours if s["name"].startswith("await_human_input"))
    assert "ag2.human_input.response" in human["attributes"]


def test_instrumenting_twice_wraps_once_and_uninstrument_restores_the_agents(traced):
    from autogen import ConversableAgent
    from classic_scenario import llm_agent, scripted

    from agentrace.autogen import instrument_agent, uninstrument

    run = traced()
    assistant = llm_agent("assistant", scripted("TwiceClient", "first answer", "second answer"))
    user = ConversableAgent("user", llm_config=False, human_input_mode="NEVER")
    for agent in (user, assistant, user, assistant):  # each agent twice
        instrument_agent(agent, tracer=run.tracer)
    first = user.initiate_chat(assistant, message="hello", max_turns=1, silent=True)
    assert first.chat_history[-1]["content"] == "first answer"
    run.tracer.flush()
    for agent in (user, assistant):
        assert uninstrument(agent) is agent
    second = user.initiate_chat(assistant, message="again", max_turns=1, silent=True)
    assert second.chat_history[-1]["content"] == "second answer"  # the agents still work
    names = sorted(span.name for span in run.spans())
    # One conversation and one turn of the assistant, each reported once; nothing after.
    assert names == ["conversation user", "invoke_agent assistant"], names
    assert not any(k.startswith("__agentrace") for k in vars(assistant)), sorted(vars(assistant))
