"""The transformers backend with the real embedded model."""

import random

import numpy as np
import pytest
import torch
from _rows import GRAMMAR, check_row_line, row_prompts  # tests/llm/_rows.py

from skteam.llm.base import Usage


@pytest.mark.model
def test_generate_is_valid_and_seeded(embedded_backend):
    prompts = row_prompts(embedded_backend, 6)
    seeds = list(range(100, 106))
    np_state = np.random.get_state()[1].copy()
    torch_state = torch.random.get_rng_state().clone()
    py_state = random.getstate()
    usage = Usage()
    a = embedded_backend.generate(prompts, [GRAMMAR] * 6, seeds=seeds,
                                  max_new_tokens=20, usage=usage)
    b = embedded_backend.generate(prompts, [GRAMMAR] * 6, seeds=seeds,
                                  max_new_tokens=20)
    # global random states untouched
    assert np.array_equal(np.random.get_state()[1], np_state)
    assert torch.equal(torch.random.get_rng_state(), torch_state)
    assert random.getstate() == py_state
    assert a == b
    for line in a:
        check_row_line(line)
    # a row's text does not depend on the other rows of its batch
    c = embedded_backend.generate(prompts[2:4], [GRAMMAR] * 2, seeds=seeds[2:4],
                                  max_new_tokens=20)
    assert c == a[2:4]
    # a different seed changes some rows
    d = embedded_backend.generate(prompts, [GRAMMAR] * 6, seeds=[s + 1 for s in seeds],
                                  max_new_tokens=20)
    assert d != a
    assert usage.calls == 1 and usage.prompts == 6
    assert usage.output_tokens >= 6 * 6
    full = sum(embedded_backend.count_tokens(p) for p in prompts)
    assert 0 < usage.input_tokens < full


@pytest.mark.model
def test_mixed_grammars_share_a_call(embedded_backend):
    other = 'start: c "\\n"\nc: "yes" | "no"\n'
    prompts = row_prompts(embedded_backend, 2)
    out = embedded_backend.generate(prompts, [GRAMMAR, other], seeds=[1, 2],
                                    max_new_tokens=20)
    check_row_line(out[0])
    assert out[1] in {"yes\n", "no\n"}


# a line whose parent values are forced, as a role worker's answer line
FORCED = """start: "age=47,sex=Female,region=north-east,smoker=no -> score=" c2 "\\n"
c2: %json {"type": "number", "minimum": -3.5, "maximum": 3.5, "multipleOf": 0.01}
"""


@pytest.mark.model
def test_forced_tokens_take_one_forward_pass(embedded_backend, monkeypatch):
    from skteam.llm import hf

    prompts = row_prompts(embedded_backend, 3)
    grammars = [FORCED, GRAMMAR, FORCED]
    calls = []
    forward = embedded_backend._forward

    def counting(input_ids, *a, **k):
        calls.append(input_ids.shape[1])
        return forward(input_ids, *a, **k)

    monkeypatch.setattr(embedded_backend, "_forward", counting)
    usage = Usage()
    fast = embedded_backend.generate(prompts, grammars, seeds=[1, 2, 3],
                                     max_new_tokens=40, usage=usage)
    fast_calls = len(calls)
    calls.clear()
    monkeypatch.setattr(hf, "MAX_FORCED_PER_STEP", 1)  # one token per step
    slow = embedded_backend.generate(prompts, grammars, seeds=[1, 2, 3],
                                     max_new_tokens=40)
    # same texts, forced text written as in the grammar
    assert fast == slow
    assert fast[0].startswith("age=47,sex=Female,region=north-east,smoker=no -> score=")
    check_row_line(fast[1])
    # the forced prefix (more than 10 tokens) went in one pass, not one per token
    assert usage.forced_tokens > 10
    assert fast_calls < len(calls) - 5


def test_step_width_takes_the_most_tokens_per_cost():
    from skteam.llm.hf import step_width

    # every row forced in step: the whole run at once
    assert step_width([30] * 60, 16) == 30
    # one row forced among 59 sampling ones: it must not make the others
    # pad to its width
    assert step_width([30] + [1] * 59, 16) == 1
    # a few rows sampling among many forced ones: the forced width wins
    assert step_width([20] * 50 + [1] * 3, 16) == 20
    # a large fixed cost (a GPU) favours the wide step
    assert step_width([30] + [1] * 59, 4096) == 30
    assert step_width([1], 16) == 1


@pytest.mark.model
def test_context_overflow_is_reported(embedded_backend):
    prompt = "word " * (embedded_backend.context_length + 10)
    with pytest.raises(ValueError, match="exceeds the model's context"):
        embedded_backend.generate([prompt], [GRAMMAR], seeds=[0], max_new_tokens=10)


def test_uniform_double_follows_grammar(uniform_backend):
    prompts = ["x"] * 20
    out = uniform_backend.generate(prompts, [GRAMMAR] * 20, seeds=range(20),
                                   max_new_tokens=40)
    for line in out:
        check_row_line(line)
    assert len(set(out)) > 10


def test_length_mismatch(uniform_backend):
    with pytest.raises(ValueError, match="equal lengths"):
        uniform_backend.generate(["a"], [GRAMMAR, GRAMMAR], seeds=[0])


@pytest.mark.model
def test_every_row_keeps_a_masked_position_on_the_cpu(embedded_backend, monkeypatch):
    # equal prompts: without the masked lead their attention mask is all ones
    prompts = row_prompts(embedded_backend, 1) * 3
    masks = []
    forward = embedded_backend._forward

    def recording(input_ids, attention, *a, **k):
        masks.append(attention.clone())
        return forward(input_ids, attention, *a, **k)

    monkeypatch.setattr(embedded_backend, "_forward", recording)
    out = embedded_backend.generate(prompts, [GRAMMAR] * 3, seeds=[1, 2, 3],
                                    max_new_tokens=20)
    for line in out:
        check_row_line(line)
    decoding = [m for m in masks if m.shape[0] == 3]
    assert len(decoding) > 3
    for mask in decoding:  # prompt and decoding steps: one zero per row
        assert bool((mask == 0).any(dim=1).all())
