"""Memoised streams of raw (un-trimmed) generated batches, and the plans.

Raw generation depends on the training data, the model, the prompts, the
generation parameters and the seed, but not on the QC thresholds. A stream
keyed on exactly those inputs is therefore shared by every fit that differs
only in QC thresholds, e.g. the candidates of a ``GridSearchCV`` over
``cost_c``: the first fit generates, the others read. A stricter candidate
that needs more batches extends the same stream.

Streams live in process memory and, with ``cache_dir``, in JSON files that
carry their key and a checksum; a file whose key or checksum does not match
is ignored (and overwritten), never read back.

The plan a stream is written under (the task manager's call, the data-aware
plan) likewise depends on the data, the model, the plan options and the seed
only: :func:`remember_plan` keeps it in process memory, so the candidates of
a search ask the task manager once per fold.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import threading
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

logger = logging.getLogger("skteam")

#: Layout of a stream's file; 4: each row's sign anchor (``sign_anchors``).
FORMAT_VERSION = 4
_MAX_STREAMS = 64


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    return value


def fingerprint(*parts) -> str:
    """Stable sha256 of data frames, arrays and JSON-able objects."""
    h = hashlib.sha256()
    for part in parts:
        if isinstance(part, pd.DataFrame):
            h.update(json.dumps([str(c) for c in part.columns]).encode())
            h.update(json.dumps([str(t) for t in part.dtypes]).encode())
            h.update(pd.util.hash_pandas_object(part, index=False).values.tobytes())
        elif isinstance(part, np.ndarray):
            h.update(str(part.dtype).encode())
            h.update(json.dumps([_jsonable(v) for v in part.tolist()],
                                default=str).encode())
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\x00")
    return h.hexdigest()


@dataclass
class RawBatch:
    """One generated, labelled, un-trimmed batch.

    Attributes
    ----------
    target : object
        The class the rows were requested for.
    index : int
        Position of the batch in its class's stream.
    rows : list of list
        Feature values in schema order, one list per row that parsed.
    labels : list
        The label worker's class for each row.
    failures : int
        Rows lost to unparseable answers.
    usage : dict
        This batch's share of the language-model counters.
    chunk : int
        Batches generated together with this one (set by the stream).
    examples : list of list of int
        For each row, the positions in the training data of the real rows
        its workers were shown (empty when not recorded).
    sign_anchors : list of int
        For each row, the position in the training data of the real row
        whose signs its signed columns took (``signs="anchored"``); empty
        when the signs were the model's or no column takes both signs.
    """

    target: object
    index: int
    rows: list
    labels: list
    failures: int = 0
    usage: dict = field(default_factory=dict)
    chunk: int = 1
    examples: list = field(default_factory=list)
    sign_anchors: list = field(default_factory=list)

    def to_json(self) -> dict:
        return {
            "target": _jsonable(self.target),
            "index": self.index,
            "rows": [[_jsonable(v) for v in r] for r in self.rows],
            "labels": [_jsonable(v) for v in self.labels],
            "failures": self.failures,
            "usage": self.usage,
            "chunk": self.chunk,
            "examples": [[int(j) for j in e] for e in self.examples],
            "sign_anchors": [int(j) for j in self.sign_anchors],
        }


class BatchStream:
    """Raw batches of one generation setting, produced on demand.

    :meth:`get` calls ``produce(target, first_index, n_batches) ->
    list[RawBatch]`` on a miss (a :class:`~skteam.team.TeamGenerator`).

    Parameters
    ----------
    key : str
        Fingerprint of everything raw generation depends on.
    classes : sequence
        The classes of the data, to restore label types from disk.
    cache_dir : path-like, optional
        Where the stream is also kept on disk.
    """

    def __init__(self, key, classes, cache_dir=None):
        self.key = key
        self.classes = list(classes)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.batches: dict = {}
        self.lock = threading.Lock()
        self.loaded_from_disk = False
        if self.cache_dir is not None:
            self._load()

    # -- disk --------------------------------------------------------------
    @property
    def path(self) -> Path:
        return self.cache_dir / f"skteam-stream-{self.key[:32]}.json"

    def _restore(self, value):
        for c in self.classes:
            if _jsonable(c) == value and type(_jsonable(c)) is type(value):
                return c
        raise ValueError(f"unknown class {value!r} in cache")

    def _load(self):
        path = self.path
        if not path.is_file():
            return
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(doc, dict):
                raise ValueError("not a cache document")
            payload = json.dumps(doc["batches"], sort_keys=True)
            if (doc.get("format") != FORMAT_VERSION or doc.get("key") != self.key
                    or doc.get("checksum")
                    != hashlib.sha256(payload.encode()).hexdigest()):
                raise ValueError("key, format or checksum mismatch")
            for item in doc["batches"]:
                batch = RawBatch(
                    target=self._restore(item["target"]),
                    index=int(item["index"]),
                    rows=item["rows"],
                    labels=[self._restore(v) for v in item["labels"]],
                    failures=int(item["failures"]),
                    usage=item["usage"],
                    chunk=int(item["chunk"]),
                    examples=item.get("examples", []),
                    sign_anchors=item.get("sign_anchors", []),
                )
                self.batches[(batch.target, batch.chunk, batch.index)] = batch
            self.loaded_from_disk = bool(self.batches)
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self.batches.clear()
            self.loaded_from_disk = False
            logger.warning("Ignoring the unreadable or mismatched cache file %s (%s).",
                           path, exc)

    def _save(self):
        """Write the stream to disk; a failed write warns and keeps the batches.

        The cache only saves work: a full disk or a read-only directory must
        not lose the batches just generated.
        """
        if self.cache_dir is None:
            return
        try:
            self._write()
        except OSError as exc:
            warnings.warn(f"skteam could not write its batch cache to "
                          f"{str(self.cache_dir)!r} ({exc}); going on without it.",
                          UserWarning, stacklevel=4)

    def _write(self):
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        items = sorted(self.batches.values(),
                       key=lambda b: (str(b.target), b.chunk, b.index))
        batches = [b.to_json() for b in items]
        payload = json.dumps(batches, sort_keys=True)
        doc = {
            "format": FORMAT_VERSION,
            "key": self.key,
            "checksum": hashlib.sha256(payload.encode()).hexdigest(),
            "batches": batches,
        }
        fd, tmp = tempfile.mkstemp(dir=self.cache_dir, suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(doc, fh)
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    # -- access ----------------------------------------------------------------
    def get(self, target, index, produce, chunk: int,
            want: int | None = None) -> tuple[RawBatch, bool]:
        """Batch ``index`` of ``target``, generating a chunk of batches if needed.

        A ``produce`` with a true ``uses_history`` attribute (residual-aware
        examples) is also given ``history=``, the rows of the class's earlier
        batches, which are generated first where missing.

        Returns the batch and whether it came from the cache. Batches are
        generated in chunks that start at multiples of ``chunk``, so a batch's
        content never depends on how far earlier fits read the stream. The
        chunk size shapes the prompts, so batches are kept per class and chunk
        size: fits whose quotas differ only for other classes share them.

        ``want`` (the batches the caller still expects to need) lets a
        ``produce`` with a true ``partial_chunks`` attribute make only the
        part of the chunk from ``index`` on that is wanted, laid out as in the
        whole chunk (``layout=chunk``), so a batch is the same whichever part
        of its chunk made it; the rest of the chunk is made when asked for.
        """
        with self.lock:
            hit = self.batches.get((target, chunk, index))
            if hit is not None:
                return hit, True
            first = (index // chunk) * chunk
            history = getattr(produce, "uses_history", False)
            if history:
                # a chunk made from the earlier rows of its class: those are
                # made first, so its content is the same however it is reached
                for earlier in range(0, first, chunk):
                    if (target, chunk, earlier) not in self.batches:
                        self._produce(target, earlier, produce, chunk, history)
            if want is not None and getattr(produce, "partial_chunks", False) \
                    and not history:
                end = min(first + chunk, index + max(1, int(want)))
                stop = next((i for i in range(index + 1, end)
                             if (target, chunk, i) in self.batches), end)
                self._store(produce(target, index, stop - index, layout=chunk), chunk)
            else:
                self._produce(target, first, produce, chunk, history)
            self._save()
            return self.batches[(target, chunk, index)], False

    def _produce(self, target, first, produce, chunk, history):
        """Generate the chunk of ``target`` that starts at ``first``; with
        ``history``, ``produce`` is given the rows of the earlier chunks."""
        if history:
            history = [row for i in range(first)
                       for row in self.batches[(target, chunk, i)].rows]
            new = produce(target, first, chunk, history=history)
        else:
            new = produce(target, first, chunk)
        self._store(new, chunk)

    def _store(self, new, chunk):
        """Keep the batches ``new`` under their class, ``chunk`` and index."""
        for b in new:
            b.chunk = chunk
            self.batches[(b.target, chunk, b.index)] = b


_STREAMS: "OrderedDict[str, BatchStream]" = OrderedDict()
_STREAMS_LOCK = threading.Lock()


def get_stream(key: str, classes, cache_dir=None) -> BatchStream:
    """The process-wide stream for ``key`` (created on first use)."""
    with _STREAMS_LOCK:
        stream = _STREAMS.get(key)
        if stream is None or (cache_dir is not None and stream.cache_dir is None):
            stream = BatchStream(key, classes, cache_dir)
            _STREAMS[key] = stream
        _STREAMS.move_to_end(key)
        while len(_STREAMS) > _MAX_STREAMS:
            _STREAMS.popitem(last=False)
        return stream


def clear_streams():
    """Forget every in-process stream and plan."""
    with _STREAMS_LOCK:
        _STREAMS.clear()
        _PLANS.clear()


def model_token(model: str, backend) -> str:
    """The model spec, with the backend's dtype where that is not float32.

    The dtype changes what a model writes (``"embedded"`` is float32 or
    bf16 by CPU), so it enters every key of generated content.
    """
    dtype = getattr(backend, "dtype", None)
    return f"{model}|{dtype}" if dtype not in (None, "float32") else model


_PLANS: "OrderedDict[str, object]" = OrderedDict()


def remember_plan(key: str | None, build):
    """The plan stored under ``key``, else ``build()``, stored under it.

    Parameters
    ----------
    key : str or None
        :func:`fingerprint` of everything the plan depends on; None builds
        without storing (a user's plan costs nothing to rebuild).
    build : callable
        Makes the plan; an exception propagates and stores nothing.

    Returns
    -------
    plan : Plan
        Immutable, so fits share it.
    """
    if key is None:
        return build()
    with _STREAMS_LOCK:
        plan = _PLANS.get(key)
        if plan is not None:
            _PLANS.move_to_end(key)
            return plan
    plan = build()
    with _STREAMS_LOCK:
        _PLANS[key] = plan
        while len(_PLANS) > _MAX_STREAMS:
            _PLANS.popitem(last=False)
    return plan
