"""``eduproject model pull``: download a StarCoder2 GGUF for the ``local`` provider.

Known names map to public GGUF repositories on the Hugging Face Hub; the file is fetched
with ``huggingface_hub.hf_hub_download`` (extra ``eduproject[local]``). Offline, the
error says so and what to do instead (copy a .gguf file and pass ``--model-path``)::

    pulled = pull_model("starcoder2-3b", quant="Q4_K_M")
    print(pulled.route_toml())
"""

from __future__ import annotations

import importlib
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eduproject.errors import ConfigError, ModelError
from eduproject.models.settings import data_home

Downloader = Callable[..., Any]

QUANTS = ("Q2_K", "Q3_K_M", "Q4_0", "Q4_K_M", "Q5_K_M", "Q6_K", "Q8_0")


@dataclass(frozen=True)
class GgufSource:
    repo: str
    filename: str  # with {quant}
    family: str
    note: str

    def file(self, quant: str) -> str:
        return self.filename.format(quant=quant)


KNOWN_MODELS: dict[str, GgufSource] = {
    "starcoder2-3b": GgufSource(
        "second-state/StarCoder2-3B-GGUF",
        "starcoder2-3b-{quant}.gguf",
        "starcoder2",
        "base model; Q4_K_M is about 1.85 GB",
    ),
    "starcoder2-7b": GgufSource(
        "second-state/StarCoder2-7B-GGUF",
        "starcoder2-7b-{quant}.gguf",
        "starcoder2",
        "base model; Q4_K_M is about 4.4 GB",
    ),
    "starcoder2-15b": GgufSource(
        "second-state/StarCoder2-15B-GGUF",
        "starcoder2-15b-{quant}.gguf",
        "starcoder2",
        "base model; Q4_K_M is about 9.9 GB",
    ),
    "starcoder2-15b-instruct": GgufSource(
        "bartowski/starcoder2-15b-instruct-v0.1-GGUF",
        "starcoder2-15b-instruct-v0.1-{quant}.gguf",
        "starcoder2-instruct",
        "instruction model; Q4_K_M is about 9.9 GB",
    ),
}


@dataclass(frozen=True)
class PulledModel:
    name: str
    path: Path
    repo: str
    filename: str
    family: str

    def route_toml(self) -> str:
        """A ``[[routes]]`` entry to paste into eduproject.toml."""
        return (
            "[[routes]]\n"
            f'name = "{self.name}-local"\n'
            'provider = "local"\n'
            f'model_path = "{self.path}"\n'
            f'family = "{self.family}"\n'
        )


def default_models_dir() -> Path:
    return data_home("data") / "models"


def _hf_hub_download() -> Downloader:
    try:
        hub = importlib.import_module("huggingface_hub")
    except ImportError:
        raise ConfigError(
            "huggingface_hub is not installed",
            hint="pip install 'eduproject[local]', or download the .gguf file yourself "
            "and use --model-path",
        ) from None
    download: Downloader = hub.hf_hub_download
    return download


def pull_model(
    name: str,
    *,
    quant: str = "Q4_K_M",
    dest: Path | None = None,
    download: Downloader | None = None,
) -> PulledModel:
    """Download the GGUF file of a known model into ``dest`` and return where it is.

    ``download`` defaults to ``huggingface_hub.hf_hub_download`` (called with ``repo_id``,
    ``filename`` and ``local_dir``).
    """
    source = KNOWN_MODELS.get(name)
    if source is None:
        raise ConfigError(
            f"unknown model {name!r}",
            hint=f"known: {', '.join(KNOWN_MODELS)}; or pass any .gguf file with --model-path",
        )
    if quant not in QUANTS:
        raise ConfigError(f"unknown quantisation {quant!r}", hint=f"use one of {', '.join(QUANTS)}")
    folder = (dest or default_models_dir()).expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create {folder}: {exc.strerror}", hint="pick --dest") from None
    if download is None:
        fetch = _hf_hub_download()
        _check_reachable(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    else:
        fetch = download
    filename = source.file(quant)
    try:
        local = fetch(repo_id=source.repo, filename=filename, local_dir=str(folder))
    except KeyboardInterrupt:
        raise
    except Exception as exc:  # the hub client raises many types (offline, 404, network)
        raise ModelError(
            f"cannot download {filename} from {source.repo}: {_why(exc)}",
            hint="check the internet connection (HF_HUB_OFFLINE must be unset), or copy "
            "the .gguf file here yourself and use `eduproject ask --model-path FILE`",
        ) from None
    return PulledModel(name, Path(local), source.repo, filename, source.family)


def _check_reachable(endpoint: str, timeout_s: float = 3.0) -> None:
    """Fail in seconds when the Hub cannot be reached (the hub client retries for ~30 s)."""
    if os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on"):
        return  # offline mode: the hub client answers from its cache or fails at once
    parts = urlsplit(endpoint)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((host, port), timeout=timeout_s).close()
    except OSError as exc:
        raise ModelError(
            f"cannot reach {host}:{port} to download the model ({exc.strerror or exc})",
            hint="connect to the internet, or copy the .gguf file here yourself and use "
            "`eduproject ask --model-path FILE`",
        ) from None


def _why(exc: Exception) -> str:
    kind = type(exc).__name__
    if "Offline" in kind or "LocalEntryNotFound" in kind:
        return "offline, and the file is not in the local cache"
    if "Connect" in kind or "Timeout" in kind or isinstance(exc, OSError):
        return f"network unreachable ({kind})"
    if "NotFound" in kind:
        return f"not found on the Hub ({kind})"
    first_line = str(exc).splitlines()[0] if str(exc) else ""
    return f"{kind}: {first_line[:200]}"
