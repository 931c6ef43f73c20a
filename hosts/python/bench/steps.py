"""Counts the Python bytecode instructions agentrace runs per span, on the scripted classic AG2
run of the tests: on the agent's thread, and where the span records are handed over
(``src/handover.rs``; the package's hand-over thread in an application, a flush here); prints
one Markdown table (BENCHMARKS.md, "Python").

Timings on a shared machine move by tens of percent between runs; this count does not. It
follows every frame with ``sys.settrace`` and ``frame.f_trace_opcodes`` and counts, per
function, the instructions of agentrace's own code and of the OpenTelemetry, ``traceback`` and
``linecache`` functions it calls (what agentrace adds; AG2's code is left out, and so is the
native host, whose cost shows only in time). The agents' instrumenting, once per agent, is left
out as in ``run``; the agents AG2 makes during a run are counted. The first two runs warm up.
The hand-over thread is held back during the counted runs; the flush after them hands over
their records, counted apart.

    target/python-bench/venv/bin/python hosts/python/bench/steps.py [--runs N] [--top N]

Run it with the environment ``run`` prepares (the wheel and the pinned AG2).
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "tests"

def counted_places() -> tuple[str, ...]:
    """Whose instructions count, as file path prefixes: agentrace's and those of what it calls
    into, wherever they were imported from."""
    import linecache
    import traceback

    import agentrace

    places = [str(Path(agentrace.__file__).parent) + "/", traceback.__file__, linecache.__file__]
    try:
        import opentelemetry.trace
    except ImportError:
        pass
    else:
        places.append(str(Path(opentelemetry.trace.__file__).parent.parent) + "/")
    return tuple(places)


def count(runs: int) -> tuple[collections.Counter, collections.Counter, int]:
    """Instructions per counted function over ``runs`` scripted runs, on the agent's thread and
    at the hand-over, and the spans per run."""
    sys.path.insert(0, str(TESTS))
    import classic_scenario

    import agentrace._tracer

    places = counted_places()
    on_thread: collections.Counter = collections.Counter()
    at_hand_over: collections.Counter = collections.Counter()
    counts = on_thread
    counted_files: dict[str, bool] = {}

    def counted(filename: str) -> bool:
        known = counted_files.get(filename)
        if known is None:
            known = counted_files[filename] = filename.startswith(places)
        return known

    def per_instruction(frame: Any, event: str, arg: Any) -> Any:
        if event == "opcode":
            code = frame.f_code
            counts[(code.co_filename, code.co_firstlineno, code.co_name)] += 1
        return per_instruction

    def per_call(frame: Any, event: str, arg: Any) -> Any:
        if not counted(frame.f_code.co_filename):
            return None
        frame.f_trace_opcodes = True
        return per_instruction

    with tempfile.TemporaryDirectory() as scratch:
        instrument, finish = classic_scenario.setup_agentrace(Path(scratch) / "spans.jsonl", None)

        def untraced_instrumenting(agents: list[Any], groupchats: list[Any]) -> None:
            sys.settrace(None)
            try:
                instrument(agents, groupchats)
            finally:
                sys.settrace(per_call)

        for _ in range(2):
            classic_scenario.once(instrument, scratch, False)
        spans = len(finish())
        tracer = finish.tracer
        hand_over_after = agentrace._tracer._HAND_OVER_AFTER
        agentrace._tracer._HAND_OVER_AFTER = 3600.0
        try:
            sys.settrace(per_call)
            try:
                for _ in range(runs):
                    classic_scenario.once(untraced_instrumenting, scratch, False)
                counts = at_hand_over
                tracer.flush()
            finally:
                sys.settrace(None)
        finally:
            agentrace._tracer._HAND_OVER_AFTER = hand_over_after
        return on_thread, at_hand_over, spans // 2


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="counted scripted runs")
    parser.add_argument("--top", type=int, default=15, help="functions listed")
    args = parser.parse_args()
    if args.runs < 1 or args.top < 0:
        parser.error("--runs must be at least 1 and --top not negative")
    on_thread, at_hand_over, spans = count(args.runs)
    if spans == 0:
        sys.exit("the scripted run exported no spans")
    per_span = args.runs * spans
    both = on_thread + at_hand_over
    print(f"| function (classic AG2 run, {spans} spans, {args.runs} runs) | instructions per span on the agent's thread | at the hand-over |")
    print("|---|---:|---:|")
    print(f"| **all counted** | **{sum(on_thread.values()) / per_span:.1f}** | **{sum(at_hand_over.values()) / per_span:.1f}** |")
    for where, _ in both.most_common(args.top):
        filename, line, name = where
        place = filename.split("site-packages/")[-1]
        print(f"| `{name}` ({place}:{line}) | {on_thread[where] / per_span:.1f} | {at_hand_over[where] / per_span:.1f} |")


if __name__ == "__main__":
    main()
