"""A key/value cache that grows in place.

transformers' :class:`~transformers.DynamicCache` appends each decoding
step's keys and values with ``torch.cat``, so every step copies the whole
cache of every layer: at 40 rows of 1,000 tokens that is about a gigabyte
per step for the bundled model, and on a CPU the copy, not the model, sets
the step's time. :class:`GrowingLayer` keeps each layer's keys and values in
a buffer with spare room (doubled when it runs out), writes a step's states
into it and hands attention a view of the filled part; the cache holds the
same values as ``DynamicCache`` and the model computes the same logits.

Prompts of one call often share a prefix (a role's description, shared by
that role's prompts of a worker level). :func:`share_prefix` keeps such a
prefix once per group of rows instead of once per row: each layer then holds
the groups' prefix keys and values (a :class:`SharedPrefix`) and a buffer of
every row's own positions after it, and attention reads the prefix once per
group (:func:`skteam.llm._attention.packed_sdpa_forward`).
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers.cache_utils import DynamicCache, DynamicLayer

# Room, in positions, that a buffer has at least beyond what it holds.
MIN_ROOM = 256


class GroupLayout:
    """Which group's shared prefix each cache row reads, in gatherable form.

    Parameters
    ----------
    row_group : LongTensor of shape (n_rows,)
        The group of every row; every group in ``range(n_groups)`` has a row.

    Attributes
    ----------
    slots : LongTensor of shape (n_groups, width)
        The rows of each group, padded to the largest group by repeating the
        group's first row; ``slots[:, 0]`` is each group's first row.
    back : LongTensor of shape (n_rows,)
        Where each row sits in ``slots`` flattened.
    """

    def __init__(self, row_group):
        import torch

        self.row_group = row_group
        n_rows = len(row_group)
        counts = torch.bincount(row_group)
        width = int(counts.max())
        order = torch.argsort(row_group, stable=True)
        starts = torch.cumsum(counts, 0) - counts
        slot = torch.empty_like(row_group)
        rows = torch.arange(n_rows, device=row_group.device)
        slot[order] = rows - starts[row_group[order]]
        first = order[starts]
        self.slots = first[:, None].repeat(1, width)
        self.slots[row_group, slot] = rows
        self.back = row_group * width + slot
        self._selected = None

    @property
    def n_groups(self) -> int:
        return self.slots.shape[0]

    def select(self, indices):
        """The layout of the rows ``indices`` and the groups they still read.

        The same ``indices`` object gives the same result (every layer of a
        cache selects with one index tensor).

        Returns
        -------
        layout : GroupLayout
        kept : LongTensor of shape (n_kept_groups,) or None
            The old groups that still have rows, in order; ``None`` when all do.
        """
        import torch

        if self._selected is not None and self._selected[0] is indices:
            return self._selected[1:]
        group = self.row_group[indices]
        kept, new_group = torch.unique(group, sorted=True, return_inverse=True)
        result = (GroupLayout(new_group),
                  None if len(kept) == self.n_groups else kept)
        self._selected = (indices, *result)
        return result


@dataclass
class SharedPrefix:
    """The keys and values of one layer's shared prefixes, one row per group."""

    keys: object
    values: object
    layout: GroupLayout

    @property
    def length(self) -> int:
        return self.keys.shape[-2]

    def select(self, indices) -> "SharedPrefix":
        layout, kept = self.layout.select(indices)
        if kept is None:
            return SharedPrefix(self.keys, self.values, layout)
        return SharedPrefix(self.keys[kept], self.values[kept], layout)

    def per_row(self):
        """The prefix keys and values repeated for every row (a copy)."""
        group = self.layout.row_group
        return self.keys[group], self.values[group]


class GrowingLayer(DynamicLayer):
    """A :class:`~transformers.cache_utils.DynamicLayer` without per-step copies.

    ``keys`` and ``values`` are views of the first ``length`` positions of
    preallocated buffers ``[batch, heads, capacity, head_dim]``. After
    :meth:`share_prefix` they hold each row's positions after the shared
    prefix only, and ``prefix`` the prefix (``None`` before).
    """

    prefix = None

    def lazy_initialization(self, key_states, value_states) -> None:
        super().lazy_initialization(key_states, value_states)
        self.length = 0
        self._k = self._v = None
        self.prefix = None

    def share_prefix(self, layout: GroupLayout) -> None:
        """Make what the layer holds the prefix of ``layout``'s groups.

        The layer's rows become the groups (row ``g`` is group ``g``'s
        prefix); the rows of ``layout`` start with no positions of their own.
        """
        if self.prefix is not None:
            raise RuntimeError("the layer already shares a prefix")
        if self.length:
            self.prefix = SharedPrefix(self.keys.contiguous(),
                                       self.values.contiguous(), layout)
        self.length = 0
        self._k = self._v = None
        self.keys = self.values = None

    def _reserve(self, need: int, like_k, like_v) -> None:
        import torch

        if self._k is not None and self._k.shape[-2] >= need:
            return
        held = 0 if self._k is None else self._k.shape[-2]
        capacity = max(need + MIN_ROOM, 2 * held)
        k = torch.empty((*like_k.shape[:-2], capacity, like_k.shape[-1]),
                        dtype=like_k.dtype, device=like_k.device)
        v = torch.empty((*like_v.shape[:-2], capacity, like_v.shape[-1]),
                        dtype=like_v.dtype, device=like_v.device)
        if self.length:
            k[..., : self.length, :] = self._k[..., : self.length, :]
            v[..., : self.length, :] = self._v[..., : self.length, :]
        self._k, self._v = k, v

    def _expose(self) -> None:
        self.keys = self._k[..., : self.length, :]
        self.values = self._v[..., : self.length, :]

    def update(self, key_states, value_states, *args, **kwargs):
        if not self.is_initialized:
            self.lazy_initialization(key_states, value_states)
        new = key_states.shape[-2]
        self._reserve(self.length + new, key_states, value_states)
        self._k[..., self.length: self.length + new, :] = key_states
        self._v[..., self.length: self.length + new, :] = value_states
        self.length += new
        self._expose()
        return self.keys, self.values

    def get_seq_length(self) -> int:
        if not self.is_initialized:
            return 0
        return self.length + (0 if self.prefix is None else self.prefix.length)

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.prefix is not None:
            raise NotImplementedError("a layer with a shared prefix repeats no rows")
        if self.get_seq_length() > 0:  # whole buffers: the spare room goes along
            self._k = self._k.repeat_interleave(repeats, dim=0)
            self._v = self._v.repeat_interleave(repeats, dim=0)
            self._expose()

    def batch_select_indices(self, indices) -> None:
        if self.prefix is not None:
            self.prefix = self.prefix.select(indices)
        if self.length > 0:
            self._k, self._v = self._k[indices, ...], self._v[indices, ...]
            self._expose()

    def crop(self, tokens_to_remove: int) -> None:
        if self.prefix is not None and -tokens_to_remove > self.length:
            raise NotImplementedError("cannot crop into a shared prefix")
        super().crop(tokens_to_remove)
        if self.is_initialized and tokens_to_remove < 0:
            self.length = max(0, self.length + tokens_to_remove)
            self._expose()

    def reset(self) -> None:
        self._k = self._v = None
        self.length = 0
        self.prefix = None
        super().reset()


def growing_cache() -> DynamicCache:
    """An empty :class:`~transformers.DynamicCache` whose layers grow in place.

    Like ``DynamicCache()`` built without a config, every layer is a
    full-attention layer; the backend uses it for such models only.
    """
    cache = DynamicCache()
    cache.layer_class_to_replicate = GrowingLayer
    return cache


def share_prefix(cache, row_group) -> None:
    """Keep what ``cache`` holds once per group, as the prefix of its rows.

    Each row of ``cache`` is a group's prefix; afterwards the cache has one
    row per entry of ``row_group`` (the group that row reads), as
    ``cache.batch_select_indices(row_group)`` would give, but without
    copying the prefix into every row.

    Parameters
    ----------
    cache : DynamicCache
        A :func:`growing_cache` whose rows are the groups.
    row_group : LongTensor of shape (n_rows,)
        Every group has at least one row.
    """
    layout = GroupLayout(row_group)
    for layer in cache.layers:
        layer.share_prefix(layout)
