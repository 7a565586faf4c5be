"""TeamGenerator: raw batches of one class (grammar-only double; labelled test double).

The model is not the subject here: ``uniform_backend`` (the grammar-only
test double) writes valid rows at random, so the batch layout, the seeds
and the tuning arguments can be checked fast.
"""

import numpy as np
import pandas as pd

from skteam import Schema
from skteam.team import ExamplePool, TeamGenerator, fallback_plan
from skteam.team.generation import GenerationTuning

X = pd.DataFrame({"age": [20, 35, 50, 65] * 3, "sex": ["F", "M", "F", "M"] * 3})
Y = np.array([0] * 8 + [1] * 4)


def _generator(backend, data=X, **kw):
    schema = Schema.infer(data, Y)
    args = dict(batch_size=4, seed=3, n_examples=2, n_label_examples=0,
                labeling="target", temperature=0.8)
    args.update(kw)
    return TeamGenerator(backend, schema, fallback_plan(schema),
                         ExamplePool(schema, data, Y), **args)


def test_batches_have_their_index_class_and_size(uniform_backend):
    gen = _generator(uniform_backend)
    batches = gen(1, 5, 2)
    assert [b.index for b in batches] == [5, 6]
    assert all(b.target == 1 and b.labels == [1] * len(b.rows) for b in batches)
    assert all(len(b.rows) + b.failures == 4 for b in batches)
    assert all(len(row) == 2 for b in batches for row in b.rows)
    assert gen.rows_generated == 8 and gen.usage.as_dict()["calls"] >= 2


def test_a_batch_is_the_same_whichever_chunk_made_it(uniform_backend):
    one = _generator(uniform_backend)(1, 1, 2)[1]
    again = _generator(uniform_backend)(1, 1, 2)[1]
    assert one.rows == again.rows
    other_seed = _generator(uniform_backend, seed=4)(1, 1, 2)[1]
    assert other_seed.rows != one.rows


def test_part_of_a_chunk_holds_the_batches_the_whole_chunk_would(uniform_backend):
    whole = _generator(uniform_backend)(1, 4, 4)
    part = _generator(uniform_backend)(1, 6, 2, layout=4)
    assert [b.index for b in part] == [6, 7]
    assert [b.rows for b in part] == [b.rows for b in whole[2:]]
    gen = _generator(uniform_backend)
    assert gen.rows_per_prompt(2) != gen.rows_per_prompt(4)  # the layout matters
    assert gen.partial_chunks
    # residual-aware examples spread over the prompts of one call: whole chunks
    assert not _generator(uniform_backend, examples="residual").partial_chunks


def test_tuning_is_an_argument():
    default = _generator(None)
    assert default.rows_per_prompt(1) == 1  # 4 rows // 10 prompts, at least 1
    assert default.rows_per_prompt(10) == 4  # capped by the batch size
    tuned = _generator(None, tuning=GenerationTuning(rows_per_prompt=2,
                                                     min_prompts_per_call=1))
    assert tuned.rows_per_prompt(1) == 2


def test_ancestor_columns_shown_are_part_of_the_stream_key(uniform_backend):
    default = _generator(uniform_backend)
    blind = _generator(uniform_backend, max_upstream_features=0)
    key = default.stream_key(X, Y, "test::uniform", n_examples=(2, 0))
    assert key == _generator(uniform_backend).stream_key(
        X, Y, "test::uniform", n_examples=(2, 0))
    assert blind.stream_key(X, Y, "test::uniform", n_examples=(2, 0)) != key
    # a worker shown no ancestor still writes whole rows
    batch = blind(1, 0, 1)[0]
    assert batch.rows and all(len(row) == 2 for row in batch.rows)


def test_residual_examples_show_the_rows_the_history_covers_least(uniform_backend):
    random = _generator(uniform_backend, n_examples=1)
    residual = _generator(uniform_backend, n_examples=1, examples="residual")
    assert residual.uses_history and not random.uses_history
    keys = [g.stream_key(X, Y, "m", (1, 0)) for g in (random, residual)]
    assert keys[0] != keys[1]
    # class 1 holds four real rows; earlier rows copied three of them
    covered = [[20, "F"], [35, "M"], [50, "F"]]
    batches = residual(1, 0, 2, history=covered)
    seen = [ex for b in batches for ex in b.examples]  # per row: root + nearest
    class1 = np.flatnonzero(Y == 1)
    uncovered = class1[3]  # age 65, sex M
    # 8 prompts of one example each for the root role: the uncovered row
    # first and most often (its weight halves with every showing)
    assert uncovered in seen[0]
    assert sum(uncovered in ex for ex in seen) >= 0.75 * len(seen)
    # without a history every real row of the class can be shown
    free = [i for b in random(1, 0, 2) for ex in b.examples for i in ex]
    assert set(free) <= set(class1)


def test_a_batch_takes_the_signs_of_distinct_real_rows(uniform_backend):
    Xs = pd.DataFrame({"z": [-1.5, 2.0, -0.5, 1.0] * 3, "age": X["age"]})

    def generator(**kw):
        return _generator(uniform_backend, data=Xs, **kw)

    # class 1 has 4 real rows, 2 of them negative: a batch of 4 anchors on all
    for batch in generator()(1, 0, 3):
        assert len(batch.rows) == 4
        assert sum(row[0] < 0 for row in batch.rows) == 2
        # each row records its anchor: a distinct real row of the class, same sign
        assert sorted(batch.sign_anchors) == list(np.flatnonzero(Y == 1))
        assert all((row[0] < 0) == (Xs["z"].iloc[a] < 0)
                   for row, a in zip(batch.rows, batch.sign_anchors))
    free = generator(signs="free")
    assert free.stream_key(Xs, Y, "m", (2, 0)) != generator().stream_key(
        Xs, Y, "m", (2, 0))
    assert [b.rows for b in free(1, 0, 3)] != [b.rows for b in generator()(1, 0, 3)]
    assert all(b.sign_anchors == [] for b in free(1, 0, 1))


def test_no_sign_anchors_are_recorded_without_a_signed_column(uniform_backend):
    # X's only number, age, is positive: the anchors decide nothing
    assert all(b.sign_anchors == [] for b in _generator(uniform_backend)(1, 0, 2))


def test_banded_rows_stay_near_their_recorded_anchors(uniform_backend):
    Xb = pd.DataFrame({"income": [10.5, 11.0, 9.0, 12.0] * 3,
                       "kids": [0, 1, 2, 3] * 3, "sex": X["sex"]})

    def generator(**kw):
        return _generator(uniform_backend, data=Xb, **kw)

    banded = generator(anchor_band=0.25)
    spread = {n: Xb[n][Y == 1].std() for n in ("income", "kids")}
    for batch in banded(1, 0, 3):
        # no column takes both signs, yet the band records each row's anchor
        assert sorted(batch.sign_anchors) == list(np.flatnonzero(Y == 1))
        for row, a in zip(batch.rows, batch.sign_anchors):
            assert abs(row[0] - Xb["income"].iloc[a]) <= 0.25 * spread["income"] + 1e-9
            assert row[1] == Xb["kids"].iloc[a]  # 0.25 * 1.29 holds no other integer
    # without a band the test double writes numbers anywhere in the range
    free = [row[0] for b in generator()(1, 0, 3) for row in b.rows]
    assert max(free) - min(free) > 4 * 0.25 * spread["income"]
    assert banded.stream_key(Xb, Y, "m", (2, 0)) != generator().stream_key(
        Xb, Y, "m", (2, 0))
    # signs="free" keeps the band's anchors
    assert all(len(b.sign_anchors) == 4
               for b in generator(anchor_band=0.25, signs="free")(1, 0, 2))
