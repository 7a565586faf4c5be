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
"""

from __future__ import annotations

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
