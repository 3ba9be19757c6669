"""The fork server: runs inside the sandbox, one forked child per test.

This file is executed as a script (`python -I -S forkserver.py`) inside the isolated process, so
it imports only the standard library: the sandbox's filesystem view holds the Python install and
nothing of the host's projects. Python starts once; every test forks from this warm process,
which is what makes a test cost a fork (~1 ms) instead of an interpreter start (~15 ms).

Protocol: a request on stdin is a line of byte counts "<request> <code> <stdin> <tests>", the
request's JSON {"mode" ("stdio", "call" or "assert"), "fn_name", "args", "entry_point",
"marker", "timeout_s", "memory_mb", "output_bytes", "tasks"}, the program, its stdin, then the
tests of an assert-mode problem, which a separate checker process reads and runs. Each reply on
stdout is a JSON line saying how the child ended and the sizes of what follows it raw: the
program's stdout (capped), the tail of its stderr, and the checker's report. Judging happens in the
trusted parent, never here.
"""

import ctypes
import errno
import builtins
import fcntl
import json
import os
import platform
import resource
import select
import signal
import sys
import time

SCRATCH = "/tmp"
# On a root host the server keeps only CAP_SETUID/CAP_SETGID/CAP_KILL, and every child becomes this
# unprivileged uid before the program runs; under a user namespace the uid is already unprivileged.
DROP_TO = int(sys.argv[sys.argv.index("--uid") + 1]) if "--uid" in sys.argv else None
# The checker that runs a problem's own tests is another uid still, so a program can neither
# signal it nor read its memory.
CHECKER_UID = DROP_TO - 1 if DROP_TO is not None else None
# Only inside its own PID namespace may the server kill(-1): outside one, that is every process
# of the user (the opt-in run without isolation).
OWN_PID_NAMESPACE = "--pidns" in sys.argv


# -- seccomp and Landlock, by hand: only the standard library exists in here ------------------
# Syscalls no program under test needs and a sandbox escape would: mounts, namespaces, tracing,
# kernel keyrings and modules, BPF, perf, io_uring, userfaultfd, reading other processes' memory.
# System V shm/msg/sem objects would outlive the test in the server's IPC namespace.
# (arch, denied syscalls, clone, clone3, (socket, socketpair))
_DENIED = {
    "x86_64": (0xC000003E, [101, 165, 166, 272, 308, 321, 298, 250, 248, 249, 246, 320, 175, 313, 176, 169, 167,
                            168, 155, 161, 163, 164, 227, 323, 310, 311, 425, 426, 427, 135, 103, 179, 304, 303,
                            29, 68, 64], 56, 435, (41, 53)),
    "aarch64": (0xC00000B7, [117, 40, 39, 97, 268, 280, 241, 219, 217, 218, 104, 294, 105, 273, 106, 142, 224, 225,
                             41, 51, 89, 170, 112, 282, 270, 271, 425, 426, 427, 92, 116, 194, 186, 190], 220, 435,
                (198, 199)),
}
# clone() may make threads and processes, never new namespaces (a userns would hand back capabilities)
_CLONE_NEW = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080
# Sockets only of the families a program may need: unix, IPv4/IPv6 (into an empty network
# namespace), netlink (the C library's address lookups). Others (vsock, which no network
# namespace isolates; Bluetooth, AF_ALG, ...) fail with EAFNOSUPPORT.
_SOCKET_FAMILIES = (1, 2, 10, 16)


_LIBC = ctypes.CDLL(None, use_errno=True)


class _Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_Filter))]


def _seccomp_program() -> _Program | None:
    """Built once in the server; every child installs the same filter."""
    arch = _DENIED.get(platform.machine())
    if arch is None:
        return None
    audit_arch, denied, clone, clone3, sockets = arch
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    # labels resolved below: ("goto", label) in jt/jf
    code = [(ld, 0, 0, 4), (jeq, 1, 0, audit_arch), (ret, 0, 0, 0x80000000), (ld, 0, 0, 0),
            (jge, "deny", 0, 0x40000000),  # x32 syscall numbers
            (jeq, "nosys", 0, clone3),  # ENOSYS: the C library falls back to clone(), which is checked
            (jeq, "clone", 0, clone)]
    code += [(jeq, "socket", 0, nr) for nr in sockets]
    code += [(jeq, "deny", 0, nr) for nr in denied]
    code += [(ret, 0, 0, 0x7FFF0000)]  # allowed: none of the above
    labels = {"clone": len(code)}
    code += [(ld, 0, 0, 16), (jset, "deny", 0, _CLONE_NEW), (ret, 0, 0, 0x7FFF0000)]  # args[0], low word
    labels["socket"] = len(code)
    code += [(ld, 0, 0, 16)] + [(jeq, "family", 0, family) for family in _SOCKET_FAMILIES]
    code += [(ret, 0, 0, 0x00050000 | errno.EAFNOSUPPORT)]
    labels["family"] = len(code)
    code += [(ret, 0, 0, 0x7FFF0000)]
    labels["deny"] = len(code)
    code += [(ret, 0, 0, 0x00050000 | errno.EPERM)]
    labels["nosys"] = len(code)
    code += [(ret, 0, 0, 0x00050000 | errno.ENOSYS)]
    program = []
    for i, (op, jt, jf, k) in enumerate(code):
        jt = labels[jt] - i - 1 if isinstance(jt, str) else jt
        jf = labels[jf] - i - 1 if isinstance(jf, str) else jf
        program.append((op, jt, jf, k))
    filters = (_Filter * len(program))(*[_Filter(*f) for f in program])
    return _Program(len(program), ctypes.cast(filters, ctypes.POINTER(_Filter)))


_SECCOMP = _seccomp_program()


def _seccomp() -> bool:
    if _SECCOMP is None or _LIBC.prctl(38, 1, 0, 0, 0) != 0:  # PR_SET_NO_NEW_PRIVS
        return False
    return _LIBC.prctl(22, 2, ctypes.byref(_SECCOMP)) == 0  # PR_SET_SECCOMP, SECCOMP_MODE_FILTER


_LANDLOCK_ABI = 0


def _landlock(workdir: str | None) -> bool:
    """Reads and execution anywhere this view shows; writes only in the test's own directory
    (none at all without one)."""
    if _LANDLOCK_ABI < 1:
        return False
    libc = _LIBC
    read, write_all = (1 << 0) | (1 << 2) | (1 << 3), (1 << 13) - 1  # execute, read file, read dir; all v1 rights
    handled = write_all | ((1 << 14) if _LANDLOCK_ABI >= 3 else 0)  # truncate, from ABI 3
    ruleset = ctypes.c_uint64(handled)
    fd = libc.syscall(444, ctypes.byref(ruleset), 8, 0)
    if fd < 0:
        return False

    class PathBeneath(ctypes.Structure):
        _pack_ = 1
        _fields_ = [("allowed", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]

    rules = [("/", read), ("/dev", read | (1 << 1))] + ([(workdir, handled)] if workdir else [])
    for path, allowed in rules:
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        libc.syscall(445, fd, 1, ctypes.byref(PathBeneath(allowed, pfd)), 0)
        os.close(pfd)
    libc.prctl(38, 1, 0, 0, 0)  # PR_SET_NO_NEW_PRIVS, which Landlock needs of an unprivileged process
    ok = libc.syscall(446, fd, 0) == 0
    os.close(fd)
    return ok


def _landlock_abi() -> int:
    abi = _LIBC.syscall(444, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    return max(abi, 0)


def _drop_privileges(uid: int | None) -> None:
    if uid is not None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)


_PLAIN_TYPES = (int, str, bool, type(None))


def _tag(value):
    """A built-in value as JSON that keeps its type (tuple, set, dict keys, bytes, non-finite
    floats); anything else, a subclass included, is refused, so the judging side never runs the
    program's own `__eq__`."""
    kind = type(value)
    if kind in _PLAIN_TYPES:
        return value
    if kind is float:
        return value if value - value == 0 else {"float": repr(value)}
    if kind is list:
        return [_tag(v) for v in value]
    if kind in (tuple, set, frozenset):
        return {kind.__name__: [_tag(v) for v in value]}
    if kind is dict:
        return {"dict": [[_tag(k), _tag(v)] for k, v in value.items()]}
    if kind is bytes:
        return {"bytes": value.hex()}
    if kind is complex:
        return {"complex": [_tag(value.real), _tag(value.imag)]}
    raise TypeError(f"not a plain built-in value: {kind.__name__}")


_UNTAG = {"float": float, "tuple": tuple, "set": set, "frozenset": frozenset, "bytes": bytes.fromhex,
          "dict": lambda items: {k: v for k, v in items}, "complex": lambda parts: complex(*parts)}


def _untag(value):
    if type(value) is list:
        return [_untag(v) for v in value]
    if type(value) is dict:
        ((kind, inner),) = value.items()
        return _UNTAG[kind](_untag(inner) if kind != "float" and kind != "bytes" else inner)
    return value


def _plain(value):
    return _untag(_tag(value))


_dumps = json.JSONEncoder(allow_nan=True).encode


_LEETCODE_PRELUDE = ("from typing import *\nfrom collections import *\nfrom itertools import *\nfrom functools import *\n"
                     "from heapq import *\nfrom bisect import *\nimport math, string, re\n")


def _harness(request: dict) -> None:
    """Run the program the way its tests need.

    call: the result of the named function, as plain values, on a line that starts with the run's
    secret marker, after everything else the program printed.
    assert: serve calls of the entry point on fds 3 (arguments in) and 4 (results out) to the
    checker, a separate process that holds the tests; their text never enters this process."""
    mode = request["mode"]
    namespace = {"__name__": "__main__" if mode == "stdio" else "solution", "__builtins__": __builtins__}
    if mode == "call":  # LeetCode's judge (and LiveCodeBench's) has these names in scope: `List[int]` needs no import
        exec(_LEETCODE_PRELUDE, namespace)
    exec(compile(request.pop("code"), "solution.py", "exec"), namespace)
    if mode == "stdio":
        return
    name = request["fn_name"] if mode == "call" else request["entry_point"]
    fn = namespace.get(name)
    if fn is None and isinstance(namespace.get("Solution"), type):  # LeetCode style
        fn = getattr(namespace["Solution"](), name, None)
    if not callable(fn):
        raise NameError(f"the program defines no function {name!r}")
    if mode == "call":
        line = _dumps(_plain(fn(*request["args"])))
        sys.stdout.flush()
        os.write(1, ("\n" + request["marker"] + line + "\n").encode())
        return
    calls, results = open(3, "rb"), open(4, "wb", buffering=0)
    for line in calls:
        args, kwargs = _untag(json.loads(line))
        try:
            reply = ["ok", _tag(fn(*args, **kwargs))]
        except MemoryError:  # the limit, not a result: the child ends as memory_limit
            raise
        except Exception as e:  # the checker re-raises it, so a test expecting an error still works
            import traceback

            traceback.print_exc()
            reply = ["error", type(e).__name__, str(e)[:300]]
        sys.stdout.flush()
        results.write((_dumps(reply) + "\n").encode())


class _ProgramFailed(Exception):
    """The program broke the call channel: it ended, or answered out of turn."""


class _Unsendable(Exception):
    """The tests pass an argument that is not a plain built-in value."""


def _check(payload: dict, entry_point: str, calls, results) -> dict:
    """The tests of an assert-mode problem, run against the program over the call channel.

    The scope holds the problem's own setup (HumanEval's prompt, which defines helpers such as
    `poly` its tests use) and a `candidate` that forwards each call; no code of the program runs here."""
    raised = []

    def candidate(*args, **kwargs):
        try:
            data = (_dumps(_tag([list(args), kwargs])) + "\n").encode()
        except TypeError as e:
            raise _Unsendable(f"an argument of the tests cannot be sent: {e}") from None
        try:
            calls.write(data)
        except OSError:
            raise _ProgramFailed("the program ended before the tests finished") from None
        line = results.readline()
        if not line:
            raise _ProgramFailed("the program ended before the tests finished")
        try:
            reply = json.loads(line)
            if reply[0] == "ok":
                return _untag(reply[1])
            kind = getattr(builtins, reply[1], None)
            error = (kind if isinstance(kind, type) and issubclass(kind, Exception) else RuntimeError)(reply[2])
        except Exception:
            raise _ProgramFailed("the program answered out of turn") from None
        raised.append(error)
        raise error

    scope = {"__name__": "tests", "__builtins__": builtins}
    try:
        tests = compile(payload["test"], "tests.py", "exec")
        if payload.get("setup"):
            exec(compile(payload["setup"], "setup.py", "exec"), scope)
        scope[entry_point] = candidate
        exec(tests, scope)
    except Exception as e:
        return {"passed": False, "failure": "tests", "error": f"{type(e).__name__}: {e}"[:300]}
    try:
        scope["check"](candidate)
    except BaseException as e:
        if any(e is r for r in raised) or isinstance(e, (_ProgramFailed, MemoryError, RecursionError)):
            failure = "program"
        elif isinstance(e, AssertionError):
            failure = "assertion"
        elif isinstance(e, (NameError, _Unsendable)):  # e.g. a helper the problem's setup should define
            failure = "tests"
        else:  # the tests tripped over what the program returned
            failure = "program"
        return {"passed": False, "failure": failure, "error": f"{type(e).__name__}: {e}"[:300]}
    return {"passed": True}


def _limit(request: dict) -> None:
    memory = request["memory_mb"] << 20
    for which, value in (
        (resource.RLIMIT_AS, memory),
        (resource.RLIMIT_CPU, int(request["timeout_s"]) + 1),
        (resource.RLIMIT_FSIZE, request["output_bytes"]),
        (resource.RLIMIT_NOFILE, 64),
        (resource.RLIMIT_NPROC, request["tasks"]),
        (resource.RLIMIT_CORE, 0),
    ):
        resource.setrlimit(which, (value, value))


def _place(fds: dict[int, int]) -> None:
    """Put each fd at its target number (via numbers above any target, so none overwrites
    another) and close everything else."""
    high = {target: fcntl.fcntl(fd, fcntl.F_DUPFD, 100) for target, fd in fds.items()}
    for target, fd in high.items():
        os.dup2(fd, target)
    os.closerange(max(fds) + 1, 1 << 16)


def _child(request: dict, fds: dict[int, int], workdir: str) -> None:
    try:
        os.setsid()  # its own process group: the parent kills the whole group at the deadline
        _place(fds)
        try:  # the first the kernel kills when the sandbox's cgroup runs out of memory, never the server
            with open("/proc/self/oom_score_adj", "w") as f:
                f.write("1000")
        except OSError:
            pass
        _drop_privileges(DROP_TO)
        os.mkdir(workdir, 0o700)
        os.chdir(workdir)
        _landlock(workdir)
        if not _seccomp() and request.get("require_seccomp"):
            os._exit(126)
        _limit(request)
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        sys.argv = ["solution.py"]
        _harness(request)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    except SystemExit as e:
        try:
            sys.stdout.flush()
        except Exception:
            pass
        os._exit(e.code if isinstance(e.code, int) else (0 if e.code is None else 1))
    except MemoryError:
        os._exit(137)
    except BaseException as e:  # the program's own error: its traceback is its stderr
        try:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        except Exception:
            pass
        os._exit(1 if not isinstance(e, RecursionError) else 2)


def _checker(request: dict, tests_bytes: int, ready_w: int, calls_w: int, results_r: int, report_w: int) -> None:
    """Read the tests straight from the server's input (so the server, and every program it
    forks later, never holds them), then run them as another unprivileged uid the program cannot
    signal or trace, with the same limits and filters as a program."""
    payload = json.loads(_read_into(bytearray(tests_bytes)))  # on failure, no "ready": the server stops
    os.write(ready_w, b".")
    try:
        os.setsid()
        null = os.open("/dev/null", os.O_RDWR)
        _place({0: null, 1: null, 2: null, 3: calls_w, 4: results_r, 5: report_w})
        report_w = 5
        _drop_privileges(CHECKER_UID)
        _LIBC.prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0: no /proc/<pid>/mem for a same-uid program
        os.chdir("/")
        _landlock(None)
        _seccomp()
        _limit({**request, "output_bytes": 1 << 20})
        report = _check(payload, request["entry_point"], open(3, "wb", buffering=0), open(4, "rb"))
    except BaseException as e:
        report = {"passed": False, "failure": "tests", "error": f"{type(e).__name__}: {e}"[:300]}
    try:
        os.write(report_w, (_dumps(report) + "\n").encode())
    finally:
        os._exit(0)


def _start_checker(request: dict, tests_bytes: int) -> tuple[int, int, dict[int, int]]:
    """Fork the checker; (its pid, the fd its report arrives on, the program's ends of the call
    channel). The checker reads the tests from our input before we read anything more."""
    calls_r, calls_w = os.pipe()
    results_r, results_w = os.pipe()
    report_r, report_w = os.pipe()
    ready_r, ready_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        for fd in (calls_r, results_w, report_r, ready_r):
            os.close(fd)
        _checker(request, tests_bytes, ready_w, calls_w, results_r, report_w)
    for fd in (calls_w, results_r, report_w, ready_w):
        os.close(fd)
    ready = os.read(ready_r, 1)
    os.close(ready_r)
    if ready != b".":  # the input is out of step with the protocol: nothing after it can be trusted
        sys.exit("the checker could not read the tests")
    return pid, report_r, {3: calls_r, 4: results_w}


def _wipe(buf: bytearray) -> None:
    if buf:
        ctypes.memset((ctypes.c_char * len(buf)).from_buffer(buf), 0, len(buf))


class _Buffer:
    """Bytes read in place; when it must grow, the old storage is wiped before it is let go."""

    def __init__(self, size: int = 65536):
        self.data, self.size = bytearray(size), 0

    def room(self, want: int = 65536) -> memoryview:
        if len(self.data) - self.size < want:
            bigger = bytearray(max(2 * len(self.data), self.size + want))
            bigger[: self.size] = memoryview(self.data)[: self.size]
            _wipe(self.data)
            self.data = bigger
        return memoryview(self.data)[self.size : self.size + want]

    def view(self) -> memoryview:
        return memoryview(self.data)[: self.size]


class _Content:
    """A run's code, stdin, stdout, stderr and check report, each read in place into buffers
    that are wiped when the run ends. Every program is forked from this server, so nothing of an
    earlier run (another sample's code, its output) may linger in our memory for the next
    program to find; no copy of the content is ever made here as a str or bytes object, which
    Python would free without clearing."""

    def __init__(self, code: int, stdin: int):
        self.code = _read_into(bytearray(code))
        self.stdin = _read_into(bytearray(stdin))
        self.out, self.err, self.report = _Buffer(), _Buffer(), _Buffer(4096)

    def clear(self) -> None:
        for buf in (self.code, self.stdin, self.out.data, self.err.data, self.report.data):
            _wipe(buf)


def _read_into(buf: bytearray, fd: int = 0) -> bytearray:
    view, got = memoryview(buf), 0
    while got < len(buf):
        n = os.readv(fd, [view[got:]])
        if not n:
            raise EOFError("the client closed the pipe mid-request")
        got += n
    return buf


def _run(request: dict, content: _Content, tests_bytes: int, serial: int) -> tuple[dict, list[memoryview]]:
    """Run one test; the reply's fields, and the raw stdout, stderr and check report to send."""
    workdir = os.path.join(SCRATCH, f"run-{serial}")
    started = time.monotonic()
    checker, report_r, channel = _start_checker(request, tests_bytes) if tests_bytes else (None, None, {})
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        for fd in (stdin_w, out_r, err_r) + ((report_r,) if report_r is not None else ()):
            os.close(fd)
        request["code"] = content.code.decode("utf-8", "replace")
        _child(request, {0: stdin_r, 1: out_w, 2: err_w, **channel}, workdir)
    for fd in (stdin_r, out_w, err_w, *channel.values()):
        os.close(fd)
    cap = request["output_bytes"]
    overflow = False
    deadline = started + request["timeout_s"]
    timed_out = False
    buffers = {out_r: content.out, err_r: content.err, **({report_r: content.report} if report_r is not None else {})}
    open_fds = set(buffers)
    writing = stdin_w
    view = memoryview(content.stdin)
    if not view:
        os.close(stdin_w)
        writing = None
    while open_fds and not overflow:
        left = deadline - time.monotonic()
        if left <= 0:
            timed_out = True
            break
        ready_r, ready_w, _ = select.select(list(open_fds), [writing] if writing is not None else [], [], left)
        for fd in ready_w:
            try:
                n = os.write(fd, view[:65536])
                view = view[n:]
            except OSError:  # the program closed its stdin early: fine
                view = view[:0]
            if not view:
                os.close(fd)
                writing = None
        for fd in ready_r:
            buf = buffers[fd]
            n = os.readv(fd, [buf.room()])
            if not n:
                os.close(fd)
                open_fds.discard(fd)
                continue
            buf.size += n
            if buf.size > cap:  # the checker's report is far smaller than any cap
                overflow = True
                buf.size = cap
    for group in (pid, checker):
        try:
            if group is not None:
                os.killpg(group, signal.SIGKILL)  # the whole group: daemons and forks die with it
        except ProcessLookupError:
            pass
    if writing is not None:
        os.close(writing)
    for fd in open_fds:
        os.close(fd)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.monotonic() - started
    if checker is not None:
        os.waitpid(checker, 0)
    clean = _kill_strays()
    try:  # most tests write nothing: an empty directory goes without a fork (rmdir follows no link)
        os.rmdir(workdir)
    except OSError:  # files in it, or not ours to remove: they are the unprivileged uid's, removed as it
        _as_child(_remove_tree, workdir)
    # files not removable (too deep, too many), or processes not gone: the client starts afresh
    tainted = os.path.exists(workdir) or not clean
    raw = [content.out.view(), content.err.view()[-4096:], content.report.view()]
    return {
        "exit_code": os.waitstatus_to_exitcode(status) if not timed_out and not overflow else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "timed_out": timed_out,
        "output_overflow": overflow,
        "seconds": round(elapsed, 6),
        "max_rss_kb": usage.ru_maxrss,
        "tainted": tainted,
        "checked": checker is not None,
        "sizes": [len(r) for r in raw],
    }, raw


def _strays() -> list[int]:
    """Every process besides us that a test left: in our own PID namespace, all but init and us;
    without one, our descendants (we are their subreaper, so a daemon that left its group is one)."""
    pids = [int(p) for p in os.listdir("/proc") if p.isdigit()]
    if OWN_PID_NAMESPACE:
        return [p for p in pids if p not in (1, os.getpid())]
    children = {}
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                children.setdefault(int(f.read().rsplit(")", 1)[1].split()[1]), []).append(pid)
        except (OSError, IndexError, ValueError):
            continue
    found, todo = [], [os.getpid()]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _kill_strays(within_s: float = 5.0) -> bool:
    """End what a test left: a daemon that left its process group, a fork bomb still forking.
    In our PID namespace kill(-1) signals every process there but init and us in one pass that
    new forks cannot race; repeat, reaping what is reparented to us, until /proc shows none.
    False if some are still there after `within_s`: the client then starts a fresh server, and
    the end of this one's namespace takes them."""
    give_up = time.monotonic() + within_s
    while others := _strays():
        if time.monotonic() > give_up:
            return False
        try:
            if OWN_PID_NAMESPACE:
                os.kill(-1, signal.SIGKILL)
            else:
                for pid in others:
                    os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break
        time.sleep(0.001)
    return True


def _as_child(fn, *args, timeout_s: float = 5.0) -> None:
    pid = os.fork()
    if pid == 0:
        try:
            _drop_privileges(DROP_TO)
            fn(*args)
        finally:
            os._exit(0)
    deadline = time.monotonic() + timeout_s
    while os.waitpid(pid, os.WNOHANG) == (0, 0):
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return
        time.sleep(0.0005)


def _remove_tree(path: str) -> None:
    if not os.path.isdir(path):
        return
    for root, dirs, files in os.walk(path, topdown=False):
        for name in files:
            try:
                os.unlink(os.path.join(root, name))
            except OSError:
                pass
        for name in dirs:
            try:
                os.chmod(os.path.join(root, name), 0o700)
                os.rmdir(os.path.join(root, name))
            except OSError:
                pass
    try:
        os.rmdir(path)
    except OSError:
        pass


def _probe_seccomp() -> bool:
    pid = os.fork()
    if pid == 0:
        os._exit(0 if _seccomp() else 1)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) == 0


def main() -> None:
    global _LANDLOCK_ABI
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    # not dumpable: where programs share our uid (a user namespace), none may open /proc/1/mem
    _LIBC.prctl(4, 0, 0, 0, 0)
    if not OWN_PID_NAMESPACE:  # PR_SET_CHILD_SUBREAPER: an orphaned daemon stays ours to find and kill
        _LIBC.prctl(36, 1, 0, 0, 0)
    _LANDLOCK_ABI = _landlock_abi()
    # the prelude's modules (typing among them, which HumanEval's prompts import too), imported
    # once here: each test's child then finds them loaded instead of importing them again
    exec(_LEETCODE_PRELUDE, {})
    hello = {"ready": True, "seccomp": _probe_seccomp(), "landlock_abi": _LANDLOCK_ABI}
    _write_all(1, (json.dumps(hello) + "\n").encode())
    serial = 0
    while (frame := _read_frame()) is not None:
        request, content, tests_bytes = frame
        try:
            reply, raw = _run(request, content, tests_bytes, serial)
            _write_all(1, (json.dumps(reply) + "\n").encode())
            for part in raw:
                _write_all(1, part)
        finally:
            content.clear()
        serial += 1


def _write_all(fd: int, data) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _read_frame() -> tuple[dict, _Content, int] | None:
    """A request: a line "<request> <code> <stdin> <tests>" of byte counts, the request's JSON,
    the program, its stdin, then the tests, which the checker reads itself. Read unbuffered, so
    no byte of the tests is read here and no byte of the content lands outside its buffer."""
    line = b""
    while not line.endswith(b"\n"):
        byte = os.read(0, 1)
        if not byte:
            return None
        line += byte
    request_bytes, code_bytes, stdin_bytes, tests_bytes = map(int, line.split())
    request = json.loads(_read_into(bytearray(request_bytes)))
    return request, _Content(code_bytes, stdin_bytes), tests_bytes


if __name__ == "__main__":
    main()
