"""Time this checkout's code and another's in alternating child processes, so both see the same load on
the machine: what `--against DIR` does in `bench/live_step.py` and `bench/live_update.py`."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def alternate(script: str, arguments: list[str], against: str, rounds: int) -> dict[str, list]:
    """`rounds` answers of `script --json *arguments` run with this checkout's code and with `against`'s
    (on PYTHONPATH), one after the other in each round; each answer is the JSON the child printed."""
    here = os.path.dirname(os.path.dirname(os.path.abspath(script)))
    answers: dict[str, list] = {here: [], against: []}
    for _ in range(rounds):
        for tree in answers:
            child = [sys.executable, script, "--json", *arguments]
            env = {**os.environ, "PYTHONPATH": tree}
            answers[tree].append(json.loads(subprocess.run(child, env=env, check=True, capture_output=True).stdout))
    return answers
