"""The bundled model's file, and GGUF files kept as checkpoint directories."""

import logging
import os

import pytest
import torch

from skteam.llm import embedded
from skteam.llm.embedded import (
    checkpoint_cache_dir,
    converted_checkpoint,
    embedded_model_path,
)
from skteam.llm.hf import HFBackend


def test_cache_folder_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.delenv("SKTEAM_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert checkpoint_cache_dir() == tmp_path / "xdg" / "skteam" / "checkpoints"
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert checkpoint_cache_dir() == (
        embedded.Path.home() / ".cache" / "skteam" / "checkpoints")
    monkeypatch.setenv("SKTEAM_CACHE_DIR", str(tmp_path / "own"))
    assert checkpoint_cache_dir() == tmp_path / "own" / "checkpoints"
    monkeypatch.setenv("SKTEAM_CACHE_DIR", "OFF")
    assert checkpoint_cache_dir() is None
    assert converted_checkpoint(embedded_model_path()) is None


def test_an_unwritable_cache_folder_is_logged_and_skipped(monkeypatch, tmp_path,
                                                          caplog):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("SKTEAM_CACHE_DIR", str(blocker))
    with caplog.at_level(logging.WARNING, logger="skteam"):
        assert converted_checkpoint(embedded_model_path()) is None
    assert "Could not keep SmolLM2" in caplog.text
    assert "SKTEAM_CACHE_DIR" in caplog.text
    assert not list(tmp_path.glob(".*.tmp"))


def test_a_failed_write_leaves_nothing_and_loads_the_file(monkeypatch, tmp_path,
                                                          caplog):
    def half_written(out, gguf):  # stands in for safetensors failing mid-write
        out.mkdir(parents=True, exist_ok=True)
        (out / "config.json").write_text("{}")
        raise RuntimeError("No space left on device")

    monkeypatch.setenv("SKTEAM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(embedded, "write_checkpoint_dir", half_written)
    with caplog.at_level(logging.WARNING, logger="skteam"):
        assert converted_checkpoint(embedded_model_path()) is None
    assert "No space left on device" in caplog.text
    assert list((tmp_path / "checkpoints").iterdir()) == []
    assert converted_checkpoint(embedded_model_path(), write=False) is None


def test_a_missing_conversion_is_not_written_when_only_looked_up(monkeypatch, tmp_path):
    monkeypatch.setenv("SKTEAM_CACHE_DIR", str(tmp_path))
    assert converted_checkpoint(embedded_model_path(), write=False) is None
    assert not (tmp_path / "checkpoints").exists()


@pytest.mark.model
@pytest.mark.timeout(300)
def test_the_checkpoint_directory_holds_the_gguf_files_model(monkeypatch, tmp_path):
    """Bundled model: the converted directory is written once, and a backend
    loaded from it has the weights and tokenizer of a load of the GGUF file."""
    gguf = embedded_model_path()
    monkeypatch.setenv("SKTEAM_CACHE_DIR", str(tmp_path))
    out = converted_checkpoint(gguf)
    assert out.parent == tmp_path / "checkpoints" and (out / "config.json").is_file()
    written = os.stat(out / "config.json").st_mtime_ns
    assert converted_checkpoint(gguf) == out == converted_checkpoint(gguf, write=False)
    assert os.stat(out / "config.json").st_mtime_ns == written  # not rewritten
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [out.name]

    cached = HFBackend(gguf, device="cpu", dtype="bfloat16")
    monkeypatch.setenv("SKTEAM_CACHE_DIR", "off")
    direct = HFBackend(gguf, device="cpu", dtype="bfloat16")
    assert cached.source == out and direct.source == gguf
    assert cached.dtype == direct.dtype == "bfloat16"
    a, b = cached.model.state_dict(), direct.model.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    ta, tb = cached.tokenizer, direct.tokenizer
    assert ta.get_vocab() == tb.get_vocab()
    assert ta.special_tokens_map == tb.special_tokens_map
    assert ta.chat_template == tb.chat_template
    text = 'age=34; income 12.5, -3 "yes" café\n<|im_start|>user\n'
    assert ta(text)["input_ids"] == tb(text)["input_ids"]
    assert cached.eos_token_ids == direct.eos_token_ids
