"""The sandbox: real bubblewrap, a real zygote, real limits; and the loud rlimits fallback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from eduproject.core.lesson import Lesson
from eduproject.runner.executors import GradeJob, LocalPool
from eduproject.runner.sandbox import (
    Backend,
    ChildExit,
    Limits,
    Zygote,
    rlimits_backend,
    scrubbed_env,
)

from .conftest import TEST_LIMITS
from .grading_support import BASIC_ANSWERS, Listener, run, stdout, submission

needs_bwrap = pytest.mark.skipif("os.geteuid() != 0 or __import__('shutil').which('bwrap') is None")


def test_backend_is_bubblewrap_with_uid_drop_here(backend: Backend) -> None:
    # CI and this machine run as root with bubblewrap: the strong backend must be the one in use.
    assert backend.name == "bwrap", backend.description
    assert backend.warning is None and backend.uid_drop


def test_work_folder_holds_only_the_submission_files(zygote: Zygote) -> None:
    files = {"ada.ipynb": b"{}", "data/numbers.txt": b"1 2 3\n"}
    code = "import os\nfor d, _, fs in os.walk('.'):\n    print(d, sorted(fs))\nprint(open('data/numbers.txt').read())"
    reply, ended = run(zygote, code, files)
    assert reply["status"] == "ok"
    assert stdout(reply) == ". ['ada.ipynb']\n./data ['numbers.txt']\n1 2 3\n\n"
    assert ended == ChildExit(0, None, False)


def test_learner_code_runs_as_an_unprivileged_user_with_a_scrubbed_environment(
    zygote: Zygote, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    code = "import os\nprint(os.getuid(), os.geteuid(), os.getgid(), os.getgroups())\nprint(sorted(os.environ))"
    reply, _ = run(zygote, code)
    ids, names = stdout(reply).splitlines()
    uid = int(ids.split()[0])
    assert uid >= 200_000 and ids == f"{uid} {uid} {uid} []"
    assert "OPENAI_API_KEY" not in names and "sk-secret" not in json.dumps(reply)
    assert set(eval(names)) <= set(scrubbed_env()) | {"HOME", "PWD", "TMPDIR"}


@needs_bwrap
def test_the_zygote_loads_its_modules_from_the_graders_bytecode(zygote: Zygote) -> None:
    """Its modules are bound with their compiled form, so a zygote start compiles nothing
    (harness, wire and isolation: ~15 ms of compiling each time otherwise). Python uses a
    cached file only if its header matches the source's size and modification time."""
    code = (
        "import os, struct, sys\n"
        "for name in ('harness', 'wire', 'isolation'):\n"
        "    m = sys.modules[name]\n"
        "    src = os.stat(m.__file__)\n"
        "    with open(m.__cached__, 'rb') as fh:\n"
        "        flags, mtime, size = struct.unpack('<4xIII', fh.read(16))\n"
        "    print(name, m.__cached__, flags == 0 and (mtime, size) == (int(src.st_mtime), src.st_size))\n"
    )
    reply, _ = run(zygote, code)
    assert stdout(reply).splitlines() == [
        f"{name} /sandbox/code/__pycache__/{name}.{sys.implementation.cache_tag}.pyc True"
        for name in ("harness", "wire", "isolation")
    ], reply


@needs_bwrap
def test_network_is_off(zygote: Zygote) -> None:
    listener = Listener()
    code = (
        "import socket\n"
        "for host in ['127.0.0.1', '1.1.1.1']:\n"
        "    try:\n"
        f"        socket.create_connection((host, {listener.port}), timeout=2)\n"
        "        print('connected', host)\n"
        "    except OSError as exc:\n"
        "        print('refused', host, type(exc).__name__)\n"
    )
    reply, _ = run(zygote, code)
    listener.close()
    assert "connected" not in stdout(reply)
    assert stdout(reply).count("refused") == 2
    assert listener.connections == []


@needs_bwrap
def test_grader_files_are_not_there(zygote: Zygote, tmp_path: Path) -> None:
    secret = tmp_path / "build" / "grader" / "bundle.json"
    secret.parent.mkdir(parents=True)
    secret.write_text("SECRET")
    project = Path(__file__).resolve().parents[2]
    code = (
        "import os, sys\n"
        f"for p in [{str(secret)!r}, {str(project / 'exercises')!r}, {str(project / 'build')!r},"
        " '/root/.ssh', '/etc/shadow', '/home']:\n"
        "    print(os.path.exists(p))\n"
        # Only Python itself is mounted from the host's folders (read-only).
        f"print(sorted(os.listdir({str(project)!r})))\n"
    )
    reply, _ = run(zygote, code)
    lines = stdout(reply).splitlines()
    assert lines[:6] == ["False"] * 6, lines
    venv = Path(__import__("sys").prefix)
    expected = [venv.name] if venv.parent == project else []
    assert lines[6] == repr(expected)
    assert "SECRET" not in json.dumps(reply)


def test_processes_left_behind_are_killed_and_tmp_is_wiped(zygote: Zygote) -> None:
    code = (
        "import subprocess, os\n"
        "p = subprocess.Popen(['sleep', '300'], start_new_session=True)\n"
        "open('/tmp/left-behind', 'w').write('x')\n"
        "print(p.pid)"
    )
    reply, _ = run(zygote, code)
    pid = int(stdout(reply))
    check = (
        "import os\n"
        f"try:\n    os.kill({pid}, 0)\n    print('alive')\nexcept ProcessLookupError:\n    print('gone')\n"
        "print(os.path.exists('/tmp/left-behind'))"
    )
    reply, _ = run(zygote, check)
    assert stdout(reply) == "gone\nFalse\n"


def test_the_parent_cannot_be_killed_and_the_zygote_survives(zygote: Zygote) -> None:
    code = "import os, signal\ntry:\n    os.kill(os.getppid(), signal.SIGKILL)\nexcept OSError as e:\n    print(type(e).__name__)\n"
    reply, _ = run(zygote, code)
    assert stdout(reply) == "PermissionError\n"
    reply, _ = run(zygote, "print('still serving')")
    assert stdout(reply) == "still serving\n"


def test_os_exit_ends_only_the_child(zygote: Zygote) -> None:
    reply, ended = run(zygote, "import os\nos._exit(3)")
    assert reply["status"] == "died"
    assert ended == ChildExit(3, None, False)
    assert "ended itself (exit code 3)" in ended.describe()


def test_memory_limit(zygote: Zygote) -> None:
    reply, _ = run(zygote, "x = bytearray(2 * 1024**3)")
    assert reply["status"] == "error" and reply["error"]["base"] == "MemoryError"


def test_process_limit_stops_a_fork_bomb(zygote: Zygote) -> None:
    code = (
        "import os\nn = 0\n"
        "try:\n"
        "    for _ in range(200):\n"
        "        if os.fork() == 0:\n"
        "            import time; time.sleep(60); os._exit(0)\n"
        "        n += 1\n"
        "except OSError as e:\n"
        "    print('stopped', type(e).__name__, n < 200)\n"
    )
    reply, ended = run(zygote, code)
    assert stdout(reply).startswith("stopped BlockingIOError True")
    assert ended.code == 0


def test_file_size_limit_stops_the_writer(zygote: Zygote) -> None:
    # Python ignores SIGXFSZ, so the write fails with EFBIG instead of killing the process.
    reply, ended = run(zygote, "open('big', 'wb').write(b'x' * (20 * 1024**2))")
    assert reply["status"] == "error"
    assert reply["error"]["message"] == "[Errno 27] File too large"
    assert ended.code == 0


def test_kill_on_request_ends_a_hung_child(zygote: Zygote) -> None:
    child = zygote.spawn({})
    with pytest.raises(Exception, match="timed out"):
        child.ask({"op": "run_cell", "code": "while True: pass"}, 0.5)
    ended = child.end(kill=True)
    assert ended.requested and ended.signal == 9


def test_output_is_capped(backend: Backend) -> None:
    limits = Limits(max_output=1000)
    with Zygote(backend, limits=limits) as z:
        reply, _ = run(z, "for i in range(10000):\n    print('spam' * 10)")
    text = json.dumps(reply["outputs"])
    assert len(text) < 2000
    assert "output truncated" in text


@pytest.fixture
def fallback() -> Iterator[Zygote]:
    with Zygote(rlimits_backend("bubblewrap disabled for this test"), limits=TEST_LIMITS) as z:
        yield z


def test_rlimits_fallback_says_so_loudly(fallback: Zygote) -> None:
    backend = fallback.backend
    assert backend.name == "rlimits"
    assert backend.warning is not None and "network NOT isolated" in backend.warning
    assert "rlimits only" in backend.description
    # The uid drop happens only where another uid can read the Python installation.
    code = "import os, statistics\nprint(os.getuid() != 0, statistics.mean([1, 2]))"
    reply, _ = run(fallback, code)
    assert stdout(reply) == f"{backend.uid_drop} 1.5\n"
    assert ("runs as an unprivileged uid" in backend.description) == backend.uid_drop
    reply, ended = run(fallback, "import os\nos._exit(4)")
    assert ended.code == 4


def test_limits_are_validated() -> None:
    from eduproject.errors import ConfigError

    with pytest.raises(ConfigError, match="cell_timeout must be positive"):
        Limits(cell_timeout=0)


def test_a_crashed_zygote_is_restarted(backend: Backend) -> None:
    with Zygote(backend, limits=TEST_LIMITS) as z:
        assert z._proc is not None
        os.killpg(z._proc.pid, 9)
        z._proc.wait()
        reply, _ = run(z, "print('fresh')")
        assert stdout(reply) == "fresh\n"


@needs_bwrap
def test_a_python_under_tmp_stays_visible_in_the_sandbox(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A checkout (and its .venv) under /tmp, as a CI clone may be: the sandbox's private /tmp
    # must not hide it.
    import subprocess
    import tempfile

    from eduproject.runner import backends

    with (
        tempfile.TemporaryDirectory(dir="/tmp") as prefix,
        tempfile.TemporaryDirectory(dir="/tmp") as root,
    ):
        Path(prefix, "marker.txt").write_text("visible\n")
        os.chmod(prefix, 0o755)
        roots = backends.python_roots()
        monkeypatch.setattr(backends, "python_roots", lambda: sorted([*roots, prefix]))
        folder = backends.prepare_root(Path(root), uid=None)
        argv = backend.wrap(folder, ["/bin/cat", f"{prefix}/marker.txt"])
        done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "visible\n"


def test_the_judge_server_started_with_the_zygote_stays_up(backend: Backend) -> None:
    # bubblewrap's --die-with-parent ends a sandbox when the *thread* that started it ends:
    # a judge server started on a helper thread was killed at once (and started again, a
    # second later, by the first submission).
    files = {"data/numbers.txt": b"1 2 3\n"}
    with Zygote(backend, preload=[], limits=TEST_LIMITS, lesson_files=files) as z:
        server = z.judges(files)
        assert server._proc is not None
        with pytest.raises(subprocess.TimeoutExpired):
            server._proc.wait(timeout=2)
        assert z.judges(files) is server and server.alive


def _sandboxed_servers(marker: str) -> list[int]:
    """Our descendant Python processes whose command line has ``marker`` and whose parent's
    has not (the servers, not the processes they forked; not bubblewrap around them)."""

    def cmdline(pid: int) -> str:
        try:
            argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except OSError:
            return ""
        return "" if argv.split("\0")[0].endswith("bwrap") else argv

    def parent(pid: int) -> int:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return 0
        return int(stat[stat.rfind(")") + 2 :].split()[1])

    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or marker not in cmdline(int(entry)):
            continue
        pid, ancestor, ours = int(entry), int(entry), False
        while ancestor > 1:
            ancestor = parent(ancestor)
            ours = ours or ancestor == os.getpid()
        if ours and marker not in cmdline(parent(pid)):
            found.append(pid)
    return found


def test_the_workers_of_a_pool_share_one_judge_server(basic_lesson: Lesson) -> None:
    """Two workers, two zygotes, one judge server: both workers ask it for judges (one request
    at a time on its control socket), and each judge it forks serves one submission."""
    answers = [BASIC_ANSWERS, {"double": BASIC_ANSWERS["double"]}] * 4
    jobs = [
        GradeJob(f"l{i}", f"l{i}.ipynb", None, submission(basic_lesson, a))
        for i, a in enumerate(answers)
    ]
    # Session fixtures (and other tests' pools still closing) have servers of their own:
    # count only those this pool starts.
    before = set(_sandboxed_servers("zygote.py") + _sandboxed_servers("eduproject.runner.judge"))
    with LocalPool(basic_lesson, {}, Limits(cell_timeout=10, timeout=60), workers=2) as pool:
        results = sorted(pool.map(jobs), key=lambda r: int(getattr(r, "learner", "x")[1:]))
        zygotes = set(_sandboxed_servers("zygote.py")) - before
        judge_servers = set(_sandboxed_servers("eduproject.runner.judge")) - before
    assert [getattr(r, "score", r) for r in results] == [6.0, 3.0] * 4
    assert len(zygotes) == 2 and len(judge_servers) == 1, (zygotes, judge_servers)
    assert not judge_servers & set(_sandboxed_servers("eduproject.runner.judge"))  # pool ended it


def test_a_judge_server_that_cannot_start_fails_every_worker_waiting_for_it_clearly(
    tmp_path: Path,
) -> None:
    """Workers share a judge server: when it dies before it is ready, each worker that waits
    for it gets the same clear error (not a hang, not a closed-socket traceback), and the
    next request launches a new one."""
    import threading
    from dataclasses import dataclass

    from eduproject.errors import SandboxError
    from eduproject.runner.backends import RlimitsBackend
    from eduproject.runner.judges import JudgeServers

    @dataclass(frozen=True)
    class Broken(RlimitsBackend):
        def wrap(self, root: Path, argv: list[str], *args: object, **kw: object) -> list[str]:
            return [sys.executable, "-c", "print('no judge here'); raise SystemExit(3)"]

    servers = JudgeServers(
        Broken(name="broken", description="broken", warning=None, uid_drop=False),
        preload=[],
        uid=None,
    )
    errors: list[str] = []

    def worker() -> None:
        try:
            servers.get({"a.txt": b"x"}, wait=True)
        except SandboxError as exc:
            errors.append(str(exc))

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    try:
        assert len(errors) == 2 and errors[0] == errors[1], errors
        assert "the judge did not start: no judge here" in errors[0]
        with pytest.raises(SandboxError, match="no judge here"):
            servers.get({"a.txt": b"x"}, wait=True)  # a new launch, failing the same way
    finally:
        servers.close()


# -- start-up: the probe's memo, prestarted zygotes, preloads sent after start ---------------


@needs_bwrap
def test_a_working_bubblewrap_is_remembered_and_probed_again_when_it_changes(
    tmp_path: Path,
) -> None:
    """The probe (a sandbox started and ended) runs once; later processes take its memo. A
    different bubblewrap file, or a sandbox that failed to start (forget_probe), means a
    fresh probe. Each step is a new process, as each `eduproject grade` is."""
    bin_dir, log = tmp_path / "bin", tmp_path / "bwrap.log"
    bin_dir.mkdir()
    wrapper = bin_dir / "bwrap"
    wrapper.write_text(f'#!/bin/sh\necho "$1" >> {log}\nexec /usr/bin/bwrap "$@"\n')
    wrapper.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "TMPDIR": str(tmp_path)}

    def detect(forget: bool = False) -> tuple[str, list[str]]:
        before = log.read_text().splitlines() if log.exists() else []
        code = (
            "from eduproject.runner import backends as b\n"
            "backend = b.detect_backend()\n"
            f"if {forget}: b.forget_probe(backend)\n"
            "print(backend.description, backend.executable)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
        after = log.read_text().splitlines() if log.exists() else []
        return done.stdout.strip(), after[len(before) :]

    probed = detect()
    assert probed[0] == f"bwrap+uid (network off, private filesystem) {wrapper}"
    assert probed[1][0] == "--help" and len(probed[1]) == 2  # its options, then a sandbox
    assert detect() == (probed[0], [])  # remembered: bubblewrap not run at all
    wrapper.write_text(wrapper.read_text() + "# another build\n")
    assert detect() == probed  # another file: probed again
    assert detect(forget=True) == (probed[0], [])
    assert detect() == probed  # forgotten after a failed start: probed again


def test_prestarted_zygotes_are_adopted_by_the_workers_and_the_others_ended(
    backend: Backend, basic_lesson: Lesson
) -> None:
    """`grade` starts its zygotes before it has read the lesson; each worker adopts one (and
    sends the lesson's preloads) instead of starting its own, and one nobody adopted ends
    when the pool closes: no process and no folder is left."""
    import tempfile

    from eduproject.runner import sandbox

    before = set(_sandboxed_servers("zygote.py"))
    roots_before = set(Path(tempfile.gettempdir()).glob(f"{sandbox.ROOT_PREFIX}*"))
    sandbox.prestart(backend, 3)
    roots = set(Path(tempfile.gettempdir()).glob(f"{sandbox.ROOT_PREFIX}*")) - roots_before
    answers = [BASIC_ANSWERS, {"double": BASIC_ANSWERS["double"]}] * 3
    jobs = [
        GradeJob(f"l{i}", f"l{i}.ipynb", None, submission(basic_lesson, a))
        for i, a in enumerate(answers)
    ]
    with LocalPool(basic_lesson, {}, Limits(cell_timeout=10, timeout=60), workers=2) as pool:
        results = sorted(pool.map(jobs), key=lambda r: int(getattr(r, "learner", "x")[1:]))
        zygotes = set(_sandboxed_servers("zygote.py")) - before
        assert len(sandbox._PRESTARTED) == 1  # two adopted, one waiting
    assert [getattr(r, "score", r) for r in results] == [6.0, 3.0] * 3
    assert len(zygotes) == 3 and len(roots) == 3, (zygotes, roots)  # no zygote of their own
    assert sandbox._PRESTARTED == []
    assert not zygotes & set(_sandboxed_servers("zygote.py"))
    assert not any(root.exists() for root in roots)


@pytest.mark.parametrize("prestarted", [False, True], ids=["started", "prestarted"])
def test_the_lessons_preloads_reach_the_learner_process_and_failures_are_reported(
    backend: Backend, prestarted: bool
) -> None:
    from eduproject.runner import sandbox

    if prestarted:
        sandbox.prestart(backend, 1)
    with Zygote(backend, preload=["colorsys", "no_such_module_x"], limits=TEST_LIMITS) as z:
        assert sandbox._PRESTARTED == []  # adopted, when there was one
        reply, _ = run(z, "import sys\nprint('colorsys' in sys.modules)")
        assert list(z.preload_failed) == ["no_such_module_x"]
        assert "ModuleNotFoundError" in z.preload_failed["no_such_module_x"]
    assert stdout(reply) == "True\n"


@needs_bwrap
def test_grade_that_stops_before_grading_ends_the_zygotes_it_started_early(
    tmp_path: Path,
) -> None:
    """`grade` starts zygotes before it knows the lesson exists; when it then stops (here: no
    such lesson), they end with the command, also when it is called in-process."""
    from eduproject.cli import main
    from eduproject.runner import backends, sandbox

    # A fresh process probes (and remembers) bubblewrap: the memo grade starts early from.
    subprocess.run(
        [sys.executable, "-c", "from eduproject.runner import backends; backends.detect_backend()"],
        check=True,
    )
    assert backends.remembered_backend() is not None
    (tmp_path / "class" / "ada").mkdir(parents=True)
    before = set(_sandboxed_servers("zygote.py"))
    started: list[int] = []
    prestart = sandbox.prestart

    def counting(backend: Backend, count: int) -> None:
        prestart(backend, count)
        started.append(count)

    args = ["grade", str(tmp_path / "no-such-lesson"), str(tmp_path / "class"), "--db", "g.db"]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(sandbox, "prestart", counting)
        with pytest.raises(SystemExit) as stopped:
            main(args)
    assert stopped.value.code != 0 and started == [1]
    assert sandbox._PRESTARTED == []
    assert set(_sandboxed_servers("zygote.py")) <= before
