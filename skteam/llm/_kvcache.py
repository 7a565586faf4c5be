"""A key/value cache that grows in place.

transformers' :class:`~transformers.DynamicCache` appends each decoding
step's keys and values with ``torch.cat``, so every step copies the whole
cache of every layer: at 40 rows of 1,000 tokens that is about a gigabyte
per step for the bundled model, and on a CPU the copy, not the model, sets
the step's time. :class:`GrowingLayer` keeps each layer's keys and values in
a buffer with spare room (doubled when it runs out), writes a step's states
into it and hands attention a view of the filled part; the cache holds the
same values as ``DynamicCache`` and the model computes the same logits.
"""

from __future__ import annotations

from transformers.cache_utils import DynamicCache, DynamicLayer

# Room, in positions, that a buffer has at least beyond what it holds.
MIN_ROOM = 256


class GrowingLayer(DynamicLayer):
    """A :class:`~transformers.cache_utils.DynamicLayer` without per-step copies.

    ``keys`` and ``values`` are views of the first ``length`` positions of
    preallocated buffers ``[batch, heads, capacity, head_dim]``.
    """

    def lazy_initialization(self, key_states, value_states) -> None:
        super().lazy_initialization(key_states, value_states)
        self.length = 0
        self._k = self._v = None

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
        return self.length if self.is_initialized else 0

    def batch_repeat_interleave(self, repeats: int) -> None:
        if self.get_seq_length() > 0:  # whole buffers: the spare room goes along
            self._k = self._k.repeat_interleave(repeats, dim=0)
            self._v = self._v.repeat_interleave(repeats, dim=0)
            self._expose()

    def batch_select_indices(self, indices) -> None:
        if self.get_seq_length() > 0:
            self._k, self._v = self._k[indices, ...], self._v[indices, ...]
            self._expose()

    def crop(self, tokens_to_remove: int) -> None:
        super().crop(tokens_to_remove)
        if self.is_initialized and tokens_to_remove < 0:
            self.length = max(0, self.length + tokens_to_remove)
            self._expose()

    def reset(self) -> None:
        self._k = self._v = None
        self.length = 0
        super().reset()


def growing_cache() -> DynamicCache:
    """An empty :class:`~transformers.DynamicCache` whose layers grow in place.

    Like ``DynamicCache()`` built without a config, every layer is a
    full-attention layer; the backend uses it for such models only.
    """
    cache = DynamicCache()
    cache.layer_class_to_replicate = GrowingLayer
    return cache
