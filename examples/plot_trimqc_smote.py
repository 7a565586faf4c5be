"""
Trimming SMOTE rows with TrimQC
===============================

The quality control of team-then-trim does not need a language model:
:class:`~skteam.TrimQC` trims rows from any generator. Here it filters the
rows SMOTE interpolates for the minority class of a noisy problem, batch by
batch, and we compare a classifier trained on the real rows, on real +
SMOTE rows, and on real + trimmed SMOTE rows.

No language model runs in this example.
"""

# %%
# A noisy, imbalanced problem
# ---------------------------
import matplotlib.pyplot as plt
import numpy as np
from imblearn.over_sampling import SMOTE
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import train_test_split

from skteam import TrimQC

X, y = make_classification(n_samples=1200, n_features=6, n_informative=4,
                           weights=[0.9], flip_y=0.1, class_sep=1.0,
                           random_state=0)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=200, stratify=y, random_state=0)
np.bincount(y_train)

# %%
# SMOTE, then the QC
# ------------------
# ``filter`` cuts the generated rows into batches of ``batch_size`` and runs
# the three stages on each, growing the training data with what it keeps.
X_smote, y_smote = SMOTE(random_state=0).fit_resample(X_train, y_train)
X_gen, y_gen = X_smote[len(X_train):], y_smote[len(X_train):]

qc = TrimQC(LogisticRegression(max_iter=1000), cost_c=0.0,
            cost_null_draws=200, random_state=0).fit(X_train, y_train)
X_kept, y_kept, report = qc.filter(X_gen, y_gen, batch_size=10)
len(X_gen), len(X_kept)

# %%
# What each stage dropped, batch by batch:
report[["batch", "n_generated", "dropped_sanity", "dropped_cost",
        "dropped_diversity", "kept"]].head(10)

# %%
# Downstream effect
# -----------------
def score(X_fit, y_fit):
    model = LogisticRegression(max_iter=1000).fit(X_fit, y_fit)
    return balanced_accuracy_score(y_test, model.predict(X_test))


scores = {
    "real only": score(X_train, y_train),
    "real + SMOTE": score(X_smote, y_smote),
    "real + trimmed SMOTE": score(np.vstack([X_train, X_kept]),
                                  np.concatenate([y_train, y_kept])),
}
scores

# %%
# On this noisy problem SMOTE's interpolated rows hurt the classifier, and
# the QC keeps few or none of them: the cost duel asks every batch to teach
# the downstream model more than as many real rows resampled. How many rows
# pass, and whether they help, depends on the data, the estimator and the
# seed; what the QC guarantees is the criterion, not an improvement.

# %%
fig, ax = plt.subplots(figsize=(6, 3), layout="constrained")
ax.barh(list(scores), list(scores.values()), color=["#7f7f7f", "#1f77b4", "#2ca02c"])
ax.set_xlim(0.5, 1.0)
ax.set_xlabel("balanced accuracy on held-out rows")
ax.invert_yaxis()
plt.show()
