"""Hugging Face checkpoint directories, a Llama-3-style tokenizer, devices, dtype.

The checkpoints come from ``tests/llm/conftest.py``: the bundled model
written as a directory, and a tiny random-weight Llama with a tokenizer
trained on the fly.
"""

import importlib.util
import warnings

import numpy as np
import pandas as pd
import pytest
from _rows import GRAMMAR, check_row_line, row_prompts  # tests/llm/_rows.py

from skteam import TeamTrimSampler
from skteam.cache import clear_streams
from skteam.llm import get_backend, parse_model_spec
from skteam.llm import hf as hf_module
from skteam.llm.registry import split_hf_options

PLAN = {"roles": [{"name": "Body", "features": ["age", "bmi"]},
                  {"name": "Habits", "features": ["smoker"]}],
        "edges": [["Body", "Habits"]]}


def frame(n=24):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "bmi": np.round(rng.normal(27, 4, n), 1),
        "smoker": rng.choice(["yes", "no"], n).astype(object),
    })
    y = pd.Series(np.where(np.arange(n) < 6, 1, 0), name="sick")
    return X, y


def fit(model, **extra):
    X, y = frame()
    params = dict(model=model, plan=PLAN, qc=("sanity",), verbose=0, random_state=0,
                  batch_size=3, sampling_strategy={1: 9}, max_batches=2,
                  on_shortfall="warn", labeling="target")
    params.update(extra)
    sampler = TeamTrimSampler(**params)
    clear_streams()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        Xr, yr = sampler.fit_resample(X, y)
    return sampler, Xr[sampler.synthetic_mask_], np.asarray(yr)[sampler.synthetic_mask_]


# -- 1. the bundled model as a checkpoint directory -------------------------------
@pytest.mark.model
@pytest.mark.timeout(300)
def test_checkpoint_directory_gives_the_gguf_rows(hf_checkpoint_dir):
    assert (hf_checkpoint_dir / "config.json").is_file()
    assert list(hf_checkpoint_dir.glob("*.safetensors"))
    s_dir, X_dir, y_dir = fit(f"hf::{hf_checkpoint_dir}?dtype=float32", max_batches=1)
    s_gguf, X_gguf, y_gguf = fit("embedded?dtype=float32", max_batches=1)
    assert get_backend(f"hf::{hf_checkpoint_dir}?dtype=float32").dtype == "float32"
    assert len(X_dir) > 0
    assert s_dir.generation_stats_["parse_failures"] == 0
    pd.testing.assert_frame_equal(X_dir.reset_index(drop=True),
                                  X_gguf.reset_index(drop=True))
    assert np.array_equal(y_dir, y_gguf)


# -- 2. a Llama-3-style tokenizer family -----------------------------------------
def _llama3_ids(backend):
    vocab = backend.tokenizer.get_vocab()
    return {t: vocab[t] for t in ("<|begin_of_text|>", "<|eot_id|>", "<|end_of_text|>")}


@pytest.mark.timeout(120)
def test_llama3_style_tokens_and_template(llama3_checkpoint_dir):
    backend = get_backend(f"hf::{llama3_checkpoint_dir}?dtype=float32")
    ids = _llama3_ids(backend)
    assert backend.tokenizer.pad_token is None  # left as the checkpoint has it
    # both end tokens, from the tokenizer and the generation config
    assert backend.eos_token_ids == {ids["<|eot_id|>"], ids["<|end_of_text|>"]}
    assert backend.pad_token_id in backend.eos_token_ids
    assert backend.vocab_size > len(backend.tokenizer)  # padded vocabulary
    prompt = backend.chat_prompt("sys <|eot_id|>", "user text", prefill="25,")
    assert prompt.startswith("<|begin_of_text|><|start_header_id|>system")
    assert prompt.endswith("<|start_header_id|>assistant<|end_header_id|>\n\n25,")
    # the data's special-token string stays text: one template turn end each
    encoded = backend.tokenizer.encode(prompt, add_special_tokens=False)
    assert encoded.count(ids["<|eot_id|>"]) == 2
    assert encoded.count(ids["<|begin_of_text|>"]) == 1


@pytest.mark.timeout(120)
def test_llama3_style_rows_stop_at_their_grammars_end(llama3_checkpoint_dir):
    backend = get_backend(f"hf::{llama3_checkpoint_dir}?dtype=float32")
    prompts = row_prompts(backend, 6)
    texts = backend.generate(prompts, [GRAMMAR] * 6, seeds=list(range(6)),
                             max_new_tokens=40)
    for text in texts:
        check_row_line(text)  # complete, and nothing after the grammar's "\n"
    again = backend.generate(prompts, [GRAMMAR] * 6, seeds=list(range(6)),
                             max_new_tokens=40)
    assert again == texts


@pytest.mark.timeout(300)
def test_llama3_style_checkpoint_runs_the_sampler(llama3_checkpoint_dir):
    sampler, X_new, y_new = fit(str(llama3_checkpoint_dir), sampling_strategy={1: 12},
                                on_shortfall="fill")
    stats = sampler.generation_stats_
    assert stats["parse_failures"] == 0
    assert len(X_new) == 6 and set(y_new) == {1}
    assert set(X_new["smoker"]) <= {"yes", "no"}
    age = sampler.schema_["age"]  # the grammar's range: the data's, widened
    assert X_new["age"].between(age.low, age.high).all()
    assert (X_new["age"] == X_new["age"].round()).all()


# -- 3. device_map, max_memory, quantization -----------------------------------
@pytest.mark.timeout(120)
def test_device_map_auto_resolves_to_the_cpu(llama3_checkpoint_dir):
    mapped = get_backend(f"hf::{llama3_checkpoint_dir}?device_map=auto&dtype=float32")
    capped = get_backend(f"hf::{llama3_checkpoint_dir}?device_map=auto"
                         "&max_memory=cpu:4GiB&dtype=float32")
    plain = get_backend(f"hf::{llama3_checkpoint_dir}?dtype=float32")
    assert mapped is not plain and capped is not mapped
    for backend in (mapped, capped):
        assert backend.device_map == "auto"
        placed = backend.hf_device_map or {}  # transformers may omit one device
        assert {str(d) for d in placed.values()} <= {"cpu"}
        assert {p.device.type for p in backend.model.parameters()} == {"cpu"}
        assert str(backend.input_device) == "cpu" and backend.device == "cpu"
    assert capped.max_memory == {"cpu": "4GiB"}
    prompts = row_prompts(plain, 3)
    args = dict(seeds=[1, 2, 3], max_new_tokens=30)
    assert (mapped.generate(prompts, [GRAMMAR] * 3, **args)
            == plain.generate(prompts, [GRAMMAR] * 3, **args))


def test_model_spec_options():
    path, options = split_hf_options("/m/x?device_map=auto&max_memory=0:70GiB,cpu:9GiB")
    assert path == "/m/x"
    assert options == {"device_map": "auto", "max_memory": "0:70GiB,cpu:9GiB"}
    assert hf_module._parse_max_memory(options["max_memory"]) == {0: "70GiB",
                                                                   "cpu": "9GiB"}
    kind, target = parse_model_spec("embedded?dtype=float32")
    assert kind == "hf" and target.endswith(".gguf?dtype=float32")
    for bad in ("embedded?dtype=float8", "embedded?quantization=3bit",
                "embedded?max_memory=cpu:1GiB", "embedded?colour=red",
                "embedded?dtype=float32&dtype=bfloat16"):
        with pytest.raises(ValueError):
            parse_model_spec(bad)


def test_missing_bitsandbytes_names_the_extra(monkeypatch, llama3_checkpoint_dir):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "bitsandbytes"
                        else real(name, *a))
    with pytest.raises(ImportError) as info:
        get_backend(f"hf::{llama3_checkpoint_dir}?quantization=4bit")
    message = str(info.value)
    assert "\n" not in message
    assert "bitsandbytes" in message and "skteam[quant]" in message


# -- 4. dtype="auto" on the CPU --------------------------------------------------
def test_auto_dtype_follows_the_cpu(monkeypatch):
    monkeypatch.setattr(hf_module, "_cpu_has_native_bf16", lambda: True)
    assert hf_module.resolve_dtype("auto", "cpu") == "bfloat16"
    monkeypatch.setattr(hf_module, "_cpu_has_native_bf16", lambda: False)
    assert hf_module.resolve_dtype("auto", "cpu") == "float32"
    assert hf_module.resolve_dtype("auto", "cuda") == "bfloat16"
    assert hf_module.resolve_dtype("float32", "cpu") == "float32"


def test_auto_dtype_keeps_float32_for_packed_gguf(monkeypatch, tmp_path):
    monkeypatch.setattr(hf_module, "_cpu_has_native_bf16", lambda: True)
    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"")
    monkeypatch.setattr(hf_module, "_gguf_weights_packed", lambda path: True)
    dtype, reason = hf_module.choose_dtype("auto", "cpu", gguf)
    assert dtype == "float32" and "packed" in reason
    # a directory is never packed; a dtype asked for is kept
    assert hf_module.choose_dtype("auto", "cpu", tmp_path)[0] == "bfloat16"
    assert hf_module.choose_dtype("bfloat16", "cpu", gguf) == ("bfloat16", "requested")
    monkeypatch.setattr(hf_module, "_gguf_weights_packed", lambda path: False)
    dtype, reason = hf_module.choose_dtype("auto", "cpu", gguf)
    assert dtype == "bfloat16" and "unpacked" in reason
    with pytest.raises(ValueError, match="float64"):
        hf_module.choose_dtype("float64", "cpu")


def test_packing_is_foreseen_for_the_bundled_model(embedded_backend):
    """What ``dtype="auto"`` foresees is what the loaded model holds."""
    from skteam.llm.embedded import embedded_model_path

    foreseen = hf_module.gguf_weights_packed(embedded_model_path())
    assert embedded_backend.weights_packed is foreseen
    assert (hf_module.packed_modules(embedded_backend.model) > 0) is foreseen
    assert embedded_backend.dtype in ("float32", "bfloat16")
    assert embedded_backend.dtype_reason


def test_cpu_flags_are_read():
    flags = ""
    try:
        with open("/proc/cpuinfo") as fh:
            flags = next((line for line in fh if line.startswith("flags")), "")
    except OSError:
        pytest.skip("no /proc/cpuinfo")
    expected = bool({"avx512_bf16", "amx_bf16"} & set(flags.split(":")[-1].split()))
    assert hf_module.cpu_has_native_bf16() is expected
