"""The transformers backend with the real embedded model."""

import random

import _rows  # tests/llm/_rows.py
import numpy as np
import pytest
import torch
from _rows import GRAMMAR, check_row_line, row_prompts

from skteam.llm.base import Usage


def recorded_forward(monkeypatch, backend, what):
    """Wrap ``backend._forward``; the list returned receives
    ``what(input_ids, attention)`` for every forward pass."""
    seen = []
    forward = backend._forward

    def recording(input_ids, attention, *a, **k):
        seen.append(what(input_ids, attention))
        return forward(input_ids, attention, *a, **k)

    monkeypatch.setattr(backend, "_forward", recording)
    return seen


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
    # a different seed changes some rows
    d = embedded_backend.generate(prompts, [GRAMMAR] * 6, seeds=[s + 1 for s in seeds],
                                  max_new_tokens=20)
    assert d != a
    assert usage.calls == 1 and usage.prompts == 6
    assert usage.output_tokens >= 6 * 6
    full = sum(embedded_backend.count_tokens(p) for p in prompts)
    assert 0 < usage.input_tokens < full


@pytest.mark.model
def test_a_rows_text_does_not_depend_on_its_batch(float32_backend):
    # exact in float32; in bfloat16 the kernels' rounding depends on the batch
    prompts = row_prompts(float32_backend, 6)
    seeds = list(range(100, 106))
    a = float32_backend.generate(prompts, [GRAMMAR] * 6, seeds=seeds,
                                 max_new_tokens=20)
    c = float32_backend.generate(prompts[2:4], [GRAMMAR] * 2, seeds=seeds[2:4],
                                 max_new_tokens=20)
    assert c == a[2:4]


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
def test_forced_tokens_take_one_forward_pass(float32_backend, monkeypatch):
    from skteam.llm import hf

    backend = float32_backend  # equal texts across step shapes: exact in float32
    prompts = row_prompts(backend, 3)
    grammars = [FORCED, GRAMMAR, FORCED]
    calls = recorded_forward(monkeypatch, backend, lambda ids, _: ids.shape[1])
    usage = Usage()
    fast = backend.generate(prompts, grammars, seeds=[1, 2, 3],
                            max_new_tokens=40, usage=usage)
    fast_calls = len(calls)
    calls.clear()
    monkeypatch.setattr(hf, "MAX_FORCED_PER_STEP", 1)  # one token per step
    slow = backend.generate(prompts, grammars, seeds=[1, 2, 3], max_new_tokens=40)
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
    masks = recorded_forward(monkeypatch, embedded_backend,
                             lambda _, attention: attention.clone())
    out = embedded_backend.generate(prompts, [GRAMMAR] * 3, seeds=[1, 2, 3],
                                    max_new_tokens=20)
    for line in out:
        check_row_line(line)
    decoding = [m for m in masks if m.shape[0] == 3]
    assert len(decoding) > 3
    for mask in decoding:  # prompt and decoding steps: one zero per row
        assert bool((mask == 0).any(dim=1).all())


def test_prefix_groups_run_a_shared_prefix_once_where_it_pays():
    from skteam.llm.hf import prefix_groups

    head = list(range(100, 120))  # shared by every sequence (run before)
    role_a, role_b = list(range(200, 260)), list(range(300, 360))
    seqs = [head + role_a + [1, i] for i in range(4)] + [
        head + role_b + [2, i, i] for i in range(3)] + [head + [9, 9, 9]]
    groups = prefix_groups(seqs, start=len(head))
    rows = sorted(i for g, _ in groups for i in g)
    assert rows == list(range(8))  # every row in exactly one group
    by_row = {i: end for g, end in groups for i in g}
    assert {by_row[i] for i in range(4)} == {len(head) + 61}  # role a's prefix
    assert {by_row[i] for i in range(4, 7)} == {len(head) + 61}
    assert by_row[7] == len(head) + 1  # alone: one token of its own
    assert all(end < len(seqs[i]) for i, end in by_row.items())  # a token left
    # prefixes shared beyond `start` too short to pay: no groups
    short = [head + [1, i] + role_a for i in range(4)]
    assert prefix_groups(short, start=len(head)) == []
    assert prefix_groups(seqs[:2], start=len(head)) == []


def test_prefix_groups_split_a_group_one_level_deeper_where_it_pays():
    from skteam.llm.hf import prefix_groups

    head = list(range(100, 120))
    parents = list(range(400, 460))  # shared by the roles of one level
    role_a, role_b = list(range(200, 260)), list(range(300, 360))
    seqs = ([head + parents + role_a + [i] * 30 for i in range(4)]
            + [head + parents + role_b + [i] * 30 for i in range(4)])
    groups = prefix_groups(seqs, start=len(head))
    assert [(rows, end) for rows, end in groups] == [
        ([0, 1, 2, 3], len(head) + 120), ([4, 5, 6, 7], len(head) + 120)]
    # roles whose own descriptions are too short to share: one group
    tiny = ([head + parents + [1] + [i] * 30 for i in range(4)]
            + [head + parents + [2] + [i] * 30 for i in range(4)])
    assert prefix_groups(tiny, start=len(head)) == [(list(range(8)), len(head) + 60)]


@pytest.mark.model
def test_prompts_of_one_role_share_their_prefix_pass(float32_backend, monkeypatch):
    from skteam.llm import hf

    backend = float32_backend
    headers = ["Records of patients (age,sex,score), a hospital survey:",
               "Records of the members of a sports club (age,sex,score):"]
    prompts = []
    for h in headers:
        for i in range(3):
            ex = _rows.EXAMPLES[i:] + _rows.EXAMPLES[:i]
            prompts.append(backend.chat_prompt(
                "You write realistic records.",
                h + " " + "one line each, " * 6 + "\n" + "\n".join(ex)
                + "\nWrite one new line."))
    rows = recorded_forward(monkeypatch, backend, lambda ids, _: ids.shape[0])
    usage = Usage()
    grouped = backend.generate(prompts, [GRAMMAR] * 6, seeds=range(6),
                               max_new_tokens=20, usage=usage)
    assert rows[:3] == [1, 2, 6]  # shared prefix, one pass per group, the rests
    monkeypatch.setattr(hf, "prefix_groups", lambda *a, **k: [])
    flat_usage = Usage()
    flat = backend.generate(prompts, [GRAMMAR] * 6, seeds=range(6),
                            max_new_tokens=20, usage=flat_usage)
    assert grouped == flat  # the same texts, fewer prompt tokens run
    assert usage.input_tokens < flat_usage.input_tokens
    for line in grouped:
        check_row_line(line)


def test_sample_tokens_follows_each_rows_distribution():
    from skteam.llm.hf import sample_tokens

    vocab = 1000
    probs = torch.zeros((2, vocab))
    probs[0, [3, 500, 999]] = torch.tensor([0.2, 0.5, 0.3])
    probs[1, 7] = 1.0
    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    draws = [sample_tokens(probs, gens) for _ in range(4000)]
    first = np.array([d[0] for d in draws])
    assert set(first) == {3, 500, 999}  # only tokens with probability
    assert all(d[1] == 7 for d in draws)
    shares = [np.mean(first == t) for t in (3, 500, 999)]
    assert np.allclose(shares, [0.2, 0.5, 0.3], atol=0.03)
    # a row's draws depend on its own generator only
    alone = [sample_tokens(probs[:1], [g]) for g in [torch.Generator().manual_seed(1)]]
    again = sample_tokens(probs, [torch.Generator().manual_seed(1),
                                  torch.Generator().manual_seed(99)])
    assert alone[0][0] == again[0]
