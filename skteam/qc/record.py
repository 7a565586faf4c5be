"""The QC record: stage names, the per-batch report row, the default estimator.

One home for what :class:`~skteam.qc.TrimQC`, the sampler's generate→trim
loop (:mod:`skteam.loop`), the report (:mod:`skteam.report`) and the command
line share about a batch's fate.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

#: Every QC stage, in the order they run; ``"curation"`` is optional.
QC_STAGES = ("sanity", "curation", "cost", "diversity")
#: The default stages (the paper's three).
STAGES = ("sanity", "cost", "diversity")

#: Columns of :meth:`TrimQC.filter <skteam.qc.TrimQC.filter>`'s report.
REPORT_COLUMNS = ["batch", "class", "n_generated", "dropped_sanity",
                  "dropped_curation", "dropped_cost", "dropped_diversity", "kept",
                  "delta", "tau", "null_std", "entropy_gain", "verdict"]

#: Columns of a sampler's ``qc_report_``: the above, with what generation
#: and the quotas add.
SAMPLER_REPORT_COLUMNS = [
    "batch", "class", "n_generated", "parse_failures", "relabelled",
    "dropped_sanity", "dropped_curation", "dropped_cost", "dropped_diversity",
    "dropped_quota",
    "kept", "filled", "delta", "tau", "null_std", "entropy_gain", "verdict",
    "output_tokens",
    "cached", "seconds",
]

#: Where the rows requested for a class went, in the order they are lost.
LOSS_COLUMNS = ["parse_failures", "relabelled", "dropped_sanity", "dropped_curation",
                "dropped_cost", "dropped_diversity"]


def default_estimator():
    """The downstream model of the cost duel when the user passes none.

    Standard scaling, then logistic regression: unscaled columns (a count
    beside an income) leave ``lbfgs`` short of convergence after 1000
    iterations, slow and inaccurate, and every cost-duel fit pays for it.
    """
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))


def check_stages(stages, name: str = "stages") -> tuple:
    """``stages`` as a tuple, or a ValueError naming what is wrong.

    Parameters
    ----------
    stages : sequence of str
        A subset of :data:`QC_STAGES`, each at most once; ``()`` for no QC.
        The stages run in the order of :data:`QC_STAGES` whatever the order
        given.
    name : str, default="stages"
        The parameter's name in the message (``"qc"`` for the sampler).
    """
    stages = tuple(stages)
    unknown = [s for s in stages if s not in QC_STAGES]
    repeated = sorted({s for s in stages if stages.count(s) > 1})
    if unknown or repeated:
        what = (f"names unknown stages {unknown}" if unknown
                else f"repeats {repeated}")
        raise ValueError(
            f"{name}={stages!r} is not a subset of the QC stages: it {what}; use "
            f"a tuple drawn from {QC_STAGES}, e.g. ('sanity', 'cost'), or () to keep "
            "every generated row."
        )
    return stages


def batch_record(result, /, **fields) -> dict:
    """The report row of a batch: ``fields``, then what the QC's verdict says.

    Parameters
    ----------
    result : BatchVerdict or None
        What :meth:`TrimQC.trim_batch <skteam.qc.TrimQC.trim_batch>` said of
        the batch; ``None`` when no stage ran.
    **fields
        The batch's own columns (``batch``, ``class``, ``n_generated``, …).
    """
    record = dict(fields)
    if result is None:
        record.update({f"dropped_{s}": 0 for s in QC_STAGES})
        record.update(delta=np.nan, tau=np.nan, null_std=np.nan, entropy_gain=np.nan)
        return record
    record.update({f"dropped_{s}": int(result.dropped.get(s, 0))
                   for s in QC_STAGES})
    record.update(delta=result.delta, tau=result.tau, null_std=result.null_std,
                  entropy_gain=result.entropy_gain, verdict=result.verdict)
    return record


def class_totals(report: pd.DataFrame, cls) -> pd.Series:
    """Sums over the batches of class ``cls`` of the loss columns and ``n_generated``.

    Also ``batches`` (their number), ``batches_accepted`` (those that kept a
    row) and ``requested`` (rows asked of the model: parsed and unparsed).
    """
    cols = [*LOSS_COLUMNS, "n_generated", "kept"]
    rows = report[report["class"] == cls] if len(report) else report
    totals = (rows[cols].sum() if len(rows) else pd.Series(0, index=cols)).astype(int)
    totals["batches"] = len(rows)
    totals["batches_accepted"] = int((rows["kept"] > 0).sum()) if len(rows) else 0
    totals["requested"] = totals["n_generated"] + totals["parse_failures"]
    return totals
