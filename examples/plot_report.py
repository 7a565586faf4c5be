"""
Reading the QC report
=====================

.. note::

   This example uses ``model="test::uniform"``, a **test double** registered
   by ``import skteam.testing`` that writes random, well-formed cells
   without any model weights. The point is how to read the report, and
   random rows make it easy to see what each QC stage removes; they are not
   data (see :doc:`/user_guide/models`).

A fitted :class:`~skteam.TeamTrimSampler` keeps a per-batch record of what
the quality control did (``qc_report_``); :mod:`skteam.report` turns it into
tables and figures, and :func:`skteam.report.save_report` writes them all to
a directory with an HTML page.
"""

# %%
# Fit with all three QC stages
# ----------------------------
import warnings

import numpy as np
import pandas as pd
from sklearn.datasets import make_classification

import skteam.testing  # noqa: F401  (registers the test double "test::uniform")
from skteam import TeamTrimSampler
from skteam.report import (
    plot_marginals,
    plot_projection,
    plot_qc_acceptance,
    qc_summary,
    save_report,
)

X, y = make_classification(n_samples=150, n_features=4, n_informative=3,
                           n_redundant=0, weights=[0.8], random_state=1)
X = pd.DataFrame(X, columns=["x0", "x1", "x2", "x3"]).round(2)

sampler = TeamTrimSampler(
    model="test::uniform",            # test double: API demonstration only
    constraints=["x0 + x1 <= 2"],
    sampling_strategy={1: 50},
    cost_c=0.0,
    cost_null_draws=200,
    max_batches=8,
    on_shortfall="warn",
    verbose=0,
    random_state=0,
)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", UserWarning)
    X_res, y_res = sampler.fit_resample(X, y)
np.bincount(y), np.bincount(y_res)

# %%
# One row per batch
# -----------------
# ``dropped_sanity`` counts rows out of bounds or breaking the constraint,
# ``dropped_cost`` the rows the cost duel removed (all of them when
# ``delta <= tau``), ``dropped_diversity`` the rows of batches that did not
# spread the data over its clusters, ``dropped_quota`` rows of a class that
# needed no more, and ``kept`` what joined the data. The rows of the test
# double are random, so the cost duel rejects nearly every batch: random
# rows do not help the downstream model more than real rows resampled.
cols = ["batch", "class", "n_generated", "dropped_sanity", "dropped_cost",
        "dropped_diversity", "dropped_quota", "kept", "delta", "tau",
        "entropy_gain"]
sampler.qc_report_[cols].round(3)

# %%
# The verdict of each batch says why, in words.
sampler.qc_report_["verdict"].tolist()

# %%
# The funnel per class
# --------------------
qc_summary(sampler)

# %%
# Per-batch acceptance
# --------------------
# The functions of :mod:`skteam.report` return
# :class:`matplotlib.figure.Figure` objects made without pyplot (no global
# state, no display needed): save them with ``fig.savefig(...)``, or show
# them in a notebook by leaving them as a cell's last expression.
fig = plot_qc_acceptance(sampler)

# %%
# Real vs generated marginals
# ---------------------------
fig = plot_marginals(sampler, X_res, y_res)

# %%
# A 2-D projection
# ----------------
fig = plot_projection(sampler, X_res, y_res)

# %%
# Everything in one directory
# ---------------------------
# ``save_report`` writes ``qc_report.csv``, ``plan.json``, the PNG figures
# and an ``index.html`` that shows them (``skteam report`` on the command
# line does the same).
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    paths = save_report(sampler, X_res, y_res, Path(tmp) / "report")
    print(sorted(p.name for p in paths.values()))
