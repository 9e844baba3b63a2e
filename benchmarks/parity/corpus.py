"""Materialise the real-course parity corpus (``corpus.json`` beside this file) into a folder.

The notebooks are third-party course material: they are never committed to this repository.
This script fetches each one, at the pinned commit, with the files it needs beside it:

    python benchmarks/parity/corpus.py --out /work/corpus                   # git clone from GitHub
    python benchmarks/parity/corpus.py --out /work/corpus --mirror /work/.mirror   # local mirrors

``--mirror DIR`` reads local git mirrors laid out as ``DIR/<owner>+<name>/repo`` (a bare git
directory, or a clone whose ``.git`` is there). Without it, each repository is cloned once
(``git clone --filter=blob:none --no-checkout``) into ``--cache`` and the pinned commit is read
from that clone.

The output folder gets one folder per notebook, ``OUT/<name>/``, holding the notebook at its path
in the repository (``OUT/<name>/<path>``), its sibling files beside it, and the ``repo_files``
it names by a path outside its folder (an otter master's ``config_file: ../../../assign_config.yml``)
at their repository paths; and ``OUT/manifest.json``: the manifest entries that were written, each
with ``dir`` (the notebook's folder inside ``OUT/<name>``), ``notebook`` (its file name) and
``missing`` (files that could not be read, e.g. files a mirror leaves out for their size). A
notebook that cannot be read at all is listed under ``failed`` and left out.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path, PurePosixPath
from typing import Any

HERE = Path(__file__).resolve().parent
MANIFEST = HERE / "corpus.json"
DEFAULT_CACHE = Path.home() / ".cache" / "eduproject-parity" / "repos"


def load_manifest(path: Path = MANIFEST) -> list[dict[str, Any]]:
    """The entries of ``corpus.json`` (one per notebook)."""
    entries: list[dict[str, Any]] = json.loads(path.read_text())["corpus"]
    return entries


class GitSource:
    """Reads files of one repository at a commit, from a mirror or a fresh partial clone."""

    def __init__(self, repo: str, mirror: Path | None, cache: Path) -> None:
        self.repo = repo
        if mirror is not None:
            base = mirror / repo.replace("/", "+") / "repo"
            self.git_dir = base / ".git" if (base / ".git").is_dir() else base
            if not self.git_dir.is_dir():
                raise FileNotFoundError(f"no mirror of {repo} at {base}")
        else:
            self.git_dir = cache / repo.replace("/", "+") / ".git"
            if not self.git_dir.is_dir():
                self.git_dir.parent.parent.mkdir(parents=True, exist_ok=True)
                subprocess.run(
                    [
                        "git", "clone", "--quiet", "--filter=blob:none", "--no-checkout",
                        f"https://github.com/{repo}.git", str(self.git_dir.parent),
                    ],
                    check=True,
                )  # fmt: skip

    def read(self, commit: str, path: str) -> bytes | None:
        done = subprocess.run(
            ["git", "--git-dir", str(self.git_dir), "show", f"{commit}:{path}"],
            capture_output=True,
        )
        return done.stdout if done.returncode == 0 else None


def materialise(
    out: Path, *, mirror: Path | None = None, cache: Path = DEFAULT_CACHE, only: str | None = None
) -> dict[str, Any]:
    """Write the corpus into ``out``; return what ``out/manifest.json`` holds."""
    sources: dict[str, GitSource] = {}
    written: list[dict[str, Any]] = []
    failed: list[dict[str, str]] = []
    for entry in load_manifest():
        if only and only not in entry["name"]:
            continue
        try:
            source = sources.get(entry["repo"]) or GitSource(entry["repo"], mirror, cache)
        except (FileNotFoundError, subprocess.CalledProcessError) as exc:
            failed.append({"name": entry["name"], "reason": str(exc)})
            continue
        sources[entry["repo"]] = source
        notebook = source.read(entry["commit"], entry["path"])
        if notebook is None:
            failed.append({"name": entry["name"], "reason": f"cannot read {entry['path']}"})
            continue
        base = PurePosixPath(entry["path"]).parent
        root = out / entry["name"]
        (root / base).mkdir(parents=True, exist_ok=True)
        (root / entry["path"]).write_bytes(notebook)
        missing = []
        wanted = [str(base / rel) for rel in entry["siblings"]] + entry.get("repo_files", [])
        for path in wanted:
            data = source.read(entry["commit"], path)
            if data is None:
                missing.append(path)
                continue
            (root / path).parent.mkdir(parents=True, exist_ok=True)
            (root / path).write_bytes(data)
        written.append(
            {
                **entry,
                "dir": str(base),
                "notebook": PurePosixPath(entry["path"]).name,
                "missing": missing,
            }
        )
    result = {"corpus": written, "failed": failed}
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").write_text(json.dumps(result, indent=1))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="folder to write the corpus to")
    parser.add_argument("--mirror", type=Path, help="local mirrors: DIR/<owner>+<name>/repo")
    parser.add_argument("--cache", type=Path, default=DEFAULT_CACHE, help="where clones go")
    parser.add_argument("--only", help="only notebooks whose name contains this")
    args = parser.parse_args()
    result = materialise(args.out, mirror=args.mirror, cache=args.cache, only=args.only)
    for entry in result["corpus"]:
        note = f" (missing: {', '.join(entry['missing'])})" if entry["missing"] else ""
        print(f"  {entry['name']:32} {entry['kind']:8} {entry['repo']}{note}")
    for fail in result["failed"]:
        print(f"  FAILED {fail['name']}: {fail['reason']}")
    print(f"{len(result['corpus'])} notebook(s) written to {args.out}")
    if result["failed"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
