"""Attention of short multi-token steps without copying the cached keys and values.

In a grouped-query model (the bundled SmolLM2: 9 query heads share 3
key/value heads) transformers' SDPA attention repeats every cached key and
value head for its group of query heads (``repeat_kv``) whenever a step
has more than one query token and a mask — every step of a batched call
that takes a row's forced tokens (column names, separators) at once. At 40
rows of 1,000 cached tokens that copies about 2.7 GB per step in bf16, and
the copy, not the model, sets the step's time. For one-token steps
transformers instead packs a group's query heads into the query length
(``pack_gqa``); :func:`packed_sdpa_forward` does the same for steps of up to
:data:`MAX_PACKED_QUERY` tokens, repeating the (small) mask instead of the
cache. Each query row meets the same keys, values and mask as before, so
the attention's output is the same.

Where the cache keeps a prefix once per group of rows
(:func:`skteam.llm._kvcache.share_prefix`), the attention is computed in two
parts on the CPU: every row of a group queries the group's prefix in one
sequence (the prefix is read once per group, not once per row), each row
queries its own positions, and the two results are merged by their
log-sum-exp weights, which is the attention over the whole row up to
rounding. :func:`attending` tells the attention which cache a forward pass
uses.
"""

from __future__ import annotations

import contextlib
import contextvars

import torch
from transformers import AttentionInterface
from transformers.integrations.sdpa_attention import sdpa_attention_forward
from transformers.masking_utils import AttentionMaskInterface, sdpa_mask

#: The attention implementation's name in transformers' registries.
NAME = "skteam_sdpa"
#: Longest step whose query heads are packed; longer ones (prompt
#: processing) keep transformers' path, where the repeated mask would grow
#: with the square of the step.
MAX_PACKED_QUERY = 64


_ACTIVE = contextvars.ContextVar("skteam_attention_cache", default=None)


class _Pass:
    """The cache of one forward pass, and the masks its layers share."""

    def __init__(self, cache):
        self.cache = cache
        self._masks = None

    def prefix(self, module):
        layers = getattr(self.cache, "layers", None)
        index = getattr(module, "layer_idx", None)
        if layers is None or index is None or index >= len(layers):
            return None
        return getattr(layers[index], "prefix", None)

    def split_masks(self, mask, prefix, n_rep, dtype):
        """Additive masks of the prefix part and of the rows' own part.

        Every layer of a pass gets the same mask, and the prefix's layout is
        the same in every layer, so they are made once per pass.
        """
        if self._masks is not None and self._masks[0] is mask:
            return self._masks[1:]
        length = prefix.length
        if mask.dtype == torch.bool:
            additive = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
            additive.masked_fill_(~mask, float("-inf"))
        else:
            additive = mask.to(dtype)
        # the rows of a group share their prefix and its padding: the group's
        # first row stands for all, for every query position
        first = prefix.layout.slots[:, 0]
        head = additive[first, :, :1, :length].contiguous()
        own = additive[..., length:]
        # a padding query position before a row's first own token sees the
        # prefix only; the kernel gives such a row a log-sum-exp of 0.
        # (rows, 1, n_rep * q_len): the packed query rows' order
        blind = torch.isneginf(own).all(dim=-1).repeat(1, 1, n_rep)
        if mask.shape[2] <= MAX_PACKED_QUERY:
            own = own.repeat(1, 1, n_rep, 1)
        self._masks = (mask, head, own, blind if bool(blind.any()) else None)
        return self._masks[1:]


@contextlib.contextmanager
def attending(cache):
    """Let the attention of the forward passes inside read ``cache``'s prefix."""
    token = _ACTIVE.set(_Pass(cache))
    try:
        yield
    finally:
        _ACTIVE.reset(token)


def _flash(query, key, value, mask, scaling):
    """PyTorch's CPU attention kernel: the output and its log-sum-exp."""
    return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(
        query, key, value, attn_mask=mask, scale=scaling)


def two_part_forward(module, query, key, value, prefix, masks, scaling=None):
    """Attention over a shared prefix and each row's own positions.

    Parameters
    ----------
    module : attention layer
        Its ``num_key_value_groups`` is read.
    query : Tensor of shape (rows, heads, q_len, dim)
    key, value : Tensor of shape (rows, kv_heads, own_len, dim)
        Each row's positions after the prefix.
    prefix : SharedPrefix
        The groups' keys and values ``(groups, kv_heads, prefix_len, dim)``
        and which group each row reads.
    masks : (Tensor, Tensor, Tensor or None)
        The attention mask split by :meth:`_Pass.split_masks`: the groups'
        additive prefix mask ``(groups, 1, 1, prefix_len)``, the rows' own
        one, and where a query sees none of its row's own positions
        (``None``: nowhere).
    scaling : float, optional

    Returns
    -------
    output : Tensor of shape (rows, q_len, heads, dim)
    weights : None
    """
    n_rep = getattr(module, "num_key_value_groups", 1)
    rows, heads, q_len, dim = query.shape
    kv_heads = heads // n_rep
    width = n_rep * q_len  # packed query rows of one row
    head_mask, own_mask, blind = masks
    packed = query.reshape(rows, kv_heads, width, dim)
    layout = prefix.layout
    groups, members = layout.slots.shape
    # every member of a group in one query sequence against the group's prefix
    grouped = (packed[layout.slots.reshape(-1)]
               .reshape(groups, members, kv_heads, width, dim).transpose(1, 2)
               .reshape(groups, kv_heads, members * width, dim))
    out1, lse1 = _flash(grouped, prefix.keys, prefix.values, head_mask, scaling)
    out1 = (out1.reshape(groups, kv_heads, members, width, dim).transpose(1, 2)
            .reshape(groups * members, kv_heads, width, dim)[layout.back])
    lse1 = (lse1.reshape(groups, kv_heads, members, width).transpose(1, 2)
            .reshape(groups * members, kv_heads, width)[layout.back])
    if q_len <= MAX_PACKED_QUERY:
        out2, lse2 = _flash(packed, key, value, own_mask, scaling)
    else:  # a long step (prompt processing): heads repeated, not packed
        out2, lse2 = _flash(query, key.repeat_interleave(n_rep, dim=1),
                            value.repeat_interleave(n_rep, dim=1), own_mask, scaling)
        out2 = out2.reshape(rows, kv_heads, width, dim)
        lse2 = lse2.reshape(rows, kv_heads, width)
    if blind is not None:  # (rows, 1, width): the same for every head
        lse2 = lse2.masked_fill(blind, float("-inf"))
    top = torch.maximum(lse1, lse2)
    w1 = torch.exp(lse1 - top).unsqueeze(-1)
    w2 = torch.exp(lse2 - top).unsqueeze(-1)
    out = (out1.float() * w1 + out2.float() * w2) / (w1 + w2)
    out = out.to(query.dtype).reshape(rows, heads, q_len, dim)
    return out.transpose(1, 2).contiguous(), None


def packed_sdpa_forward(module, query, key, value, attention_mask, dropout=0.0,
                        scaling=None, is_causal=None, **kwargs):
    """transformers' SDPA attention, with a short step's query heads packed.

    Same signature and result as
    ``transformers.integrations.sdpa_attention.sdpa_attention_forward``
    (which it calls for every case it does not pack): ``query`` of shape
    ``(batch, heads, q_len, dim)``, ``key`` and ``value`` of shape ``(batch,
    kv_heads, kv_len, dim)``, an attention mask shared by the heads.

    Returns
    -------
    output : Tensor of shape (batch, q_len, heads, dim)
    weights : None
    """
    n_rep = getattr(module, "num_key_value_groups", 1)
    active = _ACTIVE.get()
    prefix = None if active is None else active.prefix(module)
    if prefix is not None:
        if (attention_mask is not None and query.device.type == "cpu" and not dropout
                and key.shape[1] * n_rep == query.shape[1]
                and not any(kwargs.get(k) is not None
                            for k in ("position_bias", "softcap"))
                and not kwargs.get("output_attentions")):
            masks = active.split_masks(attention_mask, prefix, n_rep, query.dtype)
            return two_part_forward(module, query, key, value, prefix, masks,
                                    scaling=scaling)
        head_k, head_v = prefix.per_row()  # any other case: the whole rows
        key = torch.cat([head_k, key], dim=-2)
        value = torch.cat([head_v, value], dim=-2)
    batch, heads, q_len, dim = query.shape
    if (n_rep == 1 or q_len == 1 or q_len > MAX_PACKED_QUERY
            or attention_mask is None or attention_mask.shape[1] != 1
            or dropout or key.shape[1] * n_rep != heads
            or any(kwargs.get(k) is not None for k in ("position_bias", "softcap"))
            or kwargs.get("output_attentions")):
        return sdpa_attention_forward(module, query, key, value, attention_mask,
                                      dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    # head h uses key/value head h // n_rep: a group's heads are consecutive,
    # so row r * q_len + i of the packed query is head r's token i
    packed = query.reshape(batch, heads // n_rep, n_rep * q_len, dim)
    mask = attention_mask.repeat(1, 1, n_rep, 1)
    out = torch.nn.functional.scaled_dot_product_attention(
        packed, key, value, attn_mask=mask, scale=scaling)
    return out.reshape(batch, heads, q_len, dim).transpose(1, 2).contiguous(), None


def use_packed_attention(model) -> bool:
    """Let ``model`` attend with :func:`packed_sdpa_forward` where it uses SDPA.

    Registers the implementation (and SDPA's masks under its name) with
    transformers once. Models on another attention implementation (eager,
    flash attention) are left as they are.

    Returns
    -------
    switched : bool
    """
    config = getattr(model, "config", None)
    if getattr(config, "_attn_implementation", None) != "sdpa":
        return False
    AttentionInterface.register(NAME, packed_sdpa_forward)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    model.set_attn_implementation(NAME)
    return True
