"""The generate→trim loop of one fit: batches in, trimmed rows per class out.

:class:`TrimLoop` reads raw batches from a stream, class by class in turns,
has the QC trim each one, fills the class quotas with the rows kept, stops a
class early when its quota is out of reach, completes short quotas from the
QC-rejected sane rows (``on_shortfall="fill"``) and says what is missing.
It knows nothing of language models: any object with the
:meth:`BatchStream.get <skteam.cache.BatchStream.get>` signature will do.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .budget import EARLY_STOP_MIN_SHARE, chunk_batches, fill_order, out_of_reach
from .exceptions import ShortfallError, note_generation_error
from .provenance import row_info
from .qc.record import (
    LOSS_COLUMNS,
    QC_STAGES,
    SAMPLER_REPORT_COLUMNS,
    batch_record,
    class_totals,
)
from .schema import _python
from .utils._frames import restore_dtypes

logger = logging.getLogger("skteam")

class TrimLoop:
    """Fill class quotas with trimmed generated rows (the sampler's worker).

    Parameters
    ----------
    quotas : dict
        Class -> rows wanted (every value positive).
    X, y : DataFrame and ndarray
        The training rows ``D_ori`` (text column names, schema order) and
        labels; the QC's cost duel grows a copy of them with kept rows.
    trim : TrimQC or None
        The fitted QC; ``None`` keeps every generated row.
    batch_size : int
    max_batches : dict
        Class -> batch budget (:func:`batch_budget`).
    chunks : dict
        Class -> batches generated together on a cache miss.
    on_shortfall : {"fill", "raise", "warn"}
    verbose : int, default=0
        Non-zero shows a progress bar of accepted rows.

    Attributes
    ----------
    records : list of dict
        One report row per batch read (columns ``SAMPLER_REPORT_COLUMNS``).
    accepted : dict
        Class -> rows (lists of values in schema order) it received.
    provenance : dict
        Class -> one dict per row of ``accepted[class]``: its batch, the
        class it was written for, the real rows its workers saw, its cost,
        whether it was in the cost window, its batch's Δ, τ and entropy
        gain, and ``status`` (``"accepted"`` or ``"filled"``).
    remaining : dict
        Class -> rows still missing.
    filled : dict
        Class -> rows taken from the QC-rejected sane rows.
    stopped : dict
        Class -> batches used, for classes stopped before their budget.
    cached : int
        Batches read from the cache.
    """

    def __init__(self, quotas, X, y, *, trim, batch_size, max_batches, chunks,
                 on_shortfall, verbose=0, relabel=None):
        self.quotas = dict(quotas)
        self.X, self.y = X, np.asarray(y)
        self.trim = trim
        # labeling="classifier": rows -> labels, applied to every batch read
        self.relabel = relabel
        self.batch_size = batch_size
        self.max_batches = max_batches
        self.chunks = chunks
        self.on_shortfall = on_shortfall
        self.verbose = verbose
        # the cost duel fits on D, which grows with the rows kept
        self.grows_data = trim is not None and trim.cost_duel_ is not None
        self.records, self.filled, self.stopped, self.cached = [], {}, {}, 0
        self.remaining = dict(quotas)
        self.accepted = {c: [] for c in quotas}
        self.provenance = {c: [] for c in quotas}
        self._used = {c: 0 for c in quotas}
        # for the early stop: batches of a class with a row through the QC,
        # and QC-rejected sane rows per label
        self._passed = {c: 0 for c in quotas}
        self._spare_of = {c: 0 for c in quotas}
        # (record index, row, label, provenance): sane rows the QC rejected
        self._reserve = []
        self._rejected = 0

    def run(self, stream, produce):
        """Read batches from ``stream.get(target, index, produce, chunk, want)``.

        ``want`` is what a class still needs (:func:`~skteam.budget.chunk_batches`
        of its remaining quota and budget): a chunk's later part is made only
        as far as that, so a class short of a few rows after its first chunk
        does not pay for a whole second chunk. Reads until every class is
        done.

        Returns
        -------
        self
        """
        cur_X, cur_y = self.X, self.y
        bar = tqdm(total=sum(self.quotas.values()), desc="skteam rows", unit="row",
                   disable=not self.verbose, leave=False)
        try:
            while open_classes := self._open_classes():
                for target in open_classes:
                    if self.remaining[target] <= 0:
                        continue
                    kept = self._step(stream, produce, target, cur_X, cur_y)
                    bar.update(len(kept))
                    # the bar counts accepted rows; batches the QC rejects show
                    # in its postfix, so a slow class does not look stuck
                    bar.set_postfix_str(f"{len(self.records)} batches, "
                                        f"{self._rejected} rows rejected")
                    if kept and self.grows_data:
                        cur_X, cur_y = self._grow(cur_X, cur_y, kept)
            if self.on_shortfall == "fill" and any(
                    v > 0 for v in self.remaining.values()):
                self._fill()
                bar.update(sum(self.filled.values()))
        finally:
            bar.close()
        return self

    def _open_classes(self) -> list:
        return [c for c in self.quotas if self.remaining[c] > 0
                and self._used[c] < self.max_batches[c] and c not in self.stopped]

    def _step(self, stream, produce, target, cur_X, cur_y) -> list:
        """Read, trim and book one batch of ``target``; the (row, label, info) kept."""
        t0 = time.perf_counter()
        index = self._used[target]
        try:
            chunk = self.chunks[target]
            want = chunk_batches(self.remaining[target], self.batch_size,
                                 self.max_batches[target] - index,
                                 chunk * self.batch_size)
            batch, hit = stream.get(target, index, produce, chunk, want=want)
        except BaseException as exc:
            note_generation_error(exc, target, index, len(self.records))
            raise
        self._used[target] += 1
        self.cached += int(hit)
        record, kept, spare = self._trim_batch(batch, cur_X, cur_y)
        self._reserve.extend((len(self.records), *item) for item in spare)
        for _, lab, _ in spare:
            self._spare_of[lab] = self._spare_of.get(lab, 0) + 1
        dropped = sum(record[f"dropped_{stage}"] for stage in QC_STAGES)
        self._passed[target] += int(record["n_generated"] > dropped)
        self._rejected += dropped
        for row, label, info in kept:
            self.accepted[label].append(row)
            self.provenance[label].append({**info, "status": "accepted"})
            self.remaining[label] -= 1
        record.update(cached=hit, seconds=round(
            (0.0 if hit else batch.usage.get("seconds", 0.0))
            + time.perf_counter() - t0, 4))
        self.records.append(record)
        if self._hopeless(target):
            self.stopped[target] = self._used[target]
            logger.info(
                "Class %r: stopped after %d of %d batches; rows passed the QC in "
                "%d of them, too few to fill the quota within max_batches.", target,
                self._used[target], self.max_batches[target], self._passed[target])
        logger.debug("Class %r, batch %d: %d rows, %d kept (%s).", record["class"],
                     record["batch"], record["n_generated"], record["kept"],
                     record["verdict"])
        return kept

    def _grow(self, cur_X, cur_y, kept):
        """``D`` with the kept rows appended (the cost duel fits on it)."""
        new = pd.DataFrame([r for r, _, _ in kept], columns=self.X.columns)
        cur_X = pd.concat([cur_X, restore_dtypes(new, self.X)], ignore_index=True)
        cur_y = np.concatenate([cur_y, np.array([lab for _, lab, _ in kept],
                                                dtype=self.y.dtype)])
        return cur_X, cur_y

    def _trim_batch(self, batch, cur_X, cur_y):
        """QC one batch and pick the rows that still fill a quota."""
        n_gen = len(batch.rows)
        fields = dict(batch=batch.index, n_generated=n_gen,
                      parse_failures=batch.failures, relabelled=0, dropped_quota=0,
                      kept=0, filled=0, verdict="",
                      output_tokens=batch.usage.get("output_tokens", 0),
                      **{"class": batch.target})
        if n_gen == 0:
            return batch_record(None, **{**fields, "verdict": "empty batch"}), [], []
        frame = restore_dtypes(pd.DataFrame(batch.rows, columns=self.X.columns),
                               cur_X)
        labels = (list(self.relabel(frame)) if self.relabel is not None
                  else list(batch.labels))
        fields["relabelled"] = sum(lab != batch.target for lab in labels)
        keep = sane = np.ones(n_gen, dtype=bool)
        verdict = None
        if self.trim is not None:
            verdict = self.trim.trim_batch(
                frame, np.array(labels, dtype=cur_y.dtype), X_current=cur_X,
                y_current=cur_y, target=batch.target)
            keep = np.asarray(verdict.keep, dtype=bool)
            sane = np.asarray(verdict.sane, dtype=bool)
        else:
            fields["verdict"] = "accepted (no QC)"
        record = batch_record(verdict, **fields)
        info = row_info(batch, verdict, record)
        kept = []
        left = dict(self.remaining)
        for i in np.flatnonzero(keep):
            label = labels[i]
            if left.get(label, 0) > 0:
                kept.append((batch.rows[i], label, info(i)))
                left[label] -= 1
            else:
                record["dropped_quota"] += 1
                logger.debug("Dropped a row labelled %r: its class needs no rows.",
                             label)
        record["kept"] = len(kept)
        # rows that passed the sanity stage but not the batch's later stages:
        # the reserve of on_shortfall="fill"
        spare = [(batch.rows[i], labels[i], info(i))
                 for i in np.flatnonzero(sane & ~keep) if labels[i] in self.remaining]
        return record, kept, spare

    def _hopeless(self, target) -> bool:
        """Whether to stop generating for ``target`` before its budget.

        Only when the QC trims, ``on_shortfall`` is ``"raise"`` or ``"fill"``
        (``"warn"`` returns every row the budget yields), the class still
        needs rows, and the rows its remaining batches can give, at the
        ``EARLY_STOP_LEVEL`` upper bound of the rate of batches with a row
        through the QC, are fewer than it needs — and never before the class
        has read ``EARLY_STOP_MIN_SHARE`` of its budget, so a low acceptance
        rate read from a handful of batches does not end it. Under
        ``"fill"``, also only once the QC-rejected sane rows of the class can
        fill its quota.
        """
        used, budget = self._used[target], self.max_batches[target]
        if (self.trim is None or self.on_shortfall == "warn"
                or self.remaining[target] <= 0 or used >= budget
                or used < EARLY_STOP_MIN_SHARE * budget):
            return False
        if (self.on_shortfall == "fill"
                and self._spare_of.get(target, 0) < self.remaining[target]):
            return False
        return out_of_reach(self._passed[target], used, budget - used,
                            self.batch_size, self.remaining[target])

    def _fill(self) -> None:
        """Fill short quotas from the reserve, best-scoring rows first."""
        for at, row, label, info in fill_order(self._reserve):
            if self.remaining.get(label, 0) <= 0:
                continue
            self.accepted[label].append(row)
            self.provenance[label].append({**info, "status": "filled"})
            self.remaining[label] -= 1
            self.filled[label] = self.filled.get(label, 0) + 1
            self.records[at]["filled"] = self.records[at].get("filled", 0) + 1

    # -- after the loop ------------------------------------------------------------

    def report(self) -> pd.DataFrame:
        """The batches read so far, as the sampler's ``qc_report_``."""
        return pd.DataFrame(self.records, columns=SAMPLER_REPORT_COLUMNS)

    def finish(self, report, stacklevel=5) -> None:
        """Raise or warn about short quotas, then warn about filled ones."""
        short = {c: r for c, r in self.remaining.items() if r > 0}
        if short:
            msg = self._shortfall_message(short, report)
            if self.on_shortfall in ("raise", "fill"):
                raise ShortfallError(msg, report, {
                    c: self.quotas[c] - m for c, m in short.items()})
            warnings.warn(msg, UserWarning, stacklevel=stacklevel)
        if any(self.filled.values()):
            parts = [f"{n} of the {self.quotas[c]} rows of class {_python(c)!r}"
                     + self._stop_note(c) for c, n in self.filled.items()]
            warnings.warn(
                "The QC accepted too few batches within max_batches, so "
                + "; ".join(parts) + f" ({self.filled_share():.0%} of the generated "
                "rows returned) are generated rows that passed the sanity stage but "
                "were rejected by a later stage, best-scoring first "
                "(on_shortfall='fill'; column 'filled' of qc_report_, "
                "generation_stats_['filled_share']). Raise max_batches or relax the QC "
                "for fully trimmed rows, or pass on_shortfall='raise' to get an "
                "error instead.",
                UserWarning, stacklevel=stacklevel,
            )

    def labeling(self, generator) -> str:
        """Who labelled the rows: ``"classifier"``, else the generator's labeling."""
        return self.relabel.name if self.relabel is not None else generator.labeling

    def generation_stats(self, generator, seconds: float) -> dict:
        """``generation_stats_``: the LLM counters of this fit and per-cell figures.

        ``generator`` is the :class:`~skteam.team.TeamGenerator` behind the
        stream. ``cells`` counts the cells (features and label) of the
        batches read; ``output_tokens_per_cell`` divides the tokens the model
        chose by the cells it generated in this fit (cached batches cost none).
        """
        u = generator.usage.as_dict()
        rows = sum(r["n_generated"] for r in self.records)
        n_cells = len(generator.schema.names) + 1
        made = generator.rows_generated * n_cells
        backend = generator.backend
        return {
            "llm_calls": u["calls"],
            **{k: u[k] for k in ("prompts", "input_tokens", "output_tokens",
                                 "forced_tokens")},
            "cells": rows * n_cells, "parse_failures": u["parse_failures"],
            "seconds": round(seconds, 3), "llm_seconds": round(u["seconds"], 3),
            "rows_per_second": round(rows / seconds, 3) if seconds > 0 else 0.0,
            "rows_generated": generator.rows_generated,
            "output_tokens_per_cell": (round(u["output_tokens"] / made, 3)
                                       if made else float("nan")),
            "batches": len(self.records), "cached_batches": self.cached,
            "n_examples_used": generator.n_examples,
            "labeling": self.labeling(generator),
            "filled_rows": int(sum(self.filled.values())),
            "filled_share": self.filled_share(),
            "stopped_early": {_python(c): n for c, n in self.stopped.items()},
            "dtype": getattr(backend, "dtype", None),
            "device": str(getattr(backend, "device", None)),
        }

    def filled_share(self) -> float:
        """Share of the returned generated rows that are fills (0 if none)."""
        returned = sum(len(rows) for rows in self.accepted.values())
        return round(sum(self.filled.values()) / returned, 4) if returned else 0.0

    def _shortfall_message(self, short, report) -> str:
        fill = self.on_shortfall == "fill"
        # under "fill", rows rejected by the curation, cost or diversity stage
        # were used already, so what is missing was lost before them
        causes = LOSS_COLUMNS[:3] if fill else LOSS_COLUMNS
        parts = []
        for c, missing in short.items():
            totals = class_totals(report, c)
            worst = (totals[causes].idxmax() if totals[causes].max() > 0
                     else "none")
            head = (f"class {_python(c)!r} got {self.quotas[c] - missing} of "
                    f"{self.quotas[c]} rows after {totals['batches']} batches")
            if worst == "none":
                # nothing was lost: the batches allowed made too few rows
                parts.append(
                    f"{head} (no row was lost: its batches generated only "
                    f"{totals['requested']} rows)" + self._stop_note(c))
                continue
            detail = ", ".join(f"{int(totals[k])} {_LOSSES[k]}" for k in LOSS_COLUMNS
                               if totals[k] > 0)
            cause = _CAUSES[worst].format(labeller="classifier" if self.relabel
                                          else "label worker")
            parts.append(
                f"{head} (most rows lost to: {cause}; {totals['requested']} rows "
                "generated for it" + (f": {detail}" if detail else "") + ")"
                + self._stop_note(c)
            )
        return ("TeamTrimSampler could not fill every class quota: "
                + "; ".join(parts)
                + ". Raise max_batches or relax the QC (lower cost_c or "
                "diversity_threshold, or drop stages with qc=...)"
                + (", or pass on_shortfall='warn' to return fewer rows"
                   if self.on_shortfall == "raise" else "")
                + ". See qc_report_."
                + (" Rows rejected by the curation, cost or diversity stage were "
                   "used as well (on_shortfall='fill')." if fill else ""))

    def _stop_note(self, c) -> str:
        if c not in self.stopped:
            return ""
        return (f" (its generation stopped after {self.stopped[c]} of max_batches="
                f"{self.max_batches[c]} batches: at the rate the QC passed its "
                "batches, the rest of the budget could not fill the quota)")


# How the shortfall message names the columns of qc_report_: the main cause,
# and the count of each.
_CAUSES = {
    "parse_failures": "answers that could not be parsed",
    "relabelled": "the {labeller}, which put them in another class",
    "dropped_sanity": "the sanity stage",
    "dropped_curation": "the curation stage",
    "dropped_cost": "the cost stage",
    "dropped_diversity": "the diversity stage",
}
_LOSSES = {
    "parse_failures": "not parsed",
    "relabelled": "labelled as another class",
    "dropped_sanity": "dropped by the sanity stage",
    "dropped_curation": "dropped by the curation stage",
    "dropped_cost": "dropped by the cost stage",
    "dropped_diversity": "dropped by the diversity stage",
}
