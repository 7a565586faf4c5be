"""Simulators for the two synthetic benchmarks of T² (Diabetes, TravelBehavior).

The Diabetes generator follows Rauba et al. (2024) line by line; the risk
groups, the exact-ratio sampling and the TravelBehavior model are skteam's own
(see ``docs/datasets.md``).
"""

from numbers import Integral, Real

import numpy as np
import pandas as pd

from ..utils import check_random_state

__all__ = [
    "make_diabetes",
    "make_travel_behavior",
    "DIABETES_DESCRIPTIONS",
    "TRAVEL_DESCRIPTIONS",
    "DIABETES_RISK_CUTPOINTS",
    "RISK_LEVELS",
]

# ---------------------------------------------------------------------------
# Diabetes (Rauba, Seedat, Kacprzyk & van der Schaar, NeurIPS 2024)
# Source: jsung1997/Self_Healing_ML, src/utils/diabetes_simulator.py, l. 5-25.
# ---------------------------------------------------------------------------

#: Features in the order the source draws and stacks them, with the
#: (mean, standard deviation) of their independent normal distributions.
_DIABETES_FEATURES = (
    ("HbA1c", 5.7, 0.5),
    ("FastingGlucose", 100.0, 15.0),
    ("Age", 50.0, 12.0),
    ("BMI", 25.0, 4.0),
    ("BloodPressure", 120.0, 15.0),
    ("Cholesterol", 200.0, 40.0),
    ("Insulin", 85.0, 45.0),
    ("PhysicalActivity", 3.0, 1.0),
)

#: Decimals of T²'s Fig. 5 (``make_diabetes(rounded=True)``); other features
#: are integers there.
_DIABETES_DECIMALS = {"HbA1c": 2}

#: beta_1, the pre-shift coefficients of Rauba et al. (experiments/study_3.py,
#: l. 31), in the feature order above. There is no intercept.
_DIABETES_COEF = np.array([0.3, 0.0075, -0.01, 0.05, 0.04, -0.03, -0.02, -0.1])

#: Standard deviation of the additive noise eps ~ N(0, 0.2) on the score.
_DIABETES_NOISE_SD = 0.2

#: Risk groups, from lowest to highest risk score.
RISK_LEVELS = ("LR", "MR", "HR")

#: Population cut-points of the risk score z = X @ beta_1 + eps separating
#: LR | MR | HR. They are the 70% and 90% quantiles (``np.quantile``, default
#: linear interpolation) of z over a reference draw of 200,000 rows made by
#: this module's own generator with ``random_state=0``, i.e.
#: ``_diabetes_draw(200_000, np.random.RandomState(0))``, so the population
#: ratio LR:MR:HR is 7:2:1. ``tests/datasets/test_simulators.py`` recomputes
#: them.
DIABETES_RISK_CUTPOINTS = (0.874954196804676, 2.1373666042634563)

DIABETES_DESCRIPTIONS = {
    "HbA1c": "Hemoglobin A1c level (%)",
    "FastingGlucose": "Fasting plasma glucose level (mg/dL)",
    "Age": "Age (years)",
    "BMI": "Body mass index (kg/m^2)",
    "BloodPressure": "Systolic blood pressure (mmHg)",
    "Cholesterol": "Total cholesterol level (mg/dL)",
    "Insulin": "Serum insulin level (microU/mL)",
    "PhysicalActivity": "Physical activity level (score; higher = more active)",
}

# ---------------------------------------------------------------------------
# TravelBehavior: skteam's reconstruction of a Latent Decision Threshold model.
# ---------------------------------------------------------------------------

#: Weights of the latent utility U (per unit of each feature).
_TRAVEL_UTILITY_WEIGHTS = {"TimeSaving": 0.25, "Incentive": 0.9, "TripDistance": -0.08}
#: Person-specific threshold tau = _TRAVEL_TAU0 + _TRAVEL_HABIT_WEIGHT * Habit + eta.
_TRAVEL_TAU0 = 0.0
_TRAVEL_HABIT_WEIGHT = 3.0
#: Standard deviations of the utility noise eps and of the threshold noise eta.
_TRAVEL_UTILITY_SD = 0.3
_TRAVEL_THRESHOLD_SD = 0.3

TRAVEL_DESCRIPTIONS = {
    "TimeSaving": (
        "Travel time saved by the alternative option compared with the usual "
        "trip (minutes; negative = the alternative is slower)"
    ),
    "Incentive": "Reward offered in the app for taking the alternative (US dollars)",
    "TripDistance": "Distance of the usual trip (miles)",
    "Habit": (
        "Habit strength, i.e. inertia toward the usual option "
        "(0 = none, 1 = very strong)"
    ),
}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _check_n_samples(n_samples):
    if (
        not isinstance(n_samples, Integral)
        or isinstance(n_samples, bool)
        or n_samples < 1
    ):
        raise ValueError(f"n_samples must be a positive integer, got {n_samples!r}.")
    return int(n_samples)


def _check_flip(label_flip):
    if (
        not isinstance(label_flip, Real)
        or isinstance(label_flip, bool)
        or not 0.0 <= label_flip <= 1.0
    ):
        raise ValueError(f"label_flip must be a float in [0, 1], got {label_flip!r}.")
    return float(label_flip)


def _round_half_up(x):
    return int(np.floor(x + 0.5))


def _exact_counts(n_samples, ratio):
    """Split ``n_samples`` by ``ratio`` with the largest-remainder method.

    Each class first gets ``floor(n * r_k / sum(r))`` rows; the rows left over
    go, one each, to the classes with the largest fractional parts (ties go
    to the class listed first). The counts sum to ``n_samples`` and a class
    with ratio 0 gets no rows.
    """
    ratio = np.asarray(ratio, dtype=float)
    share = n_samples * ratio / ratio.sum()
    counts = np.floor(share).astype(int)
    left = n_samples - counts.sum()
    order = np.argsort(-(share - counts), kind="stable")
    counts[order[:left]] += 1
    return counts


def _check_ratio(class_ratio, n_classes):
    ratio = np.asarray(class_ratio, dtype=float)
    if ratio.ndim != 1 or ratio.size != n_classes:
        raise ValueError(
            f"class_ratio must have {n_classes} entries (one per class), "
            f"got {class_ratio!r}."
        )
    if not np.all(np.isfinite(ratio)) or np.any(ratio < 0) or ratio.sum() <= 0:
        raise ValueError(
            "class_ratio entries must be finite, non-negative and not all zero, "
            f"got {class_ratio!r}."
        )
    return ratio


def _draw_with_counts(counts, classes, draw, rng):
    """Rejection sampling: draw population rows until every class quota is met.

    ``draw(m, rng)`` returns ``(X, labels)`` for ``m`` population rows. Of each
    class the first ``counts[k]`` rows drawn are kept; kept rows stay in the
    order they were drawn (classes are interleaved, not grouped).
    """
    n_samples = int(counts.sum())
    chunk = max(1024, 4 * n_samples)
    need = dict(zip(classes, (int(c) for c in counts)))
    kept_X, kept_y = [], []
    for _ in range(10_000):
        if not any(need.values()):
            break
        X, labels = draw(chunk, rng)
        keep = np.zeros(len(labels), dtype=bool)
        for cls in classes:
            if need[cls] == 0:
                continue
            idx = np.flatnonzero(labels == cls)[: need[cls]]
            keep[idx] = True
            need[cls] -= idx.size
        kept_X.append(X[keep])
        kept_y.append(labels[keep])
    else:  # pragma: no cover - every class has positive probability
        raise RuntimeError("rejection sampling did not fill the class quotas.")
    return np.concatenate(kept_X), np.concatenate(kept_y)


def _flip_labels(labels, classes, label_flip, rng):
    """Symmetric label noise (T² appendix C).

    A subset of ``round(label_flip * n)`` rows (half rounded up) is drawn
    uniformly without replacement, regardless of class; each of them gets a
    label drawn uniformly from the classes other than its own.
    """
    labels = labels.copy()
    n_flip = _round_half_up(label_flip * labels.size)
    if n_flip == 0:
        return labels
    classes = np.asarray(classes, dtype=labels.dtype)
    n_classes = classes.size
    idx = rng.choice(labels.size, size=n_flip, replace=False)
    pos = pd.Index(classes).get_indexer(labels[idx])
    shift = rng.randint(1, n_classes, size=n_flip)
    labels[idx] = classes[(pos + shift) % n_classes]
    return labels


# ---------------------------------------------------------------------------
# Diabetes
# ---------------------------------------------------------------------------


def _diabetes_draw(n_samples, rng):
    """Features and risk score exactly as ``generate_diabetes_data`` draws them.

    With ``rng = np.random.RandomState(seed)`` the values are identical to the
    source's ``np.random.seed(seed)`` followed by its ``np.random.normal`` calls.
    """
    cols = [rng.normal(mean, sd, n_samples) for _, mean, sd in _DIABETES_FEATURES]
    X = np.vstack(cols).T
    noise = rng.normal(0.0, _DIABETES_NOISE_SD, n_samples)
    z = np.dot(X, _DIABETES_COEF) + noise
    return X, z


def _risk_group(z):
    lo, hi = DIABETES_RISK_CUTPOINTS
    return np.where(z <= lo, "LR", np.where(z <= hi, "MR", "HR")).astype(object)


def make_diabetes(
    n_samples,
    *,
    task="risk",
    class_ratio=None,
    label_flip=0.0,
    rounded=False,
    random_state=None,
):
    """Generate the simulated Diabetes dataset (Rauba et al., 2024).

    Eight independent normal features are drawn in the source's order:
    HbA1c ~ N(5.7, 0.5), FastingGlucose ~ N(100, 15), Age ~ N(50, 12),
    BMI ~ N(25, 4), BloodPressure ~ N(120, 15), Cholesterol ~ N(200, 40),
    Insulin ~ N(85, 45), PhysicalActivity ~ N(3, 1) (nothing is clipped, so
    e.g. Insulin is negative in about 3% of rows). The risk score is

    ``z = X @ beta_1 + eps``, ``eps ~ N(0, 0.2)``, no intercept,

    with ``beta_1 = [0.3, 0.0075, -0.01, 0.05, 0.04, -0.03, -0.02, -0.1]``.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    task : {"risk", "binary"}, default="risk"
        ``"binary"``: the source's label, ``Outcome = 1`` iff ``z > 0`` (the
        source clips ``sigmoid(z)`` to [0.4, 0.6] and thresholds it at 0.5,
        which is the same rule; about 50% positives). ``"risk"``: three risk
        groups ``"LR"`` / ``"MR"`` / ``"HR"`` from the cut-points
        :data:`DIABETES_RISK_CUTPOINTS` on ``z`` (population ratio 7:2:1).
        The risk groups are skteam's definition; T² does not state its rule.
    class_ratio : tuple of float or None, default=None
        ``None``: i.i.d. draws from the population. Otherwise the relative
        class sizes, in the order ``("LR", "MR", "HR")`` for ``task="risk"``
        and ``(0, 1)`` for ``task="binary"``, e.g. ``(7, 2, 1)`` or
        ``(8, 2, 0)`` as in T²'s imbalance and incompleteness settings.
        Exactly ``n_samples`` rows are returned; the per-class counts come
        from the largest-remainder rule (each class gets
        ``floor(n * r_k / sum(r))`` rows and the leftover rows go to the
        largest fractional parts, earlier classes first on ties). Rows are
        found by rejection sampling from the population: the first rows of
        each class that are drawn are kept, in the order they were drawn.
    label_flip : float in [0, 1], default=0.0
        Symmetric label noise as in T²'s appendix C: ``round(label_flip *
        n_samples)`` rows (half rounded up), chosen uniformly without regard
        to class, get a label drawn uniformly from the *other* classes of the
        task (all three risk groups for ``task="risk"``, even with a zero
        entry in ``class_ratio``). Flipping is applied after ``class_ratio``
        sampling, so class counts are those before flipping. The features do
        not depend on ``label_flip``: with the same ``random_state`` only the
        labels change.
    rounded : bool, default=False
        Record the features at the precision of T²'s Fig. 5 (its examples of
        the simulated data): ``HbA1c`` to 2 decimals, every other feature to
        an integer. Labels come from the unrounded draws, as a measurement
        recorded at that precision would. ``False`` keeps the source's full
        float precision.
    random_state : int, RandomState instance or None, default=None
        Controls all draws. With an int seed, ``task="binary"``,
        ``class_ratio=None`` and ``label_flip=0`` the output equals the
        source's ``generate_diabetes_data(n_samples, {"mean": 0, "std": 0.2},
        beta_1, seed)`` value for value. ``None`` uses a fresh seed from the
        operating system; NumPy's global random state is never read or
        advanced.

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 8)
        Float columns ``HbA1c, FastingGlucose, Age, BMI, BloodPressure,
        Cholesterol, Insulin, PhysicalActivity`` (meanings in
        :data:`DIABETES_DESCRIPTIONS`); whole numbers when ``rounded``
        except ``HbA1c``.
    y : pandas.Series of shape (n_samples,)
        ``"risk"`` (strings ``"LR"``, ``"MR"``, ``"HR"``) or ``"Outcome"``
        (int 0/1).

    References
    ----------
    .. [1] P. Rauba, N. Seedat, K. Kacprzyk and M. van der Schaar,
       "Self-healing machine learning: A framework for autonomous adaptation
       in real-world environments", NeurIPS 2024.

    Examples
    --------
    >>> from skteam.datasets import make_diabetes
    >>> X, y = make_diabetes(10, class_ratio=(7, 2, 1), random_state=0)
    >>> X.shape, y.value_counts().to_dict()
    ((10, 8), {'LR': 7, 'MR': 2, 'HR': 1})
    """
    n_samples = _check_n_samples(n_samples)
    label_flip = _check_flip(label_flip)
    if task == "risk":
        classes, name = np.array(RISK_LEVELS, dtype=object), "risk"

        def draw(m, rng):
            X, z = _diabetes_draw(m, rng)
            return X, _risk_group(z)

    elif task == "binary":
        classes, name = np.array([0, 1]), "Outcome"

        def draw(m, rng):
            X, z = _diabetes_draw(m, rng)
            return X, (z > 0).astype(np.int64)

    else:
        raise ValueError(f"task must be 'risk' or 'binary', got {task!r}.")

    rng = check_random_state(random_state)
    if class_ratio is None:
        X, labels = draw(n_samples, rng)
    else:
        counts = _exact_counts(n_samples, _check_ratio(class_ratio, classes.size))
        X, labels = _draw_with_counts(counts, list(classes), draw, rng)
    if label_flip > 0:
        labels = _flip_labels(labels, classes, label_flip, rng)

    columns = [f for f, _, _ in _DIABETES_FEATURES]
    X = pd.DataFrame(X, columns=columns)
    if rounded:
        X = X.round({c: _DIABETES_DECIMALS.get(c, 0) for c in columns})
    y = pd.Series(labels, name=name)
    if task == "binary":
        y = y.astype(np.int64)
    return X, y


# ---------------------------------------------------------------------------
# TravelBehavior
# ---------------------------------------------------------------------------


def _travel_features(n_samples, rng):
    time_saving = np.round(rng.normal(0.0, 8.0, n_samples), 1)
    incentive = np.round(rng.uniform(0.0, 5.0, n_samples), 2)
    distance = np.round(rng.lognormal(np.log(8.0), 0.6, n_samples), 1)
    habit = np.round(rng.beta(2.0, 2.0, n_samples), 2)
    return np.column_stack([time_saving, incentive, distance, habit])


def make_travel_behavior(n_samples, *, label_flip=0.0, random_state=None):
    """Generate the simulated TravelBehavior dataset (skteam's LDT model).

    T² simulates TravelBehavior "according to the distributions in Feng et
    al. (2020); Lin et al. (2024)" with labels from their Latent Decision
    Threshold (LDT) model, but publishes neither the features nor the
    parameters, and no code for it could be found. **This generator is
    skteam's reconstruction, not the paper's code.** It keeps the structure
    the LDT papers describe (an app offers a commuter a rewarded alternative;
    the commuter accepts when the alternative's latent utility exceeds a
    person-specific latent threshold) with four features:

    ========================  ============================================
    ``TimeSaving`` (min)      N(0, 8), rounded to 0.1
    ``Incentive`` ($)         Uniform(0, 5), rounded to 0.01
    ``TripDistance`` (miles)  LogNormal(log 8, 0.6), rounded to 0.1
    ``Habit`` (0-1)           Beta(2, 2), rounded to 0.01
    ========================  ============================================

    and, on the rounded features,

    ``U = 0.25 TimeSaving + 0.9 Incentive - 0.08 TripDistance + eps``,
    ``eps ~ N(0, 0.3)``,

    ``tau = 0 + 3.0 Habit + eta``, ``eta ~ N(0, 0.3)`` (one row = one person),

    ``Choice = 1`` iff ``U > tau``. About 50% of rows are positive, and the
    label is nearly a deterministic function of the features (a logistic
    regression fitted on 60 rows reaches a test AUC of about 0.98, in line
    with T²'s Table 3 "No Flip" column).

    Parameters
    ----------
    n_samples : int
        Number of rows (people).
    label_flip : float in [0, 1], default=0.0
        Symmetric label noise: ``round(label_flip * n_samples)`` rows (half
        rounded up), chosen uniformly, get the other label. The features do
        not depend on ``label_flip``.
    random_state : int, RandomState instance or None, default=None
        Controls all draws. ``None`` uses a fresh seed from the operating
        system; NumPy's global random state is never read or advanced.

    Returns
    -------
    X : pandas.DataFrame of shape (n_samples, 4)
        Float columns ``TimeSaving, Incentive, TripDistance, Habit`` (meanings
        in :data:`TRAVEL_DESCRIPTIONS`).
    y : pandas.Series of shape (n_samples,)
        ``"Choice"``: 1 if the commuter accepts the alternative, else 0.

    References
    ----------
    .. [1] F. Lin, X. Qian, B. Mortazavi, Z. Wang, S. Huang and C. Chen,
       "Modeling user choice behavior under data corruption: Robust learning
       of the latent decision threshold model", IISE Transactions, 2024.
    .. [2] J. Feng, X. Zhu, F. Wang, S. Huang and C. Chen, "A learning
       framework for personalized random utility maximization (RUM) modeling
       of user behavior", IEEE T-ASE 19(1), 2022 (online 2020).

    Examples
    --------
    >>> from skteam.datasets import make_travel_behavior
    >>> X, y = make_travel_behavior(60, random_state=0)
    >>> list(X.columns), y.name
    (['TimeSaving', 'Incentive', 'TripDistance', 'Habit'], 'Choice')
    """
    n_samples = _check_n_samples(n_samples)
    label_flip = _check_flip(label_flip)
    rng = check_random_state(random_state)

    X = _travel_features(n_samples, rng)
    w = _TRAVEL_UTILITY_WEIGHTS
    utility = (
        w["TimeSaving"] * X[:, 0]
        + w["Incentive"] * X[:, 1]
        + w["TripDistance"] * X[:, 2]
        + rng.normal(0.0, _TRAVEL_UTILITY_SD, n_samples)
    )
    threshold = (
        _TRAVEL_TAU0
        + _TRAVEL_HABIT_WEIGHT * X[:, 3]
        + rng.normal(0.0, _TRAVEL_THRESHOLD_SD, n_samples)
    )
    labels = (utility > threshold).astype(np.int64)
    if label_flip > 0:
        labels = _flip_labels(labels, np.array([0, 1]), label_flip, rng)

    X = pd.DataFrame(X, columns=list(TRAVEL_DESCRIPTIONS))
    return X, pd.Series(labels, name="Choice", dtype=np.int64)
