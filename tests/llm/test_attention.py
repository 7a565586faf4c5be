"""Packed attention for short multi-token steps (skteam/llm/_attention.py)."""

import pytest
import torch
from _rows import GRAMMAR, check_row_line, row_prompts
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from skteam.llm._attention import (
    MAX_PACKED_QUERY,
    NAME,
    attending,
    packed_sdpa_forward,
)
from skteam.llm._kvcache import GrowingLayer, growing_cache, share_prefix


class _Grouped(torch.nn.Module):
    """An attention layer's attributes that the attention functions read."""

    num_key_value_groups = 3
    is_causal = True
    training = False


@pytest.mark.parametrize("q_len", [1, 2, 7, MAX_PACKED_QUERY, MAX_PACKED_QUERY + 1])
def test_packed_attention_equals_transformers_sdpa(q_len):
    gen = torch.Generator().manual_seed(q_len)
    batch, kv_heads, kv_len, dim = 3, 2, 40, 8
    query = torch.randn(batch, 3 * kv_heads, q_len, dim, generator=gen)
    key = torch.randn(batch, kv_heads, kv_len + q_len, dim, generator=gen)
    value = torch.randn(batch, kv_heads, kv_len + q_len, dim, generator=gen)
    # left padding of different widths, and causal among the step's tokens
    mask = torch.ones(batch, 1, q_len, kv_len + q_len, dtype=torch.bool)
    for b in range(batch):
        mask[b, :, :, : 5 * b + 1] = False
    mask[..., kv_len:] &= torch.ones(q_len, q_len, dtype=torch.bool).tril()
    module = _Grouped()
    expected, _ = sdpa_attention_forward(module, query, key, value, mask, scaling=0.3)
    got, weights = packed_sdpa_forward(module, query, key, value, mask, scaling=0.3)
    assert weights is None
    assert got.shape == (batch, q_len, 3 * kv_heads, dim)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
    # a query that sees nothing of another head's keys: heads are not mixed up
    shifted = value.clone()
    shifted[:, 1] += 100.0
    got2, _ = packed_sdpa_forward(module, query, key, shifted, mask, scaling=0.3)
    assert torch.allclose(got2[:, :, :3], got[:, :, :3])
    assert not torch.allclose(got2[:, :, 3:], got[:, :, 3:])


@pytest.mark.parametrize("q_len", [1, 3, MAX_PACKED_QUERY + 1])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_two_part_attention_equals_attention_over_whole_rows(q_len, dtype):
    gen = torch.Generator().manual_seed(q_len)
    kv_heads, dim, head_len, own_len = 2, 8, 12, 9
    row_group = torch.tensor([1, 0, 1, 1, 2, 0])
    rows = len(row_group)
    prefix_k = torch.randn(3, kv_heads, head_len, dim, generator=gen)
    prefix_v = torch.randn(3, kv_heads, head_len, dim, generator=gen)
    own_k = torch.randn(rows, kv_heads, own_len + q_len, dim, generator=gen)
    own_v = torch.randn(rows, kv_heads, own_len + q_len, dim, generator=gen)
    query = torch.randn(rows, 3 * kv_heads, q_len, dim, generator=gen)
    # each group's prefix left-padded by its own width; a row's own part
    # padded too; causal among the step's tokens
    mask = torch.ones(rows, 1, q_len, head_len + own_len + q_len, dtype=torch.bool)
    for r in range(rows):
        mask[r, :, :, : 2 * int(row_group[r]) + 1] = False
        mask[r, :, :, head_len: head_len + r % 3] = False
    mask[..., head_len + own_len:] &= torch.ones(q_len, q_len, dtype=torch.bool).tril()
    # the last row: no own position before the step, its first step token
    # padding, so that query sees the prefix only
    mask[-1, :, :, head_len: head_len + own_len + 1] = False
    module = _Grouped()
    module.layer_idx = 0
    cache = growing_cache()
    cache.layers = [GrowingLayer()]
    cache.layers[0].update(prefix_k.to(dtype), prefix_v.to(dtype))
    share_prefix(cache, row_group)
    key, value = cache.layers[0].update(own_k.to(dtype), own_v.to(dtype))
    with attending(cache):
        got, weights = packed_sdpa_forward(module, query.to(dtype), key, value, mask,
                                           scaling=0.3)
    assert weights is None
    whole_k = torch.cat([prefix_k[row_group], own_k], dim=-2)
    whole_v = torch.cat([prefix_v[row_group], own_v], dim=-2)
    expected, _ = sdpa_attention_forward(module, query, whole_k, whole_v, mask,
                                         scaling=0.3)
    assert got.shape == expected.shape and got.dtype == dtype
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == torch.float32 else dict(rtol=0.02,
                                                                        atol=0.02)
    torch.testing.assert_close(got.float(), expected, **tol)
    # rows finish: the rest still read their own group's prefix
    keep = torch.tensor([0, 2, 4])
    cache.batch_select_indices(keep)
    with attending(cache):
        got, _ = packed_sdpa_forward(module, query[keep].to(dtype), *cache.layers[0]
                                     .update(own_k[keep, :, :0].to(dtype),
                                             own_v[keep, :, :0].to(dtype)),
                                     mask[keep], scaling=0.3)
    torch.testing.assert_close(got.float(), expected[keep], **tol)


@pytest.mark.model
def test_shared_prefixes_give_the_texts_of_copied_ones(float32_backend):
    """Prompts in groups with long shared prefixes, and prompts sharing only
    the chat header: the same texts with the prefix held once (two-part
    attention) as with it copied to every row."""
    backend = float32_backend
    assert backend.share_prefixes
    roles = ["Role A: " + " ".join(f"alpha{i}" for i in range(30)),
             "Role B: " + " ".join(f"beta{i}" for i in range(30))]
    grouped = [backend.chat_prompt(
        "You write realistic records.",
        (roles[i % 3] if i % 3 < 2 else f"x{i}")
        + f"\nRecords (age,sex,score):\n25,Male,0.53\n{20 + i},Female,{i}.1"
        + "\nWrite one new line.") for i in range(9)]
    for prompts in (grouped, row_prompts(backend, 5)):
        seeds = range(len(prompts))
        shared = backend.generate(prompts, [GRAMMAR] * len(prompts), seeds=seeds,
                                  max_new_tokens=40)
        try:
            backend.share_prefixes = False
            copied = backend.generate(prompts, [GRAMMAR] * len(prompts), seeds=seeds,
                                      max_new_tokens=40)
        finally:
            backend.share_prefixes = True
        assert shared == copied
        for line in shared:
            check_row_line(line)


@pytest.mark.model
def test_the_backend_attends_packed_with_the_texts_of_sdpa(float32_backend):
    backend = float32_backend
    assert backend.packed_attention
    assert backend.model.config._attn_implementation == NAME
    prompts = row_prompts(backend, 4)
    packed = backend.generate(prompts, [GRAMMAR] * 4, seeds=range(4),
                              max_new_tokens=40)
    try:
        backend.model.set_attn_implementation("sdpa")
        plain = backend.generate(prompts, [GRAMMAR] * 4, seeds=range(4),
                                 max_new_tokens=40)
    finally:
        backend.model.set_attn_implementation(NAME)
    assert packed == plain
    for line in packed:
        check_row_line(line)
