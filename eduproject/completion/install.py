"""Register the inline completer with Jupyter in an editable install: ``python -m eduproject.completion.install``.

A wheel install puts the prebuilt JupyterLab extension under
``<prefix>/share/jupyter/labextensions/eduproject-completer`` and the file that enables the
server extension under ``<prefix>/etc/jupyter/jupyter_server_config.d`` (pyproject.toml's
data files). An editable install (``pip install -e .``, what ``make`` does) installs no data
files, so this does the same: a symlink to the package's ``completion/labextension`` and the
config file. It changes nothing that is already right, and ``make`` runs it after installing.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

NAME = "eduproject-completer"
SOURCE = Path(__file__).resolve().parent / "labextension"
CONFIG = {"ServerApp": {"jpserver_extensions": {"eduproject": True}}}


def install(prefix: Path) -> list[str]:
    """Install into the environment at ``prefix``; returns what was done (empty: nothing)."""
    done = []
    target = prefix / "share" / "jupyter" / "labextensions" / NAME
    if target.is_symlink() and target.resolve() != SOURCE:
        target.unlink()  # a link to another checkout
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(SOURCE, target_is_directory=True)
        done.append(f"linked {target} -> {SOURCE}")
    config = prefix / "etc" / "jupyter" / "jupyter_server_config.d" / "eduproject.json"
    text = json.dumps(CONFIG, indent=2) + "\n"
    if not config.exists() or config.read_text(encoding="utf-8") != text:
        # Ours by name: an older install's switch is replaced by the current one.
        config.parent.mkdir(parents=True, exist_ok=True)
        config.write_text(text, encoding="utf-8")
        done.append(f"wrote {config}")
    return done


if __name__ == "__main__":
    for line in install(Path(sys.prefix)):
        print(f"eduproject: {line}")
