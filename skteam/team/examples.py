"""The example pool: real rows shown to the workers, and how they are chosen."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..rowformat import format_row
from ..schema import Schema

#: The most cells of real rows one role worker prompt shows: a prompt whose
#: role and shown parents span more than ``WORKER_EXAMPLE_CELLS / n_examples``
#: columns shows fewer examples (8 examples up to 12 columns), so a prompt's
#: length stays bounded on a wide table (``docs/method.md``, *Rows per
#: prompt and examples*).
WORKER_EXAMPLE_CELLS = 96
#: The same for a label worker prompt, which shows every column (8 examples
#: up to 20 features).
LABEL_EXAMPLE_CELLS = 160
#: A prompt shows at least this many examples whatever the width.
MIN_EXAMPLES = 2


def examples_for_width(n_examples: int, n_columns: int, max_cells: int) -> int:
    """Examples one prompt shows: ``n_examples`` within ``max_cells`` cells.

    Parameters
    ----------
    n_examples : int
        Examples asked for (the sampler's ``n_examples``).
    n_columns : int
        Columns of each example row in the prompt.
    max_cells : int
        The most cells the examples may hold.

    Returns
    -------
    k : int
        ``min(n_examples, max(MIN_EXAMPLES, max_cells // n_columns))``.
    """
    return int(min(n_examples, max(MIN_EXAMPLES, max_cells // max(n_columns, 1))))


class ExamplePool:
    """Real rows, pre-formatted per feature, grouped by class.

    Parameters
    ----------
    schema : Schema
    X : pandas.DataFrame
        The real rows (``D_ori``), columns in schema order.
    y : ndarray
        Their labels.
    """

    def __init__(self, schema: Schema, X, y):
        self.schema = schema
        self.cells = {
            s.name: [format_row([s], [v]) for v in X[s.name].tolist()]
            for s in schema.features
        }
        self.y = np.asarray(y)
        self.by_class = {c: np.flatnonzero(self.y == c) for c in schema.classes}
        # the numeric columns' values, and each class's spread of them (anchor
        # bands)
        self.numbers = {s.name: pd.to_numeric(X[s.name], errors="coerce")
                        .to_numpy(dtype=float) for s in schema.features
                        if s.kind != "categorical"}
        self.spread = {c: {n: _spread(v[idx], v) for n, v in self.numbers.items()}
                       for c, idx in self.by_class.items()}
        # Gower coordinates: numbers divided by their observed range (one scale
        # per column, shared by real and generated rows), categories as codes
        self.scale = {}
        for name, x in self.numbers.items():
            span = float(np.nanmax(x) - np.nanmin(x)) if (~np.isnan(x)).any() else 0.0
            self.scale[name] = span if span > 0 else 1.0
        self.coords = {s.name: self._coords(s, X[s.name].tolist())
                       for s in schema.features}
        # numeric columns whose real values take both signs
        self.signed = [s.name for s in schema.features if s.kind != "categorical"
                       and np.nanmin(self.coords[s.name], initial=0) < 0
                       < np.nanmax(self.coords[s.name], initial=0)]

    def _coords(self, spec, values) -> np.ndarray:
        if spec.kind == "categorical":
            codes = {c: i for i, c in enumerate(spec.categories)}
            return np.array([codes.get(v, -1) for v in values], dtype=float)
        x = np.array([np.nan if v is None else v for v in values], dtype=float)
        return x / self.scale[spec.name]

    def line(self, names: Sequence[str], i: int) -> str:
        return ",".join(self.cells[n][i] for n in names)

    def sample(self, rng: np.random.Generator, k: int, target_class=None,
               weights=None) -> np.ndarray:
        """Up to ``k`` distinct row indices, of one class or balanced over classes.

        Parameters
        ----------
        rng : numpy.random.Generator
            Draws the rows and orders the result.
        k : int
            Number of examples wanted.
        target_class : object, default=None
            The class the examples come from; ``None`` draws up to
            ``ceil(k / n_classes)`` rows from each class, ``k`` in all.
        weights : ndarray of shape (n_class_rows,), default=None
            With ``target_class``: draw the class's rows (in the order of
            ``by_class[target_class]``) with these positive weights, without
            replacement; None draws them uniformly.

        Returns
        -------
        idx : ndarray of int
            Row indices into the pool, in random order.
        """
        if target_class is not None:
            pool = self.by_class[target_class]
            if weights is not None and len(pool):
                p = np.asarray(weights, dtype=float)
                picked = rng.choice(pool, size=min(k, len(pool)), replace=False,
                                    p=p / p.sum())
                return rng.permutation(picked)
            return rng.permutation(pool)[:k]
        per = max(1, -(-k // len(self.by_class)))
        picked = [rng.permutation(p)[:per] for p in self.by_class.values() if len(p)]
        out = np.concatenate(picked)
        return rng.permutation(out)[:k]

    def anchors(self, rng: np.random.Generator, k: int, target_class) -> np.ndarray:
        """``k`` real rows of a class, distinct while the class has that many.

        Each generated row takes the signs of its anchor's signed columns
        (:meth:`negative`, :func:`~skteam.team.bounds.sign_bounds`).

        Parameters
        ----------
        rng : numpy.random.Generator
            Draws the rows.
        k : int
            Number of anchors (one per generated row).
        target_class : object
            The class the anchors come from.

        Returns
        -------
        idx : ndarray of int, shape (k,)
            Row indices into the pool: a random order of the class's rows,
            repeated as often as ``k`` needs.
        """
        pool = self.by_class[target_class]
        if not len(pool):
            return np.array([], dtype=int)
        reps = -(-k // len(pool))
        return np.concatenate([rng.permutation(pool) for _ in range(reps)])[:k]

    def negative(self, i: int) -> dict:
        """Whether each signed column of real row ``i`` is negative.

        Parameters
        ----------
        i : int
            A row index into the pool.

        Returns
        -------
        negative : dict
            Name of each column of :attr:`signed` -> whether the row's value
            is below 0 (columns where the row has no value are left out).
        """
        return {n: bool(self.coords[n][i] < 0) for n in self.signed
                if not np.isnan(self.coords[n][i])}

    def centre(self, i: int, target_class) -> dict:
        """The value of each numeric column of real row ``i``, with its spread.

        Parameters
        ----------
        i : int
            A row index into the pool (an anchor).
        target_class : object
            The class whose spread is given.

        Returns
        -------
        centre : dict
            Numeric column -> ``(value, spread)``: the row's value and the
            standard deviation of the column among the class's real rows (of
            all real rows where the class has fewer than two distinct
            values; 0 for a constant column). Missing values are left out.
        """
        return {n: (float(v[i]), self.spread[target_class][n])
                for n, v in self.numbers.items() if not np.isnan(v[i])}

    def nearest(self, rng: np.random.Generator, k: int, target_class, names,
                rows) -> np.ndarray:
        """Up to ``k`` distinct rows of a class, nearest to ``rows`` on ``names``.

        The distance is Gower's (mean over ``names`` of the range-scaled
        absolute difference for numbers, of the mismatch for categories;
        a missing value counts as the largest distance). The rows take
        turns: each adds its nearest real row not already picked, until
        ``k`` rows are picked; ties are broken at random, so rows with the
        same values still see different examples.

        Parameters
        ----------
        rng : numpy.random.Generator
            Breaks ties and orders the result.
        k : int
            Number of examples wanted.
        target_class : object or None
            The class the examples come from; ``None`` for every class.
        names : sequence of str
            The columns compared (a role's parent columns).
        rows : sequence of dict
            Column name -> value of each generated row.
        """
        pool = (self.by_class[target_class] if target_class is not None
                else np.arange(len(self.y)))
        if not len(pool) or not len(rows) or not names:
            return self.sample(rng, k, target_class)
        dist = self._gower(pool, {n: [r[n] for r in rows] for n in names})
        # nearest first; a random secondary key breaks ties
        order = np.lexsort((rng.random(dist.shape), dist), axis=1)
        # rank by rank, row by row: every row's nearest first
        ranked = pool[order.T.ravel()]
        _, first = np.unique(ranked, return_index=True)
        picked = ranked[np.sort(first)][:k]
        return rng.permutation(picked)

    def coverage_gap(self, target_class, rows) -> np.ndarray:
        """How far each real row of a class is from the rows generated so far.

        Parameters
        ----------
        target_class : object
            The class whose real rows are measured (``by_class`` order).
        rows : sequence of sequence
            Generated rows, values in schema order.

        Returns
        -------
        gap : ndarray of shape (n_class_rows,)
            Gower's distance (as in :meth:`nearest`, over every feature) from
            each real row to its nearest generated row; ones when ``rows`` is
            empty.
        """
        pool = self.by_class[target_class]
        if not len(rows):
            return np.ones(len(pool))
        gap = np.full(len(pool), np.inf)
        for start in range(0, len(rows), 256):  # bounded memory
            part = rows[start:start + 256]
            dist = self._gower(pool, {n: [r[j] for r in part]
                                      for j, n in enumerate(self.schema.names)})
            gap = np.minimum(gap, dist.min(axis=0))
        return gap

    def _gower(self, pool, columns) -> np.ndarray:
        """Gower's distance of generated rows to the real rows ``pool``.

        ``columns`` maps each compared column to the generated rows' values;
        the result has shape (n generated rows, len(pool)).
        """
        dist = 0.0
        for name, values in columns.items():
            spec = self.schema[name]
            real = self.coords[name][pool]
            gen = self._coords(spec, values)
            if spec.kind == "categorical":
                d = (gen[:, None] != real[None, :]).astype(float)
            else:
                d = np.minimum(np.abs(gen[:, None] - real[None, :]), 1.0)
            dist = dist + np.where(np.isnan(d), 1.0, d)
        return dist / len(columns)


def _spread(values: np.ndarray, every: np.ndarray) -> float:
    """Standard deviation of ``values`` (ddof=1), else of ``every``, else 0."""
    for v in (values, every):
        v = v[~np.isnan(v)]
        if len(np.unique(v)) > 1:
            return float(np.std(v, ddof=1))
    return 0.0
