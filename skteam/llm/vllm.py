"""vLLM's offline engine as a skteam backend (``model="vllm::<local dir>"``).

vLLM batches all prompts of a call on the GPU(s) and applies the grammar
with its llguidance-based ``guidance`` structured-output backend, which
reads skteam's Lark grammars as they are (no translation; the same
grammar engine as the transformers backend). The model is split over all
visible GPUs (tensor parallelism); restrict them with
``CUDA_VISIBLE_DEVICES``.

vLLM is an optional dependency (``pip install "skteam[vllm]"``; Linux with
a CUDA GPU). It is imported only when a ``vllm::`` model is loaded. Both
APIs are supported: ``StructuredOutputsParams`` and
``structured_outputs_config`` (vLLM >= 0.10.2) and ``GuidedDecodingParams``
and ``guided_decoding_backend`` (vLLM 0.8 to 0.11).
"""

from __future__ import annotations

import json
import logging
import threading
from pathlib import Path
from typing import Sequence

from .base import Usage, _Timer

logger = logging.getLogger("skteam")

INSTALL_HINT = (
    "model='vllm::<dir>' needs vLLM, which is not installed. Install it with "
    "`pip install \"skteam[vllm]\"` (or `pip install vllm`) on Linux with a "
    "CUDA GPU, or use model='hf::<dir>' or an OpenAI-compatible server "
    "(model='openai::<base url>|<model name>')."
)


def import_vllm():
    """Import vLLM, or raise ImportError with the install command."""
    try:
        import vllm
    except ImportError as exc:
        raise ImportError(INSTALL_HINT) from exc
    return vllm


def choose_tensor_parallel_size(n_gpus: int, n_heads: int | None = None) -> int:
    """The number of GPUs to split the model over.

    All visible GPUs, or the largest smaller count that divides the number
    of attention heads (vLLM requires it).

    Parameters
    ----------
    n_gpus : int
        Visible GPUs.
    n_heads : int, optional
        ``num_attention_heads`` of the model's ``config.json``.

    Returns
    -------
    size : int
    """
    if n_gpus < 1:
        raise RuntimeError(
            "model='vllm::<dir>' needs a CUDA GPU and none is visible; use "
            "model='hf::<dir>' on the CPU."
        )
    if not n_heads:
        return n_gpus
    return max(k for k in range(1, n_gpus + 1) if n_heads % k == 0)


def _visible_gpus() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _attention_heads(path: Path) -> int | None:
    try:
        config = json.loads((Path(path) / "config.json").read_text())
    except (OSError, ValueError):
        return None
    value = config.get("num_attention_heads")
    if value is None:
        value = (config.get("text_config") or {}).get("num_attention_heads")
    return int(value) if value else None


def structured_api(vllm_module) -> str:
    """``"structured_outputs"`` (vLLM >= 0.10.2) or ``"guided_decoding"``."""
    params = getattr(vllm_module, "sampling_params", None)
    if params is not None and hasattr(params, "StructuredOutputsParams"):
        return "structured_outputs"
    if params is not None and hasattr(params, "GuidedDecodingParams"):
        return "guided_decoding"
    raise ImportError(
        "This vLLM has neither StructuredOutputsParams nor GuidedDecodingParams; "
        "skteam needs vLLM >= 0.8 (`pip install -U \"skteam[vllm]\"`)."
    )


def engine_kwargs(path, *, tp_size: int, dtype: str = "auto", api: str,
                  **extra) -> dict:
    """Keyword arguments of ``vllm.LLM`` for a skteam model.

    The ``guidance`` structured-output backend is llguidance, which reads
    skteam's Lark grammars (``%json`` included) unchanged.
    """
    kwargs = {
        "model": str(path),
        "tokenizer": str(path),
        "tensor_parallel_size": int(tp_size),
        "dtype": dtype,
        "seed": 0,
    }
    if api == "structured_outputs":
        kwargs["structured_outputs_config"] = {"backend": "guidance"}
    else:
        kwargs["guided_decoding_backend"] = "guidance"
    kwargs.update(extra)
    return kwargs


def sampling_params(vllm_module, api: str, grammar: str, *, seed: int,
                    max_new_tokens: int, temperature: float):
    """A ``vllm.SamplingParams`` for one prompt: its grammar and its seed.

    ``top_p``, ``top_k`` and ``min_p`` are neutral, so tokens are sampled
    from the temperature-scaled distribution restricted by the grammar, as
    in the transformers backend; ``temperature=0`` is greedy.
    """
    params = vllm_module.sampling_params
    common = dict(
        n=1,
        temperature=float(temperature),
        top_p=1.0,
        top_k=-1,
        min_p=0.0,
        repetition_penalty=1.0,
        seed=int(seed) % (2**63),
        max_tokens=int(max_new_tokens),
        skip_special_tokens=True,
    )
    if api == "structured_outputs":
        constraint = params.StructuredOutputsParams(grammar=grammar)
        return vllm_module.SamplingParams(structured_outputs=constraint, **common)
    constraint = params.GuidedDecodingParams(grammar=grammar)
    return vllm_module.SamplingParams(guided_decoding=constraint, **common)


class VLLMBackend:
    """A local model run by vLLM's offline engine on the visible GPUs.

    Parameters
    ----------
    path : str or pathlib.Path
        A Hugging Face model directory. Nothing is downloaded.
    dtype : {"auto", "bfloat16", "float16", "float32"}, default="auto"
        ``"auto"`` lets vLLM take the model's own dtype.
    tensor_parallel_size : int, optional
        GPUs to split the model over; by default all visible GPUs (see
        :func:`choose_tensor_parallel_size`).
    gpu_memory_utilization : float, default=0.9
        Share of each GPU's memory vLLM may take.
    **engine_options
        Passed on to ``vllm.LLM`` (e.g. ``max_model_len``).

    Notes
    -----
    Build it through :func:`skteam.llm.registry.get_backend` with
    ``model="vllm::<dir>"`` so that a process loads the model once. Calls
    are serialised (one ``LLM.generate`` at a time); each call batches all
    its prompts. A prompt's text depends only on its prompt, grammar and
    seed up to the numerical noise of batched GPU kernels.
    """

    def __init__(self, path, dtype="auto", *, tensor_parallel_size=None,
                 gpu_memory_utilization=0.9, _vllm=None, _n_gpus=None,
                 **engine_options):
        # _vllm and _n_gpus let unit tests pass doubles (no GPU there)
        vllm = _vllm if _vllm is not None else import_vllm()
        path = Path(path)
        if not (path / "config.json").is_file():
            raise ValueError(
                f"{str(path)!r} is not a Hugging Face model directory "
                "(no config.json)."
            )
        if tensor_parallel_size is None:
            gpus = _visible_gpus() if _n_gpus is None else _n_gpus
            tensor_parallel_size = choose_tensor_parallel_size(
                gpus, _attention_heads(path)
            )
        self.path = path
        self.dtype = dtype
        self.name = f"vllm::{path}"
        self.usage = Usage()
        self._lock = threading.Lock()
        self._vllm = vllm
        self._api = structured_api(vllm)
        self.tensor_parallel_size = int(tensor_parallel_size)
        kwargs = engine_kwargs(path, tp_size=self.tensor_parallel_size, dtype=dtype,
                               api=self._api,
                               gpu_memory_utilization=gpu_memory_utilization,
                               **engine_options)
        logger.info("Loading %s with vLLM (tensor_parallel_size=%d)", path,
                    self.tensor_parallel_size)
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self.context_length = int(self.llm.llm_engine.model_config.max_model_len)

    def chat_prompt(self, system: str, user: str, prefill: str = "") -> str:
        messages = [
            {"role": "system", "content": system},
            {"role": "user", "content": user},
        ]
        text = self.tokenizer.apply_chat_template(
            messages, tokenize=False, add_generation_prompt=True
        )
        return text + prefill

    def count_tokens(self, text: str) -> int:
        return len(self.tokenizer.encode(text, add_special_tokens=False))

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
        """Generate one grammar-constrained text per prompt in one vLLM batch.

        Parameters and returns are those of
        :meth:`skteam.llm.hf.HFBackend.generate`. ``forced_tokens`` stays 0:
        vLLM samples grammar-forced tokens like the others, so they are
        counted as output tokens.
        """
        if not (len(prompts) == len(grammars) == len(seeds)):
            raise ValueError("prompts, grammars and seeds must have equal lengths")
        if not prompts:
            return []
        ids = [self.tokenizer.encode(p, add_special_tokens=False) for p in prompts]
        longest = max(len(x) for x in ids)
        if longest + max_new_tokens > self.context_length:
            raise ValueError(
                f"A prompt of {longest} tokens plus {max_new_tokens} new tokens "
                f"exceeds the model's context of {self.context_length} tokens; "
                "use fewer features per role, shorter descriptions or fewer "
                "in-context examples."
            )
        params = [
            sampling_params(self._vllm, self._api, g, seed=s,
                            max_new_tokens=max_new_tokens, temperature=temperature)
            for g, s in zip(grammars, seeds)
        ]
        inputs = [{"prompt_token_ids": x} for x in ids]
        with self._lock, _Timer() as timer:
            outputs = self.llm.generate(inputs, params, use_tqdm=False)
        texts = [out.outputs[0].text for out in outputs]
        n_out = sum(len(out.outputs[0].token_ids) for out in outputs)
        counts = dict(calls=1, prompts=len(prompts),
                      input_tokens=sum(len(x) for x in ids),
                      output_tokens=n_out, seconds=timer.seconds)
        self.usage.add(**counts)
        if usage is not None:
            usage.add(**counts)
        return texts

    def __repr__(self):
        return (f"VLLMBackend({str(self.path)!r}, "
                f"tensor_parallel_size={self.tensor_parallel_size})")
