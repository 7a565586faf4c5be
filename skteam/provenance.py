"""Provenance of generated rows: where each came from and what the QC said of it.

:func:`provenance_frame` turns what the generate→trim loop recorded of each
returned row (:attr:`TrimLoop.provenance <skteam.loop.TrimLoop>`) into the
sampler's ``provenance_``, and adds how close the row is to a real record.
No model is called.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .metrics import gower_distances

#: Columns of ``provenance_``, in order.
PROVENANCE_COLUMNS = [
    "row", "batch", "target_class", "label", "label_source", "examples",
    "sign_anchor", "nearest_train", "nearest_distance", "copy", "status", "cost",
    "in_window", "delta", "tau", "entropy_gain",
]


def provenance_frame(provenance: dict, rows: dict, X_train: pd.DataFrame, schema,
                     labeling: str) -> pd.DataFrame:
    """One row per generated row of the output, in output order.

    Parameters
    ----------
    provenance : dict
        Class -> the loop's record of each row returned for it.
    rows : dict
        Class -> the rows themselves (values in schema order), same order.
    X_train : DataFrame
        The training rows, text column names, schema order; generated rows
        follow them in the output.
    schema : Schema
    labeling : {"worker", "target", "classifier"}
        Who labelled the rows: ``label_source`` is ``"target"`` for rows that
        kept the class they were written for, ``"label worker"`` (or
        ``"classifier"``) where the label worker (the classifier) confirmed
        that class and ``"other"`` where it gave another one.

    Returns
    -------
    provenance : DataFrame
        Columns :data:`PROVENANCE_COLUMNS`.
    """
    records, values = [], []
    for label, infos in provenance.items():
        for info, row in zip(infos, rows[label]):
            labeller = "classifier" if labeling == "classifier" else "label worker"
            source = ("target" if labeling == "target" else
                      labeller if label == info["target_class"] else "other")
            records.append({**info, "label": label, "label_source": source})
            values.append(row)
    out = pd.DataFrame(records, columns=[c for c in PROVENANCE_COLUMNS
                                         if c not in ("row", "nearest_train",
                                                      "nearest_distance", "copy")])
    out.insert(0, "row", len(X_train) + np.arange(len(out)))
    gen = pd.DataFrame(values, columns=X_train.columns)
    if len(gen):
        cats = {s.name for s in schema.features if s.kind == "categorical"}
        d = gower_distances(gen, X_train, categorical=cats)
        nearest = d.argmin(axis=1)
        distance = d[np.arange(len(d)), nearest]
    else:
        nearest, distance = np.zeros(0, dtype=int), np.zeros(0)
    real = set(map(tuple, X_train.astype(object).itertuples(index=False, name=None)))
    copy = [tuple(r) in real for r in gen.astype(object).itertuples(
        index=False, name=None)]
    at = out.columns.get_loc("sign_anchor") + 1
    out.insert(at, "nearest_train", nearest.astype(int))
    out.insert(at + 1, "nearest_distance", distance)
    out.insert(at + 2, "copy", np.asarray(copy, dtype=bool))
    return out[PROVENANCE_COLUMNS]


def row_info(batch, verdict, record):
    """``info(i)``: what the generate→trim loop knows of row ``i`` of a batch.

    ``batch`` is the RawBatch, ``verdict`` the QC's BatchVerdict (None
    without QC), ``record`` the batch's report row.
    """
    costs = getattr(verdict, "costs", None)
    window = getattr(verdict, "in_window", None)

    def info(i):
        return {
            "batch": batch.index, "target_class": batch.target,
            "examples": list(batch.examples[i]) if batch.examples else [],
            "sign_anchor": (int(batch.sign_anchors[i]) if batch.sign_anchors
                            else None),
            "cost": float(costs[i]) if costs is not None else np.nan,
            "in_window": bool(window[i]) if window is not None else np.nan,
            "delta": record["delta"], "tau": record["tau"],
            "entropy_gain": record["entropy_gain"],
        }

    return info
