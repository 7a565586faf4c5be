"""Hugging Face transformers backend with grammar-constrained decoding.

The decoding loop is skteam's own (not ``model.generate``) for three reasons:
every row samples from its own seeded :class:`torch.Generator`, so no global
random state is touched and a row's text does not depend on which other rows
share its batch; every row carries its own llguidance matcher, so rows with
different grammars share forward passes; and rows stop as soon as their
grammar is complete.
"""

from __future__ import annotations

import functools
import logging
import math
import threading
from pathlib import Path
from typing import Sequence

from .base import Usage, _Timer

logger = logging.getLogger("skteam")

_DTYPES = {"float32": "float32", "bfloat16": "bfloat16", "float16": "float16"}


def resolve_device(device: str = "auto") -> str:
    """Turn ``"auto"`` into ``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but torch sees no CUDA device; "
            "pass device='cpu' or device='auto'."
        )
    return device


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 natively (AMX or AVX512-BF16).

    Read from the CPU flags in ``/proc/cpuinfo`` (``amx_bf16``,
    ``avx512_bf16``), else from oneDNN's own check where torch has it.
    Without such a unit, bfloat16 is emulated and slower than float32.
    """
    return _cpu_has_native_bf16()


@functools.lru_cache(maxsize=1)
def _cpu_has_native_bf16() -> bool:
    return cpu_bf16_unit() is not None


@functools.lru_cache(maxsize=1)
def cpu_bf16_unit():
    """The CPU's bfloat16 unit: ``"amx_bf16"``, ``"avx512_bf16"``, ``"onednn"``
    (oneDNN says so, the flags are unreadable) or None."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="ignore") as fh:
            for line in fh:
                if line.startswith("flags"):
                    flags = set(line.split(":", 1)[1].split())
                    for unit in ("amx_bf16", "avx512_bf16"):
                        if unit in flags:
                            return unit
                    return None
    except OSError:
        pass
    try:
        import torch

        return "onednn" if torch.ops.mkldnn._is_mkldnn_bf16_supported() else None
    except Exception:  # noqa: BLE001 - no oneDNN, no such op: assume none
        return None


def gguf_weights_packed(path) -> bool:
    """Whether transformers will keep this ``.gguf`` file's quantized weights packed.

    Asked of transformers' own GGUF quantizer, with the checks
    ``from_pretrained`` makes before it settles the dtype: the file's
    architecture has a packed path (``GGUF_ARCHS``), the file holds quantized
    tensors, and a GGUF matmul kernel is available (else the quantizer
    switches to ``dequantize``). Packed layers (``GgufLinear``) compute in
    float32 and cast their input and output to any other dtype. A file not
    packed is unpacked at load into ordinary float layers, as a checkpoint
    directory is. transformers versions without that quantizer unpack every
    GGUF. A directory (not a ``.gguf`` file) is never packed.
    """
    path = Path(path)
    if not (path.is_file() and path.suffix == ".gguf"):
        return False
    return _gguf_weights_packed(str(path.resolve()))


@functools.lru_cache(maxsize=32)
def _gguf_weights_packed(path: str) -> bool:
    try:
        from transformers.quantizers.quantizer_gguf import GgufHfQuantizer
        from transformers.utils.quantization_config import GgufConfig
    except ImportError:  # transformers that unpacks every GGUF at load
        return False
    try:
        quantizer = GgufHfQuantizer(GgufConfig(gguf_file=path))
        quantizer.read_header(path)
        config = quantizer.quantization_config
        return bool(getattr(quantizer, "supported", False)
                    and not getattr(config, "dequantize", True))
    except Exception as exc:  # noqa: BLE001 - from_pretrained reports a bad file
        logger.debug("Could not tell whether %s stays packed (%s).", path, exc)
        return False


def packed_modules(model) -> int:
    """How many layers of a loaded model hold packed GGUF blocks (``Gguf*``)."""
    return sum(type(module).__name__.startswith("Gguf") for module in model.modules())


def choose_dtype(dtype: str, device: str, path=None) -> tuple:
    """The dtype a model is loaded in, and why.

    Parameters
    ----------
    dtype : {"auto", "float32", "bfloat16", "float16"}
        A dtype other than ``"auto"`` is kept.
    device : str
        ``"cuda..."``, ``"cpu"`` or another torch device kind.
    path : str or pathlib.Path, optional
        The model's file or directory; a ``.gguf`` file is checked with
        :func:`gguf_weights_packed`. None: weights in ordinary float layers.

    Returns
    -------
    dtype : str
    reason : str
        One line for logs and benchmark records.

    Notes
    -----
    ``"auto"`` is bfloat16 on CUDA. On the CPU it is float32 for a GGUF whose
    weights transformers keeps packed (its kernels compute in float32), else
    bfloat16 on CPUs with native bfloat16 (:func:`cpu_has_native_bf16`) and
    float32 on other CPUs. See ``docs/user_guide/models.rst`` for the
    measurements behind the rule.
    """
    if dtype != "auto":
        if dtype not in _DTYPES:
            raise ValueError(
                f"dtype={dtype!r} is not supported; use one of "
                f"{sorted(_DTYPES)} or 'auto'."
            )
        return dtype, "requested"
    if device.startswith("cuda"):
        return "bfloat16", "auto: CUDA"
    if path is not None and gguf_weights_packed(path):
        return "float32", ("auto: transformers keeps this GGUF's weights packed and "
                           "its kernels compute in float32")
    if cpu_has_native_bf16():
        unit = cpu_bf16_unit()
        return "bfloat16", ("auto: CPU with native bfloat16"
                            + (f" ({unit})" if unit else "") + ", weights unpacked")
    return "float32", "auto: CPU without native bfloat16"


def resolve_dtype(dtype: str, device: str, path=None) -> str:
    """The dtype of :func:`choose_dtype`, without its reason."""
    return choose_dtype(dtype, device, path)[0]


def load_tokenizer(path: Path):
    """Load the tokenizer of a model directory or GGUF file.

    The tokenizer is left as its files define it: a checkpoint without a pad
    token (Llama 3) keeps none; the backend pads with an end token itself. A
    GGUF file's tokenizer comes from its converted checkpoint directory when
    one was written (:func:`skteam.llm.embedded.converted_checkpoint`).
    """
    from transformers import AutoTokenizer

    from .embedded import converted_checkpoint

    path = Path(path)
    if path.is_file():
        converted = converted_checkpoint(path, write=False)
        if converted is not None:
            return AutoTokenizer.from_pretrained(converted, local_files_only=True)
        return AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    return AutoTokenizer.from_pretrained(path, local_files_only=True)


QUANTIZATIONS = ("8bit", "4bit")
QUANT_EXTRA = "skteam[quant]"


def _parse_max_memory(max_memory):
    """``{0: "70GiB", "cpu": "100GiB"}`` from a dict or ``"0:70GiB,cpu:100GiB"``."""
    if max_memory is None or isinstance(max_memory, dict):
        return max_memory
    out = {}
    for part in str(max_memory).split(","):
        key, sep, size = part.strip().partition(":")
        if not sep or not key or not size:
            raise ValueError(
                f"max_memory={max_memory!r}: write it as '0:70GiB,1:70GiB,cpu:100GiB' "
                "(a device index or 'cpu', a colon, a size)."
            )
        out[int(key) if key.isdigit() else key] = size
    return out


def check_load_options(dtype="auto", device_map=None, max_memory=None,
                       quantization=None):
    """Check the loading options of :class:`HFBackend` before anything is loaded.

    Parameters
    ----------
    dtype : str, default="auto"
    device_map : str or dict, default=None
    max_memory : dict or str, default=None
    quantization : {None, "8bit", "4bit"}, default=None
        As in :class:`HFBackend`.

    Returns
    -------
    max_memory : dict or None
        ``max_memory`` as a dict.

    Raises
    ------
    ValueError
        For an unknown dtype or quantization, a malformed ``max_memory``, or
        ``max_memory`` without ``device_map``.
    """
    if dtype != "auto":
        resolve_dtype(dtype, "cpu")
    if quantization is not None and quantization not in QUANTIZATIONS:
        raise ValueError(
            f"quantization={quantization!r} is not supported; use one of "
            f"{list(QUANTIZATIONS)} or None."
        )
    max_memory = _parse_max_memory(max_memory)
    if max_memory is not None and device_map is None:
        raise ValueError("max_memory needs device_map (e.g. device_map='auto').")
    return max_memory


def quantization_config(quantization, compute_dtype):
    """A transformers ``BitsAndBytesConfig`` for ``"8bit"`` / ``"4bit"``."""
    check_load_options(quantization=quantization)
    import importlib.util

    if importlib.util.find_spec("bitsandbytes") is None:
        raise ImportError(
            f"quantization={quantization!r} needs bitsandbytes, which is not "
            f"installed: pip install '{QUANT_EXTRA}'"
        )
    from transformers import BitsAndBytesConfig

    if quantization == "8bit":
        return BitsAndBytesConfig(load_in_8bit=True)
    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4",
                              bnb_4bit_compute_dtype=compute_dtype)


class HFBackend:
    """A local causal language model driven through transformers.

    Parameters
    ----------
    path : str or pathlib.Path
        A Hugging Face model directory (``config.json`` + weights) or a
        ``.gguf`` file. Nothing is downloaded: the files must be local.
    device : str, default="auto"
        ``"auto"`` uses CUDA when available, else the CPU. Ignored when
        ``device_map`` is given.
    dtype : {"auto", "float32", "bfloat16", "float16"}, default="auto"
        ``"auto"`` is bfloat16 on CUDA; on the CPU, float32 for a GGUF whose
        weights transformers keeps packed, else bfloat16 on CPUs with native
        bfloat16 (AMX, AVX512-BF16) and float32 on other CPUs
        (:func:`choose_dtype`).
    device_map : str or dict, optional
        Passed to transformers (accelerate): ``"auto"`` spreads the layers
        over every visible GPU, then the CPU; ``"cpu"``, ``"cuda:0"``
        or a dict of module names to devices also work. Inputs go to the
        device of the input embeddings (the first layer).
    max_memory : dict or str, optional
        Memory per device for ``device_map``, e.g. ``{0: "70GiB", 1:
        "70GiB", "cpu": "100GiB"}`` or the string ``"0:70GiB,1:70GiB,cpu:100GiB"``.
    quantization : {None, "8bit", "4bit"}, default=None
        Load the weights 8- or 4-bit (NF4) through bitsandbytes
        (``pip install skteam[quant]``; CUDA). Implies ``device_map="auto"``
        when no ``device_map`` is given.

    Attributes
    ----------
    dtype : str
        The dtype the loaded layers compute in (``generation_stats_["dtype"]``).
    dtype_reason : str
        Why: ``"requested"``, or the rule of ``dtype="auto"`` that chose it.
    weights_packed : bool
        Whether transformers kept the weights in GGUF blocks.
    source : pathlib.Path
        What the weights and tokenizer were read from: ``path``, or for a
        GGUF file that transformers de-quantises, its checkpoint directory in
        skteam's cache folder (:func:`skteam.llm.embedded.converted_checkpoint`;
        ``SKTEAM_CACHE_DIR=off`` reads the file).

    Notes
    -----
    Instances are shared through :func:`skteam.llm.registry.get_backend`;
    build them there so that a process loads each model once.
    """

    #: Whether prompts' shared prefixes stay in the cache once per group
    #: (:func:`skteam.llm._kvcache.share_prefix`); set on loading: on the
    #: CPU, with skteam's attention, where attention's time is the reading
    #: of the cache.
    share_prefixes = False

    def __init__(self, path, device="auto", dtype="auto", device_map=None,
                 max_memory=None, quantization=None):
        import torch
        from transformers import AutoModelForCausalLM

        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(
                f"Model path {str(path)!r} does not exist; pass a local Hugging "
                "Face model directory, a .gguf file, or model='embedded'."
            )
        max_memory = check_load_options(dtype, device_map, max_memory, quantization)
        if quantization is not None and device_map is None:
            device_map = "auto"
        self.path = path
        self.device_map = device_map
        self.max_memory = max_memory
        self.quantization = quantization
        if device_map is None:
            self.device = resolve_device(device)
            self.dtype, self.dtype_reason = choose_dtype(dtype, self.device, path)
        else:
            self.device = None  # set from the loaded model below
            self.dtype, self.dtype_reason = choose_dtype(
                dtype, _map_device_kind(device_map), path)
        self.name = str(path)
        self.usage = Usage()
        self._lock = threading.Lock()
        torch_dtype = getattr(torch, self.dtype)
        load_kwargs = {"dtype": torch_dtype}
        if device_map is not None:
            load_kwargs["device_map"] = device_map
            if max_memory is not None:
                load_kwargs["max_memory"] = dict(max_memory)  # transformers edits it
        if quantization is not None:
            load_kwargs["quantization_config"] = quantization_config(
                quantization, torch_dtype)
        logger.info("Loading %s on %s (%s; %s).", path.name,
                    self.device or f"device_map={device_map!r}", self.dtype,
                    self.dtype_reason)
        # transformers' own bars (de-quantising, loading weights) would
        # interleave with skteam's progress bar: a log line says it instead
        from transformers.utils import logging as hf_logging

        bars = hf_logging.is_progress_bar_enabled()
        hf_logging.disable_progress_bar()
        gguf_tqdm = _quiet_gguf_bar()
        # transformers 5 warns "packed is fastest in float32" for any GGUF not
        # loaded in float32, also for files it then unpacks (every
        # architecture outside its GGUF_ARCHS): dropped when not packed
        unpacked_note = None
        if path.is_file() and not gguf_weights_packed(path):
            unpacked_note = _DropPackedNote()
            logging.getLogger(_GGUF_QUANTIZER_LOGGER).addFilter(unpacked_note)
        try:
            # a GGUF file transformers de-quantises loads from its checkpoint
            # directory (written once): the same weights, without the parsing
            source = path
            if (path.is_file() and quantization is None
                    and not gguf_weights_packed(path)):
                from .embedded import converted_checkpoint

                source = converted_checkpoint(path) or path
            self.source = source
            self.tokenizer = load_tokenizer(source)
            if source.is_file():
                model = AutoModelForCausalLM.from_pretrained(
                    source.parent, gguf_file=source.name, **load_kwargs
                )
            else:
                model = AutoModelForCausalLM.from_pretrained(
                    source, local_files_only=True, **load_kwargs
                )
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"Could not load a causal language model from {str(path)!r}: "
                f"{exc}. Pass a Hugging Face model directory with config.json "
                "and weights, or a .gguf file."
            ) from exc
        finally:
            if unpacked_note is not None:
                logging.getLogger(_GGUF_QUANTIZER_LOGGER).removeFilter(unpacked_note)
            if bars:
                hf_logging.enable_progress_bar()
            if gguf_tqdm is not None:
                from transformers import modeling_gguf_pytorch_utils

                modeling_gguf_pytorch_utils.tqdm = gguf_tqdm
        if device_map is None and quantization is None:
            model = model.to(self.device)
        self.model = model.eval()
        from ._attention import use_packed_attention

        self.packed_attention = use_packed_attention(self.model)
        if self.device is None:
            self.device = str(self.input_device)
        self.share_prefixes = (self.packed_attention
                               and self.input_device.type == "cpu")
        self._check_loaded_dtype()
        self.context_length = int(
            getattr(self.model.config, "max_position_embeddings", 2048)
        )
        self._ll_tokenizer = None
        self._grammar_cache = {}

    def _check_loaded_dtype(self):
        """Record the dtype the loaded layers compute in and the packing found.

        ``dtype`` becomes the loaded model's own float dtype when transformers
        settled another one; a packed model loaded in another dtype than
        float32 (``dtype="auto"`` foresaw no packing) is logged.
        """
        self.weights_packed = packed_modules(self.model) > 0
        loaded = str(getattr(self.model, "dtype", "")).removeprefix("torch.")
        if loaded in _DTYPES and loaded != self.dtype:
            self.dtype_reason = (f"{self.dtype_reason}; loaded as {loaded} by "
                                 "transformers")
            self.dtype = loaded
        if self.weights_packed and self.dtype != "float32" \
                and self.dtype_reason.startswith("auto"):
            logger.warning(
                "transformers kept the weights of %s packed; its kernels compute "
                "in float32, so dtype='float32' would be faster than %s.",
                self.path.name, self.dtype)

    @property
    def input_device(self):
        """The device of the first layer (the input embeddings): inputs go there."""
        embeddings = getattr(self.model, "get_input_embeddings", None)
        if embeddings is None:  # no weights (a test double)
            import torch

            return torch.device(self.device)
        return embeddings().weight.device

    @property
    def _step_overhead(self) -> float:
        """A forward pass's fixed cost in row-tokens (:func:`step_width`)."""
        return STEP_OVERHEAD_TOKENS.get(self.input_device.type,
                                        STEP_OVERHEAD_TOKENS["cpu"])

    @functools.cached_property
    def _masked_lead(self) -> int:
        """Masked positions before each row's prompt (:data:`MASKED_LEAD`)."""
        return MASKED_LEAD.get(self.input_device.type, 0)

    @property
    def hf_device_map(self):
        """Where accelerate put each module (``None`` without ``device_map``)."""
        return getattr(self.model, "hf_device_map", None)

    def embed(self, texts: Sequence[str]):
        """One vector per text: the mean of the model's last hidden states.

        The texts are run as ordinary text in one forward pass, padded on the
        right (a causal model's states at a text's own positions do not see
        the padding after it), with the backend's lock held; the usage
        counter is not touched (these are not generation calls).

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        vectors : ndarray of shape (len(texts), hidden_size), float32, or None
            ``None`` for a backend without weights (a test double).
        """
        import numpy as np
        import torch

        if self.model is None:
            return None
        ids = [self.tokenizer.encode(self._as_text(t) or " ", add_special_tokens=False)
               for t in texts]
        if not ids:
            return np.zeros((0, self.model.config.hidden_size), dtype=np.float32)
        width = max(len(row) for row in ids)
        pad = self.pad_token_id
        dev = self.input_device
        input_ids = torch.tensor([row + [pad] * (width - len(row)) for row in ids],
                                 device=dev)
        mask = torch.tensor([[1] * len(row) + [0] * (width - len(row)) for row in ids],
                            device=dev)
        with self._lock, torch.inference_mode():
            hidden = self.model(input_ids=input_ids, attention_mask=mask,
                                output_hidden_states=True, use_cache=False,
                                logits_to_keep=1).hidden_states[-1].float()
        weights = mask.to(hidden.dtype).unsqueeze(-1)
        means = (hidden * weights).sum(dim=1) / weights.sum(dim=1)
        return means.cpu().numpy().astype(np.float32)

    # -- text helpers -----------------------------------------------------
    def chat_prompt(self, system: str, user: str, prefill: str = "") -> str:
        """The chat template around ``system`` and ``user``, then ``prefill``.

        The texts carry data (column names, categories, descriptions), so a
        special-token string inside them (``"<|im_end|>"``) is broken with a
        zero-width space: only the template itself opens or closes a turn.
        """
        messages = [
            {"role": "system", "content": self._as_text(system)},
            {"role": "user", "content": self._as_text(user)},
        ]
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        else:  # a base model without a template: plain turns
            text = f"{messages[0]['content']}\n\n{messages[1]['content']}\n\n"
        return text + self._as_text(prefill)

    @property
    def _special_texts(self) -> tuple:
        texts = getattr(self, "_special_texts_cache", None)
        if texts is None:
            found = {t.content for t in getattr(self.tokenizer, "added_tokens_decoder",
                                                {}).values() if t.special}
            found.update(getattr(self.tokenizer, "all_special_tokens", []))
            texts = tuple(sorted((t for t in found if len(t) > 1), key=len,
                                 reverse=True))
            self._special_texts_cache = texts
        return texts

    def _as_text(self, text: str) -> str:
        """``text`` with every special-token string made ordinary text."""
        for special in self._special_texts:
            if special in text:
                broken = special[0] + ZERO_WIDTH_SPACE + special[1:]
                text = text.replace(special, broken)
        return text

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` read as ordinary text.

        A special-token string is counted as the ordinary tokens that spell
        it (as generation writes it), so budgets of data never fall short;
        the template's own markers in a chat prompt are then over-counted by
        a few tokens, which keeps context checks on the safe side.
        """
        return len(self.tokenizer.encode(text, add_special_tokens=False,
                                         split_special_tokens=True))

    # -- grammar ------------------------------------------------------------
    @property
    def ll_tokenizer(self):
        if self._ll_tokenizer is None:
            import llguidance.hf

            self._ll_tokenizer = llguidance.hf.from_tokenizer(
                self.tokenizer, n_vocab=self.vocab_size,
                eos_token=sorted(self.eos_token_ids) or None,
            )
        return self._ll_tokenizer

    def _matcher(self, grammar: str):
        import llguidance

        compiled = self._grammar_cache.get(grammar)
        if compiled is None:
            compiled = llguidance.LLMatcher.grammar_from_lark(grammar)
            if len(self._grammar_cache) > 256:
                self._grammar_cache.clear()
            self._grammar_cache[grammar] = compiled
        matcher = llguidance.LLMatcher(self.ll_tokenizer, compiled)
        if matcher.is_error():
            raise ValueError(f"Invalid grammar: {matcher.get_error()}\n{grammar}")
        return matcher

    def _spelled(self, matcher) -> list:
        """The next forced token, with special-token strings spelled as text.

        A forced text that holds a special-token string (``"<|im_end|>"`` in
        a category or a column name) tokenizes to that special token, which
        the grammar does not accept as text; spelling it with ordinary tokens
        keeps data as data.
        """
        text = matcher.compute_ff_bytes().decode("utf-8", errors="ignore")
        ids = self.tokenizer.encode(text, add_special_tokens=False,
                                    split_special_tokens=True)
        if ids and matcher.validate_tokens(ids[:1]) == 1:
            return ids[:1]
        raise RuntimeError(
            f"The grammar forces the text {text!r}, which the tokenizer of "
            f"{self.name!r} cannot write token by token."
        )

    # -- model calls ----------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return int(self.model.config.vocab_size)

    @property
    def eos_token_ids(self) -> set:
        """Every token that ends a turn or a text.

        The tokenizer's end token, the generation config's and the model
        config's (Llama 3 lists ``<|eot_id|>`` and ``<|end_of_text|>``
        there). The grammar matcher allows each of them once a row is
        complete.
        """
        ids = {self.tokenizer.eos_token_id}
        for config in (getattr(self.model, "generation_config", None),
                       self.model.config):
            extra = getattr(config, "eos_token_id", None)
            if extra is not None:
                ids.update(extra if isinstance(extra, (list, tuple)) else [extra])
        return {int(i) for i in ids if i is not None and 0 <= int(i) < self.vocab_size}

    @property
    def pad_token_id(self) -> int:
        """The tokenizer's pad token, else an end token (masked out anyway)."""
        pad = self.tokenizer.pad_token_id
        if pad is None:
            pad = self.tokenizer.eos_token_id
        if pad is None:
            pad = min(self.eos_token_ids, default=0)
        return int(pad)

    def _new_cache(self):
        from ._kvcache import growing_cache

        return growing_cache()

    def _forward(self, input_ids, attention, position, cache):
        """Logits of the last position for every row, as float32."""
        from ._attention import attending

        with attending(cache):
            out = self.model(
                input_ids=input_ids,
                attention_mask=attention,
                position_ids=position,
                use_cache=True,
                logits_to_keep=1,
                **{self._cache_kwarg: cache},
            )
        return out.logits[:, -1, :].float()

    def _prefill(self, ids, cache):
        """Run the prompts ``ids`` into ``cache``; the state decoding starts from.

        A prefix that every prompt shares is run once and copied to every
        row; prompts that share a longer prefix among themselves (a worker
        call's prompts of one role share its description) run that part once
        per group (:func:`prefix_groups`) when that costs less than running it
        in every row; then each row's rest, left-padded. On the CPU every row
        keeps at least one masked position (:data:`MASKED_LEAD`), and with
        :attr:`share_prefixes` the cache keeps each group's prefix (or the
        prefix of all) once, not copied to each of its rows.

        Returns
        -------
        logits : Tensor of shape (n_rows, vocab)
            Of each prompt's last position.
        attention : Tensor of shape (n_rows, width)
            The attention mask of the cache, padding masked.
        next_pos : Tensor of shape (n_rows, 1)
            The position of each row's next token.
        n_in : int
            Prompt tokens run through the model (padding excluded).
        """
        import torch

        from ._attention import NAME

        dev = self.input_device
        # the two-part attention is skteam's attention's: another one set on
        # the model since (transformers' own) reads whole rows
        share = (self.share_prefixes
                 and getattr(self.model.config, "_attn_implementation", None) == NAME)
        n_rows = len(ids)
        shared = _common_prefix_length(ids) if n_rows > 1 else 0
        if shared < MIN_SHARED_PREFIX:
            shared = 0
        attention = torch.ones((1, shared), dtype=torch.long, device=dev)
        next_pos = torch.full((1, 1), shared, dtype=torch.long, device=dev)
        if shared:
            prefix = torch.tensor([ids[0][:shared]], dtype=torch.long, device=dev)
            self._forward(prefix, attention, torch.arange(shared, device=dev)[None, :],
                          cache)
        groups = prefix_groups(ids, shared)
        n_in = shared
        lead = self._masked_lead
        row_group = torch.zeros(n_rows, dtype=torch.long, device=dev)
        if groups:
            parts = [ids[g[0]][shared:end] for g, end in groups]
            attention, next_pos = _spread_rows(
                cache, attention, next_pos,
                torch.zeros(len(groups), dtype=torch.long, device=dev), share=False)
            _, attention, next_pos = self._extend(parts, attention, next_pos, cache,
                                                  lead)
            n_in += sum(len(x) for x in parts)
            starts = [0] * n_rows
            for k, (rows, end) in enumerate(groups):
                for i in rows:
                    row_group[i], starts[i] = k, end
            lead = 0
        else:
            starts = [shared] * n_rows
        attention, next_pos = _spread_rows(cache, attention, next_pos, row_group,
                                           share)
        rests = [x[start:] for x, start in zip(ids, starts)]
        n_in += sum(len(x) for x in rests)
        logits, attention, next_pos = self._extend(rests, attention, next_pos, cache,
                                                   lead)
        return logits, attention, next_pos, n_in

    def _extend(self, parts, attention, next_pos, cache, lead=0):
        """Append one token sequence per cache row, left-padded to one width.

        Returns the last position's logits, the extended attention mask and
        each row's next position.
        """
        import torch

        dev = self.input_device
        width = max(len(x) for x in parts) + lead
        tokens = torch.full((len(parts), width), self.pad_token_id, dtype=torch.long)
        mask = torch.zeros((len(parts), width), dtype=torch.long)
        for i, x in enumerate(parts):
            if x:
                tokens[i, width - len(x):] = torch.tensor(x, dtype=torch.long)
                mask[i, width - len(x):] = 1
        mask = mask.to(dev)
        attention = torch.cat([attention, mask], dim=1)
        position = next_pos + (mask.cumsum(-1) - 1).clamp(min=0)
        logits = self._forward(tokens.to(dev), attention, position, cache)
        lengths = torch.tensor([[len(x)] for x in parts], dtype=torch.long, device=dev)
        return logits, attention, next_pos + lengths

    @property
    def _cache_kwarg(self) -> str:
        import inspect

        params = inspect.signature(self.model.forward).parameters
        return "cache" if "cache" in params else "past_key_values"

    # -- generation -----------------------------------------------------------
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
        """Generate one grammar-constrained text per prompt.

        Parameters
        ----------
        prompts : sequence of str
            Fully rendered prompts (see :meth:`chat_prompt`).
        grammars : sequence of str
            One llguidance Lark grammar per prompt.
        seeds : sequence of int
            One seed per prompt; a prompt's text depends only on its prompt,
            grammar and seed.
        max_new_tokens : int, default=256
            Hard limit of generated tokens per prompt.
        temperature : float, default=0.8
            Sampling temperature; 0 means greedy decoding.
        usage : Usage, optional
            A caller's counter that receives this call's counts too (the
            backend's own :attr:`usage` always does).

        Returns
        -------
        texts : list of str
            The generated texts (without the prompt).
        """
        if not (len(prompts) == len(grammars) == len(seeds)):
            raise ValueError("prompts, grammars and seeds must have equal lengths")
        if not prompts:
            return []
        with self._lock, _Timer() as timer:
            texts, n_in, n_out, n_forced = self._generate(
                list(prompts), list(grammars), list(seeds), max_new_tokens, temperature
            )
        counts = dict(calls=1, prompts=len(prompts), input_tokens=n_in,
                      output_tokens=n_out, forced_tokens=n_forced,
                      seconds=timer.seconds)
        self.usage.add(**counts)
        if usage is not None:
            usage.add(**counts)
        return texts

    def _generate(self, prompts, grammars, seeds, max_new_tokens, temperature):
        import llguidance.torch as llt
        import torch

        tok = self.tokenizer
        ids = [tok.encode(p, add_special_tokens=False) for p in prompts]
        n_rows = len(ids)
        longest = max(len(x) for x in ids)
        if longest + max_new_tokens > self.context_length:
            raise ValueError(
                f"A prompt of {longest} tokens plus {max_new_tokens} new tokens "
                f"exceeds the model's context of {self.context_length} tokens; "
                "use fewer features per role, shorter descriptions or fewer "
                "in-context examples."
            )

        matchers = [self._matcher(g) for g in grammars]
        generators = []
        for seed in seeds:
            gen = torch.Generator(device="cpu")
            gen.manual_seed(int(seed) % (2**63))
            generators.append(gen)
        bitmask = llt.allocate_token_bitmask(n_rows, self.vocab_size)
        eos_ids = self.eos_token_ids
        pad_id = self.pad_token_id
        out_tokens = [[] for _ in range(n_rows)]
        n_forced = 0
        active = list(range(n_rows))
        dev = self.input_device
        overhead = self._step_overhead

        cache = self._new_cache()
        with torch.inference_mode():
            logits, attention, next_pos, n_in = self._prefill(ids, cache)
            while active:
                for j, i in enumerate(active):
                    llt.fill_next_token_bitmask(matchers[i], bitmask, j)
                llt.apply_token_bitmask_inplace(
                    logits, bitmask[: len(active)].to(logits.device)
                )
                logits = logits.cpu()
                proposed = []  # (tokens, forced) of each active row
                sampled = []  # active positions whose token is drawn
                for j, i in enumerate(active):
                    m = matchers[i]
                    room = max_new_tokens - len(out_tokens[i])
                    forced_now = m.compute_ff_tokens()[: min(room, MAX_FORCED_PER_STEP)]
                    if forced_now:
                        valid = m.validate_tokens(forced_now)
                        forced_now = forced_now[:valid] if valid else self._spelled(m)
                    if forced_now:
                        proposed.append((forced_now, True))
                    elif temperature <= 0:
                        proposed.append(([int(torch.argmax(logits[j]))], False))
                    else:
                        proposed.append(None)
                        sampled.append(j)
                if sampled:
                    drawn = sample_tokens(
                        torch.softmax(logits[sampled] / temperature, dim=-1),
                        [generators[active[j]] for j in sampled])
                    for j, token in zip(sampled, drawn):
                        proposed[j] = ([token], False)
                limit = step_width([len(t) for t, _ in proposed], overhead)
                step = {}  # active position -> the tokens this row takes now
                for j, i in enumerate(active):
                    m = matchers[i]
                    tokens, forced = proposed[j]
                    if forced:
                        tokens = tokens[:limit]
                        n_forced += len(tokens)
                    if tokens[0] in eos_ids and m.is_accepting():
                        continue
                    if not m.consume_tokens(tokens):
                        raise RuntimeError(
                            "The grammar matcher rejected its own token: "
                            f"{m.get_error()}"
                        )
                    out_tokens[i].extend(tokens)
                    if not m.is_stopped() and len(out_tokens[i]) < max_new_tokens:
                        step[j] = tokens
                if not step:
                    break
                keep = sorted(step)
                if len(keep) < len(active):
                    index = torch.tensor(keep, dtype=torch.long, device=dev)
                    cache.batch_select_indices(index)
                    attention = attention[index]
                    next_pos = next_pos[index]
                    active = [active[j] for j in keep]
                # a row's tokens of this step, right-aligned: [pad...][tokens]
                lengths = [len(step[j]) for j in keep]
                width = max(lengths)
                chosen = torch.full((len(keep), width), pad_id, dtype=torch.long)
                mask = torch.zeros((len(keep), width), dtype=attention.dtype)
                for r, j in enumerate(keep):
                    chosen[r, width - lengths[r]:] = torch.tensor(step[j])
                    mask[r, width - lengths[r]:] = 1
                mask = mask.to(dev)
                attention = torch.cat([attention, mask], dim=1)
                offsets = (mask.cumsum(-1) - 1).clamp(min=0)
                logits = self._forward(chosen.to(dev), attention, next_pos + offsets,
                                       cache)
                next_pos = next_pos + torch.tensor(lengths, device=dev)[:, None]
        texts = [tok.decode(t, skip_special_tokens=True) for t in out_tokens]
        n_out = sum(len(t) for t in out_tokens)
        return texts, n_in, n_out - n_forced, n_forced


def _map_device_kind(device_map) -> str:
    """``"cuda"`` or ``"cpu"``: what a ``device_map`` puts the weights on."""
    import torch

    if isinstance(device_map, dict):
        values = {str(v) for v in device_map.values()}
        gpu = any(v.isdigit() or v.startswith("cuda") for v in values)
        return "cuda" if gpu and torch.cuda.is_available() else "cpu"
    text = str(device_map)
    if text in ("cpu", "disk"):
        return "cpu"
    return "cuda" if torch.cuda.is_available() else "cpu"


_GGUF_QUANTIZER_LOGGER = "transformers.quantizers.quantizer_gguf"


class _DropPackedNote(logging.Filter):
    """Drops transformers' "weights packed is fastest in float32" note."""

    def filter(self, record):
        note = "with its weights packed is fastest in float32"
        return note not in record.getMessage()


def _quiet_gguf_bar():
    """Silence the GGUF de-quantising bar (a bare tqdm, not behind
    transformers' switch); return the original to restore, or None."""
    try:
        from transformers import modeling_gguf_pytorch_utils as module
    except ImportError:
        return None
    original = getattr(module, "tqdm", None)
    if original is None:
        return None
    module.tqdm = functools.partial(original, disable=True)
    return original


ZERO_WIDTH_SPACE = "\u200b"

# Shorter shared prefixes are not worth a separate forward pass.
MIN_SHARED_PREFIX = 16
# Grammar-forced tokens (separators, column names, a row's parent values)
# enter the model several at a time, in one forward pass.
MAX_FORCED_PER_STEP = 64
# The fixed cost of one forward pass, in row-tokens of compute: about 50 ms
# against ~3 ms per row-token for the bundled model on a 2-core CPU; a GPU
# pass of a few thousand row-tokens costs about what a one-token step does.
STEP_OVERHEAD_TOKENS = {"cpu": 16, "cuda": 4096}
# Masked positions every row of a batch keeps before its prompt. With an
# attention mask of ones only, transformers hands SDPA no mask, and PyTorch's
# CPU attention kernel then decodes 2-4x slower than with a mask (bundled
# model, 2-core CPU: 101 vs 52 ms per step at 8 rows of 500 tokens, 698 vs
# 186 ms at 40 rows of 1,000); one masked position keeps the masked kernel.
MASKED_LEAD = {"cpu": 1}


def step_width(lengths, overhead: float) -> int:
    """Tokens per row of one decoding step, given what each row could take.

    A step is one forward pass over every active row, each row padded to the
    step's width, so a row with many forced tokens (a line's parent values)
    makes every other row pay for its width. The width chosen is the one of
    the candidate lengths that enters the most tokens per unit of cost
    (``overhead`` plus one per row-token, padding included); rows with more
    tokens take the rest in later steps. Ties go to the wider step.

    Parameters
    ----------
    lengths : list of int
        Tokens each active row could take now (1 for a sampled token, the
        forced run for a forced one).
    overhead : float
        The fixed cost of a forward pass in row-tokens.

    Returns
    -------
    width : int
        At least 1.
    """
    n = len(lengths)
    best, best_rate = 1, -1.0
    for w in sorted(set(lengths)):
        rate = sum(min(x, w) for x in lengths) / (overhead + n * w)
        if rate >= best_rate:
            best, best_rate = w, rate
    return max(1, best)


def _spread_rows(cache, attention, next_pos, row_group, share: bool):
    """The state of each cache row (a prompt group's prefix) for each of its rows.

    Row ``i`` of the result continues cache row ``row_group[i]``. With
    ``share`` the cache keeps every group's prefix once
    (:func:`skteam.llm._kvcache.share_prefix`), else copies it into each row.
    """
    if attention.shape[1]:  # the prefix is in the cache
        if share:
            from ._kvcache import share_prefix

            share_prefix(cache, row_group)
        else:
            cache.batch_select_indices(row_group)
    return attention[row_group], next_pos[row_group]


def sample_tokens(probs, generators) -> list:
    """One token per row of ``probs``, drawn with that row's generator.

    Inverse transform sampling: one uniform number per row from its own
    generator against the row's cumulative distribution (in float64), so a
    row's draw depends only on its probabilities and its generator. Unlike
    ``torch.multinomial``, which draws a random number per vocabulary entry
    (about 1 ms per row for a 49k vocabulary), this costs one number per row.

    Parameters
    ----------
    probs : Tensor of shape (n_rows, vocab)
        Probabilities (masked tokens at 0).
    generators : list of torch.Generator
        One per row.

    Returns
    -------
    tokens : list of int
        A token with positive probability for every row.
    """
    import torch

    cdf = probs.double().cumsum(-1)
    total = cdf[:, -1]
    u = torch.cat([torch.rand(1, dtype=torch.float64, generator=g) for g in generators])
    # below the total even where u * total rounds up to it: the first entry whose
    # cumulative sum exceeds it then always has probability
    x = torch.minimum(u * total, torch.nextafter(total, torch.zeros_like(total)))
    return torch.searchsorted(cdf, x[:, None], right=True)[:, 0].tolist()


def prefix_groups(seqs, start: int, min_shared: int = MIN_SHARED_PREFIX) -> list:
    """Groups of sequences that share a prefix beyond ``start``, if worth it.

    The sequences are sorted; neighbours whose common prefix reaches at least
    ``min_shared`` tokens beyond ``start`` form a group, whose prefix is the
    longest one all its members share (each keeps at least one token of its
    own). A group whose members share longer prefixes among themselves (the
    prompts of one role, within the prompts of roles with the same parents)
    is split the same way, one level deeper, wherever that costs fewer
    row-tokens. A sequence in no group is a group of its own with one token.
    The groups are returned only when running each group's prefix once and
    then every row's rest costs fewer row-tokens (padding included) than
    running every row from ``start``.

    Parameters
    ----------
    seqs : list of list of int
        Token ids of each prompt.
    start : int
        Tokens already shared by every sequence (run once before).
    min_shared : int, default=MIN_SHARED_PREFIX
        The fewest extra tokens a group must share.

    Returns
    -------
    groups : list of (list of int, int)
        ``(rows, end)``: the rows of a group and the end of their shared
        prefix; every row is in exactly one group. Empty when grouping does
        not pay.
    """
    n = len(seqs)
    if n < 3 or min(len(x) for x in seqs) < start + 2:
        return []
    order = sorted(range(n), key=lambda i: seqs[i])

    def runs(rows, level):
        """``rows`` (sorted) cut where neighbours share < ``level`` tokens."""
        out, current = [], [rows[0]]
        for a, b in zip(rows, rows[1:]):
            if _common_prefix_length([seqs[a], seqs[b]]) >= level:
                current.append(b)
            else:
                out.append(current)
                current = [b]
        out.append(current)
        return [(r, _common_prefix_length([seqs[i] for i in r]) if len(r) > 1
                 else start + 1) for r in out]

    def cost(groups):
        if all(len(rows) == 1 for rows, _ in groups):
            return math.inf
        ends = {i: end for rows, end in groups for i in rows}
        return (len(groups) * max(end - start for _, end in groups)
                + n * max(len(seqs[i]) - ends[i] for i in range(n)))

    groups = runs(order, start + min_shared)
    best = cost(groups)
    split = True
    while split:  # one level deeper wherever that costs less
        split = False
        for k, (rows, end) in enumerate(groups):
            if len(rows) < 2:
                continue
            parts = runs(rows, end + min_shared)
            if len(parts) == 1:
                continue
            trial = groups[:k] + parts + groups[k + 1:]
            trial_cost = cost(trial)
            if trial_cost < best:
                groups, best, split = trial, trial_cost, True
                break
    flat = n * max(len(x) - start for x in seqs)
    return sorted((sorted(rows), end) for rows, end in groups) if best < flat else []


def _common_prefix_length(seqs) -> int:
    """Length of the longest common prefix, leaving each sequence one token."""
    limit = min(len(x) for x in seqs) - 1
    first = seqs[0]
    n = 0
    while n < limit and all(x[n] == first[n] for x in seqs[1:]):
        n += 1
    return n
