"""Packed attention for short multi-token steps (skteam/llm/_attention.py)."""

import pytest
import torch
from _rows import GRAMMAR, check_row_line, row_prompts
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from skteam.llm._attention import MAX_PACKED_QUERY, NAME, packed_sdpa_forward


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
