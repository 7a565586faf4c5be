"""The in-place growing key/value cache against transformers' DynamicCache."""

import pytest
import torch
from transformers import DynamicCache

from skteam.llm._kvcache import GroupLayout, GrowingLayer, growing_cache, share_prefix


def _decode(model, cache, steps=6):
    """Logits of a padded prefill, decoding steps of 1 and 3 tokens, a shared
    prefix repeated over the batch and rows dropped half way."""
    g = torch.Generator().manual_seed(0)
    prefix = torch.randint(100, 1000, (1, 7), generator=g)
    logits = []
    with torch.inference_mode():
        model(input_ids=prefix, attention_mask=torch.ones_like(prefix),
              position_ids=torch.arange(7)[None], past_key_values=cache, use_cache=True)
        cache.batch_repeat_interleave(4)
        ids = torch.randint(100, 1000, (4, 5), generator=g)
        suffix = torch.ones(4, 5, dtype=torch.long)
        suffix[1, :2] = 0  # left padding after the shared prefix
        attention = torch.cat([torch.ones(4, 7, dtype=torch.long), suffix], 1)
        pos = 7 + (suffix.cumsum(-1) - 1).clamp(min=0)
        out = model(input_ids=ids, attention_mask=attention, position_ids=pos,
                    past_key_values=cache, use_cache=True)
        logits.append(out.logits[:, -1])
        nxt = pos[:, -1:] + 1
        for s in range(steps):
            width = 3 if s % 2 else 1
            n = attention.shape[0]
            ids = torch.randint(100, 1000, (n, width), generator=g)
            more = torch.ones(n, width, dtype=torch.long)
            attention = torch.cat([attention, more], 1)
            out = model(input_ids=ids, attention_mask=attention,
                        position_ids=nxt + torch.arange(width)[None],
                        past_key_values=cache, use_cache=True)
            logits.append(out.logits[:, -1])
            nxt = nxt + width
            if s == steps // 2:
                keep = torch.tensor([0, 2, 3])
                cache.batch_select_indices(keep)
                attention, nxt = attention[keep], nxt[keep]
    return logits


@pytest.mark.model
def test_growing_cache_gives_the_dynamic_caches_logits(embedded_backend):
    model = embedded_backend.model
    cache = growing_cache()
    got = _decode(model, cache)
    want = _decode(model, DynamicCache())
    assert len(got) == len(want)
    for a, b in zip(got, want):
        assert torch.equal(a, b)
    layer = cache.layers[0]
    assert isinstance(layer, GrowingLayer)
    assert cache.get_seq_length() == 7 + 5 + 3 * 3 + 3 * 1
    # the buffer has room to spare: decoding steps wrote into it in place
    assert layer._k.shape[-2] > layer.length
    assert layer.keys.data_ptr() == layer._k.data_ptr()


def test_growing_layer_grows_and_crops():
    layer = GrowingLayer()
    k = torch.arange(2 * 1 * 3 * 2, dtype=torch.float32).reshape(2, 1, 3, 2)
    layer.update(k, -k)
    first = layer._k
    layer.update(k + 100, -k - 100)  # fits in the spare room: no new buffer
    assert layer._k is first and layer.get_seq_length() == 6
    assert torch.equal(layer.keys, torch.cat([k, k + 100], dim=-2))
    big = torch.zeros(2, 1, first.shape[-2], 2)
    layer.update(big, big)  # beyond the room: a larger buffer, contents kept
    assert layer._k.shape[-2] >= 6 + first.shape[-2]
    assert torch.equal(layer.keys[..., :6, :], torch.cat([k, k + 100], dim=-2))
    layer.crop(-first.shape[-2])
    assert layer.get_seq_length() == 6
    assert torch.equal(layer.values, -torch.cat([k, k + 100], dim=-2))
    layer.batch_select_indices(torch.tensor([1, 1, 0]))
    assert layer.keys.shape[0] == 3
    assert torch.equal(layer.keys[2], torch.cat([k, k + 100], dim=-2)[0])


def test_group_layout_gathers_each_groups_rows():
    row_group = torch.tensor([1, 0, 1, 2, 1, 0])
    layout = GroupLayout(row_group)
    assert layout.n_groups == 3
    assert layout.slots.shape == (3, 3)
    for g in range(3):
        rows = (row_group == g).nonzero().ravel().tolist()
        # a group's rows first, padded with its first row
        assert layout.slots[g].tolist() == rows + [rows[0]] * (3 - len(rows))
    flat = layout.slots.reshape(-1)
    assert torch.equal(flat[layout.back], torch.arange(6))
    # dropping every row of group 2: groups renumbered, the kept ones named
    keep = torch.tensor([0, 1, 5])
    smaller, kept = layout.select(keep)
    assert kept.tolist() == [0, 1]
    assert smaller.row_group.tolist() == [1, 0, 0]
    assert layout.select(keep)[0] is smaller  # one index tensor: one layout
    assert layout.select(torch.tensor([3, 0, 1]))[1] is None


def test_shared_prefix_layer_holds_the_prefix_once():
    g = torch.Generator().manual_seed(0)
    cache = growing_cache()
    cache.layers = [GrowingLayer(), GrowingLayer()]
    prefix_k = torch.randn(2, 1, 4, 2, generator=g)  # two groups of 4 positions
    for layer in cache.layers:
        layer.update(prefix_k, -prefix_k)
    row_group = torch.tensor([0, 1, 1, 0, 1])
    share_prefix(cache, row_group)
    layer = cache.layers[0]
    assert layer.get_seq_length() == 4 and layer.length == 0
    own = torch.randn(5, 1, 3, 2, generator=g)
    layer.update(own, -own)
    assert layer.get_seq_length() == 7
    assert layer.prefix.keys.shape[0] == 2  # not copied per row
    head_k, head_v = layer.prefix.per_row()
    assert torch.equal(head_k, prefix_k[row_group])
    assert torch.equal(head_v, -prefix_k[row_group])
    # rows dropped: the rows' own part and the group of each follow
    keep = torch.tensor([1, 2, 4])
    layer.batch_select_indices(keep)
    assert layer.prefix.keys.shape[0] == 1  # group 0 has no row left
    assert torch.equal(layer.prefix.per_row()[0], prefix_k[[1, 1, 1]])
    assert torch.equal(layer.keys, own[keep])
    layer.crop(-1)
    assert layer.get_seq_length() == 6
    with pytest.raises(NotImplementedError):
        layer.crop(-3)
    with pytest.raises(NotImplementedError):
        layer.batch_repeat_interleave(2)
    layer.reset()
    assert layer.prefix is None and layer.get_seq_length() == 0
