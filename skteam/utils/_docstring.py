"""Parameter text shared between docstrings, written once.

As in imbalanced-learn (``imblearn/utils/_docstring.py``): a docstring holds
``{name}`` where a shared parameter's text goes, and :class:`Substitution`
fills it in when the class is defined. Only the given names are replaced, so
other braces in a docstring (dicts, sets) need no escaping.
"""

from __future__ import annotations


class Substitution:
    """Decorator that fills ``{name}`` fields of a docstring with shared text.

    Parameters
    ----------
    **params : str
        Field name -> text. The text's first line follows the field; later
        lines are indented like the line holding the field.
    """

    def __init__(self, **params):
        self.params = params

    def __call__(self, obj):
        doc = obj.__doc__
        for name, text in self.params.items():
            field = "{" + name + "}"
            if field not in doc:
                raise ValueError(f"{obj.__name__}'s docstring has no {field} field.")
            line = next(ln for ln in doc.splitlines() if field in ln)
            indent = line[: len(line) - len(line.lstrip())]
            lines = text.strip("\n").splitlines()
            doc = doc.replace(field, "\n".join(
                [lines[0].strip()] + [indent + ln if ln.strip() else ln
                                      for ln in lines[1:]]))
        obj.__doc__ = doc
        return obj


# The QC's parameters, shared by TeamTrimSampler and TrimQC. Each text is a
# numpydoc entry ("name : type" line, then its description indented 4 spaces).
_QC_PARAMETERS = {
    "estimator": """\
estimator : classifier with predict_proba, default=None
    The downstream model ``f`` of the cost duel; cloned, never fitted in
    place. ``None`` means ``make_pipeline(StandardScaler(),
    LogisticRegression(max_iter=1000))``. When the
    data has categorical columns it sees them one-hot encoded (numeric
    columns standardised); otherwise it sees the columns as given (the
    default one as a float array).""",
    "cost_beta": """\
cost_beta : float in (0, 0.5), default=0.25
    ``β``: the cost duel keeps the rows whose cost lies in the window
    ``[F⁻¹(β), F⁻¹(β + 0.5)]``.""",
    "cost_c": """\
cost_c : float, default=0.0
    ``c`` in ``τ = mean + c·std`` of the null distribution of ``Δ``; a batch
    is accepted when ``Δ > τ``. The paper tunes it in [0, 3] by
    cross-validation (the null draws are cached, so a grid over ``cost_c``
    refits nothing). The default 0 accepts a batch that teaches the
    estimator more than real rows resampled (``docs/method.md``, *The
    default of c*).""",
    "cost_null_draws": """\
cost_null_draws : int, default=1000
    Null draws for ``τ`` (paper: 1000). They are consumed sequentially
    and stop once the decision is clear; see ``skteam.qc.CostDuel``.""",
    "n_jobs": """\
n_jobs : int, default=None
    Worker processes for the cost duel's null draws (joblib), the QC's
    costliest part; ``None`` means 1 unless in a
    :func:`joblib.parallel_config` context, ``-1`` all cores. Results are
    the same for any value: each draw is seeded by its index.""",
    "diversity_threshold": """\
diversity_threshold : float in [0, 1], default=0.3
    Share of the cluster-label diversity of a batch in the class's own
    cluster proportions ("more of the same") that a batch must keep,
    measured from the least diverse batch of its size (the paper's 30%,
    read at skteam's batch sizes; see ``skteam.qc.entropy_verdict``).""",
    "copies": """\
copies : {"keep", "drop"}, default="keep"
    What the sanity stage does with a generated row whose values equal a
    row of ``D_ori`` (small models copy their examples): ``"keep"`` judges
    it like any row (the provenance marks it, column ``copy``), ``"drop"``
    drops it (rule ``"copy of a training row"``).""",
    "curation_threshold": """\
curation_threshold : float in [0, 1], default=0.2
    The optional ``"curation"`` stage (CLLM's learning dynamics, see
    ``skteam.qc.curation``) keeps a generated row when a boosted model of
    ``D_ori`` gives its label a mean probability of at least
    ``1 − curation_threshold`` over its boosting stages, with aleatoric
    uncertainty at most ``curation_threshold``. Only used when the stages
    include ``"curation"``.""",
}


#: Fields for :class:`Substitution`, one per shared parameter.
QC_DOCSTRINGS = dict(_QC_PARAMETERS)
