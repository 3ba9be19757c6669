"""The code sandbox: a fork server inside bubblewrap, one forked child per test.

These are the first containment checks; the full hostile-program suite comes with the rest of
issue 4."""

import json

import pytest

from rfactory.verifiers.code.sandbox import Sandbox, detect_isolation


@pytest.fixture(scope="module")
def sandbox():
    assert detect_isolation().level == "bubblewrap", detect_isolation().detail
    with Sandbox() as sb:
        yield sb


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
    alive = sandbox.run("import os, json\nprint(json.dumps([p for p in os.listdir('/proc') if p.isdigit()]))")
    pids = json.loads(alive.stdout)  # the server, the namespace's init and this test: nothing else
    assert len(pids) == 3, pids


def test_many_tests_in_a_row_through_one_server(sandbox):
    results = [sandbox.run("print(int(input()) * 2)", "21\n") for _ in range(20)]
    assert all(r.stdout == "42\n" for r in results)


def test_programs_run_unprivileged_and_cannot_touch_the_server(sandbox):
    import os

    r = sandbox.run("import os\nprint(os.getuid(), os.geteuid())")
    uid = r.stdout.split()
    if os.geteuid() == 0:
        assert uid == ["65534", "65534"]  # a root host: every program runs as nobody
    for attack in ("import os\nos.setuid(0)", "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)",
                   "import os, signal\nos.kill(1, signal.SIGKILL)", "import os, signal\nos.kill(-1, signal.SIGKILL)"):
        r = sandbox.run(attack)
        assert r.exit_code != 0 or "Error" in r.stderr or r.stdout == "", (attack, r)
        assert sandbox.run("print('server alive')").stdout == "server alive\n", attack


def test_isolation_is_detected_and_reported():
    iso = detect_isolation()
    assert iso.level == "bubblewrap" and "namespaces" in iso.detail


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
