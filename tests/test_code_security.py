"""Hostile programs against the sandbox. Each must be contained: the host unchanged, the verifier
alive, nothing left running, and the verdict a failure with the right status."""

import json
import os
from pathlib import Path

import pytest

from rfactory.verifiers.code.sandbox import Sandbox

LEFT_RUNNING = "import os, json\nprint(json.dumps([p for p in os.listdir('/proc') if p.isdigit()]))"


@pytest.fixture(scope="module")
def sandbox():
    with Sandbox() as sb:
        yield sb


def contained(sandbox) -> None:
    assert sandbox.run("print('alive')").stdout == "alive\n"
    assert len(json.loads(sandbox.run(LEFT_RUNNING).stdout)) == 3  # init, the server, this probe


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
