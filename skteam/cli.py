"""The ``skteam`` command line: resample a CSV, inspect and edit the plan, report.

Three subcommands share one reading of the training table (a CSV file whose
``--target`` column holds the class labels; every other column is a
feature):

``skteam resample``
    Fit :class:`~skteam.TeamTrimSampler` and write the resampled table: the
    input's columns in the input's order (target included), the real rows
    first, then the generated ones; ``--mark-synthetic`` adds a column of
    booleans that is true for the generated rows. ``--report DIR`` also
    writes the QC report and plots (see :func:`skteam.report.save_report`).
``skteam plan``
    Run only the task manager and print (or save with ``-o``) its plan as
    JSON. The file is what ``--plan`` reads: edit it (move a feature to
    another role, rename roles, add or drop edges) and pass it back.
``skteam report``
    Run the same resampling as ``skteam resample`` and write only the report
    (``-o DIR``), not the resampled table.

Bad input ends the command with exit status 1 (2 for a bad command line)
and a one-line ``skteam: error: ...`` message on stderr; ``--debug`` shows
the traceback instead.
"""

from __future__ import annotations

import argparse
import csv
import inspect
import json
import logging
import math
import sys
import textwrap
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

from . import __version__
from .schema import _python

logger = logging.getLogger("skteam")

STRATEGY_WORDS = ("auto", "minority", "not minority", "not majority", "all")
DEFAULT_MARKER = "synthetic"

_EPILOG = """\
examples:
  # add generated rows to the minority class(es) of train.csv
  skteam resample train.csv --target y -o resampled.csv --mark-synthetic

  # inspect the task manager's plan, edit it, resample with the edited plan
  skteam plan train.csv --target y -o plan.json
  skteam resample train.csv --target y -o resampled.csv --plan plan.json

  # exact class counts, user constraints and feature descriptions
  skteam resample train.csv --target y -o out.csv \\
      --sampling-strategy '{"1": 100}' --constraints constraints.txt \\
      --descriptions descriptions.json --seed 0

  # QC report (CSV table, PNG plots, index.html) next to the output
  skteam resample train.csv --target y -o out.csv --report report/
  skteam report train.csv --target y -o report/

Run 'skteam <command> --help' for the options of a command.
"""

_RESAMPLE_EPILOG = """\
examples:
  skteam resample train.csv --target y -o out.csv
  skteam resample train.csv --target y -o out.csv --mark-synthetic is_new \\
      --sampling-strategy '{"1": 40}' --qc sanity,cost --seed 0 --report report/
  skteam resample train.csv --target y -o out.csv --plan plan.json --qc none

files:
  --constraints FILE   one constraint per line, e.g. "priors_count >= juv_fel_count"
                       or "0 <= bmi <= 80"; blank lines and lines starting
                       with '#' are ignored
  --descriptions FILE  JSON {"column": "meaning", ...}, or a CSV file with
                       rows column,description (an optional header row
                       'column,description' is skipped)
  --plan FILE          JSON written by 'skteam plan' (edited or not):
                       {"roles": [{"name": ..., "features": [...]}, ...],
                        "edges": [["parent role", "child role"], ...]}
"""

_PLAN_EPILOG = """\
examples:
  skteam plan train.csv --target y                 # print the plan
  skteam plan train.csv --target y -o plan.json    # save it, edit it, then
  skteam resample train.csv --target y -o out.csv --plan plan.json
  # with declared constraints: the plan is reordered for them, as in resample
  skteam plan train.csv --target y --constraints c.txt -o plan.json

The plan lists roles (a name and the features its worker writes) and edges
[parent, child]: a child role's worker sees the values its parents wrote.
Every feature must be in exactly one role and the edges must not form a
cycle. The keys "source" and "repairs" are informative and ignored on input.
"""

_REPORT_EPILOG = """\
examples:
  skteam report train.csv --target y -o report/
  skteam report train.csv --target y -o report/ --plan plan.json --seed 0

Writes DIR/qc_report.csv (one row per generated batch: rows dropped by each
QC stage, delta, tau, entropy gain, verdict), DIR/plan.json (the plan used),
PNG plots (per-stage acceptance, real vs synthetic marginals per class, a
2-D PCA projection) and DIR/index.html, which shows them all. It runs the
same resampling as 'skteam resample' with the same options; use
'skteam resample ... --report DIR' to get the resampled table too.
"""


class CLIError(Exception):
    """Bad input detected by the command line itself (exit status 1)."""


class _Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line on stderr (exit status 2)."""

    def error(self, message):
        self.exit(2, f"skteam: error: {message} (see '{self.prog} --help')\n")


# -- parser ---------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``skteam`` command.

    Returns
    -------
    parser : argparse.ArgumentParser
    """
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog="skteam",
        description=textwrap.fill(
            "Over-sample a CSV table with rows written by a team of language-model "
            "workers, trimmed by a three-stage quality control (team-then-trim)."),
        epilog=_EPILOG, formatter_class=fmt,
    )
    parser.add_argument("--version", action="version",
                        version=f"skteam {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND",
                                parser_class=_Parser)
    sub.required = True

    common = _Parser(add_help=False)
    common.add_argument("train", metavar="train.csv",
                        help="training table (CSV with a header row)")
    common.add_argument("--target", "-t", required=True, metavar="COLUMN",
                        help="the column holding the class labels")
    common.add_argument("--sep", default=",",
                        help="field separator of the CSV files (default: ',')")
    common.add_argument("--model", "-m", default="embedded", metavar="SPEC",
                        help="'embedded' (the bundled SmolLM2-135M, default), a "
                             "local Hugging Face model directory or .gguf file, "
                             "or 'hf::<path>'")
    common.add_argument("--descriptions", metavar="FILE",
                        help="feature descriptions: JSON {column: text} or CSV "
                             "column,description")
    common.add_argument("--dataset-description", metavar="TEXT",
                        help="one sentence on what a row is and what the "
                             "target means")
    common.add_argument("--seed", type=int, default=0, metavar="N",
                        help="random seed (default: 0); same input and seed "
                             "give the same output")
    common.add_argument("--device", default="auto",
                        help="'auto' (default), 'cpu' or 'cuda'")
    common.add_argument("-v", "--verbose", action="count", default=0,
                        help="log progress to stderr (-v: info, -vv: debug)")
    common.add_argument("-q", "--quiet", action="store_true",
                        help="no progress bar, only errors and warnings")
    common.add_argument("--debug", action="store_true",
                        help="show the full traceback of an error")

    defaults = _sampler_defaults()
    generate = _Parser(add_help=False)
    generate.add_argument(
        "--sampling-strategy", "-s", default="auto", metavar="STRATEGY",
        help="as in imbalanced-learn: 'auto' (default), 'minority', "
             "'not minority', 'not majority', 'all', a ratio such as 0.5 "
             "(binary), or JSON class -> number of rows that class has "
             "after resampling (real + generated), e.g. '{\"1\": 40}'")
    generate.add_argument("--plan", metavar="FILE",
                          help="plan JSON (from 'skteam plan', edited or not) "
                               "instead of the task manager's")
    generate.add_argument("--qc", default="sanity,cost,diversity",
                          metavar="STAGES",
                          help="comma-separated QC stages out of sanity, cost, "
                               "diversity (default: all three), or 'none'")
    generate.add_argument("--batch-size", type=int, default=None, metavar="N",
                          help="rows per generated batch (default: the "
                               f"sampler's, {defaults['batch_size']})")
    generate.add_argument("--max-batches", type=int, default=None, metavar="N",
                          help="batches generated per class at most (default: "
                               "derived from the quota)")
    generate.add_argument("--on-shortfall", choices=("fill", "raise", "warn"),
                          default=None,
                          help="when the QC accepts too few rows: complete the "
                               "counts with rows that passed the sanity stage "
                               "only, with a warning (fill), fail (raise) or "
                               "write fewer rows (warn) (default: the "
                               f"sampler's, {defaults['on_shortfall']})")
    generate.add_argument("--cost-c", type=float, default=None, metavar="C",
                          help="cost-duel threshold tau = mean + C*std of the "
                               "null (default: the sampler's, "
                               f"{defaults['cost_c']})")
    generate.add_argument("--diversity-threshold", type=float, default=None,
                          metavar="G",
                          help="required relative entropy gain (default: the "
                               f"sampler's, {defaults['diversity_threshold']})")
    generate.add_argument("--n-jobs", type=int, default=None, metavar="N",
                          help="worker processes for the cost duel's null draws, "
                               "-1 for all cores; the rows are the same for any N "
                               "(default: none)")
    generate.add_argument("--cache-dir", metavar="DIR",
                          help="on-disk cache of generated batches (reruns "
                               "with other QC settings are fast)")

    # the plan depends on declared constraints too (skteam's own plans are
    # reordered for them), so 'skteam plan' takes them as well
    constrained = _Parser(add_help=False)
    constrained.add_argument("--constraints", metavar="FILE",
                             help="constraints, one per line ('#' starts a "
                                  "comment line)")

    resampling = [common, generate, constrained]
    parents = {"resample": resampling, "plan": [common, constrained],
               "report": resampling}
    summary = {"resample": "write the training table with generated rows added",
               "plan": "print or save the task manager's plan as JSON",
               "report": "resample and write the QC report and plots"}
    description = {
        "resample": "Fit TeamTrimSampler on train.csv and write the resampled "
                    "table (same columns and order; real rows first).",
        "plan": "Run the task manager only and print its plan (roles and their "
                "order) as JSON, or save it with -o.",
        "report": "Run the resampling of 'skteam resample' and write its QC report "
                  "(CSV), plan, plots (PNG) and index.html to a directory."}
    epilog = {"resample": _RESAMPLE_EPILOG, "plan": _PLAN_EPILOG,
              "report": _REPORT_EPILOG}
    output = {  # what -o names
        "resample": dict(required=True, metavar="out.csv", help="where to write "
                         "the resampled table ('-' for stdout)"),
        "plan": dict(metavar="plan.json", help="write the plan here instead of "
                     "printing it"),
        "report": dict(required=True, metavar="DIR", help="directory of the "
                       "report (created if missing)")}
    run = {"resample": _cmd_resample, "plan": _cmd_plan, "report": _cmd_report}
    for name in run:
        p = sub.add_parser(name, parents=parents[name], formatter_class=fmt,
                           help=summary[name], epilog=epilog[name],
                           description=textwrap.fill(description[name]))
        p.add_argument("-o", "--output", **output[name])
        if name == "resample":
            p.add_argument("--mark-synthetic", nargs="?", const=DEFAULT_MARKER,
                           default=None, metavar="COLNAME",
                           help="add a boolean column (default name: "
                                f"{DEFAULT_MARKER!r}) that is true for generated "
                                "rows")
            p.add_argument("--report", metavar="DIR",
                           help="also write the QC report and plots to DIR")
            p.add_argument("--provenance", metavar="FILE.csv",
                           help="also write one line per generated row: its "
                                "batch, the real rows its workers saw, its "
                                "closest training row, QC status and cost")
        p.set_defaults(func=run[name])
    return parser


# -- entry point ----------------------------------------------------------------


def main(argv=None) -> int:
    """Run the ``skteam`` command line.

    Parameters
    ----------
    argv : list of str, default=None
        The arguments after the program name; ``None`` reads ``sys.argv``.

    Returns
    -------
    status : int
        0 on success, 1 on bad input or a failed run, 2 on a bad command
        line.

    Examples
    --------
    >>> from skteam.cli import main
    >>> main(["resample", "train.csv", "--target", "y",
    ...       "-o", "out.csv"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version or a bad command line
        return exc.code if isinstance(exc.code, int) else 2
    handler = _setup_logging(args.verbose, args.quiet)
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return args.func(args)
    except KeyboardInterrupt:
        print("skteam: interrupted", file=sys.stderr)
        return 130
    except (CLIError, ValueError, TypeError, OSError, ImportError) as exc:
        if args.debug:
            raise
        print(f"skteam: error: {_one_line(exc)}", file=sys.stderr)
        return 1
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)


# -- commands -------------------------------------------------------------------


def _cmd_resample(args) -> int:
    df, X, y = _read_table(args)
    # everything that can be checked before the (long) fit is checked first
    if args.mark_synthetic in df.columns:
        raise CLIError(f"--mark-synthetic column {args.mark_synthetic!r} already "
                       "exists in the training table; pass another name, e.g. "
                       "--mark-synthetic is_synthetic")
    if args.output != "-":
        _parent_must_exist(args.output)
    if args.report:
        _report_dir_ok(args.report)
    if args.provenance:
        _parent_must_exist(args.provenance)
    sampler = _make_sampler(args, X, y)
    X_res, y_res = _fit(sampler, X, y, report_dir=args.report)
    out = _output_table(df, args.target, X_res, y_res, sampler.synthetic_mask_,
                        args.mark_synthetic)
    if args.output == "-":
        out.to_csv(sys.stdout, index=False, sep=args.sep)
    else:
        _parent_must_exist(args.output)
        out.to_csv(args.output, index=False, sep=args.sep)
        logger.info("Wrote %d rows (%d generated) to %s.", len(out),
                    int(sampler.synthetic_mask_.sum()), args.output)
    if args.provenance:
        sampler.provenance_.to_csv(args.provenance, index=False, sep=args.sep)
        logger.info("Wrote the provenance of %d generated rows to %s.",
                    len(sampler.provenance_), args.provenance)
    if args.report:
        _write_report(sampler, X_res, y_res, args.report)
    return 0


def _cmd_report(args) -> int:
    df, X, y = _read_table(args)
    _report_dir_ok(args.output)
    sampler = _make_sampler(args, X, y)
    X_res, y_res = _fit(sampler, X, y, report_dir=args.output)
    _write_report(sampler, X_res, y_res, args.output)
    return 0


def _cmd_plan(args) -> int:
    df, X, y = _read_table(args)
    plan = manager_plan(
        X, y, model=args.model, feature_descriptions=_read_descriptions(args, X),
        dataset_description=args.dataset_description,
        constraints=read_constraints(args.constraints) if args.constraints else None,
        random_state=args.seed, device=args.device,
    )
    text = json.dumps(plan, indent=2, ensure_ascii=False) + "\n"
    if args.output and args.output != "-":
        _parent_must_exist(args.output)
        Path(args.output).write_text(text, encoding="utf-8")
        logger.info("Wrote the plan to %s.", args.output)
    else:
        sys.stdout.write(text)
    return 0


# -- the plan alone ----------------------------------------------------------------


def manager_plan(X, y, *, model="embedded", feature_descriptions=None,
                 dataset_description=None, constraints=None, random_state=0,
                 device="auto") -> dict:
    """The plan ``TeamTrimSampler`` would use, without generating rows.

    It chooses the plan as :meth:`~skteam.TeamTrimSampler.fit_resample`
    does with the same arguments and ``plan=None`` (one
    :func:`skteam.team.make_plan`: the task manager's call, then the
    reordering for ``constraints``), so ``sampler.plan_`` after a fit equals
    this plan whenever some class needs rows.

    Parameters
    ----------
    X : DataFrame of shape (n_samples, n_features)
        The training rows.
    y : array-like of shape (n_samples,)
        The class labels (a named Series names the label in prompts).
    model, feature_descriptions, dataset_description, constraints, \
random_state, device
        As in :class:`~skteam.TeamTrimSampler`.

    Returns
    -------
    plan : dict
        ``{"roles": [{"name", "features"}, ...], "edges": [[parent, child],
        ...], "source": ..., "repairs": [...]}``, accepted by the sampler's
        ``plan=`` (and by ``skteam resample --plan``) as it is or edited.
    """
    from .constraints import ConstraintSet
    from .llm.registry import get_backend
    from .team import make_plan
    from .utils import resolve_seed

    X_df, schema = _schema_of(X, y, feature_descriptions, dataset_description)
    backend = None if len(schema.names) == 1 else get_backend(model, device=device)
    return make_plan(backend, schema, X_df, np.asarray(y),
                     constraints=ConstraintSet(constraints, schema),
                     seed=resolve_seed(random_state, bits=62)).to_dict()


def _schema_of(X, y, feature_descriptions=None, dataset_description=None):
    """The training frame with text column names and the schema the sampler infers."""
    from .utils._frames import as_text_frame, training_schema
    from .utils._validation import target_name

    X_df, _ = as_text_frame(pd.DataFrame(X))
    return X_df, training_schema(X_df, y, feature_descriptions=feature_descriptions,
                                 dataset_description=dataset_description,
                                 target=target_name(y))


# -- inputs -----------------------------------------------------------------------


def _read_table(args):
    """Read the training CSV; return (frame, X, y)."""
    path = Path(args.train)
    if not path.is_file():
        raise CLIError(f"training file {str(path)!r} does not exist"
                       + (" (it is a directory)" if path.is_dir() else ""))
    try:
        df = pd.read_csv(path, sep=args.sep)
    except pd.errors.EmptyDataError:
        raise CLIError(f"training file {str(path)!r} is empty") from None
    except pd.errors.ParserError as exc:
        raise CLIError(f"training file {str(path)!r} is not a readable CSV "
                       f"file: {exc}") from None
    if args.target not in df.columns:
        raise CLIError(
            f"target column {args.target!r} is not in {str(path)!r}; its columns "
            f"are {[str(c) for c in df.columns]}"
        )
    if df.shape[1] < 2:
        raise CLIError(f"{str(path)!r} has no feature column besides the target "
                       f"{args.target!r}")
    if len(df) == 0:
        raise CLIError(f"training file {str(path)!r} has a header but no rows")
    X = df.drop(columns=[args.target])
    y = df[args.target]
    logger.info("Read %d rows and %d features from %s; class counts %s.",
                len(df), X.shape[1], path,
                {_python(k): int(v) for k, v in y.value_counts().sort_index().items()})
    return df, X, y


#: Options whose default is the sampler's: given only when the user gives them.
_SAMPLER_DEFAULTED = ("batch_size", "cost_c", "diversity_threshold", "on_shortfall")


def _sampler_defaults() -> dict:
    """The sampler's defaults of :data:`_SAMPLER_DEFAULTED`, for the help texts."""
    from .sampler import TeamTrimSampler

    params = inspect.signature(TeamTrimSampler).parameters
    return {name: params[name].default for name in _SAMPLER_DEFAULTED}


def _make_sampler(args, X, y):
    from .sampler import TeamTrimSampler

    plan = None
    if args.plan:
        plan = _read_json(args.plan, "plan")
        _check_plan(plan, X, y, args.plan)
    return TeamTrimSampler(
        model=args.model,
        sampling_strategy=parse_sampling_strategy(args.sampling_strategy, y),
        feature_descriptions=_read_descriptions(args, X),
        dataset_description=args.dataset_description,
        constraints=read_constraints(args.constraints) if args.constraints else None,
        plan=plan,
        # options left out keep the sampler's own defaults
        **{name: getattr(args, name) for name in _SAMPLER_DEFAULTED
           if getattr(args, name) is not None},
        qc=parse_qc(args.qc),
        max_batches=args.max_batches,
        cache_dir=args.cache_dir,
        device=args.device,
        n_jobs=args.n_jobs,
        verbose=0 if args.quiet else 1,
        random_state=args.seed,
    )


def _fit(sampler, X, y, report_dir=None):
    """``fit_resample``; on a shortfall, write what QC report there is first."""
    from .sampler import ShortfallError

    try:
        return sampler.fit_resample(X, y)
    except ShortfallError as exc:
        msg = (f"{exc.args[0]} (Options: --max-batches, --cost-c, "
               "--diversity-threshold, --qc, --on-shortfall warn.)")
        if report_dir and hasattr(sampler, "qc_report_"):
            _write_report(sampler, None, None, report_dir)
            msg += f" The QC report of the batches read is in {report_dir}."
        exc.args = (msg,)
        raise


def _write_report(sampler, X_res, y_res, out_dir):
    from .report import save_report

    paths = save_report(sampler, X_res, y_res, out_dir)
    logger.info("Wrote the report to %s.", paths["index"])
    return paths


def parse_sampling_strategy(text, y):
    """Read ``--sampling-strategy``: a word, a ratio or a JSON dict.

    Parameters
    ----------
    text : str
        ``"auto"``, ``"minority"``, ``"not minority"``, ``"not majority"``,
        ``"all"``, a number such as ``"0.5"``, or a JSON object mapping class
        labels to their number of rows after resampling (imbalanced-learn's
        meaning of a dict), e.g. ``'{"1": 40}'``.
    y : array-like
        The class labels; JSON keys (always strings) are mapped to them.

    Returns
    -------
    sampling_strategy : str, float or dict

    Examples
    --------
    >>> parse_sampling_strategy('{"1": 40}', [0, 0, 1])
    {1: 40}
    """
    text = text.strip()
    if text.lower() in STRATEGY_WORDS:
        return text.lower()
    if text.startswith("{"):
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CLIError(f"--sampling-strategy {text!r} is not valid JSON ({exc}); "
                           'write e.g. \'{"1": 40}\'') from None
        if not isinstance(raw, dict) or not raw:
            raise CLIError("--sampling-strategy JSON must be a non-empty object "
                           "mapping class to its number of rows after resampling, "
                           'e.g. \'{"1": 40}\'')
        classes = [_python(c) for c in pd.unique(pd.Series(y))]
        out = {}
        for key, n in raw.items():
            if isinstance(n, bool) or not isinstance(n, (int, float)) or (
                    isinstance(n, float) and not n.is_integer()):
                raise CLIError(f"--sampling-strategy: the number of rows for class "
                               f"{key!r} must be a whole number, got {n!r}")
            out[_match_class(key, classes)] = int(n)
        return out
    try:
        ratio = float(text)
    except ValueError:
        raise CLIError(
            f"--sampling-strategy {text!r} is not understood; pass one of "
            f"{', '.join(repr(w) for w in STRATEGY_WORDS)}, a ratio such as 0.5, "
            'or JSON such as \'{"1": 40}\'') from None
    if not math.isfinite(ratio):
        raise CLIError(f"--sampling-strategy {text!r} must be a finite ratio")
    return ratio


def _match_class(key, classes):
    """The class label whose text is ``key`` (JSON keys are always strings)."""
    for c in classes:
        if str(c) == key:
            return c
    for c in classes:
        if str(c).lower() == key.strip().lower():
            return c
    try:
        number = float(key)
    except ValueError:
        number = None
    if number is not None:
        for c in classes:
            if isinstance(c, (int, float)) and not isinstance(c, bool) and c == number:
                return c
    raise CLIError(f"--sampling-strategy names class {key!r}, which the target "
                   f"column does not have; its classes are {classes}")


def parse_qc(text):
    """Read ``--qc``: comma-separated stage names, or ``none``.

    Examples
    --------
    >>> parse_qc("sanity, cost")
    ('sanity', 'cost')
    >>> parse_qc("none")
    ()
    """
    from .qc.record import check_stages

    text = text.strip().lower()
    if text in ("none", ""):
        return ()
    try:
        return check_stages(s.strip() for s in text.split(",") if s.strip())
    except ValueError as exc:
        raise CLIError(f"--qc: {exc}") from None


def read_constraints(path):
    """Constraints from a text file: one a line; blank and ``#`` lines skipped.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    constraints : list of str
    """
    text = _read_text(path, "constraints")
    lines = [line.strip() for line in text.splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def read_descriptions(path):
    """Feature descriptions from JSON ``{column: text}`` or CSV ``column,description``.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    descriptions : dict of str to str
    """
    text = _read_text(path, "descriptions")
    if str(path).lower().endswith(".json") or text.lstrip().startswith("{"):
        data = _read_json(path, "descriptions", text=text)
        if not isinstance(data, dict) or not all(
                isinstance(v, str) for v in data.values()):
            raise CLIError(f"descriptions file {str(path)!r} must hold a JSON "
                           'object of texts, e.g. {"age": "age in years"}')
        return {str(k): v for k, v in data.items()}
    rows = [r for r in csv.reader(text.splitlines()) if any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0]] == ["column", "description"]:
        rows = rows[1:]
    out = {}
    for i, row in enumerate(rows, 1):
        if len(row) != 2:
            raise CLIError(f"descriptions file {str(path)!r}, row {i}: expected two "
                           f"fields 'column,description', got {len(row)} (quote a "
                           "description that holds commas)")
        out[row[0].strip()] = row[1].strip()
    return out


def _read_descriptions(args, X):
    if not args.descriptions:
        return None
    desc = read_descriptions(args.descriptions)
    unknown = [k for k in desc if k not in set(map(str, X.columns))]
    if unknown:
        raise CLIError(f"descriptions file {args.descriptions!r} names column(s) "
                       f"{unknown} that are not features of the training table; "
                       f"its features are {[str(c) for c in X.columns]}")
    return desc


def _check_plan(plan, X, y, path):
    """Validate a plan against the columns before any model is loaded."""
    from .team import load_plan

    try:
        load_plan(plan, _schema_of(X, y)[1])
    except ValueError as exc:
        raise CLIError(f"plan file {str(path)!r}: {exc}") from None


def _read_text(path, what):
    p = Path(path)
    # exists, not is_file: a pipe (bash's <(...)) is a readable file too
    if not p.exists() or p.is_dir():
        raise CLIError(f"{what} file {str(p)!r} does not exist"
                       + (" (it is a directory)" if p.is_dir() else ""))
    try:
        return p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise CLIError(f"{what} file {str(p)!r} is not UTF-8 text") from None


def _read_json(path, what, text=None):
    text = _read_text(path, what) if text is None else text
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise CLIError(f"{what} file {str(path)!r} is not valid JSON: {exc}") from None


# -- output -----------------------------------------------------------------------


def _output_table(df, target, X_res, y_res, mask, marker):
    """The input's columns in the input's order, plus the marker column."""
    out = X_res.reset_index(drop=True).copy()
    labels = pd.Series(np.asarray(y_res), name=target)
    if labels.dtype != df[target].dtype:
        try:
            labels = labels.astype(df[target].dtype)
        except (TypeError, ValueError):
            pass
    out[target] = labels.to_numpy()
    out = out[list(df.columns)]
    if marker:
        out[marker] = np.asarray(mask, dtype=bool)
    return out


def _report_dir_ok(path):
    if Path(path).exists() and not Path(path).is_dir():
        raise CLIError(f"report directory {str(path)!r} exists and is not a "
                       "directory")


def _parent_must_exist(path):
    parent = Path(path).resolve().parent
    if not parent.is_dir():
        raise CLIError(f"cannot write {str(path)!r}: directory {str(parent)!r} "
                       "does not exist")


# -- logging ----------------------------------------------------------------------


class _Formatter(logging.Formatter):
    def format(self, record):
        msg = record.getMessage()
        if record.levelno >= logging.WARNING:
            return f"skteam: {record.levelname.lower()}: {msg}"
        return f"skteam: {msg}"


def _setup_logging(verbose, quiet):
    """Send the ``skteam`` logger to stderr; return the handler to remove."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter())
    logger.addHandler(handler)
    if quiet:
        level = logging.WARNING
    else:
        level = {0: logging.WARNING, 1: logging.INFO}.get(verbose, logging.DEBUG)
    logger.setLevel(level)
    return handler


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"skteam: warning: {_one_line(message)}", file=sys.stderr)


def _one_line(exc) -> str:
    text = " ".join(str(exc).split())
    return text or type(exc).__name__


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
