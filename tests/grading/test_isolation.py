"""isolation.remove_tree: whatever a learner leaves is removed, without recursion or links."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from eduproject.runner import isolation
from eduproject.runner.isolation import remove_tree


def _deep(top: Path, levels: int, name: str = "d") -> int:
    """A chain of ``levels`` folders under ``top``; the open fd of the deepest one."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir(name, dir_fd=fd)
        below = os.open(name, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = below
    return fd


def test_a_tree_deeper_than_path_max_with_links_out_is_removed_and_nothing_outside(
    tmp_path: Path,
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("mine")
    tree = tmp_path / "work"
    tree.mkdir()
    fd = _deep(tree, 30, "d" * 200)  # 6,000 characters of path: past PATH_MAX
    os.symlink(str(outside), "link-to-dir", dir_fd=fd)
    os.symlink(str(outside / "keep.txt"), "link-to-file", dir_fd=fd)
    os.mkfifo("pipe", dir_fd=fd)
    os.close(fd)
    (tree / "file").write_text("x")
    assert remove_tree(tree) is True
    assert not tree.exists()
    assert (outside / "keep.txt").read_text() == "mine"


def test_keep_empties_the_folder_and_keeps_it(tmp_path: Path) -> None:
    # On tmpfs (as the sandbox's /tmp): rmdir on this host's disk costs 4 ms a level.
    with tempfile.TemporaryDirectory(dir="/dev/shm") as shm:
        top = Path(shm)
        (top / "a" / "b").mkdir(parents=True)
        (top / "a" / "b" / "c.txt").write_text("x")
        (top / "top.txt").write_text("x")
        os.close(_deep(top, 3000))  # deeper than Python's recursion limit
        assert remove_tree(top, keep=True) is True
        assert top.is_dir() and list(top.iterdir()) == []


def test_missing_paths_files_and_links_at_the_top(tmp_path: Path) -> None:
    assert remove_tree(tmp_path / "nothing") is True
    target = tmp_path / "target"
    target.mkdir()
    (target / "x").write_text("x")
    link = tmp_path / "link"
    link.symlink_to(target)
    assert remove_tree(link) is True  # the link goes, never what it points to
    assert not link.exists() and (target / "x").exists()


def test_emptying_tmp_spares_a_python_bound_under_it(tmp_path: Path) -> None:
    """A checkout under /tmp: the sandbox binds its virtual environment read-only on top of
    the private /tmp, and the wipe after each learner must leave that mount (a fresh clone's
    `make demo` in /tmp once failed with "the grading sandbox stopped (Broken pipe)").
    Here a real read-only bind mount in a private mount namespace stands for it."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        pytest.fail("this test needs unshare(1) and root, as CI runs it")
    tmp = tmp_path / "tmp"
    venv = tmp / "checkout" / ".venv"
    venv.mkdir(parents=True)
    source = tmp_path / "python"
    source.mkdir()
    (source / "python3").write_text("#!/bin/sh\n")
    (tmp / "checkout" / "left-by-learner").write_text("x")
    (tmp / "learner").mkdir()
    (tmp / "learner" / "notes.txt").write_text("x")
    script = (
        "import sys, json; sys.path.insert(0, sys.argv[1]); import isolation; "
        "spare = isolation.mount_points_under([sys.argv[2]]); "
        "print(json.dumps([sorted(spare), isolation.empty_folder(sys.argv[2], spare)]))"
    )
    code = (
        f"mount --bind {source} {venv} && mount -o remount,bind,ro {venv} && "
        f"{sys.executable} -c '{script}' {Path(isolation.__file__).parent} {tmp}"
    )
    done = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [[str(venv)], True]
    # Outside the namespace the mount is gone: what stood beside it was removed, and the
    # folder leading to it is kept (empty), as is the bound Python itself.
    assert sorted(p.name for p in tmp.rglob("*")) == [".venv", "checkout"]
    assert (source / "python3").exists()


def test_mount_points_are_read_with_their_escapes(tmp_path: Path) -> None:
    info = tmp_path / "mountinfo"
    info.write_text(
        "22 1 0:21 / / rw - tmpfs tmpfs rw\n"
        "30 22 0:23 / /tmp rw - tmpfs tmpfs rw\n"
        "31 30 8:1 /x /tmp/my\\040course/.venv ro - ext4 /dev/vda rw\n"
        "32 22 8:1 /y /work ro - ext4 /dev/vda rw\n"
    )
    assert isolation.mount_points_under(["/tmp"], str(info)) == {"/tmp/my course/.venv"}
    assert isolation.mount_points_under(["/dev/shm"], str(info)) == frozenset()
