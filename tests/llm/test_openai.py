"""The OpenAI-compatible backend against a real llama.cpp server.

The server is llama-cpp-python's (``pip install "llama-cpp-python[server]"``),
started in a fixture on a free port with the embedded GGUF model; nothing
is mocked. The tests that need it are skipped when llama-cpp-python is not
installed. The same tests run against any other server (for example vLLM
on a GPU machine) by setting ``SKTEAM_OPENAI_TEST_URL`` to
``"<base url>|<model name>"``; see docs/user_guide/models.rst.
"""

import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import pytest

from skteam import TeamTrimSampler
from skteam.llm import get_backend, parse_model_spec
from skteam.llm.openai import (
    build_request,
    decode_chat_prompt,
    encode_chat_prompt,
    grammar_fields,
    parse_openai_target,
)

SERVER_START_TIMEOUT = 180


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- pure parts (no server) ------------------------------------------------------
def test_parse_target_and_spec():
    assert parse_openai_target("http://h:8000/v1/|m/x") == ("http://h:8000/v1", "m/x")
    assert parse_openai_target("https://h/v1") == ("https://h/v1", None)
    assert parse_model_spec("openai::http://h:1/v1|m") == ("openai", "http://h:1/v1|m")
    with pytest.raises(ValueError, match="not an http"):
        parse_model_spec("openai::localhost:8000|m")


def test_request_bodies():
    chat = encode_chat_prompt("sys", "user é", "pre")
    assert decode_chat_prompt(chat) == {"system": "sys", "user": "user é",
                                        "prefill": "pre"}
    assert decode_chat_prompt("raw text") is None
    route, body, prefill = build_request("llama.cpp", "m", chat, "root ::= \"a\"",
                                         seed=2**40 + 5, max_new_tokens=7,
                                         temperature=0.5)
    assert route == "/chat/completions" and prefill == "pre"
    assert body["messages"][1] == {"role": "user", "content": "user é"}
    assert body["grammar"] == 'root ::= "a"' and body["max_tokens"] == 7
    assert 0 <= body["seed"] < 2**31 and body["top_k"] == 0
    assert body["repeat_penalty"] == 1.0 and body["top_p"] == 1.0
    route, body, _ = build_request("vllm", "m", "raw", "g", seed=1,
                                   max_new_tokens=3, temperature=0.0)
    assert route == "/completions" and body["prompt"] == "raw"
    assert body["structured_outputs"] == {"grammar": "g"} and body["top_k"] == -1
    assert grammar_fields("vllm", "g", (0, 9, 2)) == {"guided_grammar": "g"}
    assert grammar_fields("vllm", "g", (0, 12, 0)) == {"structured_outputs":
                                                        {"grammar": "g"}}


def test_unreachable_server_is_a_clear_error():
    port = _free_port()
    with pytest.raises(ConnectionError, match=rf"Cannot reach .*127\.0\.0\.1:{port}"
                                              r".*Start the server"):
        get_backend(f"openai::http://127.0.0.1:{port}/v1|m")


# -- a real server -----------------------------------------------------------------
@pytest.fixture(scope="module")
def server_spec():
    """``"openai::<url>|<name>"`` of a running server, started here if needed."""
    external = os.environ.get("SKTEAM_OPENAI_TEST_URL")
    if external:
        yield f"openai::{external}"
        return
    pytest.importorskip(
        "llama_cpp.server.app",
        reason='llama-cpp-python with its server extra is not installed '
               '(pip install "llama-cpp-python[server]")',
    )
    from skteam.llm.embedded import embedded_model_path

    port = _free_port()
    command = [sys.executable, "-m", "llama_cpp.server",
               "--model", str(embedded_model_path()), "--port", str(port),
               "--host", "127.0.0.1", "--model_alias", "smollm2",
               "--n_ctx", "4096", "--n_threads", str(max(1, os.cpu_count() or 1))]
    # The server logs a lot: to a file, so that a full pipe never blocks it.
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    import requests

    try:
        while True:
            if process.poll() is not None:
                log.seek(0)
                pytest.fail(f"llama_cpp.server exited: {log.read()[-2000:]}")
            try:
                if requests.get(url + "/models", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("llama_cpp.server did not start in time")
            time.sleep(0.5)
        yield f"openai::{url}|smollm2"
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


def _frame(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({
        "age": rng.integers(18, 70, n),
        "bmi": np.round(rng.normal(27, 4, n), 1),
        "smoker": rng.choice(["yes", "no"], n).astype(object),
    })
    y = pd.Series(np.where(np.arange(n) < n // 4, 1, 0), name="sick")
    return X, y


def test_generate_on_a_real_server(server_spec):
    """Grammar, per-request seed, usage counters and prefill, prompt by prompt."""
    from skteam.rowformat import parse_row, row_grammar, split_lines
    from skteam.schema import FeatureSpec

    backend = get_backend(server_spec)
    specs = [FeatureSpec("age", "numeric", integer=True, low=17, high=90),
             FeatureSpec("score", "numeric", low=-1.5, high=12.25, decimals=2),
             FeatureSpec("city", "categorical", categories=("Paris", "a,b"))]
    prefixes = ("", "")
    grammar = row_grammar(specs, prefixes)
    prompt = backend.chat_prompt("You write CSV rows.", "Two rows of age,score,city:")
    assert backend.count_tokens(prompt) > backend.count_tokens("Two rows")
    before = backend.usage.as_dict()
    texts = backend.generate([prompt] * 3, [grammar] * 3, seeds=[1, 2, 1],
                             max_new_tokens=48, temperature=1.0)
    for text in texts:
        for line in split_lines(text, prefixes):
            age, score, city = parse_row(specs, line)
            assert 17 <= age <= 90 and -1.5 <= score <= 12.25 and city in (
                "Paris", "a,b")
    if not os.environ.get("SKTEAM_OPENAI_TEST_URL"):
        assert texts[0] == texts[2]  # same seed, same text (llama.cpp on a CPU)
    after = backend.usage.as_dict()
    assert after["calls"] == before["calls"] + 1
    assert after["prompts"] == before["prompts"] + 3
    assert after["input_tokens"] > before["input_tokens"]
    assert after["output_tokens"] > before["output_tokens"]

    prefilled = backend.chat_prompt("You write CSV rows.", "One row:", prefill="45,")
    (text,) = backend.generate([prefilled], [grammar], seeds=[3], max_new_tokens=48)
    assert not text.startswith("45,")


@pytest.mark.slow
def test_sampler_on_a_real_server(server_spec):
    from skteam.cache import clear_streams

    backend = get_backend(server_spec)
    X, y = _frame(n=32)
    before = backend.usage.as_dict()
    params = dict(model=server_spec, qc=(), verbose=0, random_state=0,
                  batch_size=8, n_examples=4, max_batches=4)
    clear_streams()
    sampler = TeamTrimSampler(**params)
    Xr, yr = sampler.fit_resample(X, y)
    stats = sampler.generation_stats_
    assert stats["parse_failures"] == 0
    assert (yr == 1).sum() == (yr == 0).sum() == 24
    synthetic = Xr[sampler.synthetic_mask_]
    assert len(synthetic) == 16
    for spec in sampler.schema_.features:
        column = synthetic[spec.name]
        if spec.kind == "categorical":
            assert set(column) <= set(spec.categories)
        else:
            assert column.between(spec.low, spec.high).all()
    after = backend.usage.as_dict()
    assert after["input_tokens"] > before["input_tokens"]
    assert after["output_tokens"] > before["output_tokens"]
    assert stats["input_tokens"] > 0 and stats["output_tokens"] > 0

    # every prompt carries its seed: a second fit, not read from the
    # in-process cache, gives the same rows (on a server that is
    # deterministic per request, as llama.cpp on a CPU is)
    if not os.environ.get("SKTEAM_OPENAI_TEST_URL"):
        clear_streams()
        Xr2, _ = TeamTrimSampler(**params).fit_resample(X, y)
        pd.testing.assert_frame_equal(Xr, Xr2)
