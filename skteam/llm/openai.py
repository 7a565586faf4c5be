"""OpenAI-compatible servers (vLLM, llama.cpp) as a skteam backend.

``model="openai::<base url>|<model name>"`` sends every prompt as its own
HTTP request to a running server, many at a time from a thread pool, each
with its grammar, its seed and skteam's sampling settings.

Design choices
--------------
Chat endpoint
    Prompts built by :meth:`OpenAIBackend.chat_prompt` go to
    ``/v1/chat/completions``: the server applies the chat template of the
    model it serves, so nothing about the model is needed on this side, and
    the grammar constrains the whole assistant message, exactly as the local
    backend constrains the text after the rendered prompt. A non-empty
    assistant prefill is forced as the first text of the grammar and
    removed from the answer. Any other (raw) prompt string goes to
    ``/v1/completions`` unchanged.
Grammar as GBNF
    skteam's Lark grammars are translated by :mod:`skteam.llm.gbnf` to GBNF,
    which both llama.cpp (``grammar`` field) and vLLM (``structured_outputs``
    ``grammar``, or ``guided_grammar`` before vLLM 0.10.2) accept with any of
    their structured-output backends. The server kind is read from
    ``/v1/models`` (``owned_by``). Every answer is checked against the GBNF
    it was sent; a server that ignores grammars (the OpenAI API itself, TGI's
    OpenAI routes) is reported with an error instead of producing rows that
    fail to parse.
Sampling
    ``temperature`` and ``seed`` are sent per request; ``top_p``, ``top_k``,
    ``min_p`` and the repetition penalty are set to their neutral values,
    so that, as in the local backend, tokens are sampled from the
    temperature-scaled distribution restricted by the grammar.
Usage
    ``input_tokens`` and ``output_tokens`` are the server's ``usage``
    (``prompt_tokens`` and ``completion_tokens``); a server cannot tell which
    tokens the grammar forced, so those are counted as output tokens and
    ``forced_tokens`` stays 0.
Reproducibility
    Each prompt is generated from its own seed. llama.cpp and vLLM honour
    per-request seeds; with many concurrent requests a server may batch them
    differently from one run to the next, and GPU kernels can then change
    the logits slightly, so repeated runs are identical only when the server
    is deterministic for a request (llama.cpp on a CPU is).
"""

from __future__ import annotations

import json
import logging
import math
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Sequence
from urllib.parse import urlparse

from .base import Usage, _Timer
from .gbnf import gbnf_acceptor, lark_to_gbnf

logger = logging.getLogger("skteam")

_CHAT_MARK = "\x1eskteam-chat\x1e"
_START_HINT = (
    "Start the server first, for example `python -m llama_cpp.server --model "
    "MODEL.gguf --port 8000` or `vllm serve MODEL_DIR --port 8000`, and pass "
    "model='openai::http://127.0.0.1:8000/v1|<model name>'."
)
# Neutral sampling settings: plain temperature sampling under the grammar.
_NEUTRAL = {
    "vllm": {"top_p": 1.0, "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0,
             "presence_penalty": 0.0, "frequency_penalty": 0.0},
    "llama.cpp": {"top_p": 1.0, "top_k": 0, "min_p": 0.0, "typical_p": 1.0,
                  "repeat_penalty": 1.0, "presence_penalty": 0.0,
                  "frequency_penalty": 0.0},
}


def parse_openai_target(target: str) -> tuple[str, str | None]:
    """Split ``"<base url>|<model name>"`` into its two parts.

    Parameters
    ----------
    target : str
        What follows ``openai::`` in a model spec. The model name may be
        left out (``"http://host:8000/v1"``): the server's first model is
        then used.

    Returns
    -------
    base_url : str
        The URL without a trailing slash, e.g. ``"http://127.0.0.1:8000/v1"``.
    model_name : str or None
    """
    base_url, _, model_name = target.partition("|")
    base_url = base_url.strip().rstrip("/")
    parsed = urlparse(base_url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(
            f"model='openai::{target}': {base_url!r} is not an http(s) URL; use "
            "'openai::http://<host>:<port>/v1|<model name>'."
        )
    return base_url, (model_name.strip() or None)


def _server_root(base_url: str) -> str:
    """The server's root URL (without the ``/v1`` of the OpenAI routes)."""
    return base_url[: -len("/v1")] if base_url.endswith("/v1") else base_url


def _version_tuple(text: str) -> tuple:
    parts = []
    for piece in str(text).split(".")[:3]:
        digits = "".join(c for c in piece if c.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def grammar_fields(flavour: str, gbnf: str, version: tuple = ()) -> dict:
    """Request fields that carry a GBNF grammar to a server of a given kind.

    Parameters
    ----------
    flavour : {"vllm", "llama.cpp"}
        ``"llama.cpp"`` covers llama.cpp's server, llama-cpp-python's server
        and any other server that reads a top-level ``grammar`` field.
    gbnf : str
    version : tuple of int, default=()
        The vLLM version, when known: before 0.10.2 vLLM reads
        ``guided_grammar``; from 0.10.2 ``structured_outputs`` (and 0.12
        removed the old field).

    Returns
    -------
    fields : dict
    """
    if flavour == "vllm":
        if version and version < (0, 10, 2):
            return {"guided_grammar": gbnf}
        return {"structured_outputs": {"grammar": gbnf}}
    return {"grammar": gbnf}


def build_request(flavour, model, prompt, gbnf, *, seed, max_new_tokens,
                  temperature, version=()):
    """The JSON body and route for one prompt.

    A prompt from :meth:`OpenAIBackend.chat_prompt` becomes a chat request;
    any other string a text completion request.

    Returns
    -------
    route : {"/chat/completions", "/completions"}
    body : dict
    prefill : str
        Text the grammar forces at the start of the answer (to be removed).
    """
    body = {
        "model": model,
        "max_tokens": int(max_new_tokens),
        "temperature": float(temperature),
        "seed": int(seed) % (2**31),
        "n": 1,
        "stream": False,
    }
    body.update(_NEUTRAL["vllm" if flavour == "vllm" else "llama.cpp"])
    chat = decode_chat_prompt(prompt)
    if chat is None:
        route, prefill = "/completions", ""
        body["prompt"] = prompt
    else:
        route, prefill = "/chat/completions", chat["prefill"]
        body["messages"] = [
            {"role": "system", "content": chat["system"]},
            {"role": "user", "content": chat["user"]},
        ]
    body.update(grammar_fields(flavour, gbnf, version))
    return route, body, prefill


def encode_chat_prompt(system: str, user: str, prefill: str = "") -> str:
    """A chat prompt as one string, for :meth:`OpenAIBackend.generate`."""
    payload = {"system": system, "user": user, "prefill": prefill}
    return _CHAT_MARK + json.dumps(payload, ensure_ascii=False)


def decode_chat_prompt(prompt: str) -> dict | None:
    """The messages of a string from :func:`encode_chat_prompt`, else None."""
    if not prompt.startswith(_CHAT_MARK):
        return None
    return json.loads(prompt[len(_CHAT_MARK):])


class OpenAIBackend:
    """A model served by an OpenAI-compatible HTTP server.

    Parameters
    ----------
    base_url : str
        The server's OpenAI base URL, e.g. ``"http://127.0.0.1:8000/v1"``.
    model : str, optional
        The served model's name (as listed by ``GET /v1/models``); the first
        listed model when omitted.
    max_workers : int, default=8
        Requests in flight at once.
    timeout : float, default=600
        Seconds to wait for one answer.
    api_key : str, optional
        Sent as a bearer token; defaults to the ``OPENAI_API_KEY``
        environment variable when set.

    Notes
    -----
    Build it through :func:`skteam.llm.registry.get_backend` with
    ``model="openai::<base url>|<model name>"``. The constructor contacts
    the server and raises :class:`ConnectionError` when it cannot be
    reached. See the module docstring for the request format.
    """

    def __init__(self, base_url, model=None, *, max_workers=8, timeout=600.0,
                 api_key=None):
        import os

        import requests  # noqa: F401  (fail early with the install hint)

        self.base_url = base_url.rstrip("/")
        self.root = _server_root(self.base_url)
        self.timeout = float(timeout)
        self.max_workers = int(max_workers)
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.usage = Usage()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._gbnf_cache: dict = {}
        self._count_cache: dict = {}
        self._count_route = None
        self._overhead = None
        self._pool = ThreadPoolExecutor(self.max_workers,
                                        thread_name_prefix="skteam-openai")
        models = self._request("GET", self.base_url + "/models", timeout=30)
        entries = models.get("data") or []
        ids = [m.get("id") for m in entries]
        if model is None:
            if not ids:
                raise ValueError(f"The server at {self.base_url} lists no model.")
            model = ids[0]
        entry = next((m for m in entries if m.get("id") == model), None)
        owner = (entry or (entries[0] if entries else {})).get("owned_by", "")
        self.flavour = "vllm" if owner == "vllm" else "llama.cpp"
        if entry is None and self.flavour == "vllm":
            raise ValueError(
                f"The vLLM server at {self.base_url} serves {ids}, not {model!r}."
            )
        self.model = model
        self.name = f"openai::{self.base_url}|{model}"
        self.server_version = ()
        self.context_length = None
        if self.flavour == "vllm":
            self.context_length = entry.get("max_model_len")
            info = self._try("GET", self.root + "/version")
            if info:
                self.server_version = _version_tuple(info.get("version", ""))
        else:
            props = self._try("GET", self.root + "/props")
            if props:
                settings = props.get("default_generation_settings") or {}
                self.context_length = settings.get("n_ctx") or props.get("n_ctx")
        if self.context_length is not None:
            self.context_length = int(self.context_length)

    # -- HTTP -------------------------------------------------------------------
    @property
    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            import requests
            from requests.adapters import HTTPAdapter
            from urllib3.util.retry import Retry

            session = requests.Session()
            retry = Retry(total=2, connect=2, read=0, status=2, backoff_factor=0.5,
                          status_forcelist=(502, 503, 504), allowed_methods=None,
                          raise_on_status=False)
            adapter = HTTPAdapter(max_retries=retry,
                                  pool_maxsize=max(10, self.max_workers))
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            if self.api_key:
                session.headers["Authorization"] = f"Bearer {self.api_key}"
            self._local.session = session
        return session

    def _request(self, method, url, body=None, timeout=None):
        import requests

        try:
            response = self._session.request(
                method, url, json=body, timeout=(10, timeout or self.timeout)
            )
        except requests.ConnectionError as exc:
            raise ConnectionError(
                f"Cannot reach the OpenAI-compatible server at {url}: "
                f"{_reason(exc)}. {_START_HINT}"
            ) from exc
        except requests.Timeout as exc:
            raise TimeoutError(
                f"The server at {url} did not answer within "
                f"{timeout or self.timeout:g} s."
            ) from exc
        if response.status_code >= 400:
            raise RuntimeError(
                f"The server at {url} answered HTTP {response.status_code}: "
                f"{response.text[:1000]}"
            )
        try:
            return response.json()
        except ValueError as exc:
            raise RuntimeError(
                f"The server at {url} did not answer with JSON: "
                f"{response.text[:300]!r}"
            ) from exc

    def _try(self, method, url, body=None):
        """The JSON answer, or None when the route is missing or fails."""
        try:
            return self._request(method, url, body, timeout=30)
        except (RuntimeError, TimeoutError):
            return None

    # -- text helpers -------------------------------------------------------------
    def chat_prompt(self, system: str, user: str, prefill: str = "") -> str:
        """Encode a chat prompt; the server renders it with its chat template."""
        return encode_chat_prompt(system, user, prefill)

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` under the served model's tokenizer.

        Asks the server (``/tokenize`` of vLLM or llama.cpp,
        ``/extras/tokenize/count`` of llama-cpp-python). A chat prompt
        counts its messages plus the chat template's own tokens, measured
        once with a one-token chat request. Without any tokenize route, a
        conservative estimate (one token per 2 bytes) is used.
        """
        chat = decode_chat_prompt(text)
        if chat is None:
            return self._count(text)
        return (self._template_overhead() + self._count(chat["system"])
                + self._count(chat["user"]) + self._count(chat["prefill"]))

    def _count(self, text: str) -> int:
        if not text:
            return 0
        n = self._count_cache.get(text)
        if n is None:
            n = self._count_remote(text)
            if len(self._count_cache) > 8192:
                self._count_cache.clear()
            self._count_cache[text] = n
        return n

    def _count_routes(self):
        vllm = ("vllm", self.root + "/tokenize")
        llama = ("llama.cpp", self.root + "/tokenize")
        extras = ("llama-cpp-python", self.root + "/extras/tokenize/count")
        return [vllm] if self.flavour == "vllm" else [llama, extras]

    def _count_remote(self, text: str) -> int:
        routes = [self._count_route] if self._count_route else self._count_routes()
        for kind, url in routes:
            if kind == "vllm":
                body = {"model": self.model, "prompt": text,
                        "add_special_tokens": False}
            elif kind == "llama.cpp":
                body = {"content": text, "add_special": False}
            else:
                body = {"input": text, "model": self.model}
            answer = self._try("POST", url, body)
            if not isinstance(answer, dict):
                continue
            if "count" in answer:
                n = int(answer["count"])
            elif isinstance(answer.get("tokens"), list):
                n = len(answer["tokens"])
            else:
                continue
            self._count_route = (kind, url)
            return n
        if self._count_route != ("estimate", None):
            logger.warning(
                "The server at %s has no tokenize route; token counts are "
                "estimated (1 token per 2 bytes).", self.base_url,
            )
            self._count_route = ("estimate", None)
        return math.ceil(len(text.encode("utf-8")) / 2)

    def _template_overhead(self) -> int:
        with self._lock:
            if self._overhead is None:
                body = {"model": self.model, "max_tokens": 1, "temperature": 0.0,
                        "messages": [{"role": "system", "content": "A"},
                                     {"role": "user", "content": "B"}]}
                answer = self._request("POST", self.base_url + "/chat/completions",
                                       body)
                used = (answer.get("usage") or {}).get("prompt_tokens")
                if used is None:
                    self._overhead = 32
                else:
                    self._overhead = max(0, int(used) - self._count("A")
                                         - self._count("B"))
            return self._overhead

    # -- generation -----------------------------------------------------------------
    def _gbnf(self, grammar: str, prefill: str) -> str:
        key = (grammar, prefill)
        gbnf = self._gbnf_cache.get(key)
        if gbnf is None:
            gbnf = lark_to_gbnf(grammar, prefix=prefill)
            if len(self._gbnf_cache) > 256:
                self._gbnf_cache.clear()
            self._gbnf_cache[key] = gbnf
        return gbnf

    def _acceptor(self, gbnf: str):
        cache = getattr(self._local, "acceptors", None)
        if cache is None or len(cache) > 64:
            cache = self._local.acceptors = {}
        accepts = cache.get(gbnf)
        if accepts is None:
            # prefixes: an answer cut by max_tokens is still honest output
            # (the caller counts a parse failure), and some servers trim the
            # final newline of a chat message
            accepts = cache[gbnf] = gbnf_acceptor(gbnf, prefixes=True)
        return accepts

    def _one(self, prompt, grammar, seed, max_new_tokens, temperature):
        chat = decode_chat_prompt(prompt)
        gbnf = self._gbnf(grammar, chat["prefill"] if chat else "")
        route, body, prefill = build_request(
            self.flavour, self.model, prompt, gbnf, seed=seed,
            max_new_tokens=max_new_tokens, temperature=temperature,
            version=self.server_version,
        )
        answer = self._request("POST", self.base_url + route, body)
        try:
            choice = answer["choices"][0]
            text = (choice["message"].get("content") if chat is not None
                    else choice.get("text")) or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise RuntimeError(
                f"Unexpected answer from {self.base_url + route}: "
                f"{json.dumps(answer)[:500]}"
            ) from exc
        if not self._acceptor(gbnf)(text):
            raise RuntimeError(
                f"The server at {self.base_url} ({self.flavour}) returned text "
                f"outside the grammar it was sent ({text[:80]!r}): it ignores the "
                "`grammar` / `structured_outputs` request fields. Use vLLM or "
                "llama.cpp's server."
            )
        if prefill and text.startswith(prefill):
            text = text[len(prefill):]
        used = answer.get("usage") or {}
        return (text, int(used.get("prompt_tokens") or 0),
                int(used.get("completion_tokens") or 0))

    def generate(
        self,
        prompts: Sequence[str],
        grammars: Sequence[str],
        *,
        seeds: Sequence[int],
        max_new_tokens: int = 256,
        temperature: float = 0.8,
        usage: Usage | None = None,
    ) -> list[str]:
        """Generate one grammar-constrained text per prompt (concurrently).

        Parameters
        ----------
        prompts : sequence of str
            Prompts from :meth:`chat_prompt` (chat route) or raw text
            (completion route).
        grammars : sequence of str
            One llguidance Lark grammar per prompt (sent as GBNF).
        seeds : sequence of int
            One seed per prompt, sent with its request.
        max_new_tokens : int, default=256
        temperature : float, default=0.8
        usage : Usage, optional
            A caller's counter that receives this call's counts too.

        Returns
        -------
        texts : list of str
        """
        if not (len(prompts) == len(grammars) == len(seeds)):
            raise ValueError("prompts, grammars and seeds must have equal lengths")
        if not prompts:
            return []
        with _Timer() as timer:
            results = list(self._pool.map(
                lambda job: self._one(*job, max_new_tokens, temperature),
                zip(prompts, grammars, seeds),
            ))
        counts = dict(calls=1, prompts=len(prompts),
                      input_tokens=sum(r[1] for r in results),
                      output_tokens=sum(r[2] for r in results),
                      seconds=timer.seconds)
        self.usage.add(**counts)
        if usage is not None:
            usage.add(**counts)
        return [r[0] for r in results]

    def close(self):
        """Stop the request threads (the backend cannot be used afterwards)."""
        self._pool.shutdown(wait=True)

    def __repr__(self):
        return f"OpenAIBackend({self.base_url!r}, model={self.model!r})"


def _reason(exc) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known",
                   "No route to host", "timed out", "Failed to resolve"):
        if marker in text:
            return marker
    return text[:200]
