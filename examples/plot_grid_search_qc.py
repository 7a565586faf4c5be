"""
Tuning the QC threshold with GridSearchCV
=========================================

.. note::

   This example uses ``model="test::uniform"``, a **test double** registered
   by ``import skteam.testing`` that writes random, well-formed cells
   without any model weights. The point here is the API (a sampler inside a
   pipeline, a grid over its QC threshold, batches shared between
   candidates), not the quality of the rows: with a real model the same code
   tunes the QC on real generations (see :doc:`/user_guide/models`).

The cost duel of the QC accepts a generated batch when it helps the
downstream model more than real rows resampled, by more than
``τ = mean + cost_c·std`` of a null distribution. The T² paper tunes
``cost_c`` in ``[0, 3]`` by cross-validation; since
:class:`~skteam.TeamTrimSampler` is an imbalanced-learn sampler, that is a
plain :class:`~sklearn.model_selection.GridSearchCV` over a pipeline.
"""

# %%
# An imbalanced problem
# ---------------------
import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from imblearn.pipeline import make_pipeline
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV, StratifiedKFold

import skteam.testing  # noqa: F401  (registers the test double "test::uniform")
from skteam import TeamTrimSampler

X, y = make_classification(n_samples=120, n_features=4, n_informative=3,
                           n_redundant=0, weights=[0.85], class_sep=1.0,
                           random_state=0)
X = pd.DataFrame(X, columns=["x0", "x1", "x2", "x3"]).round(2)
np.bincount(y)

# %%
# The grid
# --------
# ``on_shortfall="warn"`` lets a strict setting return fewer rows instead of
# failing its grid point. ``batch_size``, ``max_batches`` and
# ``cost_null_draws=200`` (the default is 1000) keep the example fast. An
# integer ``random_state`` makes every candidate see the same raw batches.
sampler = TeamTrimSampler(
    model="test::uniform",          # test double: API demonstration only
    sampling_strategy=0.5,
    batch_size=5,
    max_batches=4,
    cost_null_draws=200,
    on_shortfall="warn",
    verbose=0,
    random_state=0,
)
pipe = make_pipeline(sampler, LogisticRegression(max_iter=1000))
grid = GridSearchCV(
    pipe,
    {"teamtrimsampler__cost_c": [0.0, 1.0, 2.0, 3.0]},
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    scoring="balanced_accuracy",
)

with warnings.catch_warnings():
    # strict settings warn when they fill fewer rows than asked
    warnings.simplefilter("ignore", UserWarning)
    grid.fit(X, y)

results = pd.DataFrame(grid.cv_results_)[
    ["param_teamtrimsampler__cost_c", "mean_test_score", "std_test_score",
     "mean_fit_time"]]
results

# %%
# Look at ``mean_fit_time``: only the first candidate of each fold runs the
# model; the others read the same raw batches from the in-process cache and
# only re-run the QC. (The refit of the best setting on all the data
# generates once more: its training set is new.)
grid.best_params_

# %%
fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
c = results["param_teamtrimsampler__cost_c"].astype(float)
ax.errorbar(c, results["mean_test_score"], yerr=results["std_test_score"],
            marker="o", capsize=4)
ax.set_xlabel("cost_c  (τ = mean + cost_c · std of the null Δ)")
ax.set_ylabel("balanced accuracy (3-fold CV)")
ax.set_title("Cross-validated score of each QC threshold")
plt.show()
