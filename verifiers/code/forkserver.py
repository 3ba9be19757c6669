"""The fork server: runs inside the sandbox, one forked child per test.

This file is executed as a script (`python -I -S forkserver.py`) inside the isolated process, so
it imports only the standard library: the sandbox's filesystem view holds the Python install and
nothing of the host's projects. Python starts once; every test forks from this warm process,
which is what makes a test cost a fork (~1 ms) instead of an interpreter start (~15 ms).

Protocol on stdin/stdout: one JSON object per line each way. A request is {"code", "mode"
("stdio", "call" or "assert"), "stdin", "fn_name", "args", "test_code", "entry_point", "marker",
"timeout_s", "memory_mb", "output_bytes"}; the reply says how the child ended and what it wrote
(capped). Judging happens in the trusted parent, never here.
"""

import ctypes
import errno
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
# Only inside its own PID namespace may the server kill(-1): outside one, that is every process
# of the user (the opt-in run without isolation).
OWN_PID_NAMESPACE = "--pidns" in sys.argv


# -- seccomp and Landlock, by hand: only the standard library exists in here ------------------
# Syscalls no program under test needs and a sandbox escape would: mounts, namespaces, tracing,
# kernel keyrings and modules, BPF, perf, io_uring, userfaultfd, reading other processes' memory.
# System V shm/msg/sem objects would outlive the test in the server's IPC namespace.
# (arch, denied syscalls, clone, clone3)
_DENIED = {
    "x86_64": (0xC000003E, [101, 165, 166, 272, 308, 321, 298, 250, 248, 249, 246, 320, 175, 313, 176, 169, 167,
                            168, 155, 161, 163, 164, 227, 323, 310, 311, 425, 426, 427, 135, 103, 179, 304, 303,
                            29, 68, 64], 56, 435),
    "aarch64": (0xC00000B7, [117, 40, 39, 97, 268, 280, 241, 219, 217, 218, 104, 294, 105, 273, 106, 142, 224, 225,
                             41, 51, 89, 170, 112, 282, 270, 271, 425, 426, 427, 92, 116, 194, 186, 190], 220, 435),
}
# clone() may make threads and processes, never new namespaces (a userns would hand back capabilities)
_CLONE_NEW = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x00000080


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
    audit_arch, denied, clone, clone3 = arch
    ld, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    # labels resolved below: ("goto", label) in jt/jf
    code = [(ld, 0, 0, 4), (jeq, 1, 0, audit_arch), (ret, 0, 0, 0x80000000), (ld, 0, 0, 0),
            (jge, "deny", 0, 0x40000000),  # x32 syscall numbers
            (jeq, "nosys", 0, clone3),  # ENOSYS: the C library falls back to clone(), which is checked
            (jeq, "clone", 0, clone)]
    code += [(jeq, "deny", 0, nr) for nr in denied]
    labels = {"allow": len(code)}
    code += [(ret, 0, 0, 0x7FFF0000)]
    labels["clone"] = len(code)
    code += [(ld, 0, 0, 16), (jset, "deny", 0, _CLONE_NEW), (ret, 0, 0, 0x7FFF0000)]  # args[0], low word
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


def _landlock(workdir: str) -> bool:
    """Reads and execution anywhere this view shows; writes only in the test's own directory."""
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

    for path, allowed in (("/", read), ("/dev", read | (1 << 1)), (workdir, handled)):
        pfd = os.open(path, os.O_PATH | os.O_CLOEXEC)
        libc.syscall(445, fd, 1, ctypes.byref(PathBeneath(allowed, pfd)), 0)
        os.close(pfd)
    ok = libc.syscall(446, fd, 0) == 0
    os.close(fd)
    return ok


def _landlock_abi() -> int:
    abi = _LIBC.syscall(444, None, 0, 1)  # LANDLOCK_CREATE_RULESET_VERSION
    return max(abi, 0)


def _drop_privileges() -> None:
    if DROP_TO is not None:
        os.setgroups([])
        os.setgid(DROP_TO)
        os.setuid(DROP_TO)


_compile, _exec = compile, exec  # bound at start: a program replacing builtins.compile changes nothing here
_PRISTINE_BUILTINS = dict(__builtins__ if isinstance(__builtins__, dict) else vars(__builtins__))
_PLAIN_TYPES = (int, float, str, bool, type(None), bytes, complex)


def _plain(value, depth: int = 0):
    """A result as built-in values only, so a test's `==` never calls the program's own `__eq__`."""
    if depth > 100:
        raise TypeError("the result is nested too deeply")
    if type(value) in _PLAIN_TYPES:
        return value
    if type(value) in (list, tuple, set, frozenset):
        return type(value)(_plain(v, depth + 1) for v in value)
    if type(value) is dict:
        return {_plain(k, depth + 1): _plain(v, depth + 1) for k, v in value.items()}
    raise TypeError(f"the result is not a plain built-in value: {type(value).__name__}")


def _harness(request: dict) -> None:
    """Run the program the way its tests need; a call's result and a finished check are
    reported on a line that starts with the run's secret marker, after everything else.

    The program shares this process, so the checks here stop accidents and the common tricks
    (sys.exit before the tests, an always-true __eq__, a patched builtin), not a program set on
    reading the marker out of the interpreter's memory."""
    marker, mode = request.pop("marker"), request["mode"]
    if mode == "assert":  # compiled before the program can patch anything
        tests = _compile(request.pop("test_code"), "tests.py", "exec")
    namespace = {"__name__": "__main__" if mode == "stdio" else "solution", "__builtins__": __builtins__}
    _exec(_compile(request.pop("code"), "solution.py", "exec"), namespace)
    if mode == "call":
        fn = namespace.get(request["fn_name"])
        if fn is None and isinstance(namespace.get("Solution"), type):  # LeetCode style
            fn = getattr(namespace["Solution"](), request["fn_name"], None)
        if not callable(fn):
            raise NameError(f"the program defines no function {request['fn_name']!r}")
        line = _dumps(_plain(fn(*request["args"])))
        sys.stdout.flush()
        os.write(1, ("\n" + marker + line + "\n").encode())
    elif mode == "assert":
        # the tests see the program's names (HumanEval's use its helpers), pristine builtins, and
        # the entry point returning plain values only, under either name they call it by
        fn = namespace[request["entry_point"]]

        def candidate(*args, **kwargs):
            return _plain(fn(*args, **kwargs))

        scope = {**namespace, "__builtins__": dict(_PRISTINE_BUILTINS), request["entry_point"]: candidate}
        _exec(tests, scope)
        scope["check"](candidate)
        sys.stdout.flush()
        os.write(1, ("\n" + marker + "\n").encode())


_dumps = json.JSONEncoder(allow_nan=False).encode


def _child(request: dict, stdin_fd: int, out_w: int, err_w: int, workdir: str) -> None:
    try:
        os.setsid()  # its own process group: the parent kills the whole group at the deadline
        os.dup2(stdin_fd, 0)
        os.dup2(out_w, 1)
        os.dup2(err_w, 2)
        os.closerange(3, 1 << 16)
        _drop_privileges()
        os.mkdir(workdir, 0o700)
        os.chdir(workdir)
        _landlock(workdir)
        if not _seccomp() and request.get("require_seccomp"):
            os._exit(126)
        memory = request["memory_mb"] << 20
        for which, value in (
            (resource.RLIMIT_AS, memory),
            (resource.RLIMIT_CPU, int(request["timeout_s"]) + 1),
            (resource.RLIMIT_FSIZE, request["output_bytes"]),
            (resource.RLIMIT_NOFILE, 64),
            (resource.RLIMIT_NPROC, 64),
            (resource.RLIMIT_CORE, 0),
        ):
            resource.setrlimit(which, (value, value))
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


def _run(request: dict, serial: int) -> dict:
    workdir = os.path.join(SCRATCH, f"run-{serial}")
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:
        os.close(stdin_w)
        os.close(out_r)
        os.close(err_r)
        _child(request, stdin_r, out_w, err_w, workdir)
    for fd in (stdin_r, out_w, err_w):
        os.close(fd)
    data = request["stdin"].encode()
    cap = request["output_bytes"]
    out, err = bytearray(), bytearray()
    overflow = False
    deadline = started + request["timeout_s"]
    timed_out = False
    open_fds = {out_r: out, err_r: err}
    writing = stdin_w
    view = memoryview(data)
    if not data:
        os.close(stdin_w)
        writing = None
    while open_fds:
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
            chunk = os.read(fd, 65536)
            if not chunk:
                os.close(fd)
                del open_fds[fd]
                continue
            buf = open_fds[fd]
            buf += chunk
            if len(buf) > cap:
                overflow = True
                del buf[cap:]
        if overflow:
            break
    try:
        os.killpg(pid, signal.SIGKILL)  # the whole group: daemons and forks die with it
    except ProcessLookupError:
        pass
    if writing is not None:
        os.close(writing)
    for fd in open_fds:
        os.close(fd)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.monotonic() - started
    _kill_strays()
    _as_child(_remove_tree, workdir)  # the files are the unprivileged uid's: remove them as it
    tainted = os.path.exists(workdir)  # not removable (too deep, too many): the client starts afresh
    return {
        "exit_code": os.waitstatus_to_exitcode(status) if not timed_out and not overflow else None,
        "signal": os.WTERMSIG(status) if os.WIFSIGNALED(status) else None,
        "timed_out": timed_out,
        "output_overflow": overflow,
        "stdout": out.decode("utf-8", "replace"),
        "stderr": err[-4096:].decode("utf-8", "replace"),
        "seconds": round(elapsed, 6),
        "max_rss_kb": usage.ru_maxrss,
        "tainted": tainted,
    }


def _kill_strays() -> None:
    """A daemon that left the test's process group, or a fork bomb still forking, lives on in
    our PID namespace. kill(-1) signals every process there but init and us in one pass that new
    forks cannot race; repeat until /proc shows only the two of us (init reaps the orphans)."""
    if not OWN_PID_NAMESPACE:
        return
    for _ in range(200):
        others = [p for p in os.listdir("/proc") if p.isdigit() and int(p) not in (1, os.getpid())]
        if not others:
            return
        try:
            os.kill(-1, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        while True:
            try:
                if os.waitpid(-1, os.WNOHANG) == (0, 0):
                    break
            except ChildProcessError:
                break
        time.sleep(0.001)


def _as_child(fn, *args, timeout_s: float = 5.0) -> None:
    pid = os.fork()
    if pid == 0:
        try:
            _drop_privileges()
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
    _LANDLOCK_ABI = _landlock_abi()
    out = sys.stdout
    hello = {"ready": True, "seccomp": _probe_seccomp(), "landlock_abi": _LANDLOCK_ABI}
    print(json.dumps(hello), file=out, flush=True)
    for serial, line in enumerate(sys.stdin):
        reply = _run(json.loads(line), serial)
        print(json.dumps(reply), file=out, flush=True)


if __name__ == "__main__":
    main()
