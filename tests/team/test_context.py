"""Context limits: prompts are fitted to the model's context before generating.

The backend here is ``ShortContext``, a labelled test double: the
grammar-only ``test::uniform`` backend (no weights) behind a context window
of a chosen size, which refuses any call whose prompt plus answer budget
would not fit, so a fit that passes through it cannot have sent an
over-long prompt.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

from skteam import Schema, TeamTrimSampler
from skteam.team import prompts
from skteam.team.context import MARGIN, fit_examples
from skteam.team.examples import ExamplePool
from skteam.team.plan import load_plan

FAST = dict(verbose=0, qc=(), random_state=0)


class ShortContext:
    """Test double: ``test::uniform`` with a context of ``context_length`` tokens.

    Every prompt it is asked to answer is checked against the short context
    (prompt tokens plus ``max_new_tokens``) and kept in ``prompts``; an
    over-long call raises ``AssertionError`` instead of being truncated.
    Not a data generator.
    """

    def __init__(self, inner, context_length):
        self.inner = inner
        self.context_length = context_length
        self.name = f"test::uniform with a context of {context_length} tokens"
        self.usage = inner.usage
        self.prompts = []

    def __repr__(self):
        return f"ShortContext({self.context_length})"

    def chat_prompt(self, system, user, prefill=""):
        return self.inner.chat_prompt(system, user, prefill)

    def count_tokens(self, text):
        return self.inner.count_tokens(text)

    def generate(self, prompts_, grammars, *, seeds, max_new_tokens=256,
                 temperature=0.8, usage=None):
        for p in prompts_:
            n = len(self.inner.tokenizer.encode(p, add_special_tokens=False))
            assert n + max_new_tokens <= self.context_length, (
                f"a prompt of {n} tokens + {max_new_tokens} new tokens was sent "
                f"to a context of {self.context_length}")
        self.prompts.extend(prompts_)
        return self.inner.generate(prompts_, grammars, seeds=seeds,
                                   max_new_tokens=max_new_tokens,
                                   temperature=temperature, usage=usage)


def wide_frame(n_features=12, n=30, seed=0):
    """A table whose worker prompts are long: many columns, long descriptions."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"measurement_{i}": np.round(rng.normal(100, 30, n), 2)
                      for i in range(n_features)})
    y = pd.Series(np.where(np.arange(n) < 10, 1, 0), name="outcome")
    descriptions = {c: f"{c} is a laboratory value measured in the morning before "
                       "breakfast, in units of the local hospital, averaged over "
                       "three readings taken five minutes apart" for c in X.columns}
    return X, y, descriptions


def one_role_plan(X):
    return {"roles": [{"name": "Lab", "features": list(X.columns)}], "edges": []}


def parts(X, y, descriptions):
    schema = Schema.infer(X, y, descriptions=descriptions)
    plan = load_plan(one_role_plan(X), schema)
    return schema, plan, ExamplePool(schema, X, np.asarray(y))


def fit(backend, schema, plan, pool, n_examples=8, n_label=8, targets=None,
        rows_per_prompt=5):
    targets = list(schema.classes) if targets is None else targets
    return fit_examples(backend, schema, plan, pool, targets,
                        n_examples=n_examples, n_label_examples=n_label,
                        rows_per_prompt=rows_per_prompt)


def test_roomy_context_keeps_every_example(uniform_backend):
    X, y, desc = wide_frame()
    got = fit(uniform_backend, *parts(X, y, desc))
    assert (got.n_examples, got.n_label_examples) == (8, 8)
    assert got.context_length == uniform_backend.context_length
    assert 0 < got.longest_prompt <= got.context_length


def test_examples_are_trimmed_to_fit_and_the_bound_holds(uniform_backend):
    X, y, desc = wide_frame()
    schema, plan, pool = parts(X, y, desc)
    full = fit(uniform_backend, schema, plan, pool)
    # a context a little shorter than the longest prompt with all examples
    short = ShortContext(uniform_backend, full.longest_prompt + MARGIN - 40)
    got = fit(short, schema, plan, pool)
    assert 1 <= min(got.n_examples, got.n_label_examples)
    assert (got.n_examples, got.n_label_examples) != (8, 8)
    assert got.longest_prompt + MARGIN <= short.context_length
    # a shorter context never allows more examples
    shorter = fit(ShortContext(uniform_backend, short.context_length - 60),
                  schema, plan, pool)
    assert shorter.n_examples <= got.n_examples
    assert shorter.n_label_examples <= got.n_label_examples


def test_no_label_worker_prompt_is_checked_when_rows_keep_their_class(
        uniform_backend):
    # 20 columns: a worker prompt shows 4 examples (WORKER_EXAMPLE_CELLS), the
    # label prompt 8 (LABEL_EXAMPLE_CELLS)
    X, y, desc = wide_frame(n_features=20)
    schema, plan, pool = parts(X, y, desc)
    full = fit(uniform_backend, schema, plan, pool)
    workers = fit(uniform_backend, schema, plan, pool, n_label=0)
    # the label prompt (every feature and the label) is the longest here, so
    # a context that just holds the worker prompts trims its examples
    assert workers.longest_prompt < full.longest_prompt
    short = ShortContext(uniform_backend, workers.longest_prompt + MARGIN)
    with_label = fit(short, schema, plan, pool)
    without = fit(short, schema, plan, pool, n_label=0)
    assert with_label.n_label_examples < 8
    assert without.n_label_examples == 0
    assert without.n_examples == with_label.n_examples == 8  # the context did not bind


def test_impossible_context_names_token_counts_and_columns(uniform_backend):
    X, y, desc = wide_frame()
    schema, plan, pool = parts(X, y, desc)
    with pytest.raises(ValueError) as info:
        fit(ShortContext(uniform_backend, 300), schema, plan, pool)
    msg = str(info.value)
    assert "context of 300 tokens" in msg
    assert "for class 0 needs about" in msg and "np.int64" not in msg
    assert "needs about" in msg and "for one example row" in msg
    assert "'measurement_" in msg and "-character description" in msg
    assert "Shorten feature_descriptions" in msg


def test_a_small_class_is_not_mistaken_for_a_context_limit(uniform_backend):
    X, y, desc = wide_frame(n_features=3)
    y = pd.Series([1] * 2 + [0] * 28, name="outcome")  # 2 rows of class 1
    got = fit(uniform_backend, *parts(X, y, desc))
    assert got.n_examples == 8


def test_backend_without_a_context_length_is_not_checked(uniform_backend):
    class NoContext:
        """Test double: a backend that declares no context window."""

        count_tokens = staticmethod(uniform_backend.count_tokens)
        chat_prompt = staticmethod(uniform_backend.chat_prompt)

    X, y, desc = wide_frame(n_features=3)
    got = fit(NoContext(), *parts(X, y, desc))
    assert (got.n_examples, got.context_length, got.longest_prompt) == (8, None, 0)


def test_fit_resample_trims_examples_with_a_warning(uniform_backend):
    X, y, desc = wide_frame()
    schema, plan, pool = parts(X, y, desc)
    # what the sampler below asks: rows of class 1, 2 rows per prompt
    full = fit(uniform_backend, schema, plan, pool, targets=[1], rows_per_prompt=2)
    backend = ShortContext(uniform_backend, full.longest_prompt + MARGIN - 40)
    sampler = TeamTrimSampler(model=backend, feature_descriptions=desc,
                              plan=one_role_plan(X), sampling_strategy={1: 12},
                              batch_size=2, max_batches=2, on_shortfall="warn",
                              **FAST)
    with pytest.warns(UserWarning, match=r"Prompts show \d+ real rows? per role "
                                         r"worker \(of n_examples=8\).*context of "
                                         rf"{backend.context_length} tokens"):
        Xr, yr = sampler.fit_resample(X, y)
    assert 10 <= (yr == 1).sum() <= 12  # uniform labels may fall short
    assert sampler.generation_stats_["n_examples_used"] < 8
    # every prompt that reached the model was whole: it ends with the
    # template's assistant turn and shows the feature list and the task
    assert backend.prompts
    opening = uniform_backend.chat_prompt("", "").rsplit("\n", 2)[-2]
    for p in backend.prompts:
        assert p.endswith(opening + "\n")
        assert "Features and their meanings:" in p and "Task:" in p


def test_fit_resample_raises_before_generating_when_nothing_fits(uniform_backend):
    X, y, desc = wide_frame()
    backend = ShortContext(uniform_backend, 400)
    sampler = TeamTrimSampler(model=backend, feature_descriptions=desc,
                              plan=one_role_plan(X), **FAST)
    with pytest.raises(ValueError, match=r"needs about \d+ tokens \(\d+ for the "
                                         r"instructions.*context of 400 tokens"):
        sampler.fit_resample(X, y)
    assert backend.prompts == []  # found out before any generation


def test_manager_prompt_too_long_falls_back_without_a_call(uniform_backend):
    """With no user plan, an over-long manager prompt gives the fallback plan."""
    X, y, desc = wide_frame()
    backend = ShortContext(uniform_backend, 400)
    sampler = TeamTrimSampler(model=backend, feature_descriptions=desc, **FAST)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(ValueError, match="context of 400 tokens"):
            sampler.fit_resample(X, y)
    assert backend.prompts == []


def test_backend_refuses_an_over_long_prompt_rather_than_truncating(
        uniform_backend, monkeypatch):
    monkeypatch.setattr(uniform_backend, "context_length", 64)
    prompt = uniform_backend.chat_prompt(prompts.WORKER_SYSTEM, "x " * 80)
    with pytest.raises(ValueError, match=r"exceeds the model's context of 64 tokens"):
        uniform_backend.generate([prompt], ['start: "a"\n'], seeds=[0],
                                 max_new_tokens=4)


def test_worker_prompts_of_a_wide_table_do_not_grow_with_its_width(uniform_backend):
    """With roles of a few features, a worker prompt shows its role and its
    nearest ancestors only: 160 columns fit as 40 do, with every example."""
    from skteam.team.data_plan import data_plan

    longest = {}
    for n_features in (40, 160):
        X, y, desc = wide_frame(n_features=n_features)
        schema = Schema.infer(X, y, descriptions=desc)
        plan = data_plan(schema, X, np.asarray(y))
        pool = ExamplePool(schema, X, np.asarray(y))
        got = fit(uniform_backend, schema, plan, pool, n_label=0)
        assert got.n_examples == 8
        longest[n_features] = got.longest_prompt
    assert longest[160] <= 1.1 * longest[40]
    # the whole table in one prompt would not fit the same context
    everything = prompts.worker_user(schema, "All", schema.features, [], 1, [], 5)
    assert uniform_backend.count_tokens(everything) > uniform_backend.context_length


def test_a_wide_role_is_refused_with_a_hint_to_split_it(uniform_backend):
    X, y, desc = wide_frame(n_features=160)
    schema, plan, pool = parts(X, y, desc)  # one role of 160 columns
    with pytest.raises(ValueError, match=r"worker prompt of role 'Lab'.*split the "
                                         r"role into smaller ones"):
        fit(uniform_backend, schema, plan, pool, n_label=0)


def _label_prompt_too_long(uniform_backend, n_features=40):
    """A wide table, its data plan, and a context its workers fit but its
    label worker (every column) does not."""
    from skteam.team.data_plan import data_plan

    X, y, desc = wide_frame(n_features=n_features)
    schema = Schema.infer(X, y, descriptions=desc)
    plan = data_plan(schema, X, np.asarray(y))
    pool = ExamplePool(schema, X, np.asarray(y))
    workers = fit(uniform_backend, schema, plan, pool, n_label=0)
    backend = ShortContext(uniform_backend, workers.longest_prompt + MARGIN + 50)
    return X, y, desc, plan, schema, pool, backend


def test_a_label_prompt_that_does_not_fit_is_dropped_only_when_optional(
        uniform_backend):
    X, y, desc, plan, schema, pool, backend = _label_prompt_too_long(uniform_backend)
    with pytest.raises(ValueError, match=r"label worker prompt needs about.*"
                                         r"labeling='target'.*labeling='classifier'"):
        fit(backend, schema, plan, pool)
    got = fit_examples(backend, schema, plan, pool, list(schema.classes),
                       n_examples=8, n_label_examples=8, rows_per_prompt=5,
                       label_optional=True)
    assert (got.n_examples, got.n_label_examples) == (8, 0)
    assert "label worker prompt needs about" in got.label_overflow
    # a label prompt that fits is kept, optional or not
    roomy = fit_examples(uniform_backend, schema, plan, pool, list(schema.classes),
                         n_examples=8, n_label_examples=8, rows_per_prompt=5,
                         label_optional=True)
    assert (roomy.n_label_examples, roomy.label_overflow) == (8, None)


def test_auto_labeling_keeps_the_class_when_the_label_prompt_does_not_fit(
        uniform_backend):
    X, y, desc, plan, _, _, backend = _label_prompt_too_long(uniform_backend)
    common = dict(model=backend, feature_descriptions=desc, plan=plan.to_dict(),
                  sampling_strategy={1: 12}, batch_size=2, max_batches=2,
                  on_shortfall="warn", **FAST)
    with pytest.warns(UserWarning, match=r"labeling='auto' chose the label worker"
                                         r".*labeling='target'"):
        sampler = TeamTrimSampler(**common)
        Xr, yr = sampler.fit_resample(X, y)
    assert sampler.generation_stats_["labeling"] == "target"
    assert (yr == 1).sum() == 12  # the rows keep the class they were written for
    assert backend.prompts  # generated, every prompt within the context
    with pytest.raises(ValueError, match="label worker prompt needs about"):
        TeamTrimSampler(labeling="worker", **common).fit_resample(X, y)
