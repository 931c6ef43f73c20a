"""A scripted, offline run of classic AG2 (``autogen`` 0.14) that reaches every instrumentation
point: a two-agent chat with a function tool and scripted human input, code execution, a
GroupChat with LLM speaker selection, a sequential ``initiate_chats`` and a failing LLM call.

Every LLM is a scripted model client (``model_client_cls``), so nothing leaves the machine.
Run it under one tracing setup per process, since both tracings patch ``OpenAIWrapper.create``:

    python classic_scenario.py {none,builtin,builtin-otlp,agentrace,agentrace-ag2,interleaved} OUT.json [--runs N] [--no-code]

``builtin-otlp`` is the built-in tracing also exporting through the standard OTLP/HTTP exporter
(``OTEL_EXPORTER_OTLP_ENDPOINT``), as a user points it at a collector or at ``agentrace serve``.

``OUT.json`` gets the spans of the last run in one form for both tracings (name, ids, parent,
kind, status, attributes), the wall time of each run, the part of it spent instrumenting the
run's new agents (a setup cost, once per agent), and the number of spans per run. With
``interleaved``, no tracing, the built-in tracing and agentrace take turns run by run in one
process, and each of those is reported per mode.
"""

from __future__ import annotations

import argparse
import json
import logging
import tempfile
from collections import deque
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from autogen import ConversableAgent, GroupChat, GroupChatManager, UserProxyAgent, register_function
from autogen.coding import LocalCommandLineCodeExecutor
from autogen.io import IOStream
from otlp_json import ExportReader, sdk_recorder
from scenario_runs import Runs, hand_over_seconds

MODEL = "gpt-4o-mini"

# autogen logs each custom model client at INFO.
logging.getLogger("autogen").setLevel(logging.WARNING)


class ScriptedRateLimitError(Exception):
    """What a provider raises on HTTP 429."""


class ScriptedClient:
    """A model client that answers from its class's script: text, a tool call (a dict), or an
    exception to raise. Token counts are derived from the text, so runs are repeatable."""

    script: deque

    def __init__(self, config: dict[str, Any], **kwargs: Any) -> None:
        self.model = config.get("model", MODEL)
        self.calls = 0

    def create(self, params: dict[str, Any]) -> SimpleNamespace:
        reply = self.script.popleft()
        if isinstance(reply, BaseException):
            raise reply
        self.calls += 1
        prompt = sum(len(str(m.get("content") or "")) for m in params.get("messages", []))
        if isinstance(reply, dict):
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [{"id": reply["id"], "type": "function",
                                "function": {"name": reply["name"], "arguments": json.dumps(reply["arguments"])}}],
            }
            finish = "tool_calls"
        else:
            message, finish = reply, "stop"
        usage = SimpleNamespace(prompt_tokens=prompt // 4 + 10, completion_tokens=len(str(reply)) // 4 + 1)
        usage.total_tokens = usage.prompt_tokens + usage.completion_tokens
        return SimpleNamespace(
            id=f"chatcmpl-{type(self).__name__}-{self.calls}",
            model=f"{self.model}-2024-07-18",
            choices=[SimpleNamespace(message=message, finish_reason=finish)],
            usage=usage,
            cost=0.0,
        )

    def message_retrieval(self, response: SimpleNamespace) -> list[Any]:
        return [choice.message for choice in response.choices]

    def cost(self, response: SimpleNamespace) -> float:
        return response.cost

    @staticmethod
    def get_usage(response: SimpleNamespace) -> dict[str, Any]:
        usage = response.usage
        return {"prompt_tokens": usage.prompt_tokens, "completion_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens, "cost": response.cost, "model": response.model}


def scripted(name: str, *replies: Any) -> type[ScriptedClient]:
    """A model client class named ``name`` with its own script."""
    return type(name, (ScriptedClient,), {"script": deque(replies)})


def llm_config(client: type[ScriptedClient]) -> dict[str, Any]:
    return {"config_list": [{"model": MODEL, "model_client_cls": client.__name__}], "cache_seed": None,
            "temperature": 0.2}


def llm_agent(name: str, client: type[ScriptedClient], **kwargs: Any) -> ConversableAgent:
    agent = ConversableAgent(name, llm_config=llm_config(client), human_input_mode="NEVER", **kwargs)
    agent.register_model_client(client)
    return agent


class ScriptedHuman:
    """The IOStream a human would type into: answers from a script, prints nothing."""

    def __init__(self, *answers: str) -> None:
        self.answers = deque(answers)

    def print(self, *objects: Any, sep: str = " ", end: str = "\n", flush: bool = False) -> None:
        pass

    def send(self, message: Any) -> None:
        pass

    def input(self, prompt: str = "", *, password: bool = False) -> str:
        return self.answers.popleft()


def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}, 21 C"


def convert_currency(amount: float, to: str) -> str:
    """Converts euros."""
    return f"{amount * 1.1:.2f} {to}"


def terminate(message: dict[str, Any]) -> bool:
    return "TERMINATE" in str(message.get("content") or "")


def run_once(instrument: Any, work_dir: str, code: bool) -> None:
    """One pass over every instrumentation point, with fresh agents and scripts."""
    # 1. Two agents, a function tool, scripted human input.
    assistant_client = scripted(
        "AssistantClient",
        {"id": "call_1", "name": "get_weather", "arguments": {"city": "Paris"}},
        "It is sunny in Paris. TERMINATE",
    )
    assistant = ConversableAgent("assistant", llm_config=llm_config(assistant_client), human_input_mode="NEVER")
    user_proxy = UserProxyAgent("user_proxy", human_input_mode="ALWAYS", code_execution_config=False)
    # Tools first: registering one rebuilds the agent's client, which drops a registered model client.
    register_function(get_weather, caller=assistant, executor=user_proxy, description="The weather in a city.")
    assistant.register_model_client(assistant_client)
    instrument([assistant, user_proxy], [])
    user_proxy.initiate_chat(assistant, message="What is the weather in Paris?")

    # 2. Code execution.
    if code:
        coder = llm_agent("coder", scripted("CoderClient", "```python\nprint(6 * 7)\n```", "42. TERMINATE"))
        code_runner = UserProxyAgent(
            "code_runner", human_input_mode="NEVER", is_termination_msg=terminate,
            code_execution_config={"executor": LocalCommandLineCodeExecutor(work_dir=work_dir, timeout=60)},
        )
        instrument([coder, code_runner], [])
        code_runner.initiate_chat(coder, message="What is 6 times 7? Run code.", max_turns=2)

    # 3. A GroupChat whose manager picks each speaker with the LLM.
    selector = scripted("SelectorClient", "planner", "researcher", "writer")
    planner = llm_agent("planner", scripted("PlannerClient", "Plan: research, then write."))
    researcher = llm_agent("researcher", scripted("ResearcherClient", "Found three sources."))
    writer = llm_agent("writer", scripted("WriterClient", "Draft written. TERMINATE"))
    groupchat = GroupChat(
        agents=[planner, researcher, writer], messages=[], max_round=4, speaker_selection_method="auto",
        select_speaker_auto_model_client_cls=selector, select_speaker_auto_llm_config=llm_config(selector),
    )
    manager = GroupChatManager(groupchat, llm_config=llm_config(selector), is_termination_msg=terminate)
    manager.register_model_client(selector)
    pm = UserProxyAgent("pm", human_input_mode="NEVER", code_execution_config=False)
    groupchats = [groupchat] + [
        entry["config"] for entry in manager._reply_func_list
        if isinstance(entry.get("config"), GroupChat) and entry["config"] is not groupchat
    ]
    instrument([planner, researcher, writer, manager, pm], groupchats)
    pm.initiate_chat(manager, message="Write a short report on tracing.", max_turns=1)

    # 4. Sequential chats from one agent.
    boss = UserProxyAgent("boss", human_input_mode="NEVER", code_execution_config=False)
    analyst_client = scripted(
        "AnalystClient",
        {"id": "call_2", "name": "convert_currency", "arguments": {"amount": 100, "to": "USD"}},
        "100 EUR is 110.00 USD.",
    )
    analyst = ConversableAgent("analyst", llm_config=llm_config(analyst_client), human_input_mode="NEVER")
    register_function(convert_currency, caller=analyst, executor=boss, description="Converts euros.")
    analyst.register_model_client(analyst_client)
    editor = llm_agent("editor", scripted("EditorClient", "Edited."))
    instrument([boss, analyst, editor], [])
    boss.initiate_chats([
        {"recipient": analyst, "message": "Convert 100 EUR to USD.", "max_turns": 2, "summary_method": "last_msg"},
        {"recipient": editor, "message": "Edit the result.", "max_turns": 1, "summary_method": "last_msg"},
    ])

    # 5. An LLM call that fails.
    flaky = llm_agent("flaky", scripted("FlakyClient", ScriptedRateLimitError("429 Too Many Requests")))
    caller = UserProxyAgent("caller", human_input_mode="NEVER", code_execution_config=False)
    instrument([flaky, caller], [])
    try:
        caller.initiate_chat(flaky, message="Hello?", max_turns=1)
    except ScriptedRateLimitError:
        pass
    else:
        raise AssertionError("the scripted failure did not reach the caller")


# --- Tracing setups --------------------------------------------------------------------------


def setup_builtin(otlp: bool = False) -> tuple[Any, Any]:
    from autogen.opentelemetry import instrument_agent, instrument_llm_wrapper
    from autogen.opentelemetry.instrumentators.pattern import instrument_groupchat

    provider, finish = sdk_recorder(otlp=otlp)
    instrument_llm_wrapper(tracer_provider=provider)

    def instrument(agents: list[Any], groupchats: list[Any]) -> None:
        for agent in agents:
            instrument_agent(agent, tracer_provider=provider)
        for groupchat in groupchats:
            instrument_groupchat(groupchat, tracer_provider=provider)

    return instrument, finish


def setup_agentrace(output: Path, compat: str | None, package: str = "agentrace") -> tuple[Any, Any]:
    """agentrace's tracing of the run, writing to ``output``; ``package`` is the name the
    package is imported under (``bench/compare`` imports two builds under other names)."""
    import importlib

    agentrace = importlib.import_module(package)
    integration = importlib.import_module(f"{package}.autogen")
    tracer = agentrace.Tracer(output=str(output), compat=compat)
    reader = ExportReader(output)
    integration.instrument_llm_wrapper(tracer=tracer)

    def instrument(agents: list[Any], groupchats: list[Any]) -> None:
        for agent in agents:
            integration.instrument_agent(agent, tracer=tracer)
        for groupchat in groupchats:
            integration.instrument_groupchat(groupchat, tracer=tracer)

    def finish() -> list[dict[str, Any]]:
        tracer.flush()
        return reader.new_spans()

    finish.tracer = tracer  # type: ignore[attr-defined] - the benches read its statistics
    return instrument, finish


def no_tracing() -> tuple[Any, Any]:
    def instrument(agents: list[Any], groupchats: list[Any]) -> None:
        pass

    def finish() -> list[dict[str, Any]]:
        return []

    return instrument, finish


def once(instrument: Any, scratch: str, code: bool) -> None:
    """One scripted run. The human's answers: the first lets the tool run, the second ends the
    chat."""
    with IOStream.set_default(ScriptedHuman("", "exit")):
        run_once(instrument, scratch, code=code)


def take_turns(modes: list[tuple[str, Any]], count: int, code: bool, batch: int = 1) -> dict[str, Any]:
    """One run of each mode in turn, ``count`` times, in this process, so that all modes share
    the process's hash seed, memory layout and machine state (between processes, a run's time
    varies by several milliseconds). ``modes``: each mode's name and its setup, called with a
    scratch folder. The tracings replace ``OpenAIWrapper.create``; each run puts in place the
    one of its mode. Agents are new in every run, so their instrumenting is per mode already.
    With ``batch``, each turn of a mode is ``batch`` runs timed together, with no flush between
    them: what the tracings do on other threads (exporting, agentrace's hand-overs) then happens
    during the timed runs, as in an agent that keeps the interpreter busy.
    Returns per mode each turn's seconds, the instrumenting within them, the spans per turn,
    and the seconds spent handing span records over in all turns (agentrace only)."""
    from autogen.oai.client import OpenAIWrapper

    original = OpenAIWrapper.create
    with tempfile.TemporaryDirectory() as scratch:
        setups: dict[str, tuple[Any, Any]] = {}
        creates: dict[str, Any] = {}
        for mode, setup in modes:
            setups[mode] = setup(scratch)
            creates[mode] = OpenAIWrapper.create
            OpenAIWrapper.create = original
        runs = {mode: Runs() for mode in setups}
        spans: dict[str, int] = {}
        order = list(setups)
        for index in range(count):
            for mode in order[index % len(order):] + order[: index % len(order)]:
                instrument, finish = setups[mode]
                OpenAIWrapper.create = creates[mode]
                timed = runs[mode].instrumenting(instrument)
                runs[mode].run(lambda: [once(timed, scratch, code) for _ in range(batch)])
                spans[mode] = len(finish())
        OpenAIWrapper.create = original
        handing_over = {mode: hand_over_seconds(finish) for mode, (_, finish) in setups.items()}
    return {
        "seconds": {mode: r.seconds for mode, r in runs.items()},
        "instrument_seconds": {mode: r.instrument_seconds for mode, r in runs.items()},
        "span_count": spans,
        "hand_over_seconds": handing_over,
    }


def interleaved(count: int, out: Path, code: bool, batch: int = 1) -> None:
    """No tracing, the built-in tracing and agentrace, one turn each in turn (:func:`take_turns`)."""
    out.write_text(json.dumps(take_turns([
        ("none", lambda scratch: no_tracing()),
        ("builtin", lambda scratch: setup_builtin()),
        ("agentrace", lambda scratch: setup_agentrace(Path(scratch) / "spans.jsonl", None)),
    ], count, code, batch)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tracing", choices=["none", "builtin", "builtin-otlp", "agentrace", "agentrace-ag2", "interleaved"])
    parser.add_argument("out", type=Path)
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--no-code", action="store_true", help="leave out code execution (a subprocess)")
    parser.add_argument("--batch", type=int, default=1,
                        help="interleaved: runs per turn, timed together with no flush between them")
    args = parser.parse_args()
    if args.batch < 1:
        parser.error("--batch must be at least 1")
    if args.tracing == "interleaved":
        interleaved(args.runs, args.out, code=not args.no_code, batch=args.batch)
        return

    with tempfile.TemporaryDirectory() as scratch:
        if args.tracing.startswith("builtin"):
            instrument, finish = setup_builtin(otlp=args.tracing == "builtin-otlp")
        elif args.tracing.startswith("agentrace"):
            compat = "ag2" if args.tracing == "agentrace-ag2" else None
            instrument, finish = setup_agentrace(Path(scratch) / "spans.jsonl", compat)
        else:
            instrument, finish = no_tracing()

        runs = Runs()
        timed_instrument = runs.instrumenting(instrument)
        spans: list[dict[str, Any]] = []
        for _ in range(args.runs):
            runs.run(lambda: once(timed_instrument, scratch, not args.no_code))
            spans = finish()
    runs.write(args.out, spans)


if __name__ == "__main__":
    main()
