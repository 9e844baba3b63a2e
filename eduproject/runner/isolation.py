"""What keeps one learner's leftovers from the next learner and from the batch.

Shipped into the sandbox with ``zygote.py`` (standard library only, nothing from eduproject),
and used by the grader on the host too.

* :func:`remove_tree` removes whatever a learner left in a folder -- a 100,000-deep tree,
  symbolic links, pipes -- without recursion (``shutil.rmtree`` recurses up to Python 3.12 and
  raises ``RecursionError`` on a 1,500-deep tree), with one folder open at a time, never
  following a link, and never raising.

    >>> remove_tree("/tmp/eduproject-grade-x/work/j1")     # doctest: +SKIP
    True

* :func:`deny_shared_kernel_state` closes the kernel's channels that outlive a process and are
  shared by every process of a uid or an IPC namespace -- SysV shared memory, message queues
  and semaphores, POSIX message queues, the kernel keyrings -- with a seccomp filter: their
  system calls fail with ``EPERM``. Otherwise learner A could leave data (and a gigabyte of
  memory no rlimit counts) there for learner B, the next child of the same zygote. (Docker's
  default profile denies the keyring calls for the same reason: keyrings are not namespaced.)
"""

from __future__ import annotations

import ctypes
import errno
import os
import stat
import struct

__all__ = ["deny_shared_kernel_state", "empty_folder", "mount_points_under", "remove_tree"]

_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def mount_points_under(
    folders: list[str], mountinfo: str = "/proc/self/mountinfo"
) -> frozenset[str]:
    """The mount points strictly inside ``folders`` (read from ``mountinfo``).

    In the sandbox, a Python installed under ``/tmp`` (a virtual environment in a checkout
    there) is bound read-only on top of the private ``/tmp``: emptying ``/tmp`` must leave it.
    """
    tops = [folder.rstrip("/") + "/" for folder in folders]
    found: set[str] = set()
    try:
        with open(mountinfo, encoding="utf-8", errors="surrogateescape") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return frozenset()
    for line in lines:
        fields = line.split(" ")
        if len(fields) < 5:
            continue
        point = _unescape_mount(fields[4])
        if any(point.startswith(top) for top in tops):
            found.add(point.rstrip("/"))
    return frozenset(found)


def _unescape_mount(text: str) -> str:
    """mountinfo writes space, tab, newline and backslash in a path as octal escapes."""
    for code in ("040", "011", "012", "134"):
        text = text.replace("\\" + code, chr(int(code, 8)))
    return text


def empty_folder(folder: str, spare: frozenset[str] = frozenset()) -> bool:
    """Remove everything in ``folder`` but the mount points in ``spare`` (and the folders
    that lead to them); True when nothing else is left. Never raises, never follows a link."""
    inner = [point for point in spare if point.startswith(folder.rstrip("/") + "/")]
    if not inner:
        return remove_tree(folder, keep=True)
    clean = True
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return False
    for entry in entries:
        path = entry.path
        if path in spare:
            continue
        leads_to_spare = any(point.startswith(path + "/") for point in inner)
        try:
            is_dir = entry.is_dir(follow_symlinks=False)
        except OSError:
            is_dir = False
        if leads_to_spare and is_dir:
            clean = empty_folder(path, spare) and clean
        else:
            clean = remove_tree(path) and clean
    return clean


def remove_tree(path: str | os.PathLike[str], *, keep: bool = False) -> bool:
    """Remove ``path`` and everything under it (``keep``: empty it, keep the folder itself).

    Returns True when nothing is left; never raises. What cannot be removed (a busy mount
    point, a folder the caller may not write) is left and skipped, so the walk always ends.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return True
    except OSError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        return keep or _unlink(os.fspath(path), None)
    try:
        fd = os.open(path, _DIR)
    except OSError:
        return False
    clean = True
    # Where ``fd`` is: the names walked down from ``path``, with the identity of the folder
    # each name was found in (checked on the way back up, so a tree that changed under us
    # is abandoned instead of followed somewhere else).
    trail: list[tuple[str, tuple[int, int]]] = []
    stuck: set[tuple[int, int]] = set()  # folders that could not be emptied: never re-entered
    try:
        while True:
            below, emptied = _clear_files(fd, stuck)
            clean = clean and emptied
            if below is not None:
                here = _identity(os.fstat(fd))
                try:
                    child = os.open(below, _DIR, dir_fd=fd)
                except OSError:
                    stuck.add(_identity(os.stat(below, dir_fd=fd, follow_symlinks=False)))
                    clean = False
                    continue
                os.close(fd)
                fd = child
                trail.append((below, here))
                continue
            if not trail:
                break
            name, parent_id = trail.pop()
            here = _identity(os.fstat(fd))
            parent = os.open("..", _DIR, dir_fd=fd)
            os.close(fd)
            fd = parent
            if _identity(os.fstat(fd)) != parent_id:
                return False
            try:
                os.rmdir(name, dir_fd=fd)
            except FileNotFoundError:
                pass
            except OSError:
                stuck.add(here)
                clean = False
    except OSError:
        return False
    finally:
        os.close(fd)
    if keep:
        return clean
    try:
        os.rmdir(path)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return clean


def _identity(info: os.stat_result) -> tuple[int, int]:
    return info.st_dev, info.st_ino


def _clear_files(fd: int, stuck: set[tuple[int, int]]) -> tuple[str | None, bool]:
    """Unlink every non-folder in ``fd``; the name of a subfolder still to empty, if any."""
    clean = True
    with os.scandir(fd) as entries:
        for entry in entries:
            try:
                if not entry.is_dir(follow_symlinks=False):
                    clean = _unlink(entry.name, fd) and clean
                elif _identity(entry.stat(follow_symlinks=False)) not in stuck:
                    return entry.name, clean
            except OSError:
                clean = False
    return None, clean


def _unlink(name: str, dir_fd: int | None) -> bool:
    try:
        os.unlink(name, dir_fd=dir_fd)
    except FileNotFoundError:
        pass
    except OSError:
        return False
    return True


# -- seccomp ---------------------------------------------------------------------------------

# System call numbers: (x86_64, the generic table of aarch64 and riscv64).
_SHARED_STATE_CALLS = {
    "shmget": (29, 194),
    "shmat": (30, 196),
    "shmctl": (31, 195),
    "semget": (64, 190),
    "semop": (65, 193),
    "semctl": (66, 191),
    "semtimedop": (220, 192),
    "msgget": (68, 186),
    "msgsnd": (69, 189),
    "msgrcv": (70, 188),
    "msgctl": (71, 187),
    "mq_open": (240, 180),
    "mq_unlink": (241, 181),
    "mq_timedsend": (242, 182),
    "mq_timedreceive": (243, 183),
    "mq_notify": (244, 184),
    "mq_getsetattr": (245, 185),
    "add_key": (248, 217),
    "request_key": (249, 218),
    "keyctl": (250, 219),
}
_ARCHES = {"x86_64": (0xC000003E, 0), "aarch64": (0xC00000B7, 1), "riscv64": (0xC00000F3, 1)}
_X32_BIT = 0x40000000  # x86_64's x32 ABI: the same calls under other numbers
# Classic BPF over struct seccomp_data {int nr; u32 arch; ...}.
_LOAD_WORD, _JUMP_IF_EQUAL, _JUMP_IF_AT_LEAST, _RETURN = 0x20, 0x15, 0x35, 0x06
_ALLOW, _DENY = 0x7FFF0000, 0x00050000 | errno.EPERM
_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER = 22, 2


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _seccomp_filter(machine: str) -> bytes | None:
    """The BPF program denying the calls of ``_SHARED_STATE_CALLS`` (None: unknown machine)."""
    if machine not in _ARCHES:
        return None
    arch, table = _ARCHES[machine]
    numbers = sorted({calls[table] for calls in _SHARED_STATE_CALLS.values()})
    body = [(_LOAD_WORD, 0, 0, 4), (_JUMP_IF_EQUAL, 1, 0, arch), (_RETURN, 0, 0, _DENY)]
    body.append((_LOAD_WORD, 0, 0, 0))
    checks = [(_JUMP_IF_AT_LEAST, _X32_BIT)] if machine == "x86_64" else []
    checks += [(_JUMP_IF_EQUAL, n) for n in numbers]
    for i, (op, value) in enumerate(checks):
        body.append((op, len(checks) - i, 0, value))  # to the _DENY after the _ALLOW
    body += [(_RETURN, 0, 0, _ALLOW), (_RETURN, 0, 0, _DENY)]
    return b"".join(struct.pack("=HBBI", *op) for op in body)


def deny_shared_kernel_state() -> bool:
    """Make SysV IPC, POSIX message queue and keyring calls fail with EPERM in this process
    and every process it starts (needs ``no_new_privs``). False on an unknown machine."""
    program = _seccomp_filter(os.uname().machine)
    if program is None:
        return False
    buffer = ctypes.create_string_buffer(program, len(program))
    fprog = _Program(len(program) // 8, ctypes.addressof(buffer))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "cannot install the seccomp filter")
    return True
