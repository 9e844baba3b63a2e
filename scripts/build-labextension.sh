#!/usr/bin/env bash
# Rebuild the prebuilt JupyterLab extension of the inline completer from labextension/src into
# eduproject/completion/labextension/ (committed: installs and fresh clones need no build).
# Needs node/npm (npm registry) and the .venv (jupyter-builder, from jupyterlab >= 4.6).
# Run it after changing labextension/src, then commit the changed files.
set -euo pipefail
here="$(cd "$(dirname "$0")/.." && pwd)"
cd "$here/labextension"
command -v npm >/dev/null || { echo "build-labextension: install node and npm first" >&2; exit 1; }
npm ci --no-audit --no-fund
rm -rf "$here/eduproject/completion/labextension/static" lib tsconfig.tsbuildinfo
PATH="$here/.venv/bin:$PATH" npm run build
echo "built: $(ls "$here/eduproject/completion/labextension/static")"
