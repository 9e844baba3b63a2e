"""``model pull``: the exact Hub request, and clear failures offline."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from eduproject.errors import ConfigError, ModelError
from eduproject.models.pull import KNOWN_MODELS, pull_model


class RecordingDownloader:
    """Stands in for hf_hub_download at the network boundary only."""

    def __init__(self, error: Exception | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.error = error

    def __call__(self, **kwargs: Any) -> str:
        self.calls.append(kwargs)
        if self.error is not None:
            raise self.error
        path = Path(kwargs["local_dir"]) / kwargs["filename"]
        path.write_bytes(b"GGUF")
        return str(path)


def test_pull_requests_the_known_file(tmp_path: Path) -> None:
    download = RecordingDownloader()
    pulled = pull_model(
        "starcoder2-3b", quant="Q4_K_M", dest=tmp_path / "models", download=download
    )
    assert download.calls == [
        {
            "repo_id": "second-state/StarCoder2-3B-GGUF",
            "filename": "starcoder2-3b-Q4_K_M.gguf",
            "local_dir": str(tmp_path / "models"),
        }
    ]
    assert (
        pulled.path == tmp_path / "models" / "starcoder2-3b-Q4_K_M.gguf" and pulled.path.is_file()
    )
    assert pulled.family == "starcoder2"
    snippet = pulled.route_toml()
    assert 'provider = "local"' in snippet and f'model_path = "{pulled.path}"' in snippet


def test_instruct_model_and_other_quant(tmp_path: Path) -> None:
    download = RecordingDownloader()
    pulled = pull_model("starcoder2-15b-instruct", quant="Q8_0", dest=tmp_path, download=download)
    assert download.calls[0]["repo_id"] == "bartowski/starcoder2-15b-instruct-v0.1-GGUF"
    assert download.calls[0]["filename"] == "starcoder2-15b-instruct-v0.1-Q8_0.gguf"
    assert pulled.family == "starcoder2-instruct"
    assert set(KNOWN_MODELS) >= {"starcoder2-3b", "starcoder2-7b", "starcoder2-15b"}


def test_unknown_names(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown model 'starcoder9'"):
        pull_model("starcoder9", dest=tmp_path, download=RecordingDownloader())
    with pytest.raises(ConfigError, match="unknown quantisation 'Q3'"):
        pull_model("starcoder2-3b", quant="Q3", dest=tmp_path, download=RecordingDownloader())


def test_download_failure_is_a_clear_error(tmp_path: Path) -> None:
    download = RecordingDownloader(error=ConnectionError("Name or service not known"))
    with pytest.raises(ModelError, match="network unreachable") as info:
        pull_model("starcoder2-7b", dest=tmp_path, download=download)
    assert "--model-path" in str(info.value)
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_real_hub_client_unreachable_endpoint(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    with pytest.raises(ModelError, match=f"cannot reach 127.0.0.1:{port}"):
        pull_model("starcoder2-3b", dest=tmp_path)


def test_real_hub_client_in_offline_mode(tmp_path: Path) -> None:
    # HF_HUB_OFFLINE is read when huggingface_hub is imported: a fresh process, as a user runs it.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "eduproject.cli",
            "model",
            "pull",
            "starcoder2-3b",
            "--dest",
            str(tmp_path),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "offline, and the file is not in the local cache" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
