"""Team generation: raw batches of one class, written by the workers and labelled.

:class:`TeamGenerator` is what the raw-batch stream (:mod:`skteam.cache`)
calls on a cache miss: it cuts the batches into prompt groups, runs the role
workers level by level (:func:`~skteam.team.workers.generate_features`),
labels the rows (:func:`~skteam.team.labeler.label_rows`, or each row keeps
the class it was written for) and returns :class:`~skteam.cache.RawBatch`
objects. It holds no QC and no quota.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np

from ..cache import RawBatch, fingerprint, model_token
from ..llm.base import Usage
from ..utils import derive_rng
from .bounds import binding_texts
from .labeler import label_rows
from .workers import MAX_UPSTREAM_FEATURES, generate_features

logger = logging.getLogger("skteam")

# Part of every stream key: raise it when a prompt text changes, so that
# batches cached on disk under the old prompts are not read back.
# 2: a worker prompt shows its role's and its (nearest) ancestors' columns only.
# 3: prompts of wide roles and tables show fewer examples (examples_for_width).
# 4: signed columns take the signs of an anchor row by default (signs="anchored").
PROMPT_VERSION = 4


@dataclass(frozen=True)
class GenerationTuning:
    """How generated rows are spread over prompts and forward batches.

    The values change speed, not what a row is conditioned on; the rows of
    a fixed seed depend on them (a prompt's examples are shared by its rows),
    so they are part of a stream's identity only through the sampler's
    defaults. Benchmarks that sweep them build their own instance.

    Attributes
    ----------
    rows_per_chunk : int, default=60
        Rows generated in one go per class (measured on the 2-core CPU:
        forward batches of 32–64 rows give most of the gain of batching).
    rows_per_prompt : int, default=5
        Rows answered by one prompt: its in-context examples are read once
        for this many rows, while different prompts still show different
        examples.
    min_prompts_per_call : int, default=8
        Decoding is sequential within a prompt, so a chunk keeps at least
        this many prompts in flight (measured on the 2-core CPU: a decode
        step costs ~50 ms + ~3.5 ms per row in the batch, prefill ~1.8 ms
        per token). 8 rather than 10 so that a chunk of 4 batches of 10
        rows gets prompts of 5 rows, not of 4 (three prompts of 4 per
        batch, two of their rows thrown away).
    """

    rows_per_chunk: int = 60
    rows_per_prompt: int = 5
    min_prompts_per_call: int = 8


class TeamGenerator:
    """Generate raw batches of a class with the team (the stream's ``produce``).

    Parameters
    ----------
    backend : Backend
    schema : Schema
    plan : Plan
    pool : ExamplePool
    batch_size : int
        Rows per batch (``n_b``).
    seed : int
        The fit's base seed; row groups are keyed on
        ``(seed, 10, class index, batch, group)``, the anchors of a batch
        on ``(seed, 11, class index, batch)``.
    n_examples, n_label_examples : int
        Real rows in each role worker's and label worker's prompt.
    labeling : {"worker", "target"}
        Whether the label worker labels the rows or they keep their class.
    temperature : float
    constraints : sequence of Constraint, default=()
        Declared constraints; those the plan lets a worker keep narrow its
        grammar.
    tuning : GenerationTuning, default=None
        ``None`` means ``GenerationTuning()``.
    max_upstream_features : int or None, default=MAX_UPSTREAM_FEATURES
        The most columns of ancestor roles one worker prompt shows
        (:func:`~skteam.team.workers.shown_upstream`); ``None``: all of them.
    examples : {"random", "residual"}, default="random"
        How the examples of a role without parents are chosen: uniformly
        among the class's real rows, or residual-aware (TabGen-ICL): weighted
        by each real row's Gower distance to the nearest row generated for
        the class in earlier chunks of the stream (``history``), so prompts
        show the real rows the generated ones cover least; within a chunk,
        a row shown by an earlier prompt weighs half as much per showing.
    signs : {"anchored", "free"}, default="anchored"
        Whether each row's signed columns take the signs of a real row of
        its class (the grammar enforces them) or the model writes the signs
        (:func:`~skteam.team.workers.generate_features`).
    anchor_band : float or None, default=None
        Each row's numeric cells are held within this many of the class's
        standard deviations of its anchor's values
        (:func:`~skteam.team.bounds.band_bounds`); None: no band.

    Attributes
    ----------
    usage : Usage
        Language-model counters of every call made, parse failures included.
    rows_generated : int
        Rows requested of the model so far (``batch_size`` per batch).
    """

    def __init__(self, backend, schema, plan, pool, *, batch_size, seed, n_examples,
                 n_label_examples, labeling, temperature, constraints=(),
                 tuning=None, max_upstream_features=MAX_UPSTREAM_FEATURES,
                 examples="random", signs="anchored", anchor_band=None):
        self.backend, self.schema, self.plan, self.pool = backend, schema, plan, pool
        self.batch_size, self.seed, self.temperature = batch_size, seed, temperature
        self.n_examples, self.n_label_examples = n_examples, n_label_examples
        self.labeling, self.constraints = labeling, constraints
        self.tuning = tuning if tuning is not None else GenerationTuning()
        self.max_upstream_features = max_upstream_features
        if examples not in ("random", "residual"):
            raise ValueError(f"examples={examples!r}; use 'random' or 'residual'.")
        self.examples = examples
        if signs not in ("anchored", "free"):
            raise ValueError(f"signs={signs!r}; use 'anchored' or 'free'.")
        self.signs = signs
        self.anchor_band = None if anchor_band is None else float(anchor_band)
        # the stream hands a residual-aware generator the class's earlier rows
        self.uses_history = examples == "residual"
        # part of a chunk can be made alone unless examples depend on the
        # other prompts of the call (residual-aware examples)
        self.partial_chunks = not self.uses_history
        self.usage = Usage()
        self.rows_generated = 0
        self._class_index = {c: i for i, c in enumerate(schema.classes)}

    def stream_key(self, X, y, model: str, n_examples) -> str:
        """The fingerprint of what this generator's batches depend on.

        Parameters
        ----------
        X, y : DataFrame and ndarray
            The training rows and labels.
        model : str
            The model spec.
        n_examples : tuple of int
            The example counts asked for (role worker, label worker); the
            counts used enter the key only where the context lowered them.

        Returns
        -------
        key : str
            Data, schema, plan, model, prompts, generation parameters and
            seed: not the quotas and not the QC.
        """
        used = [self.n_examples, self.n_label_examples]
        # constraints that narrow the workers' grammars change the rows; the
        # others only enter the sanity stage, which the stream does not depend on
        binding = binding_texts(self.plan, self.constraints, self.schema)
        return fingerprint(
            X, y, self.schema.to_dict(), self.plan.to_dict(),
            model_token(model, self.backend), PROMPT_VERSION,
            self.batch_size, n_examples[0], self.temperature, self.seed,
            *([used] if used != list(n_examples) else []),
            *([self.labeling] if self.labeling != "worker" else []),
            *([{"bounding_constraints": binding}] if binding else []),
            *([{"max_upstream_features": self.max_upstream_features}]
              if self.max_upstream_features != MAX_UPSTREAM_FEATURES else []),
            *([{"examples": self.examples}] if self.examples != "random" else []),
            *([{"signs": self.signs}] if self.signs != "anchored" else []),
            *([{"anchor_band": self.anchor_band}] if self.anchor_band is not None
              else []),
        )

    def rows_per_prompt(self, n_batches: int) -> int:
        """Rows answered by one prompt when ``n_batches`` batches are made at once.

        Parameters
        ----------
        n_batches : int
            Number of batches generated in one go.

        Returns
        -------
        k : int
            Rows per prompt: as many as keeps ``min_prompts_per_call``
            prompts in flight, between 1 and
            ``min(tuning.rows_per_prompt, batch_size)``.
        """
        n, t = self.batch_size, self.tuning
        return int(np.clip(n * n_batches // t.min_prompts_per_call, 1,
                           min(t.rows_per_prompt, n)))

    def __call__(self, target, first: int, n_batches: int, history=(),
                 layout: int | None = None) -> list:
        """Generate ``n_batches`` raw batches of ``target``, from index ``first``.

        ``history`` holds the rows (values in schema order) of the class's
        earlier batches of the stream; only residual-aware examples read it.
        ``layout``: the batches of the whole chunk these belong to, when only
        part of it is made; the prompts are laid out as for the whole chunk
        (its rows per prompt), so each batch is the one the whole chunk would
        hold.
        """
        n = self.batch_size
        k = self.rows_per_prompt(layout or n_batches)
        groups = [(b, g) for b in range(n_batches) for g in range(math.ceil(n / k))]
        keys = [(self.seed, 10, self._class_index[target], first + b, g)
                for b, g in groups]
        local = Usage()
        shown = [set() for _ in range(len(keys) * k)]
        weights = ({target: np.maximum(self.pool.coverage_gap(target, list(history)),
                                       1e-3)}
                   if self.examples == "residual" else None)
        anchors = (self._anchors(target, first, n_batches, groups, k)
                   if self._anchored else None)
        values = self._features(target, keys, k, local, shown, weights, anchors)
        labels = self._labels(target, values, keys, k, local, shown)
        # a row whose label answer did not parse is lost like a feature row
        lost_labels = sum(1 for v, lab in zip(values, labels)
                          if v is not None and lab is None)
        local.add(parse_failures=lost_labels)
        self.usage.merge(local)
        self.rows_generated += n * n_batches
        share = {key: v / n_batches for key, v in local.as_dict().items()}
        names = self.schema.names
        # a row's anchor is recorded where it held some cell of the row
        anchored = anchors is not None and (
            self.anchor_band is not None or bool(self.pool.signed))
        batches = []
        for b in range(n_batches):
            # rows beyond the batch size (last group of a batch) are not used
            at = [gi * k + j for gi, (b2, g) in enumerate(groups) if b2 == b
                  for j in range(k) if g * k + j < n]
            good = [i for i in at if values[i] is not None and labels[i] is not None]
            batches.append(RawBatch(
                target=target, index=first + b,
                rows=[[values[i][f] for f in names] for i in good],
                labels=[labels[i] for i in good],
                failures=n - len(good), usage=share,
                examples=[sorted(shown[i]) for i in good],
                sign_anchors=[anchors[i] for i in good] if anchored else [],
            ))
        return batches

    @property
    def _anchored(self) -> bool:
        """Whether rows are anchored on real rows (their signs or a band)."""
        return self.signs == "anchored" or self.anchor_band is not None

    def _anchors(self, target, first, n_batches, groups, k) -> list:
        """The anchor of every row, group-major: distinct within a batch where
        the class has enough real rows, drawn per batch (keyed on its index)."""
        if not len(self.pool.by_class[target]):
            return None  # no real row of the class to anchor on
        c = self._class_index[target]
        per_batch = {b: self.pool.anchors(derive_rng(self.seed, 11, c, first + b),
                                          self.batch_size + k, target)
                     for b in range(n_batches)}
        return [int(per_batch[b][g * k + j]) for b, g in groups for j in range(k)]

    def _features(self, target, keys, k, usage, shown, root_weights=None,
                  anchors=None) -> list:
        """Feature values of every row, group-major; None for a lost row."""
        values, failures, conflicts = generate_features(
            self.backend, self.schema, self.plan, self.pool, [target] * len(keys),
            keys, rows_per_prompt=k, n_examples=self.n_examples,
            temperature=self.temperature, constraints=self.constraints,
            usage=usage, shown=shown, max_upstream_features=self.max_upstream_features,
            root_weights=root_weights, anchors=anchors,
            anchor_signs=self.signs == "anchored", anchor_band=self.anchor_band,
        )
        usage.add(parse_failures=failures)
        if conflicts:
            logger.info("%d generated cell(s) of class %r had parent values that no "
                        "value satisfying the constraints fits; the sanity stage "
                        "checks them.", conflicts, target)
        return values

    def _labels(self, target, values, keys, k, usage, shown) -> list:
        """The label of every row (aligned with ``values``); None where lost."""
        labels = [None] * len(values)
        groups = [[i for i in range(gi * k, (gi + 1) * k) if values[i] is not None]
                  for gi in range(len(keys))]
        if self.labeling == "target":
            answers = [[target] * len(rows) for rows in groups]
        else:
            seen = [set() for _ in groups]
            answers = label_rows(
                self.backend, self.schema, self.pool,
                [[values[i] for i in rows] for rows in groups], keys,
                n_examples=self.n_label_examples, temperature=self.temperature,
                usage=usage, shown=seen)
            for rows, group_seen in zip(groups, seen):
                for i in rows:
                    shown[i].update(group_seen)
        for rows, labs in zip(groups, answers):
            for i, lab in zip(rows, labs):
                labels[i] = lab
        return labels
