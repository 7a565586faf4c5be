"""OpenAI-compatible servers (vLLM, llama.cpp) as a skteam backend.

``model="openai::<base url>|<model name>"`` sends every prompt as its own
HTTP request to a running server, many at a time from a thread pool, each
with its grammar, its seed and skteam's sampling settings.
``model="openai::<base url>,<base url>,...|<model name>"`` spreads the
requests over several servers of the same model (one per GPU machine).

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
Several servers
    The base URLs before ``|`` are separated by commas. Before any row is
    generated every server is contacted and checked: each must answer, all
    must be of one kind (vLLM or llama.cpp), serve the same model name and,
    where they have a tokenize route, tokenize a probe text identically;
    an error names the server and says what to change. Each request goes
    to the server with the fewest requests of this backend in flight (ties
    in turn), from one thread pool of ``max_workers`` threads per server.
    A request's body does not depend on the server that takes it, so with
    servers that are deterministic per request the rows are the same as
    with one server. A server that refuses a connection during a fit is
    left out for :data:`RETRY_AFTER_SECONDS` and its requests go to the
    others (with a warning); the fit fails only when no server answers.
    ``usage`` adds up every server's counts; :meth:`OpenAIBackend.usage_by_server`
    splits them by server.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
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
# How long a server that refused a connection is passed over.
RETRY_AFTER_SECONDS = 30.0
# Text that servers of one model tokenize identically (checked across servers).
_PROBE_TEXT = "skteam probe: Age 42, BMI 27.5; São Paulo, 東京 ✓\n"
_ESTIMATE = ("estimate", None)
# (kind, route below the server's root) of the tokenize routes, by server kind
_COUNT_ROUTES = {
    "vllm": [("vllm", "/tokenize")],
    "llama.cpp": [("llama.cpp", "/tokenize"),
                  ("llama-cpp-python", "/extras/tokenize/count")],
}
# Neutral sampling settings: plain temperature sampling under the grammar.
_NEUTRAL = {
    "vllm": {"top_p": 1.0, "top_k": -1, "min_p": 0.0, "repetition_penalty": 1.0,
             "presence_penalty": 0.0, "frequency_penalty": 0.0},
    "llama.cpp": {"top_p": 1.0, "top_k": 0, "min_p": 0.0, "typical_p": 1.0,
                  "repeat_penalty": 1.0, "presence_penalty": 0.0,
                  "frequency_penalty": 0.0},
}


def parse_openai_target(target: str) -> tuple[tuple[str, ...], str | None]:
    """Split ``"<base url>[,<base url>...]|<model name>"`` into its parts.

    Parameters
    ----------
    target : str
        What follows ``openai::`` in a model spec: one or more base URLs
        separated by commas, then ``|`` and the model name. The model name
        may be left out (``"http://host:8000/v1"``): the first server's first
        model is then used.

    Returns
    -------
    base_urls : tuple of str
        The URLs without a trailing slash, in the order given, e.g.
        ``("http://10.0.0.1:8000/v1", "http://10.0.0.2:8000/v1")``.
    model_name : str or None

    Raises
    ------
    ValueError
        When a URL is empty, not an http(s) URL or listed twice.
    """
    urls_text, _, model_name = target.partition("|")
    pieces = [piece.strip() for piece in urls_text.split(",")]
    several = len(pieces) > 1
    urls: list[str] = []
    for i, piece in enumerate(pieces):
        where = f" (URL {i + 1} of {len(pieces)})" if several else ""
        if not piece:
            raise ValueError(
                f"model='openai::{target}': URL {i + 1} of {len(pieces)} is empty; "
                "separate base URLs by single commas: 'openai::http://<host "
                "1>:<port>/v1,http://<host 2>:<port>/v1|<model name>'."
            )
        url = piece.rstrip("/")
        parsed = urlparse(url)
        try:
            parsed.port  # noqa: B018  (raises on a port that is not a number)
            valid = parsed.scheme in ("http", "https") and bool(parsed.hostname)
        except ValueError:
            valid = False
        if not valid:
            raise ValueError(
                f"model='openai::{target}': {url!r}{where} is not an http(s) URL; "
                "use 'openai::http://<host>:<port>/v1|<model name>'"
                + (", with base URLs separated by commas." if several else ".")
            )
        if url in urls:
            raise ValueError(
                f"model='openai::{target}': {url!r} is listed twice; list each "
                "server once (OpenAIBackend's max_workers sets the requests in "
                "flight per server)."
            )
        urls.append(url)
    return tuple(urls), (model_name.strip() or None)


def format_openai_target(base_urls, model_name=None) -> str:
    """Join base URLs and a model name into an ``openai::`` target.

    The inverse of :func:`parse_openai_target`, used as the canonical form
    of a spec (one backend per canonical target and process).

    Parameters
    ----------
    base_urls : sequence of str
    model_name : str, optional

    Returns
    -------
    target : str
        ``"<url>,<url>|<model name>"``, or the URLs alone without a name.
    """
    urls = ",".join(base_urls)
    return f"{urls}|{model_name}" if model_name else urls


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


class _Server:
    """One server of an :class:`OpenAIBackend`: its address, kind and load."""

    def __init__(self, base_url: str, index: int, count: int):
        self.base_url = base_url
        self.root = _server_root(base_url)
        self.index = index
        self.label = (base_url if count == 1
                      else f"{base_url} (server {index + 1} of {count})")
        self.flavour = "llama.cpp"
        self.version: tuple = ()
        self.model_ids: list = []
        self.served: str | None = None
        self.context_length: int | None = None
        self.in_flight = 0
        self.retry_at = 0.0
        self.usage = Usage()


class OpenAIBackend:
    """A model served by one or several OpenAI-compatible HTTP servers.

    Parameters
    ----------
    base_url : str or sequence of str
        The servers' OpenAI base URLs, e.g. ``"http://127.0.0.1:8000/v1"``,
        or several, e.g. ``["http://10.0.0.1:8000/v1",
        "http://10.0.0.2:8000/v1"]``: requests are spread over them, each to
        the server with the fewest requests in flight.
    model : str, optional
        The served model's name (as listed by ``GET /v1/models``); the first
        server's first listed model when omitted. Every server must serve
        it.
    max_workers : int, default=8
        Requests in flight at once per server: the thread pool holds
        ``max_workers`` threads per server, so two servers take twice as
        many requests at a time as one.
    timeout : float, default=600
        Seconds to wait for one answer.
    api_key : str, optional
        Sent as a bearer token to every server; defaults to the
        ``OPENAI_API_KEY`` environment variable when set.

    Attributes
    ----------
    base_urls : tuple of str
        The servers, in the order given.
    model : str
        The model name sent with every request.
    flavour : {"vllm", "llama.cpp"}
        The servers' kind (one for all).
    context_length : int or None
        The smallest context any server reports (None when none does).
    usage : Usage
        Counts of every server together; see :meth:`usage_by_server`.

    Notes
    -----
    Build it through :func:`skteam.llm.registry.get_backend` with
    ``model="openai::<base url>|<model name>"`` or
    ``model="openai::<base url>,<base url>|<model name>"``. The constructor
    contacts every server and raises :class:`ConnectionError` when one
    cannot be reached, and :class:`ValueError` when the servers differ in
    kind, model or tokenizer. See the module docstring for the request
    format and how requests are spread.
    """

    def __init__(self, base_url, model=None, *, max_workers=8, timeout=600.0,
                 api_key=None):
        import os

        import requests  # noqa: F401  (fail early with the install hint)

        urls = [base_url] if isinstance(base_url, str) else list(base_url)
        urls = [str(url).strip().rstrip("/") for url in urls]
        if not urls:
            raise ValueError("OpenAIBackend needs at least one base URL.")
        if len(set(urls)) != len(urls):
            raise ValueError(f"A base URL is listed twice in {urls}; list each "
                             "server once.")
        if int(max_workers) < 1:
            raise ValueError(f"max_workers must be at least 1, got {max_workers}.")
        self.servers = [_Server(url, i, len(urls)) for i, url in enumerate(urls)]
        self.base_urls = tuple(urls)
        self.timeout = float(timeout)
        self.max_workers = int(max_workers)
        self.api_key = api_key or os.environ.get("OPENAI_API_KEY")
        self.usage = Usage()
        self._local = threading.local()
        self._dispatch_lock = threading.Lock()
        self._overhead_lock = threading.Lock()
        self._turn = 0
        self._gbnf_cache: dict = {}
        self._count_cache: dict = {}
        self._count_route = None
        self._overhead = None
        self._pool = ThreadPoolExecutor(self.max_workers * len(self.servers),
                                        thread_name_prefix="skteam-openai")
        self._connect(model)

    # -- servers ------------------------------------------------------------------
    def _connect(self, model):
        """Contact every server, choose the model and check the servers agree."""
        spec = "openai::" + format_openai_target(self.base_urls, model)
        failed = []
        for server in self.servers:
            try:
                self._probe(server)
            except (ConnectionError, TimeoutError, RuntimeError) as exc:
                failed.append((server, exc))
        if failed:
            if len(self.servers) == 1:
                raise failed[0][1]
            kind = (ConnectionError if all(isinstance(e, ConnectionError)
                                           for _, e in failed) else RuntimeError)
            lines = "\n".join(f"- {s.label}: {str(e).replace(' ' + _START_HINT, '')}"
                              for s, e in failed)
            raise kind(
                f"{len(failed)} of the {len(self.servers)} servers of "
                f"model={spec!r} cannot be used:\n{lines}\nStart them, "
                "or leave their URLs out of the model spec. " + _START_HINT
            )
        first = self.servers[0]
        if model is None:
            if not first.model_ids:
                raise ValueError(f"The server at {first.label} lists no model.")
            model = first.model_ids[0]
        several = len(self.servers) > 1
        same_name = (" Every server of a multi-server spec must serve the same "
                     "model under the same name (vLLM: `--served-model-name NAME`; "
                     "llama.cpp: `--alias NAME`; llama-cpp-python: "
                     "`--model_alias NAME`).") if several else ""
        for server in self.servers:
            if model in server.model_ids:
                server.served = model
            elif server.flavour == "vllm":
                raise ValueError(f"The vLLM server at {server.label} serves "
                                 f"{server.model_ids}, not {model!r}.{same_name}")
            else:
                # llama.cpp serves its one model whatever name a request gives
                server.served = server.model_ids[0] if server.model_ids else None
        self.model = model
        if several:
            self._check_same(spec, same_name)
        self.flavour = first.flavour
        self.name = "openai::" + format_openai_target(self.base_urls, model)
        lengths = [s.context_length for s in self.servers
                   if s.context_length is not None]
        self.context_length = min(lengths) if lengths else None
        if len(set(lengths)) > 1:
            logger.warning(
                "The servers of %s have different contexts (%s); prompts are "
                "sized for the smallest, %d tokens.", self.name,
                ", ".join(f"{s.base_url}: {s.context_length}" for s in self.servers
                          if s.context_length is not None), self.context_length)

    def _probe(self, server):
        """Read a server's models, kind, version and context length."""
        models = self._request("GET", server.base_url + "/models", timeout=30)
        entries = models.get("data") or []
        server.model_ids = [m.get("id") for m in entries]
        owner = (entries[0].get("owned_by", "") if entries else "")
        server.flavour = "vllm" if owner == "vllm" else "llama.cpp"
        if server.flavour == "vllm":
            info = self._try("GET", server.root + "/version")
            if info:
                server.version = _version_tuple(info.get("version", ""))
            lengths = [m.get("max_model_len") for m in entries]
            server.context_length = next((n for n in lengths if n), None)
        else:
            props = self._try("GET", server.root + "/props")
            if props:
                settings = props.get("default_generation_settings") or {}
                server.context_length = settings.get("n_ctx") or props.get("n_ctx")
        if server.context_length is not None:
            server.context_length = int(server.context_length)

    def _check_same(self, spec, same_name):
        """Raise unless every server runs the same kind of server and model."""
        servers = self.servers
        if len({s.flavour for s in servers}) > 1:
            kinds = ", ".join(f"{s.base_url}: {s.flavour}" for s in servers)
            raise ValueError(
                f"The servers of model={spec!r} are of different "
                f"kinds ({kinds}). Their sampling differs, so a row would depend "
                "on the server that took its request: use servers of one kind "
                "(all vLLM or all llama.cpp) with the same model."
            )
        if len({s.served for s in servers}) > 1:
            served = ", ".join(f"{s.base_url} serves {s.served!r}" for s in servers)
            raise ValueError(
                f"The servers of model={spec!r} do not serve the same "
                f"model: {served}.{same_name}"
            )
        versions = {s.version for s in servers if s.version}
        if len(versions) > 1:
            logger.warning(
                "The servers of %s run different vLLM versions (%s); rows may "
                "depend on the server that took their request.", spec,
                ", ".join(f"{s.base_url}: {'.'.join(map(str, s.version))}"
                          for s in servers))
        prints = [(s, self._tokenize(s, _PROBE_TEXT)) for s in servers]
        prints = [(s, p) for s, p in prints if p is not None]
        if any(p != prints[0][1] for _, p in prints[1:]):
            seen = ", ".join(f"{s.base_url}: "
                             f"{p if isinstance(p, int) else len(p)} tokens"
                             + ("" if isinstance(p, int) else f" {p[:6]}...")
                             for s, p in prints)
            raise ValueError(
                f"The servers of model={spec!r} tokenize the same "
                f"text differently ({seen}): they do not serve the same model. "
                "Start every server from the same model files."
            )

    def usage_by_server(self) -> dict:
        """Requests and tokens of :meth:`generate` by server.

        Returns
        -------
        counts : dict
            ``{base_url: Usage.as_dict()}``, where ``prompts`` counts the
            requests the server answered; summed over the servers, the
            ``prompts``, ``input_tokens`` and ``output_tokens`` equal
            :attr:`usage`'s.
        """
        return {s.base_url: s.usage.as_dict() for s in self.servers}

    def _acquire(self, tried):
        """The server for the next request, or None when all were tried.

        The server with the fewest requests in flight, ties in turn; a
        server that refused a connection less than
        :data:`RETRY_AFTER_SECONDS` ago only when no other is left.
        """
        with self._dispatch_lock:
            left = [s for s in self.servers if s not in tried]
            if not left:
                return None
            now = time.monotonic()
            candidates = [s for s in left if s.retry_at <= now] or left
            n, turn = len(self.servers), self._turn
            self._turn += 1
            server = min(candidates,
                         key=lambda s: (s.in_flight, (s.index - turn) % n))
            server.in_flight += 1
            return server

    def _on_a_server(self, send):
        """``send(server)`` on the next server; another one on a refused connection."""
        tried, failures = [], []
        while True:
            server = self._acquire(tried)
            if server is None:
                break
            try:
                return send(server)
            except ConnectionError as exc:
                tried.append(server)
                failures.append((server, exc))
                with self._dispatch_lock:
                    was_up = server.retry_at <= time.monotonic()
                    server.retry_at = time.monotonic() + RETRY_AFTER_SECONDS
                if was_up and len(tried) < len(self.servers):
                    logger.warning(
                        "Cannot reach the server %s (%s); its requests go to the "
                        "other servers for the next %g s.", server.label,
                        _reason(exc.__cause__ or exc), RETRY_AFTER_SECONDS)
            finally:
                with self._dispatch_lock:
                    server.in_flight -= 1
        if len(failures) == 1:
            raise failures[0][1]
        lines = "\n".join(f"- {s.label}: {_reason(e.__cause__ or e)}"
                          for s, e in failures)
        raise ConnectionError(
            f"None of the {len(failures)} servers of {self.name} answers:\n{lines}\n"
            "Check that they are still running. " + _START_HINT
        )

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

        Asks a server (``/tokenize`` of vLLM or llama.cpp,
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

    def _tokenize(self, server, text: str):
        """The server's tokens of ``text``: a list, or only their number (an
        int) where the route gives no more; None without a tokenize route."""
        routes = ([self._count_route] if self._count_route
                  else _COUNT_ROUTES[server.flavour])
        for kind, route in routes:
            if kind == "vllm":
                body = {"model": self.model, "prompt": text,
                        "add_special_tokens": False}
            elif kind == "llama.cpp":
                body = {"content": text, "add_special": False}
            else:
                body = {"input": text}
            answer = self._try("POST", server.root + route, body)
            if not isinstance(answer, dict):
                continue
            if isinstance(answer.get("tokens"), list):
                found = answer["tokens"]
            elif "count" in answer:
                found = int(answer["count"])
            else:
                continue
            self._count_route = (kind, route)
            return found
        return None

    def _count_remote(self, text: str) -> int:
        if self._count_route != _ESTIMATE:
            found = self._on_a_server(lambda server: self._tokenize(server, text))
            if found is not None:
                return found if isinstance(found, int) else len(found)
            logger.warning(
                "The server at %s has no tokenize route; token counts are "
                "estimated (1 token per 2 bytes).", ", ".join(self.base_urls),
            )
            self._count_route = _ESTIMATE
        return math.ceil(len(text.encode("utf-8")) / 2)

    def _template_overhead(self) -> int:
        with self._overhead_lock:
            if self._overhead is None:
                body = {"model": self.model, "max_tokens": 1, "temperature": 0.0,
                        "messages": [{"role": "system", "content": "A"},
                                     {"role": "user", "content": "B"}]}
                answer = self._on_a_server(lambda server: self._request(
                    "POST", server.base_url + "/chat/completions", body))
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
        return self._on_a_server(lambda server: self._ask(
            server, chat, prompt, gbnf, seed, max_new_tokens, temperature))

    def _ask(self, server, chat, prompt, gbnf, seed, max_new_tokens, temperature):
        """One prompt's request to one server: its text and token counts."""
        route, body, prefill = build_request(
            server.flavour, self.model, prompt, gbnf, seed=seed,
            max_new_tokens=max_new_tokens, temperature=temperature,
            version=server.version,
        )
        answer = self._request("POST", server.base_url + route, body)
        try:
            choice = answer["choices"][0]
            text = (choice["message"].get("content") if chat is not None
                    else choice.get("text")) or ""
        except (KeyError, IndexError, TypeError, AttributeError) as exc:
            raise RuntimeError(
                f"Unexpected answer from {server.base_url + route}: "
                f"{json.dumps(answer)[:500]}"
            ) from exc
        if not self._acceptor(gbnf)(text):
            raise RuntimeError(
                f"The server at {server.label} ({server.flavour}) returned text "
                f"outside the grammar it was sent ({text[:80]!r}): it ignores the "
                "`grammar` / `structured_outputs` request fields. Use vLLM or "
                "llama.cpp's server."
            )
        if prefill and text.startswith(prefill):
            text = text[len(prefill):]
        used = answer.get("usage") or {}
        n_in = int(used.get("prompt_tokens") or 0)
        n_out = int(used.get("completion_tokens") or 0)
        server.usage.add(prompts=1, input_tokens=n_in, output_tokens=n_out)
        return text, n_in, n_out

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

        Each prompt is one request, sent to the server with the fewest
        requests in flight; the texts come back in the order of the prompts.

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
        urls = self.base_urls[0] if len(self.base_urls) == 1 else list(self.base_urls)
        return f"OpenAIBackend({urls!r}, model={self.model!r})"


def _reason(exc) -> str:
    text = str(exc)
    for marker in ("Connection refused", "Name or service not known",
                   "No route to host", "timed out", "Failed to resolve"):
        if marker in text:
            return marker
    return text[:200]
