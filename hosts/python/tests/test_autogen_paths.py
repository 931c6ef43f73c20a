"""Classic AG2 (``autogen`` 0.14) entry points beyond the scripted scenario, each traced by
``agentrace.autogen`` on a scripted, offline run: async sequential chats with prerequisites,
the ``run()`` API (which runs the chat in an executor thread), resuming a group chat, and an
``AutoPattern`` group chat with its LLM speaker selection.
"""

from __future__ import annotations

import asyncio

from autogen import ConversableAgent, GroupChat, GroupChatManager
from classic_scenario import llm_agent, scripted

from agentrace.autogen import instrument_agent, instrument_groupchat, instrument_llm_wrapper, uninstrument_llm_wrapper


def _traced_agents(traced, **scripts):
    """A tracer, the LLM wrapper instrumented, and one scripted agent per keyword (its replies),
    plus a ``user`` agent without an LLM; all instrumented."""
    run = traced()
    instrument_llm_wrapper(tracer=run.tracer)
    agents = {name: llm_agent(name, scripted(f"{name.title()}PathsClient", *replies)) for name, replies in scripts.items()}
    agents["user"] = ConversableAgent("user", llm_config=False, human_input_mode="NEVER")
    for agent in agents.values():
        instrument_agent(agent, tracer=run.tracer)
    return run, agents


def _tree(spans):
    """Each span as ``(name, parent name)``, and the number of traces."""
    by_id = {span.span_id: span for span in spans}
    pairs = sorted(((span.name, by_id[span.parent_id].name if span.parent_id in by_id else None) for span in spans),
                   key=lambda pair: (pair[0], pair[1] or ""))
    return pairs, len({span.trace_id for span in spans})


def test_async_sequential_chats_with_prerequisites_are_one_multi_conversation(traced):
    run, agents = _traced_agents(traced, alpha=["alpha says hi"], beta=["beta says hi"])
    try:
        chats = asyncio.run(agents["user"].a_initiate_chats([
            {"chat_id": 1, "recipient": agents["alpha"], "message": "first", "max_turns": 1, "silent": True},
            {"chat_id": 2, "prerequisites": [1], "recipient": agents["beta"], "message": "second", "max_turns": 1,
             "silent": True},
        ]))
    finally:
        uninstrument_llm_wrapper()
    assert {key: chat.chat_history[-1]["content"] for key, chat in chats.items()} == {
        1: "alpha says hi", 2: "beta says hi"}
    pairs, traces = _tree(run.spans())
    assert traces == 1
    assert pairs == [
        ("chat gpt-4o-mini", "invoke_agent alpha"),
        ("chat gpt-4o-mini", "invoke_agent beta"),
        ("conversation user", "multi_conversation"),
        ("conversation user", "multi_conversation"),
        ("invoke_agent alpha", "conversation user"),
        ("invoke_agent beta", "conversation user"),
        ("multi_conversation", None),
    ]


def test_the_run_api_keeps_the_tree_across_its_executor_thread(traced):
    run, agents = _traced_agents(traced, gamma=["gamma answers"])
    try:
        response = agents["user"].run(agents["gamma"], message="via run", max_turns=1)
        response.process()
    finally:
        uninstrument_llm_wrapper()
    assert response.summary == "gamma answers"
    pairs, traces = _tree(run.spans())
    assert traces == 1
    assert pairs == [
        ("chat gpt-4o-mini", "invoke_agent gamma"),
        ("conversation user", None),
        ("invoke_agent gamma", "conversation user"),
    ]


def test_resuming_a_group_chat_traces_the_resume_and_the_resumed_chat(traced):
    run, agents = _traced_agents(traced, alpha=["alpha resumes"], beta=["beta resumes"])
    groupchat = GroupChat(agents=[agents["alpha"], agents["beta"]], messages=[], max_round=3,
                          speaker_selection_method="round_robin")
    manager = GroupChatManager(groupchat, llm_config=False)
    instrument_agent(manager, tracer=run.tracer)
    instrument_groupchat(groupchat, tracer=run.tracer)
    previous = [{"content": "let us plan", "role": "user", "name": "alpha"},
                {"content": "ok", "role": "user", "name": "beta"}]

    async def resume_and_continue():
        last_agent, last_message = await manager.a_resume(messages=previous)
        return await last_agent.a_initiate_chat(recipient=manager, message=last_message, clear_history=False,
                                                silent=True)

    try:
        result = asyncio.run(resume_and_continue())
    finally:
        uninstrument_llm_wrapper()
    assert [m["content"] for m in result.chat_history[-2:]] == ["alpha resumes", "beta resumes"]
    pairs, traces = _tree(run.spans())
    # The resume is its own call (a conversation of the manager); the resumed chat is the next.
    assert traces == 2
    assert pairs == [
        ("chat gpt-4o-mini", "invoke_agent alpha"),
        ("chat gpt-4o-mini", "invoke_agent beta"),
        ("conversation beta", None),
        ("conversation chat_manager", None),
        ("invoke_agent alpha", "invoke_agent chat_manager"),
        ("invoke_agent beta", "invoke_agent chat_manager"),
        ("invoke_agent chat_manager", "conversation beta"),
    ]


def test_an_auto_pattern_group_chat_is_one_tree_with_its_speaker_selection(traced):
    from autogen.agentchat import initiate_group_chat
    from autogen.agentchat.group.patterns import AutoPattern
    from classic_scenario import llm_config

    from agentrace.autogen import instrument_pattern

    run, agents = _traced_agents(traced, alpha=["alpha works"], beta=["beta works TERMINATE"])
    selector = scripted("SelectorPathsClient", "beta")
    pattern = AutoPattern(initial_agent=agents["alpha"], agents=[agents["alpha"], agents["beta"]],
                          user_agent=agents["user"], group_manager_args={"llm_config": llm_config(selector)})
    prepare = pattern.prepare_group_chat

    def with_scripted_selection(*args, **kwargs):
        # The pattern builds its GroupChat itself; give its LLM speaker selection the script.
        from autogen import GroupChat

        prepared = prepare(*args, **kwargs)
        groupchat, manager = prepared[7], prepared[8]
        manager.register_model_client(selector)
        copies = [entry["config"] for entry in manager._reply_func_list if isinstance(entry.get("config"), GroupChat)]
        for chat in [groupchat, *copies]:
            chat.select_speaker_auto_model_client_cls = selector
            chat.select_speaker_auto_llm_config = llm_config(selector)
        return prepared

    pattern.prepare_group_chat = with_scripted_selection
    instrument_pattern(pattern, tracer=run.tracer)
    try:
        result, _, last = initiate_group_chat(pattern=pattern, messages="do the work", max_rounds=3)
    finally:
        uninstrument_llm_wrapper()
    assert last.name == "beta" and "beta works" in result.chat_history[-1]["content"]
    pairs, traces = _tree(run.spans())
    assert traces == 1
    assert pairs == [
        ("chat gpt-4o-mini", "invoke_agent alpha"),
        ("chat gpt-4o-mini", "invoke_agent beta"),
        ("chat gpt-4o-mini", "invoke_agent speaker_selection_agent"),
        ("conversation checking_agent", "speaker_selection"),
        ("conversation user", None),
        ("invoke_agent alpha", "invoke_agent chat_manager"),
        ("invoke_agent beta", "invoke_agent chat_manager"),
        ("invoke_agent chat_manager", "conversation user"),
        ("invoke_agent checking_agent", "conversation checking_agent"),
        ("invoke_agent speaker_selection_agent", "conversation checking_agent"),
        ("speaker_selection", "invoke_agent chat_manager"),
    ]


def test_an_async_group_chat_traces_its_llm_speaker_selection(traced):
    """``a_auto_select_speaker`` drives the selector agents through their asynchronous methods
    (``a_initiate_chat``, ``a_generate_reply``, the model call in an executor thread). The
    synchronous selection instruments only the synchronous ones; this one needs the others."""
    from classic_scenario import llm_config, terminate

    run, agents = _traced_agents(traced, alpha=["alpha works"], beta=["beta works TERMINATE"])
    selector = scripted("AsyncSelectorPathsClient", "beta")
    groupchat = GroupChat(agents=[agents["alpha"], agents["beta"]], messages=[], max_round=3,
                          speaker_selection_method="auto", select_speaker_auto_model_client_cls=selector,
                          select_speaker_auto_llm_config=llm_config(selector))
    manager = GroupChatManager(groupchat, llm_config=llm_config(selector), is_termination_msg=terminate)
    manager.register_model_client(selector)
    instrument_agent(manager, tracer=run.tracer)
    for chat in [groupchat, *[entry["config"] for entry in manager._reply_func_list
                              if isinstance(entry.get("config"), GroupChat)]]:
        instrument_groupchat(chat, tracer=run.tracer)
    try:
        result = asyncio.run(agents["alpha"].a_initiate_chat(manager, message="do the work", max_turns=1,
                                                             silent=True))
    finally:
        uninstrument_llm_wrapper()
    assert result.chat_history[0]["content"] == "do the work"
    assert [m.get("name") for m in groupchat.messages] == ["alpha", "beta"]
    pairs, traces = _tree(run.spans())
    assert traces == 1
    assert pairs == [
        ("chat gpt-4o-mini", "invoke_agent beta"),
        ("chat gpt-4o-mini", "invoke_agent speaker_selection_agent"),
        ("conversation alpha", None),
        ("conversation checking_agent", "speaker_selection"),
        ("invoke_agent beta", "invoke_agent chat_manager"),
        ("invoke_agent chat_manager", "conversation alpha"),
        ("invoke_agent checking_agent", "conversation checking_agent"),
        ("invoke_agent speaker_selection_agent", "conversation checking_agent"),
        ("speaker_selection", "invoke_agent chat_manager"),
    ]
