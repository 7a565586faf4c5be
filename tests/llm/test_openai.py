"""The OpenAI-compatible backend, on fake servers and on real llama.cpp servers.

Several-server dispatch is tested on small OpenAI-compatible servers
started in the test process (``http.server`` in a thread, :class:`FakeServer`):
they answer every request from its body alone, sampling uniformly among the
bytes its GBNF grammar allows with the request's seed, so their rows are
valid and do not depend on which server answered.

The real-server tests use llama-cpp-python's server (``pip install
"llama-cpp-python[server]"``), started in a fixture on a free port with the
embedded GGUF model; nothing is mocked. They are skipped when
llama-cpp-python is not installed. The single-server tests run against any
other server (for example vLLM on a GPU machine) by setting
``SKTEAM_OPENAI_TEST_URL`` to ``"<base url>|<model name>"``; see
docs/user_guide/models.rst.
"""

import contextlib
import json
import logging
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pandas as pd
import pytest

from skteam import TeamTrimSampler
from skteam.llm import get_backend, parse_model_spec
from skteam.llm.openai import (
    OpenAIBackend,
    build_request,
    decode_chat_prompt,
    encode_chat_prompt,
    format_openai_target,
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
    assert parse_openai_target("http://h:8000/v1/|m/x") == (("http://h:8000/v1",),
                                                            "m/x")
    assert parse_openai_target("https://h/v1") == (("https://h/v1",), None)
    assert parse_model_spec("openai::http://h:1/v1|m") == ("openai", "http://h:1/v1|m")
    with pytest.raises(ValueError, match="not an http"):
        parse_model_spec("openai::localhost:8000|m")


def test_parse_several_servers():
    urls, name = parse_openai_target(" http://a:8080/v1/ , https://b:8081/v1|m/x")
    assert urls == ("http://a:8080/v1", "https://b:8081/v1") and name == "m/x"
    assert format_openai_target(urls, name) == "http://a:8080/v1,https://b:8081/v1|m/x"
    assert parse_model_spec("openai::http://a:1/v1/, http://b:2/v1|m") == (
        "openai", "http://a:1/v1,http://b:2/v1|m")
    with pytest.raises(ValueError, match=r"'b:2/v1' \(URL 2 of 2\) is not an http"):
        parse_model_spec("openai::http://a:1/v1,b:2/v1|m")
    with pytest.raises(ValueError, match="URL 2 of 3 is empty"):
        parse_openai_target("http://a:1/v1,,http://b:2/v1|m")
    with pytest.raises(ValueError, match="'http://a:1/v1' is listed twice"):
        parse_openai_target("http://a:1/v1,http://a:1/v1/|m")
    with pytest.raises(ValueError, match="not an http"):
        parse_openai_target("http://a:port/v1|m")


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


# -- fake servers (several-server dispatch) ----------------------------------------
_BYTE_TOKENIZER = None


def sample_gbnf(gbnf, seed, max_tokens):
    """Bytes drawn uniformly among those ``gbnf`` allows, from ``seed``."""
    import llguidance

    from skteam.llm.gbnf import _ByteTokenizer

    global _BYTE_TOKENIZER
    if _BYTE_TOKENIZER is None:
        _BYTE_TOKENIZER = llguidance.LLTokenizer(
            llguidance.TokenizerWrapper(_ByteTokenizer()))
    matcher = llguidance.LLMatcher(
        _BYTE_TOKENIZER,
        llguidance.LLMatcher.grammar_from_lark(llguidance.grammar_from("gbnf", gbnf)),
        log_level=0)
    rng = np.random.default_rng(seed)
    out = bytearray()
    while len(out) < max_tokens and not matcher.is_stopped():
        allowed = np.flatnonzero(np.frombuffer(matcher.compute_logit_bias(), np.uint8))
        token = int(rng.choice(allowed))
        if token == _ByteTokenizer.eos_token_id:
            break
        matcher.consume_token(token)
        out.append(token)
    return out.decode("utf-8", errors="replace")


class FakeServer:
    """An OpenAI-compatible server on localhost with llama.cpp's or vLLM's routes.

    Every answer depends on the request body only (see :func:`sample_gbnf`);
    ``requests`` records ``(route, body)`` of the completion requests.
    ``delay`` seconds are waited before each completion; ``token_shift``
    changes the token ids its tokenizer gives (a different model).
    """

    def __init__(self, model="fake-model", kind="llama.cpp", n_ctx=4096, delay=0.0,
                 token_shift=0):
        self.model, self.kind, self.n_ctx = model, kind, n_ctx
        self.delay, self.token_shift = delay, token_shift
        self.requests = []
        self._lock = threading.Lock()
        handler = type("Handler", (_FakeHandler,), {"server_state": self})
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self._thread.start()

    def completions(self):
        with self._lock:
            return [r for r in self.requests if r[0].endswith("completions")]

    def generations(self):
        """The completion requests that carry a grammar (not the backend's
        one-token measure of the chat template)."""
        return [r for r in self.completions()
                if "grammar" in r[1] or "structured_outputs" in r[1]]

    def close(self):
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None

    # -- answers -------------------------------------------------------------------
    def answer(self, method, path, body):
        vllm = self.kind == "vllm"
        if method == "GET" and path == "/v1/models":
            entry = {"id": self.model, "object": "model",
                     "owned_by": "vllm" if vllm else "llamacpp"}
            if vllm:
                entry["max_model_len"] = self.n_ctx
            return {"object": "list", "data": [entry]}
        if method == "GET" and path == "/props" and not vllm:
            return {"default_generation_settings": {"n_ctx": self.n_ctx}}
        if method == "GET" and path == "/version" and vllm:
            return {"version": "0.11.0"}
        if method == "POST" and path == "/tokenize":
            text = body.get("prompt" if vllm else "content", "")
            tokens = [b + self.token_shift for b in text.encode("utf-8")]
            return {"tokens": tokens, "count": len(tokens)} if vllm else {
                "tokens": tokens}
        if method == "POST" and path in ("/v1/chat/completions", "/v1/completions"):
            with self._lock:
                self.requests.append((path, body))
            if self.delay:
                time.sleep(self.delay)
            chat = path == "/v1/chat/completions"
            prompt = (" ".join(m["content"] for m in body["messages"]) if chat
                      else body["prompt"])
            grammar = (body.get("structured_outputs", {}).get("grammar") if vllm
                       else body.get("grammar"))
            text = (sample_gbnf(grammar, body["seed"], body["max_tokens"]) if grammar
                    else "x")
            choice = ({"message": {"role": "assistant", "content": text}} if chat
                      else {"text": text})
            return {"choices": [{"index": 0, **choice}],
                    "usage": {"prompt_tokens": len(prompt.encode()) + 7,
                              "completion_tokens": len(text.encode())}}
        return None


class _FakeHandler(BaseHTTPRequestHandler):
    server_state = None

    def _reply(self, method):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else {}
        answer = self.server_state.answer(method, self.path, body)
        data = json.dumps(answer if answer is not None else {"error": "no route"})
        self.send_response(200 if answer is not None else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data.encode())))
        self.end_headers()
        self.wfile.write(data.encode())

    def do_GET(self):  # noqa: N802  (http.server's name)
        self._reply("GET")

    def do_POST(self):  # noqa: N802
        self._reply("POST")

    def log_message(self, *args):
        pass


@pytest.fixture
def fake_servers():
    """``make(**options) -> FakeServer``; every server is closed afterwards."""
    made = []

    def make(**options):
        made.append(FakeServer(**options))
        return made[-1]

    yield make
    for server in made:
        server.close()


FAKE_PLAN = {"roles": [{"name": "Person", "features": ["age", "smoker"]},
                       {"name": "Body", "features": ["bmi"]}],
             "edges": [["Person", "Body"]]}


def _digits_grammar():
    return 'start: /[0-9]{2,6}/ ("a" | "b") "\\n"\n'


def test_two_fake_servers_share_a_fit_and_give_one_servers_rows(fake_servers):
    """A fit over two servers spreads the requests and returns the same rows."""
    from skteam.cache import clear_streams

    a, b = fake_servers(), fake_servers()
    X, y = _frame(n=32)
    params = dict(qc=(), verbose=0, random_state=0, batch_size=8, n_examples=4,
                  max_batches=3, plan=FAKE_PLAN, labeling="target")
    clear_streams()
    one = TeamTrimSampler(model=f"openai::{a.url}|fake-model", **params)
    X1, y1 = one.fit_resample(X, y)
    alone = a.completions()
    clear_streams()
    spec = f"openai::{a.url},{b.url}|fake-model"
    backend = get_backend(spec)
    two = TeamTrimSampler(model=spec, **params)
    X2, y2 = two.fit_resample(X, y)
    on_a, on_b = a.completions()[len(alone):], b.completions()

    pd.testing.assert_frame_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    assert two.generation_stats_["parse_failures"] == 0
    assert int(two.synthetic_mask_.sum()) == 16
    # both servers answered, and each request is the one a single server got
    assert len(on_a) > 0 and len(on_b) > 0
    assert len(on_a) + len(on_b) == len(alone)

    def bodies(requests):
        return Counter(json.dumps(body, sort_keys=True) for _, body in requests)

    assert bodies(on_a) + bodies(on_b) == bodies(alone)
    # usage adds up over the servers
    by_server = backend.usage_by_server()
    assert by_server[a.url]["prompts"] == len(a.generations()) - len(
        [r for r in alone if "grammar" in r[1]])
    assert by_server[b.url]["prompts"] == len(b.generations())
    total = backend.usage.as_dict()
    for key in ("prompts", "input_tokens", "output_tokens"):
        assert sum(counts[key] for counts in by_server.values()) == total[key]
    assert two.generation_stats_["prompts"] == total["prompts"]
    assert two.generation_stats_["output_tokens"] == total["output_tokens"]


@pytest.mark.parametrize("kind", ["llama.cpp", "vllm"])
def test_the_least_busy_server_takes_the_next_request(fake_servers, kind):
    slow, fast = fake_servers(kind=kind, delay=0.4), fake_servers(kind=kind)
    backend = OpenAIBackend([slow.url, fast.url], "fake-model", max_workers=2)
    assert backend.flavour == kind and backend._pool._max_workers == 4
    prompts = [backend.chat_prompt("s", f"user {i}") for i in range(12)]
    grammars = [_digits_grammar()] * 12
    texts = backend.generate(prompts, grammars, seeds=list(range(12)),
                             max_new_tokens=16)
    # the fast server is free more often, so it takes more of the requests
    assert 0 < len(slow.completions()) < len(fast.completions())
    assert len(slow.completions()) + len(fast.completions()) == 12
    single = OpenAIBackend(fast.url, "fake-model")
    assert single.generate(prompts, grammars, seeds=list(range(12)),
                           max_new_tokens=16) == texts
    assert len(set(texts)) > 1
    backend.close()
    single.close()


def test_a_server_that_stops_is_left_out(fake_servers, caplog):
    a, b = fake_servers(), fake_servers()
    backend = OpenAIBackend([a.url, b.url], "fake-model", max_workers=2)
    prompts = [backend.chat_prompt("s", f"user {i}") for i in range(6)]
    grammars, seeds = [_digits_grammar()] * 6, list(range(6))
    expected = backend.generate(prompts, grammars, seeds=seeds, max_new_tokens=16)
    b.close()
    before = len(a.completions())
    with caplog.at_level(logging.WARNING, logger="skteam"):
        texts = backend.generate(prompts, grammars, seeds=seeds, max_new_tokens=16)
    assert texts == expected
    assert len(a.completions()) - before == 6
    assert any(b.url in r.getMessage() and "other servers" in r.getMessage()
               for r in caplog.records)
    a.close()
    with pytest.raises(ConnectionError, match=r"(?s)None of the 2 servers .*"
                       + a.url.replace(".", r"\.") + r".*" + b.url.replace(".", r"\.")):
        backend.generate(prompts[:1], grammars[:1], seeds=[0], max_new_tokens=16)
    backend.close()


def test_servers_must_serve_the_same_model(fake_servers, caplog):
    a = fake_servers(model="m1")
    other_name = fake_servers(model="m2")
    with pytest.raises(ValueError, match=rf"do not serve the same model: .*"
                       rf"{other_name.url} serves 'm2'.*--alias"):
        OpenAIBackend([a.url, other_name.url], "m1")
    vllm = fake_servers(model="m1", kind="vllm")
    with pytest.raises(ValueError, match=r"different kinds .*vllm.*one kind"):
        OpenAIBackend([a.url, vllm.url], "m1")
    vllm_other = fake_servers(model="m2", kind="vllm")
    with pytest.raises(ValueError, match=rf"vLLM server at {vllm_other.url} \(server "
                       r"2 of 2\) serves \['m2'\], not 'm1'.*--served-model-name"):
        OpenAIBackend([vllm.url, vllm_other.url], "m1")
    other_tokens = fake_servers(model="m1", token_shift=1)
    with pytest.raises(ValueError, match="tokenize the same text differently"):
        OpenAIBackend([a.url, other_tokens.url], "m1")
    port = _free_port()
    with pytest.raises(ConnectionError, match=rf"(?s)1 of the 2 servers .*"
                       rf"127\.0\.0\.1:{port}/v1 \(server 2 of 2\): Cannot reach.*"
                       r"leave their URLs out"):
        OpenAIBackend([a.url, f"http://127.0.0.1:{port}/v1"], "m1")
    # same model and tokenizer, different contexts: the smallest is used
    small = fake_servers(model="m1", n_ctx=2048)
    with caplog.at_level(logging.WARNING, logger="skteam"):
        backend = OpenAIBackend([a.url, small.url])
    assert backend.model == "m1" and backend.context_length == 2048
    assert backend.name == f"openai::{a.url},{small.url}|m1"
    assert any("different contexts" in r.getMessage() for r in caplog.records)
    backend.close()


# -- a real server -----------------------------------------------------------------
def _need_llama_cpp_server():
    pytest.importorskip(
        "llama_cpp.server.app",
        reason='llama-cpp-python with its server extra is not installed '
               '(pip install "llama-cpp-python[server]")',
    )


@contextlib.contextmanager
def llama_cpp_server(n_threads=None):
    """The base URL of a llama-cpp-python server on the embedded model (alias
    ``smollm2``), started on a free port and stopped on exit."""
    import requests

    from skteam.llm.embedded import embedded_model_path

    port = _free_port()
    threads = n_threads or max(1, os.cpu_count() or 1)
    command = [sys.executable, "-m", "llama_cpp.server",
               "--model", str(embedded_model_path()), "--port", str(port),
               "--host", "127.0.0.1", "--model_alias", "smollm2",
               "--n_ctx", "4096", "--n_threads", str(threads)]
    # The server logs a lot: to a file, so that a full pipe never blocks it.
    log = tempfile.TemporaryFile(mode="w+")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + SERVER_START_TIMEOUT
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
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="module")
def server_spec():
    """``"openai::<url>|<name>"`` of a running server, started here if needed."""
    external = os.environ.get("SKTEAM_OPENAI_TEST_URL")
    if external:
        yield f"openai::{external}"
        return
    _need_llama_cpp_server()
    with llama_cpp_server() as url:
        yield f"openai::{url}|smollm2"


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


def test_two_real_servers_give_one_servers_texts():
    """Two llama.cpp servers of the embedded model share the requests, and
    every text is the one a single server writes for its seed."""
    from skteam.rowformat import row_grammar
    from skteam.schema import FeatureSpec

    _need_llama_cpp_server()
    threads = max(1, (os.cpu_count() or 2) // 2)
    with llama_cpp_server(threads) as first, llama_cpp_server(threads) as second:
        one = get_backend(f"openai::{first}|smollm2")
        two = get_backend(f"openai::{first},{second}|smollm2")
        assert two.context_length == one.context_length
        specs = [FeatureSpec("age", "numeric", integer=True, low=17, high=90),
                 FeatureSpec("city", "categorical", categories=("Paris", "Rome"))]
        grammar = row_grammar(specs, ("", ""))
        prompts = [two.chat_prompt("You write CSV rows.", f"Rows of age,city ({i}):")
                   for i in range(8)]
        seeds = list(range(100, 108))
        texts = two.generate(prompts, [grammar] * 8, seeds=seeds, max_new_tokens=32)
        by_server = two.usage_by_server()
        assert by_server[first]["prompts"] > 0 and by_server[second]["prompts"] > 0
        assert sum(c["prompts"] for c in by_server.values()) == 8
        assert one.generate(prompts, [grammar] * 8, seeds=seeds,
                            max_new_tokens=32) == texts
