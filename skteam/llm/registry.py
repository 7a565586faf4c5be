"""One loaded model per (spec, device, dtype) per process.

Estimators refer to a model by a string, so ``clone`` and grid searches
copy the string, never the weights; the weights live here.
"""

from __future__ import annotations

import threading
from pathlib import Path

from .embedded import embedded_model_path

_REGISTRY: dict = {}
_REGISTRY_LOCK = threading.Lock()
_KEY_LOCKS: dict = {}
_BUILTIN_KINDS = frozenset({"hf", "vllm", "openai"})
_EXTRA_KINDS: dict = {}  # kind -> factory(target) -> Backend
# options of a transformers model spec: "hf::<dir>?device_map=auto&dtype=bfloat16"
HF_OPTIONS = ("device", "dtype", "device_map", "max_memory", "quantization")


def split_hf_options(target: str) -> tuple[str, dict]:
    """``(path, options)`` of an ``hf`` target ``"<path>?key=value&..."``.

    A target that exists as a path is a path (even with ``"?"`` in it).
    Keys are :data:`HF_OPTIONS`: ``device`` and ``dtype`` as for
    :func:`get_backend`; ``device_map`` (``auto``, ``cpu``, ``cuda:0`` ...)
    and ``max_memory`` (``0:70GiB,1:70GiB,cpu:100GiB``) for accelerate;
    ``quantization`` (``8bit`` or ``4bit``, bitsandbytes).
    """
    if "?" not in target or Path(target).exists():
        return target, {}
    path, _, query = target.rpartition("?")
    options = {}
    for part in query.split("&"):
        if not part:
            continue
        key, sep, value = part.partition("=")
        if not sep or key not in HF_OPTIONS or not value:
            raise ValueError(
                f"Bad model option {part!r} in {target!r}; write "
                "'<path>?key=value&key=value' with keys "
                f"{', '.join(HF_OPTIONS)}."
            )
        if key in options:
            raise ValueError(f"The model option {key!r} is given twice in {target!r}.")
        options[key] = value
    return path, options


def _join_hf_options(path: str, options: dict) -> str:
    if not options:
        return path
    return path + "?" + "&".join(f"{k}={options[k]}" for k in HF_OPTIONS
                                 if k in options)


def register_backend_kind(kind: str, factory) -> None:
    """Let ``model="<kind>::<target>"`` name a backend built by ``factory``.

    An extension point for backends that skteam does not ship. Once a kind
    is registered, :func:`parse_model_spec` accepts ``"<kind>::<target>"``
    as ``(kind, target)`` without checking the target, and
    :func:`get_backend` calls ``factory(target)`` once per target and
    caches the result like any other backend (``device`` and ``dtype`` are
    not passed to the factory and do not split the cache). The factory
    should raise :class:`ValueError` for a target it does not know.

    Registration lasts for the process; registering a kind again replaces
    its factory (backends already loaded stay cached until
    :func:`clear_registry`). Worker processes (joblib's ``loky`` backend,
    ``multiprocessing``) start without it: run the registering import in
    each worker too.

    Parameters
    ----------
    kind : str
        The prefix before ``"::"``: a non-empty string without ``":"``,
        other than the built-in ``"hf"``, ``"vllm"`` and ``"openai"`` and
        other than ``"embedded"``.
    factory : callable
        ``factory(target) -> Backend``, where ``target`` is the text after
        ``"::"``.
    """
    if not isinstance(kind, str) or not kind or ":" in kind:
        raise ValueError(
            f"A backend kind must be a non-empty string without ':', got {kind!r}."
        )
    if kind in _BUILTIN_KINDS or kind == "embedded":
        raise ValueError(f"The backend kind {kind!r} is built in; pick another name.")
    if not callable(factory):
        raise TypeError(
            f"factory must be callable as factory(target), got "
            f"{type(factory).__name__}."
        )
    with _REGISTRY_LOCK:
        _EXTRA_KINDS[kind] = factory


def parse_model_spec(model) -> tuple[str, str]:
    """Split a model spec into ``(kind, target)``.

    Accepted forms:

    - ``"embedded"``: the bundled SmolLM2-135M-Instruct GGUF file;
    - ``"hf::<dir or .gguf>"`` or a bare local path: transformers, on the
      CPU or one GPU (:mod:`skteam.llm.hf`); options after ``"?"`` choose
      devices, dtype and quantization, e.g.
      ``"hf::/models/Llama-3.3-70B-Instruct?device_map=auto&max_memory=0:70GiB,1:70GiB"``
      (keys in :data:`HF_OPTIONS`; ``"embedded?dtype=float32"`` works too);
    - ``"vllm::<local dir>"``: vLLM's offline engine, tensor-parallel over
      the visible GPUs (:mod:`skteam.llm.vllm`; ``pip install skteam[vllm]``);
    - ``"openai::<base url>|<model name>"``: a running OpenAI-compatible
      server such as vLLM or llama.cpp's, e.g.
      ``"openai::http://127.0.0.1:8000/v1|Qwen/Qwen2.5-7B-Instruct"``; the
      model name may be omitted to use the server's first model
      (:mod:`skteam.llm.openai`; ``pip install skteam[openai]``). Several
      servers of the same model, separated by commas before the ``|``,
      share the requests:
      ``"openai::http://10.0.0.1:8000/v1,http://10.0.0.2:8000/v1|<model name>"``;
    - ``"<kind>::<target>"`` for a kind added with
      :func:`register_backend_kind`;
    - an object that already implements :class:`~skteam.llm.base.Backend`.

    Nothing is contacted or loaded here; ``vllm::`` and ``hf::`` paths and
    ``openai::`` URLs are checked for form only.
    """
    if not isinstance(model, str):
        raise TypeError(
            f"model must be a string such as 'embedded' or a local model "
            f"directory, got {type(model).__name__}."
        )
    if model == "embedded" or model.startswith("embedded?"):
        _, options = split_hf_options(model)
        _check_hf_options(options, model)
        return "hf", _join_hf_options(str(embedded_model_path()), options)
    if "::" in model:
        kind, _, target = model.partition("::")
        if kind not in _BUILTIN_KINDS and kind not in _EXTRA_KINDS:
            extra = "".join(f", '{k}::<target>'" for k in sorted(_EXTRA_KINDS))
            raise ValueError(
                f"Unknown model backend {kind!r} in model={model!r}; use "
                "'embedded', 'hf::<local dir>', 'vllm::<local dir>', "
                f"'openai::<base url>|<model name>'{extra} or a local path."
            )
        if kind == "hf":
            target = _checked_hf_target(target, model)
        elif kind == "vllm":
            _check_path(target, model)
            if not Path(target).is_dir():
                raise ValueError(
                    f"model={model!r}: vLLM needs a Hugging Face model directory "
                    "(config.json and weights), not a single file."
                )
        elif kind == "openai":
            from .openai import format_openai_target, parse_openai_target

            target = format_openai_target(*parse_openai_target(target))
        return kind, target
    return "hf", _checked_hf_target(model, model)


def _checked_hf_target(target, model):
    path, options = split_hf_options(target)
    _check_path(path, model)
    _check_hf_options(options, model)
    return _join_hf_options(path, options)


def _check_hf_options(options, model):
    from .hf import check_load_options

    try:
        check_load_options(**{k: v for k, v in options.items() if k != "device"})
    except ValueError as exc:
        raise ValueError(f"model={model!r}: {exc}") from None


def _check_path(target, model):
    path = Path(target)
    if not path.exists():
        raise ValueError(
            f"model={model!r}: the path {target!r} does not exist. Pass "
            "'embedded' for the bundled model, or a local Hugging Face model "
            "directory or .gguf file (nothing is downloaded)."
        )
    if path.is_dir() and not (path / "config.json").is_file():
        ggufs = sorted(path.glob("*.gguf"))
        hint = f" Did you mean {str(ggufs[0])!r}?" if ggufs else ""
        raise ValueError(
            f"model={model!r}: the directory has no config.json, so it is not "
            f"a Hugging Face model directory.{hint}"
        )


def get_backend(model="embedded", device="auto", dtype="auto"):
    """Return the process-wide backend for a model spec, loading it once.

    Thread-safe: concurrent callers asking for the same key wait for one
    load and share its result.

    Parameters
    ----------
    model : str or Backend
        See :func:`parse_model_spec`. A Backend instance is returned as is.
        ``"openai::<url>,<url>|<name>"`` gives one backend that spreads its
        requests over the listed servers (:class:`skteam.llm.openai.OpenAIBackend`,
        ``max_workers=8`` requests in flight per server).
    device : str, default="auto"
        For ``hf`` models only (vLLM always uses the visible GPUs; a server
        uses its own). A ``device`` option in the spec takes precedence.
    dtype : str, default="auto"
        For ``hf`` and ``vllm`` models. A ``dtype`` option in the spec takes
        precedence. For ``hf`` models ``"auto"`` resolves as
        :func:`skteam.llm.hf.choose_dtype` (model file, device and CPU), and
        a model loaded through ``"auto"`` is the one loaded through the
        dtype it resolves to.

    Returns
    -------
    backend : Backend
    """
    if not isinstance(model, str) and hasattr(model, "generate"):
        return model
    kind, target = parse_model_spec(model)
    options = {}
    if kind == "hf":
        from .hf import _map_device_kind, resolve_device, resolve_dtype

        path, options = split_hf_options(target)
        device = options.pop("device", device)
        dtype = options.pop("dtype", dtype)
        # keyed by the resolved dtype ("auto" and what it resolves to share a
        # model); the backend is given the dtype as asked, to record its reason
        asked_dtype = dtype
        if "quantization" in options:
            options.setdefault("device_map", "auto")
        if "device_map" in options:
            device = f"map:{options['device_map']}"
            dtype = resolve_dtype(dtype, _map_device_kind(options["device_map"]), path)
        else:
            device = resolve_device(device)
            dtype = resolve_dtype(dtype, device, path)
        target = _join_hf_options(str(Path(path).resolve()), options)
    elif kind == "vllm":
        target = str(Path(target).resolve())
        device = "cuda"
    elif kind == "openai":
        device, dtype = "remote", "remote"
    elif kind not in _BUILTIN_KINDS:
        device, dtype = None, None  # not passed to a registered factory
    key = (kind, target, device, dtype)
    with _REGISTRY_LOCK:
        if key in _REGISTRY:
            return _REGISTRY[key]
        key_lock = _KEY_LOCKS.setdefault(key, threading.Lock())
    with key_lock:
        with _REGISTRY_LOCK:
            if key in _REGISTRY:
                return _REGISTRY[key]
        if kind == "hf":
            from .hf import HFBackend

            path, options = split_hf_options(target)
            if "device_map" in options:
                backend = HFBackend(path, dtype=asked_dtype, **options)
            else:
                backend = HFBackend(path, device=device, dtype=asked_dtype, **options)
        elif kind == "vllm":
            from .vllm import VLLMBackend

            backend = VLLMBackend(target, dtype=dtype)
        elif kind == "openai":
            from .openai import OpenAIBackend, parse_openai_target

            backend = OpenAIBackend(*parse_openai_target(target))
        else:
            with _REGISTRY_LOCK:
                factory = _EXTRA_KINDS[kind]
            backend = factory(target)
        with _REGISTRY_LOCK:
            _REGISTRY[key] = backend
    return backend


def loaded_backends() -> list:
    """The backends loaded in this process (for inspection and tests)."""
    with _REGISTRY_LOCK:
        return list(_REGISTRY.values())


def clear_registry():
    """Forget every loaded model (frees memory once no estimator holds one)."""
    with _REGISTRY_LOCK:
        _REGISTRY.clear()
        _KEY_LOCKS.clear()
