"""isolation.remove_tree: whatever a learner leaves is removed, without recursion or links."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from eduproject.grading.isolation import remove_tree


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
