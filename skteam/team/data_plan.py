"""A plan read off the training data: roles from feature association.

:func:`data_plan` builds a :class:`~skteam.team.plan.Plan` without asking a
language model for text, from the training rows ``D_ori`` (and, when given,
the model's reading of the feature names), deterministically:

1. **Association.** Every pair of features gets an association in [0, 1]:
   ``|Spearman rho|`` for two numeric features, the bias-corrected Cramér's V
   (Bergsma, 2013) for two categorical ones, and the correlation ratio eta for
   a numeric and a categorical one, adjusted for the number of categories as
   adjusted R² is (so a categorical with many levels is not associated with
   everything). A constant column has association 0 with every other one.
2. **Similarity.** The association plus :data:`TOKEN_WEIGHT` times the
   overlap coefficient ``|A & B| / min(|A|, |B|)`` of the two features' word
   tokens (:func:`feature_tokens`: name and description, split on
   non-alphanumerics, underscores and camelCase, lowercased; tokens shorter
   than 3 characters other than two-letter capitals such as ``CH`` or ``BP``,
   all-digit tokens, very common words and tokens shared by more than half of
   the features ignored), plus :data:`ORDER_WEIGHT` for two features next
   to each other in the table's column order (a table's author tends to put
   related columns side by side), plus, where the model can embed text,
   :data:`MEANING_WEIGHT` times the similarity of what the features' names
   mean (:mod:`skteam.team.meaning`), clipped to [0, 1].
3. **Roles.** Greedy average-linkage agglomeration on the similarity: the pair
   of groups with the highest mean pairwise similarity whose union fits the
   cap is merged. Merging stops once the best pair's mean similarity is below
   :func:`merge_threshold` (``2 / sqrt(n_rows)``, about the largest |rho| that
   independent columns reach by chance in 19 draws of 20) and there are at
   most ``min(ceil(n / 3), MAX_ROLES)`` groups (so a wide table gets fewer,
   larger roles: each role is one more worker call per batch); it always goes
   on down to ``ceil(n / cap)``
   groups (the fewest the cap allows) and never below 2 groups for a table of
   4 or more features. The cap is ``max_role_features``, and at most half of
   the features for a table of 6 or more (so :func:`is_degenerate` never flags
   a data plan). Ties go to the earlier features.
4. **Order.** A role's score is its mean association with the other roles'
   features, plus its mean association with the label ``y`` when given; roles
   with the higher score (the hubs that the rest depend on) come first.
5. **Edges.** From an earlier role to a later one when their mean
   cross-association is at least :func:`edge_threshold` (:data:`EDGE_THRESHOLD`,
   or 1.5 times the association independent columns show by chance in so few
   rows, whichever is larger); a later role left with
   no parent is linked from the earlier role it is most associated with, so the
   graph is connected. Edges only point forward in the order: always a DAG.
6. **Names.** A role is named after the most common token its feature names
   share (ties: the token rarest outside the role, then the first), title-cased,
   else ``"<first feature> group"``; made unique with the next shared token or
   a numeric suffix. Names only ever come from the
   table's own feature names.

:func:`is_degenerate` says when a plan (typically the task manager's) is too
lopsided or too repaired to trust, so the caller can use :func:`data_plan`.
The stepwise task manager (:func:`skteam.team.manager.plan_in_steps`) uses
the same association (:func:`association_matrix`), tokens
(:func:`feature_tokens`), role order (:func:`order_groups`) and edges
(:func:`forward_edges`).
"""

from __future__ import annotations

import math
import re
from collections import Counter

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from .plan import Plan, Role, repaired_source

__all__ = ["data_plan", "is_degenerate", "fit_role_names", "association_matrix",
           "feature_tokens", "merge_threshold", "edge_threshold"]

#: Most features a role should hold (``max_role_features``'s default).
MAX_ROLE_FEATURES = 8
#: Weight of the shared-token bonus added to the association (step 2): two
#: features whose words all match gain as much as a |rho| of 0.3.
TOKEN_WEIGHT = 0.3
#: Similarity added for two features next to each other in the column order
#: (step 2): as much as all their words matching. Chosen on the reference
#: groupings of ``benchmarks/plans`` (``docs/method.md``).
ORDER_WEIGHT = 0.3
#: Weight of the similarity of what the names mean (step 2, when the model
#: can embed text): a centred cosine of 0.6 between two feature names
#: weighs as much as a |rho| of 0.3. Chosen on the reference groupings of
#: ``benchmarks/plans`` (``docs/method.md``).
MEANING_WEIGHT = 0.5
#: Mean cross-association from which an earlier role is a later one's parent.
EDGE_THRESHOLD = 0.1
#: Tables with at least this many features cap a role at half of them.
MIN_FEATURES_FOR_HALF_CAP = 6
#: Tables with at least this many features get at least two roles: a team of
#: one worker is a single prompt.
MIN_FEATURES_FOR_TWO_ROLES = 4
#: Merging goes on below the merge threshold while there are more roles than
#: ``ceil(n_features / MEAN_ROLE_FEATURES)``.
MEAN_ROLE_FEATURES = 3
#: ... and while there are more than this many roles: every role is one more
#: worker call per batch, so a wide table gets roles near the cap rather than
#: many small ones.
MAX_ROLES = 8

_STOPWORDS = frozenset(
    "the and for with from per into over under than that this these those are "
    "was were has have had not any all each its his her their our your you "
    "who whom which what when where why how yes also been being other "
    "feature features column columns col value values data var variable "
    "variables attribute attributes field".split()
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SPLIT = re.compile(r"[^0-9A-Za-z]+")


# -- association ---------------------------------------------------------------


def _tokens(text) -> list:
    """Word tokens of ``text``, lowercased, in order, filtered as in step 2.

    A two-letter word is kept only when written in capitals (an abbreviation
    such as ``CH`` in ``PriceCH`` or ``BP`` in ``SysBP``).
    """
    if not text:
        return []
    words = _SPLIT.split(_CAMEL.sub(" ", str(text)))
    out = []
    for word in words:
        low = word.lower()
        if low.isdigit() or low in _STOPWORDS:
            continue
        if len(low) >= 3 or (len(word) == 2 and word.isalpha() and word.isupper()):
            out.append(low)
    return out


def feature_tokens(schema) -> list:
    """Each feature's word tokens that can group it with others (step 2).

    Parameters
    ----------
    schema : Schema
        The features; their names and descriptions are read.

    Returns
    -------
    tokens : list of set of str
        One set per feature, in schema order: the lowercased tokens of its
        name and description, without the tokens that more than half of the
        features carry (for tables of 4 or more features).
    """
    sets = [set(_tokens(spec.name)) | set(_tokens(spec.description))
            for spec in schema.features]
    n = len(sets)
    if n >= 4:  # a token on most features says nothing about grouping
        df = Counter(t for s in sets for t in s)
        sets = [{t for t in s if df[t] <= n / 2} for s in sets]
    return sets


def merge_threshold(n_rows: int) -> float:
    """Mean similarity below which groups are not merged: ``2 / sqrt(n_rows)``.

    About the two-sided 5 % critical value of a correlation between
    independent columns, so groups merge on association the rows can tell
    from chance (1 for fewer than 5 rows).

    Parameters
    ----------
    n_rows : int
        Rows of ``D_ori``.

    Returns
    -------
    threshold : float
        In (0, 1].
    """
    return 1.0 if n_rows < 5 else min(1.0, 2.0 / math.sqrt(n_rows))


def _spearman(ranks: np.ndarray) -> np.ndarray:
    """|Spearman rho| between the columns of ``ranks`` (constant columns: 0)."""
    centered = ranks - ranks.mean(axis=0)
    norm = np.sqrt((centered**2).sum(axis=0))
    ok = norm > 1e-12 * max(1.0, float(norm.max(initial=0.0)))
    unit = np.where(ok, centered / np.where(ok, norm, 1.0), 0.0)
    return np.clip(np.abs(unit.T @ unit), 0.0, 1.0)


def _cramers_v(a: np.ndarray, ka: int, b: np.ndarray, kb: int) -> float:
    """Bias-corrected Cramér's V of two integer-coded columns."""
    n = len(a)
    if ka < 2 or kb < 2 or n < 2:
        return 0.0
    table = np.bincount(a * kb + b, minlength=ka * kb).reshape(ka, kb)
    rows, cols = table.sum(axis=1), table.sum(axis=0)
    chi2 = n * ((table**2 / np.outer(rows, cols)).sum() - 1.0)
    phi2 = max(0.0, chi2 / n - (ka - 1) * (kb - 1) / (n - 1))
    r = ka - (ka - 1) ** 2 / (n - 1)
    k = kb - (kb - 1) ** 2 / (n - 1)
    denom = min(r - 1.0, k - 1.0)
    if denom <= 0:
        return 0.0
    return float(min(1.0, math.sqrt(phi2 / denom)))


def _eta(codes: np.ndarray, k: int, values: np.ndarray) -> np.ndarray:
    """Correlation ratio of one coded categorical with each column of ``values``.

    eta² is adjusted as adjusted R² is, ``1 - (1 - eta²)(n - 1)/(n - k)``,
    clipped at 0; constant columns give 0.
    """
    n = len(codes)
    out = np.zeros(values.shape[1])
    if k < 2 or n <= k or values.shape[1] == 0:
        return out
    centered = values - values.mean(axis=0)
    total = (centered**2).sum(axis=0)
    counts = np.bincount(codes, minlength=k).astype(float)
    sums = np.zeros((k, values.shape[1]))
    np.add.at(sums, codes, centered)
    between = (sums**2 / counts[:, None]).sum(axis=0)
    ok = total > 1e-12 * np.maximum(1.0, (values**2).sum(axis=0))
    eta2 = np.where(ok, between / np.where(ok, total, 1.0), 0.0)
    adjusted = 1.0 - (1.0 - eta2) * (n - 1) / (n - k)
    return np.where(ok, np.sqrt(np.clip(adjusted, 0.0, 1.0)), 0.0)


def _codes(col) -> tuple:
    """Integer codes of a column's values and the number of distinct values."""
    codes, uniques = pd.factorize(pd.Series(col).astype(object), sort=False)
    return codes.astype(np.int64), len(uniques)


def association_matrix(schema, X) -> np.ndarray:
    """Pairwise association of the features of ``X``, in [0, 1] (step 1).

    Parameters
    ----------
    schema : Schema
        The features; their kinds decide which measure each pair gets.
    X : pandas.DataFrame
        The training rows, with a column per name of ``schema.names``,
        complete.

    Returns
    -------
    association : ndarray of shape (n_features, n_features)
        Symmetric, with a diagonal of ones; rows and columns in schema order.
    """
    names = schema.names
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(X, columns=names)
    frame = frame[names]
    n_feat = len(names)
    kinds = [spec.kind for spec in schema.features]
    num = [i for i, k in enumerate(kinds) if k != "categorical"]
    cat = [i for i, k in enumerate(kinds) if k == "categorical"]
    assoc = np.zeros((n_feat, n_feat))
    values = np.column_stack(
        [frame.iloc[:, i].to_numpy(dtype=float) for i in num]
    ) if num else np.zeros((len(frame), 0))
    if len(num) > 1:
        ranks = np.column_stack([rankdata(values[:, j]) for j in range(len(num))])
        assoc[np.ix_(num, num)] = _spearman(ranks)
    coded = [_codes(frame.iloc[:, i]) for i in cat]
    for a, i in enumerate(cat):
        ci, ki = coded[a]
        for b in range(a + 1, len(cat)):
            cj, kj = coded[b]
            assoc[i, cat[b]] = assoc[cat[b], i] = _cramers_v(ci, ki, cj, kj)
        if num:
            eta = _eta(ci, ki, values)
            assoc[i, num] = eta
            assoc[num, i] = eta
    np.fill_diagonal(assoc, 1.0)
    return assoc


def _token_overlap(schema) -> np.ndarray:
    """Overlap coefficient of the features' token sets (step 2), zero diagonal."""
    sets = feature_tokens(schema)
    n = len(sets)
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            if sets[i] and sets[j]:
                shared = len(sets[i] & sets[j])
                out[i, j] = out[j, i] = shared / min(len(sets[i]), len(sets[j]))
    return out


def _neighbours(n: int) -> np.ndarray:
    """1 for two features next to each other in the column order (step 2)."""
    return np.eye(n, k=1) + np.eye(n, k=-1)


def _label_association(X, y, schema) -> np.ndarray:
    """Association of each feature with the label, the label as categorical."""
    n_feat = len(schema.names)
    if y is None:
        return np.zeros(n_feat)
    labels = np.asarray(y).ravel()
    if len(labels) != len(X):
        raise ValueError(f"y has {len(labels)} values but X has {len(X)} rows.")
    cy, ky = _codes(labels)
    out = np.zeros(n_feat)
    num = [i for i, s in enumerate(schema.features) if s.kind != "categorical"]
    frame = X[schema.names]
    if num:
        values = np.column_stack(
            [frame.iloc[:, i].to_numpy(dtype=float) for i in num])
        out[num] = _eta(cy, ky, values)
    for i, spec in enumerate(schema.features):
        if spec.kind == "categorical":
            ci, ki = _codes(frame.iloc[:, i])
            out[i] = _cramers_v(ci, ki, cy, ky)
    return out


# -- roles ---------------------------------------------------------------------


def _cap(n_features: int, max_role_features: int) -> int:
    cap = max(1, int(max_role_features))
    if n_features >= MIN_FEATURES_FOR_HALF_CAP:
        cap = min(cap, n_features // 2)
    return cap


def _group_limits(n: int, cap: int) -> tuple:
    """The fewest and the most groups step 3 ends with (before the threshold)."""
    fewest = math.ceil(n / cap)
    if n >= MIN_FEATURES_FOR_TWO_ROLES:
        fewest = max(fewest, 2)
    most = (max(fewest, min(math.ceil(n / MEAN_ROLE_FEATURES), MAX_ROLES))
            if n >= 2 else 1)
    return min(fewest, n), most


def _agglomerate(sim: np.ndarray, cap: int, threshold: float = 0.0) -> list:
    """Greedy average-linkage groups of feature indices (step 3).

    Merges the most similar pair of groups that fits ``cap`` while there are
    more groups than the fewest allowed, and stops at a pair below
    ``threshold`` once there are no more groups than the most allowed
    (:func:`_group_limits`).
    """
    n = sim.shape[0]
    groups = [[i] for i in range(n)]
    sums = sim.copy()
    np.fill_diagonal(sums, 0.0)
    sizes = np.ones(n)
    active = np.ones(n, dtype=bool)
    fewest, most = _group_limits(n, cap)
    upper = np.triu(np.ones((n, n), dtype=bool), k=1)
    while active.sum() > fewest:
        avg = sums / np.outer(sizes, sizes)
        fits = (sizes[:, None] + sizes[None, :] <= cap)
        valid = fits & active[:, None] & active[None, :] & upper
        if not valid.any():
            break
        i, j = np.unravel_index(np.argmax(np.where(valid, avg, -np.inf)), avg.shape)
        if avg[i, j] < threshold and active.sum() <= most:
            break
        groups[i] = sorted(groups[i] + groups[j])
        sums[i, :] += sums[j, :]
        sums[:, i] += sums[:, j]
        sums[i, i] = 0.0
        sizes[i] += sizes[j]
        active[j] = False
        sums[j, :] = sums[:, j] = 0.0
    return [groups[i] for i in range(n) if active[i]]


def _role_names(groups: list, names: list, taken=()) -> list:
    """Unique names from the groups' own feature names (step 6).

    ``taken`` holds names (lowercased) already in use elsewhere.
    """
    overall = Counter(t for nm in names for t in dict.fromkeys(_tokens(nm)))
    out: list = []
    taken = set(taken)
    for group in groups:
        counts = Counter()
        first: dict = {}
        for idx in group:
            for t in dict.fromkeys(_tokens(names[idx])):
                counts[t] += 1
                first.setdefault(t, len(first))
        shared = sorted((t for t, c in counts.items() if c >= 2),
                        key=lambda t: (-counts[t], overall[t] - counts[t],
                                       first[t]))
        candidates = [t.title() for t in shared]
        candidates.append(f"{names[group[0]]} group")
        name = next((c for c in candidates if c.lower() not in taken), None)
        if name is None:
            base, k = candidates[-1], 2
            name = f"{base} {k}"
            while name.lower() in taken:
                k += 1
                name = f"{base} {k}"
        taken.add(name.lower())
        out.append(name)
    return out


def _cross(assoc: np.ndarray, a: list, b: list) -> float:
    return float(assoc[np.ix_(a, b)].mean())


def data_plan(schema, X, y=None, *, max_role_features=MAX_ROLE_FEATURES,
              reason="", meaning=None, order_weight=ORDER_WEIGHT) -> Plan:
    """A plan from the association of the features in the training rows.

    Deterministic: the same table always gives the same plan. See the module
    docstring for the method.

    Parameters
    ----------
    schema : Schema
        The features to cover; their kinds choose the association measures.
    X : pandas.DataFrame
        The training rows, ``D_ori``, with a column per name of
        ``schema.names``, complete.
    y : array-like of shape (n_rows,), default=None
        The labels; when given, roles more associated with the label come
        earlier in the order.
    max_role_features : int, default=MAX_ROLE_FEATURES
        The most features one role may hold (and, for tables of 6 or more
        features, at most half of them).
    reason : str, default=""
        Why the data plan is used; recorded first in ``Plan.repairs`` when
        given.
    meaning : ndarray of shape (n_features, n_features), default=None
        The similarity of what the features' names mean
        (:func:`skteam.team.meaning.meaning_similarity`), added to the
        similarity with weight :data:`MEANING_WEIGHT` (step 2); it groups
        features, it does not order or link roles.
    order_weight : float, default=ORDER_WEIGHT
        Similarity added for two features next to each other in the column
        order (step 2); 0 where the order means nothing.

    Returns
    -------
    plan : Plan
        Every feature in exactly one role, roles in precedence order, edges
        only from earlier roles to later ones; ``source="data"``.
    """
    names = schema.names
    n_feat = len(names)
    if n_feat == 0:
        raise ValueError("data_plan needs at least one feature.")
    cap = _cap(n_feat, max_role_features)
    if not isinstance(X, pd.DataFrame):
        X = pd.DataFrame(X, columns=names)
    n_rows = len(X)
    threshold = merge_threshold(n_rows)
    edge_min = edge_threshold(n_rows)
    note = (f"roles from feature association in D_ori ({n_rows} rows"
            f"{'' if meaning is None else ', and what the names mean'}; max "
            f"{cap} features per role; groups merged down to a mean similarity "
            f"of {threshold:.2f}; edges where the mean association is at "
            f"least {edge_min:.2f})")
    repairs = ((reason,) if reason else ()) + (note,)
    if n_feat < 2:
        role = Role(_role_names([[0]], names)[0], tuple(names))
        return Plan((role,), (), source="data", repairs=repairs)
    assoc, sim = similarity(schema, X, meaning, order_weight=order_weight)
    groups = _agglomerate(sim, cap, threshold)
    groups = order_groups(groups, assoc, _label_association(X, y, schema))
    role_names = _role_names(groups, names)
    edges = [(role_names[i], role_names[j])
             for i, j in forward_edges(groups, assoc, edge_min)]
    roles = tuple(Role(nm, tuple(names[i] for i in g))
                  for nm, g in zip(role_names, groups))
    return Plan(roles, tuple(edges), source="data", repairs=repairs)


def similarity(schema, X, meaning=None, *, order_weight=ORDER_WEIGHT) -> tuple:
    """The association (step 1) and the similarity (step 2) of the features.

    Parameters
    ----------
    schema : Schema
    X : pandas.DataFrame
        The training rows, with a column per name of ``schema.names``.
    meaning : ndarray of shape (n_features, n_features), default=None
        Added with weight :data:`MEANING_WEIGHT` (see :func:`data_plan`).
    order_weight : float, default=ORDER_WEIGHT
        Added for two features next to each other in the column order.

    Returns
    -------
    association, similarity : ndarray of shape (n_features, n_features)
    """
    assoc = association_matrix(schema, X)
    sim = assoc + TOKEN_WEIGHT * _token_overlap(schema)
    sim = sim + order_weight * _neighbours(len(schema.names))
    if meaning is not None:
        sim = sim + MEANING_WEIGHT * np.asarray(meaning, dtype=float)
    sim = np.clip(sim, 0.0, 1.0)
    np.fill_diagonal(sim, 1.0)
    return assoc, sim


def order_groups(groups, assoc, label) -> list:
    """Groups of feature indices in precedence order (step 4).

    Parameters
    ----------
    groups : list of list of int
    assoc : ndarray of shape (n_features, n_features)
    label : ndarray of shape (n_features,)
        Each feature's association with the label (zeros without one).

    Returns
    -------
    groups : list of list of int
        The same groups, the higher scores first (ties: the earlier first
        feature).
    """
    n_feat = assoc.shape[0]
    scores = []
    for g in groups:
        others = [i for i in range(n_feat) if i not in g]
        score = _cross(assoc, g, others) if others else 0.0
        scores.append(score + float(label[g].mean()))
    order = sorted(range(len(groups)), key=lambda k: (-round(scores[k], 12),
                                                     min(groups[k])))
    return [groups[k] for k in order]


def edge_threshold(n_rows: int) -> float:
    """Mean cross-association from which a role is another's parent.

    ``max(EDGE_THRESHOLD, 1.2 / sqrt(n_rows))``: 1.5 times the mean |rho|
    that independent columns show by chance (about ``0.8 / sqrt(n_rows)``),
    so roles of unrelated columns are not linked on noise (on a wide table
    every pair of roles would be, and the team would become one long chain).

    Parameters
    ----------
    n_rows : int
        Rows of ``D_ori``.

    Returns
    -------
    threshold : float
    """
    return max(EDGE_THRESHOLD, 1.2 / math.sqrt(max(n_rows, 1)))


def forward_edges(groups, assoc, threshold=EDGE_THRESHOLD) -> list:
    """Edges ``(i, j)``, ``i < j``, between ordered groups (step 5).

    Parameters
    ----------
    groups : list of list of int
        Groups of feature indices in precedence order.
    assoc : ndarray of shape (n_features, n_features)
    threshold : float, default=EDGE_THRESHOLD
        Mean cross-association from which an earlier group is a parent
        (:func:`edge_threshold`).

    Returns
    -------
    edges : list of (int, int)
        Group positions; every group but the first has a parent.
    """
    edges = []
    for j in range(1, len(groups)):
        cross = [_cross(assoc, groups[i], groups[j]) for i in range(j)]
        parents = [i for i in range(j) if cross[i] >= threshold]
        if not parents:
            parents = [int(np.argmax(cross))]
        edges.extend((i, j) for i in parents)
    return edges


def is_degenerate(plan, schema, *, max_role_features=MAX_ROLE_FEATURES) -> str:
    """Why a plan is too lopsided or too repaired to use, or ``""``.

    A plan is degenerate when the table has at least 4 features and the plan
    one role (a team of one worker is a single prompt), when the table has at
    least 6 features and one role holds more than half of them or more than
    ``max_role_features``, or when it is a repaired manager plan
    (``source="manager (repaired)"``) whose repairs dropped a role, put
    features in a "Remaining features" role or renamed a role that shared
    its name with another (a model that gives two roles one name has not
    told them apart).

    Parameters
    ----------
    plan : Plan
        The plan to judge.
    schema : Schema
        The table's features.
    max_role_features : int, default=MAX_ROLE_FEATURES
        The most features a role of a plan for a table of 6 or more features
        should hold.

    Returns
    -------
    reason : str
        A one-line reason, or ``""`` when the plan is fine.
    """
    n_feat = len(schema.names)
    if plan.source == "manager (repaired)":
        for line in plan.repairs:
            if (line.startswith(("dropped role ", "renamed duplicate role "))
                    or " were in no role; put in " in line):
                return f"the manager's plan was repaired: {line}"
    if n_feat >= MIN_FEATURES_FOR_TWO_ROLES and len(plan.roles) == 1:
        return f"one role for {n_feat} features"
    if n_feat >= MIN_FEATURES_FOR_HALF_CAP:
        for role in plan.roles:
            k = len(role.features)
            if k > n_feat / 2:
                return (f"role {role.name!r} holds {k} of the {n_feat} features "
                        "(more than half)")
            if k > max_role_features:
                return (f"role {role.name!r} holds {k} features (more than "
                        f"max_role_features={max_role_features})")
    return ""


def fit_role_names(plan, schema) -> Plan:
    """``plan`` with every role named by a word of its own features.

    A role whose name shares no word (step 2's tokens) with the names and
    descriptions of the features it holds is renamed as the data plan names
    its roles (step 6), so a name never misleads about what a role holds;
    each rename is a line of ``Plan.repairs``. The task manager's names are
    words of the whole table (its grammar allows no other), so a small model
    can give a role the word of a feature another role holds.

    Parameters
    ----------
    plan : Plan
        A task manager's plan.
    schema : Schema
        The table's features.

    Returns
    -------
    plan : Plan
        ``plan`` itself when every name fits, else a copy with the renamed
        roles, the edges following them, and the source marked repaired
        (``"manager"`` becomes ``"manager (repaired)"``).
    """
    specs = {s.name: s for s in schema.features}
    names = list(schema.names)
    position = {n: i for i, n in enumerate(names)}
    taken = {r.name.lower() for r in plan.roles}
    renamed: dict = {}
    repairs = []
    for role in plan.roles:
        own = {t for f in role.features
               for t in _tokens(f) + _tokens(specs[f].description)}
        if set(_tokens(role.name)) & own:
            continue
        taken.discard(role.name.lower())
        (name,) = _role_names([[position[f] for f in role.features]], names, taken)
        taken.add(name.lower())
        renamed[role.name] = name
        repairs.append(f"renamed role {role.name!r} to {name!r}: its name is no "
                       "word of its features")
    if not renamed:
        return plan
    roles = tuple(Role(renamed.get(r.name, r.name), r.features) for r in plan.roles)
    edges = tuple((renamed.get(a, a), renamed.get(b, b)) for a, b in plan.edges)
    return Plan(roles, edges, source=repaired_source(plan.source),
                repairs=plan.repairs + tuple(repairs))


def unless_degenerate(plan, schema, X, y=None, *, max_role_features=MAX_ROLE_FEATURES,
                      meaning=None):
    """``plan``, or the data-aware plan where ``plan`` is degenerate.

    Parameters
    ----------
    plan : Plan
        The task manager's (or the fallback) plan.
    schema : Schema
    X : pandas.DataFrame
        The training rows, columns in schema order.
    y : array-like, default=None
        Their labels.
    max_role_features : int, default=MAX_ROLE_FEATURES
        See :func:`data_plan`.
    meaning : ndarray or callable returning one, default=None
        See :func:`data_plan`; a callable is called only when the data plan
        is needed.

    Returns
    -------
    plan : Plan
        ``plan`` itself, or a :func:`data_plan` whose ``repairs`` start with
        why ``plan`` was not used.
    """
    why = is_degenerate(plan, schema, max_role_features=max_role_features)
    if not why:
        return plan
    if callable(meaning):
        meaning = meaning()
    return data_plan(schema, X, y, max_role_features=max_role_features,
                     reason=f"the {plan.source} plan was not used: {why}",
                     meaning=meaning)
