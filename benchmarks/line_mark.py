"""Where does a worker's first answer line start? With the line mark and without.

For each table of the utility suite and of the held-out set (the seed's
training set, 8 minority + 40 other rows) and each of its first
``--columns`` numeric columns without negative values, a root role of that
column and the next two columns in table order, and its worker prompt for
the minority class as ``TeamTrimSampler`` builds it (8 examples of the
class, one new record). The bundled model's next-token distribution at the
first cell of the answer, over the digits 0-9, is read twice: with every
line starting with ``prompts.LINE_MARK`` (the default) and with no mark
(the earlier format, where the first answer line starts right after the
chat template's assistant turn). Per prompt it reports the probability of a
leading "1" and the total variation distance from the leading digits of the
examples the prompt shows. No row is generated: one forward pass per
prompt and variant.

Usage: ``python benchmarks/line_mark.py [--seed 0] [--columns 4]``; writes
``benchmarks/results/line_mark.csv`` (one row per prompt and variant) and
prints the means.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).parent))
import _suite_tables as T  # noqa: E402  (same folder)
import suite as S  # noqa: E402

from skteam.llm import get_backend  # noqa: E402
from skteam.team import ExamplePool, prompts  # noqa: E402
from skteam.utils._frames import as_text_frame, training_schema  # noqa: E402

RESULTS = Path(__file__).parent / "results"
DIGITS = [str(d) for d in range(10)]


def digit_probabilities(backend, prompt: str) -> np.ndarray:
    """The model's next-token probabilities over the digits, renormalised."""
    tok = backend.tokenizer
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False).input_ids
    with torch.no_grad():
        logits = backend.model(ids.to(backend.model.device)).logits[0, -1].float()
    digit_ids = tok.convert_tokens_to_ids(DIGITS)
    return torch.softmax(logits[digit_ids], -1).cpu().numpy()


def first_cell_prompts(table, seed: int, n_columns: int):
    """(column, prompt text without the chat template, leading digits shown)
    for the table's first ``n_columns`` non-negative numeric columns."""
    cell = S.table_cells(table, [8], 5, [seed], 1000, None)[0][0]
    X, _ = as_text_frame(cell.X_train)
    y = np.asarray(cell.y_train)
    ctx = cell.context
    schema = training_schema(X, y, feature_descriptions=ctx.get("feature_descriptions"),
                             dataset_description=ctx.get("dataset_description"))
    pool = ExamplePool(schema, X, y)
    rng = np.random.default_rng(seed)
    names = list(schema.names)
    out = []
    for i, name in enumerate(names):
        spec = schema[name]
        if spec.kind == "categorical" or X[name].min() < 0:
            continue
        role = [schema[n] for n in names[i:i + 3]]
        idx = pool.sample(rng, 8, table.minority)
        examples = [("", pool.line([s.name for s in role], j)) for j in idx]
        shown = [pool.cells[name][j][0] for j in idx]
        out.append((name, lambda r=role, e=examples: prompts.worker_user(
            schema, "Worker", r, [], table.minority, e, 1), shown))
        if len(out) == n_columns:
            break
    return out


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--columns", type=int, default=4)
    p.add_argument("--model", default="embedded")
    p.add_argument("--out", default=str(RESULTS / "line_mark.csv"))
    args = p.parse_args(argv)
    backend = get_backend(args.model)
    mark = prompts.LINE_MARK
    rows, t0 = [], time.perf_counter()
    for name in [*T.TABLES, *T.REFERENCE_TABLES]:
        for column, user, shown in first_cell_prompts(T.table(name), args.seed,
                                                       args.columns):
            seen = np.array([np.mean([s == d for s in shown]) for d in DIGITS])
            for variant, line_mark in (("line mark", mark), ("no mark", "")):
                prompts.LINE_MARK = line_mark  # the prompt's example lines
                try:
                    text = backend.chat_prompt(prompts.WORKER_SYSTEM, user(),
                                               prefill=line_mark)
                finally:
                    prompts.LINE_MARK = mark
                q = digit_probabilities(backend, text)
                rows.append({"table": name, "seed": args.seed, "column": column,
                             "variant": variant, "p_leading_1": float(q[1]),
                             "shown_leading_1": float(seen[1]),
                             "tv_distance": float(0.5 * np.abs(q - seen).sum())})
    df = pd.DataFrame(rows)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(args.out, index=False)
    summary = df.groupby("variant")[["p_leading_1", "shown_leading_1",
                                     "tv_distance"]].mean().round(3)
    print(f"{df['table'].nunique()} tables, {len(df) // 2} prompts, "
          f"{time.perf_counter() - t0:.0f} s; wrote {args.out}")
    print(summary.to_string())
    wide = df.pivot_table(index=["table", "column"], columns="variant",
                          values="tv_distance")
    better = (wide["line mark"] < wide["no mark"]).mean()
    print(f"prompts where the mark is closer to the examples: {better:.0%}")
    return df


if __name__ == "__main__":
    main()
