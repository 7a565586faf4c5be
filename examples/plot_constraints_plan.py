"""
Constraints and an edited plan
==============================

.. note::

   This example uses ``model="test::uniform"``, a **test double** registered
   by ``import skteam.testing`` that writes random, well-formed cells
   without any model weights. The point is the API: how a constraint shows
   up in the QC report, and how to read, edit and pass back the plan. With
   ``model="embedded"`` (the default) or a larger model, the plan comes from
   the task manager and the rows from the workers (see
   :doc:`/user_guide/constraints_plans`).
"""

# %%
# A table with a relation between columns
# ---------------------------------------
# Prior offences include juvenile felonies, so ``priors_count >=
# juv_fel_count`` holds in every real row. The bounds of each column, its
# integer-ness and its categories are inferred from the data; relations
# between columns are yours to state.
import json
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

import skteam.testing  # noqa: F401  (registers the test double "test::uniform")
from skteam import TeamTrimSampler

rng = np.random.default_rng(0)
n = 80
juv = rng.poisson(0.3, n)
X = pd.DataFrame({
    "age": rng.integers(18, 70, n),
    "sex": rng.choice(["Female", "Male"], n, p=[0.2, 0.8]),
    "juv_fel_count": juv,
    "priors_count": juv + rng.poisson(2.0, n),
})
y = pd.Series((rng.random(n) < 0.2).astype(int), name="two_year_recid")
y.value_counts()

# %%
# Constraints in the sanity stage
# -------------------------------
# Only the sanity stage runs here (``qc=("sanity",)``), so that every row it
# drops is one that breaks a bound, a type or the constraint. We ask for 30
# rows of class 1 in total.
sampler = TeamTrimSampler(
    model="test::uniform",                # test double: API demonstration only
    feature_descriptions={
        "age": "age in years",
        "juv_fel_count": "number of juvenile felonies",
        "priors_count": "number of prior offences, juvenile felonies included",
    },
    constraints=["priors_count >= juv_fel_count"],
    sampling_strategy={1: 30},
    qc=("sanity",),
    verbose=0,
    random_state=0,
)
X_res, y_res = sampler.fit_resample(X, y)
sampler.qc_report_[["batch", "class", "n_generated", "dropped_sanity", "kept"]]

# %%
# Every generated row satisfies the constraint:
new = X_res[sampler.synthetic_mask_]
bool((new["priors_count"] >= new["juv_fel_count"]).all())

# %%
# The plan
# --------
# ``plan_`` holds the roles of the features and the edges that order them.
# The test double's task manager answers at random: its plan is well formed
# (the grammar sees to that) but meaningless. ``source`` says where a plan
# came from and ``repairs`` what skteam changed to make it valid.
print(json.dumps(sampler.plan_, indent=2))

# %%
# Edit it: demographics first, then the juvenile record, then the adult
# record, which depends on both. Save it as JSON (``skteam plan`` writes the
# same file), and pass the file (or the dict) as ``plan=``.
plan = {
    "roles": [
        {"name": "person", "features": ["age", "sex"]},
        {"name": "youth", "features": ["juv_fel_count"]},
        {"name": "record", "features": ["priors_count"]},
    ],
    "edges": [["person", "youth"], ["youth", "record"]],
}
with tempfile.TemporaryDirectory() as tmp:
    path = Path(tmp) / "plan.json"
    path.write_text(json.dumps(plan, indent=2))
    edited = TeamTrimSampler(
        model="test::uniform",            # test double: API demonstration only
        plan=path,
        constraints=["priors_count >= juv_fel_count"],
        sampling_strategy={1: 30},
        qc=("sanity",),
        verbose=0,
        random_state=0,
    )
    X_res2, y_res2 = edited.fit_resample(X, y)
edited.plan_

# %%
# Now ``juv_fel_count`` is known when the ``record`` worker writes
# ``priors_count``, so the constraint narrows that worker's grammar row by
# row: no generated row breaks it, and the sanity stage has nothing of it to
# drop (a row it still drops broke a bound or a type).
edited.qc_report_[["batch", "class", "n_generated", "dropped_sanity", "kept"]]

# %%
# A plan that is not valid (a feature in no role, a cycle, an unknown
# feature) is an error that names the problem:
bad = {"roles": [{"name": "all", "features": ["age", "sex", "priors_count"]}]}
try:
    TeamTrimSampler(model="test::uniform", plan=bad, verbose=0).fit_resample(X, y)
except ValueError as exc:
    print(exc)
