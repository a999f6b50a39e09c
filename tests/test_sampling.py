"""Adaptive sampling: strategies concentrate on a planted weak region (random does not),
the surrogate spreads its proposals, the effects report names the parameter behind the
errors; the repeated-run runner resumes and parallelises; run statistics against
hand-computed values; the adapt loop and the adaptive experiment end to end."""

import json

import numpy as np
import pytest

from synthscope.datasets.sample import Sample
from synthscope.evaluation.experiment import compare_runs, run_repeated, summarize_runs
from synthscope.params.distributions import Choice, LogUniform, Uniform
from synthscope.params.space import ParameterSpace
from synthscope.recipes.base import P, Recipe
from synthscope.sampling import Encoder, parameter_effects, propose
from synthscope.sampling.adapt import AdaptConfig, score_scenarios, validation_scenarios
from synthscope.structures.specimen import Specimen

SPACE = ParameterSpace((
    P("a", Uniform(0.0, 1.0), 0.0, 1.0),
    P("b", LogUniform(1.0, 100.0), 0.1, 1000.0),
    P("c", Choice(("x", "y", "z")), options=("x", "y", "z")),
    P("d", Uniform(0.0, 1.0), 0.0, 1.0),
    P("k", Choice((0, 1, 2, 3)), 0, 10, integer=True),
))
WEAK = 0.8  # the fake model fails on every sample with a > WEAK


def _structure(shape, s, rng):
    labels = np.zeros(shape, np.uint8)
    r = 4 + int(rng.integers(shape[0] // 4))
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    labels[(yy - shape[0] / 2) ** 2 + (xx - shape[1] / 2) ** 2 < r * r] = 1
    return Specimen(labels=labels, stats={})


def _imaging(specimen, s, rng):
    # the parameter shows in the image: background level a, object one brighter
    return (s["a"] + specimen.labels + 0.01 * rng.standard_normal(specimen.labels.shape)).astype(np.float32)


TOY = Recipe("toy", SPACE, _structure, _imaging, classes=("background", "object"), default_size=(32, 32))


def fake_predictor(images):
    """Perfect where the background is below WEAK, nothing found above it."""
    out = []
    for im in images:
        bg = np.median(im[:4])
        out.append(np.zeros(im.shape, np.uint8) if bg > WEAK else (im > bg + 0.5).astype(np.uint8))
    return out


@pytest.fixture(scope="module")
def history():
    val = validation_scenarios(SPACE, 300, entropy=5)
    scores = score_scenarios(None, TOY, val, entropy=5, size=32, predictor=fake_predictor)
    return list(zip(val, scores, strict=True))


def test_fake_model_scores_follow_the_planted_region(history):
    a = np.array([s["a"] for s, _ in history])
    sc = np.array([v for _, v in history])
    assert np.all(sc[a > WEAK + 0.02] == 0.0)
    assert np.all(sc[a < WEAK - 0.02] > 0.9)


@pytest.mark.parametrize("strategy,low,high", [("random", 0.1, 0.3), ("worst", 0.75, 1.0), ("surrogate", 0.75, 1.0)])
def test_strategies_concentrate_on_the_weak_region(history, strategy, low, high):
    props = propose(SPACE, history, 200, strategy=strategy, rng=3)
    assert len(props) == 200
    share = np.mean([p["a"] > WEAK for p in props])
    assert low <= share <= high, (strategy, share)
    # every proposal is a valid scenario of the space
    for p in props[:20]:
        assert SPACE.validate_scenario(p) == p


def test_surrogate_spreads_its_proposals(history):
    props = propose(SPACE, history, 100, strategy="surrogate", rng=4)
    x = Encoder.of(SPACE).transform(props)
    assert len({tuple(r) for r in np.round(x, 9)}) == 100  # no point proposed twice
    names = Encoder.of(SPACE).names
    # the dimensions that do not matter stay spread over most of their range
    for name in ("b", "d"):
        col = x[:, names.index(name)]
        assert col.std() > 0.15 and np.ptp(col) > 0.6, (name, col.std(), np.ptp(col))


def test_worst_perturbs_exactly_the_worst_fraction(history):
    props = propose(SPACE, history, 60, strategy="worst", rng=0, scale=0.0, p_resample=0.0)
    scores = np.array([v for _, v in history])
    worst = {round(history[i][0]["a"], 12) for i in np.argsort(scores, kind="stable")[:30]}
    got = [round(p["a"], 12) for p in props]
    assert set(got) == worst and all(got.count(a) == 2 for a in worst)  # 60 from 30: two each


def test_effects_name_the_planted_parameter(history):
    rows = parameter_effects(SPACE, history)
    assert rows[0]["parameter"] == "a"
    assert rows[0]["importance"] > 5 * max(r["importance"] for r in rows[1:])
    lo, hi = (float(v) for v in rows[0]["worst_range"].split(".."))
    assert lo > 0.75 and rows[0]["mean_score_there"] < 0.2 < rows[0]["mean_score"]


def test_encoder_maps_the_random_design_to_the_unit_cube():
    u = np.random.default_rng(0).random((500, len(SPACE)))
    scen = [SPACE.from_unit(r) for r in u]
    x = Encoder.of(SPACE).transform(scen)
    names = Encoder.of(SPACE).names
    for j, name in enumerate(SPACE.names):
        if name in ("a", "b", "d"):  # continuous: the probability coordinate itself
            np.testing.assert_allclose(x[:, names.index(name)], u[:, j], atol=2e-3)
    assert 0.0 <= x.min() and x.max() <= 1.0


def test_propose_rejects_bad_input(history):
    with pytest.raises(ValueError, match="strategy must be one of random, worst, surrogate"):
        propose(SPACE, history, 5, strategy="best")
    with pytest.raises(ValueError, match="history is empty"):
        propose(SPACE, [], 5, strategy="worst")
    with pytest.raises(ValueError, match="n must be >= 1"):
        propose(SPACE, history, 0)
    with pytest.raises(ValueError, match="replay must be in"):
        AdaptConfig(replay=1.0)


def test_summarize_and_compare_against_hand_computed_values():
    s = summarize_runs([1.0, 2.0, 3.0, 4.0], confidence=0.99)
    # mean 2.5, std 1.29099, t(0.995, 3) = 5.84091: half width 5.840909 * 1.290994 / 2 = 3.770291
    assert s["mean"] == 2.5 and abs(s["std"] - 1.290994) < 1e-6
    assert abs(s["ci_high"] - 2.5 - 3.770291) < 1e-5 and abs(2.5 - s["ci_low"] - 3.770291) < 1e-5
    # differences 1, 2, 1, 2: mean 1.5, sd 0.57735, t = 1.5 / (0.57735 / 2) = 5.19615, p(3 dof) = 0.013846
    c = compare_runs([2, 4, 4, 6], [1, 2, 3, 4])
    assert abs(c["t"] - 5.196152) < 1e-5 and abs(c["p"] - 0.013846) < 1e-5 and c["mean_difference"] == 1.5


def _square(context, key):
    (context / f"calls-{key}").write_text("x")
    return {"key": key, "value": int(key.split("-")[1]) ** 2}


@pytest.mark.parametrize("workers", [1, 2])
def test_runner_resumes_without_redoing_finished_runs(tmp_path, workers):
    keys = [f"r-{i}" for i in range(4)]
    res = run_repeated(_square, tmp_path, keys, tmp_path / "exp", workers=workers)
    assert [res[k]["value"] for k in keys] == [0, 1, 4, 9]
    for k in keys:
        (tmp_path / f"calls-{k}").unlink()
    (tmp_path / "exp" / "runs" / "r-2.json").unlink()  # as if interrupted before run r-2 ended
    res = run_repeated(_square, tmp_path, keys, tmp_path / "exp", workers=workers)
    assert [res[k]["value"] for k in keys] == [0, 1, 4, 9]
    assert sorted(p.name for p in tmp_path.glob("calls-*")) == ["calls-r-2"]
    with pytest.raises(ValueError, match="run key"):
        run_repeated(_square, tmp_path, ["a/b"], tmp_path / "exp")


def test_recipe_dataset_cycles_fixed_scenarios():
    from synthscope.learning.data import RecipeDataset

    scen = SPACE.sample(3, rng=0)
    ds = RecipeDataset(TOY, entropy=1, size=32, scenarios=scen)
    assert [ds.sample(i).scenario for i in range(6)] == scen + scen
    # a new realisation each pass
    assert not np.array_equal(ds.sample(0).mask, ds.sample(3).mask) or not np.array_equal(ds.sample(0).image, ds.sample(3).image)


def test_sample_type_unchanged():
    s = TOY.render(SPACE.sample(rng=0), shape=(16, 16))
    assert isinstance(s, Sample) and s.mask.dtype == np.uint8


@pytest.fixture(scope="module")
def tiny_base(tmp_path_factory):
    from synthscope.learning import Stage, TrainConfig, train
    from synthscope.recipes import get_recipe

    root = tmp_path_factory.mktemp("adapt")
    r = get_recipe("grain_boundaries")
    cfg = TrainConfig(model_kwargs={"width": 8}, classes=r.classes, stages=(Stage(64, 2, 1.0),), max_minutes=None,
                      max_steps=2, loader_workers=0)
    train(root / "base", cfg, recipe=r, space=r.space)
    return root / "base"


def test_adapt_round_end_to_end(tmp_path, tiny_base):
    from synthscope.recipes import get_recipe
    from synthscope.sampling.adapt import adapt

    r = get_recipe("grain_boundaries")
    cfg = AdaptConfig(strategy="surrogate", budget=6, validation=12, size=64, steps=2, batch=2, loader_workers=0)
    summaries = adapt(tiny_base, tmp_path / "a", r, r.space, cfg, rounds=2)
    assert len(summaries) == 2
    for k in (1, 2):
        d = tmp_path / "a" / f"round-{k}"
        props = [json.loads(x) for x in (d / "proposals.jsonl").read_text().splitlines()]
        assert len(props) == 6 and all(r.space.validate_scenario(p["scenario"]) for p in props)
        assert len((d / "validation.jsonl").read_text().splitlines()) == 12
        assert "| parameter |" in (d / "effects.md").read_text()
    assert (tmp_path / "a" / "model.pt").exists()
    s = summaries[0]
    assert 0.0 <= s["validation_iou_before"] <= 1.0 and 0.0 <= s["worst_iou_before"] <= s["validation_iou_before"]
