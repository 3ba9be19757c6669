"""The sandbox without bubblewrap: the same view, built from kernel namespaces by hand.

Used when bubblewrap is missing or will not start (a distribution that forbids its setuid mode, a
container that refuses its options) but the kernel still lets us unshare. Run as a script with
only the standard library: `python -I -S namespaces.py PREFIX SERVER -- ARGV...`.

What it builds, as `sandbox._bwrap_argv` asks of bubblewrap: new mount, PID, network, IPC and
UTS namespaces (and a user namespace when not root, mapping only the caller's own uid); a root
holding read-only /usr, /lib, /lib64 and /bin, the Python install at /opt/python, the fork
server at /sandbox/forkserver.py, a fresh /proc, a /dev with only the harmless devices, and a
256 MiB /tmp; then ARGV runs as PID 1 with a clean environment. As root the capability bounding
set keeps only KILL, SETUID and SETGID, so the server can drop each child to `nobody` and
nothing more. If this process dies the namespace dies with it.

Written by hand because no library does it with only the standard library (the script runs
before any of the project's packages could be imported into the sandbox).
"""

import ctypes
import os
import platform
import select
import signal
import sys

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 1024, 2048, 1 << 21
MNT_DETACH = 2
PIVOT_ROOT = {"x86_64": 155, "aarch64": 41}
KEEP_CAPS = (5, 6, 7)  # CAP_KILL, CAP_SETGID, CAP_SETUID
SCRATCH = "size=268435456,mode=1777"  # 256 MiB, as bubblewrap's --size for /tmp

_LIBC = ctypes.CDLL(None, use_errno=True)


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = (lambda s: s.encode() if s is not None else None)
    _check(_LIBC.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _locked_flags(path: str) -> int:
    """The flags a remount inside a user namespace must keep (the kernel locks them)."""
    f = os.statvfs(path).f_flag
    pairs = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
             (os.ST_NOATIME, MS_NOATIME), (os.ST_NODIRATIME, MS_NODIRATIME), (os.ST_RELATIME, MS_RELATIME))
    return sum(ms for st, ms in pairs if f & st)


def _ro_bind(source: str, target: str) -> None:
    """`source` is best a /proc/self/fd/N path, opened before the new root hid anything."""
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        open(target, "w").close()
    _mount(source, target, None, MS_BIND | MS_REC)
    _mount(None, target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | _locked_flags(target))


def _build_root(root: str, prefix: str, server: str) -> None:
    binds = {path: path for path in ("/usr", "/lib", "/lib64", "/bin") if os.path.isdir(path) and not os.path.islink(path)}
    binds.update({"/opt/python": prefix, "/sandbox/forkserver.py": server})
    # held open across the mount below, which may hide the sources (a checkout under /tmp)
    held = {target: os.open(source, os.O_PATH | os.O_CLOEXEC) for target, source in binds.items()}
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755")
    for path in ("/usr", "/lib", "/lib64", "/bin"):
        if os.path.islink(path):  # a merged-/usr system: /lib -> usr/lib
            os.symlink(os.readlink(path), root + path)
    for target, fd in held.items():
        _ro_bind(f"/proc/self/fd/{fd}", root + target)
        os.close(fd)
    os.mkdir(root + "/proc")
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    os.mkdir(root + "/dev")
    _mount("tmpfs", root + "/dev", "tmpfs", MS_NOSUID, "mode=0755")
    for device in ("null", "zero", "full", "random", "urandom"):
        open(f"{root}/dev/{device}", "w").close()
        _mount(f"/dev/{device}", f"{root}/dev/{device}", None, MS_BIND)
    os.mkdir(root + "/tmp")
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, SCRATCH)


def _enter(root: str) -> None:
    """Make `root` the root: pivot_root(".", ".") stacks the old root on top, to be detached."""
    os.chdir(root)
    _check(_LIBC.syscall(PIVOT_ROOT[platform.machine()], b".", b"."), "pivot_root")
    _check(_LIBC.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")
    _mount(None, "/", None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _bound_capabilities() -> None:
    last = int(open("/proc/sys/kernel/cap_last_cap").read())
    for cap in range(last + 1):
        if cap not in KEEP_CAPS:
            _check(_LIBC.prctl(24, cap, 0, 0, 0), f"drop capability {cap}")  # PR_CAPBSET_DROP


def _inside(alive: int, prefix: str, server: str, argv: list[str]) -> None:
    _check(_LIBC.prctl(1, signal.SIGKILL, 0, 0, 0), "set the parent-death signal")  # PR_SET_PDEATHSIG
    if select.select([alive], [], [], 0)[0]:  # end of file: the parent died before the signal was set
        os._exit(1)
    os.close(alive)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)
    _build_root("/tmp", prefix, server)  # /tmp as the mount point only: the host's stays untouched
    _enter("/tmp")
    if os.geteuid() == 0:
        _bound_capabilities()
    os.chdir("/tmp")
    os.execve(argv[0], argv, {"PATH": "/usr/bin:/bin", "HOME": "/tmp"})


def main() -> None:
    prefix, server, sep, *argv = sys.argv[1:]
    if sep != "--" or not argv:
        sys.exit("usage: namespaces.py PREFIX SERVER -- ARGV...")
    # dies with the verifier that started it (the namespace, and all in it, dies with us)
    _check(_LIBC.prctl(1, signal.SIGKILL, 0, 0, 0), "set the parent-death signal")
    if os.getppid() == 1:
        sys.exit("namespaces: the caller is gone")
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS
    try:
        _check(_LIBC.unshare(flags | (CLONE_NEWUSER if uid != 0 else 0)), "unshare")
        if uid != 0:
            for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
                with open(f"/proc/self/{name}", "w") as f:
                    f.write(text)
    except OSError as e:
        sys.exit(f"namespaces: {e}")
    alive, hold = os.pipe()  # our end stays open while we live (getppid() is 0 across a PID namespace)
    pid = os.fork()
    if pid == 0:
        os.close(hold)
        try:
            _inside(alive, prefix, server, argv)
        except BaseException as e:  # say why on stderr; the caller reads its last line
            print(f"namespaces: {e}", file=sys.stderr, flush=True)
        os._exit(1)
    null = os.open("/dev/null", os.O_RDWR)
    os.dup2(null, 0)  # only the server holds the client's pipes: its exit is their end of file
    os.dup2(null, 1)
    _, status = os.waitpid(pid, 0)
    sys.exit(os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 1)


if __name__ == "__main__":
    main()
