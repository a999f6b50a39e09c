import math

import numpy as np
import pytest
import yaml

from synthscope.params import (
    DISTRIBUTIONS,
    Choice,
    Constant,
    Empirical,
    LogNormal,
    LogUniform,
    Normal,
    Parameter,
    ParameterSpace,
    TruncNormal,
    Uniform,
    parse_distribution,
    sample_seed,
)

from .conftest import SEED

# one entry per distribution; a new distribution without an entry fails test_every_distribution_has_a_case
CASES = {
    "constant": Constant(3.5),
    "uniform": Uniform(2.0, 5.0),
    "loguniform": LogUniform(1.0, 100.0),
    "normal": Normal(10.0, 2.0),
    "truncnormal": TruncNormal(0.0, 1.0, -0.5, 2.0),
    "lognormal": LogNormal(5.0, 0.3),
    "choice": Choice(("a", "b", "c"), p=(0.2, 0.3, 0.5)),
    "empirical": Empirical((1.0, 2.0, 2.5, 7.0)),
}


def test_every_distribution_has_a_case():
    assert set(CASES) == set(DISTRIBUTIONS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_round_trip_through_text_and_yaml(name):
    d = CASES[name]
    back = parse_distribution(yaml.safe_load(yaml.safe_dump({"x": d.to_spec()}))["x"])
    rng1, rng2 = np.random.default_rng(SEED), np.random.default_rng(SEED)
    a, b = d.sample(rng1, 50), back.sample(rng2, 50)
    if d.is_numeric:
        np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=1e-6)
    else:
        assert list(a) == list(b)


@pytest.mark.parametrize("name", sorted(CASES))
def test_samples_stay_in_support(name):
    d = CASES[name]
    x = d.sample(np.random.default_rng(SEED), 2000)
    lo, hi = d.support
    if d.is_numeric:
        x = np.asarray(x, float)
        assert x.min() >= lo - 1e-9 and x.max() <= hi + 1e-9


def test_statistics_match_definitions():
    rng = np.random.default_rng(SEED)
    u = np.asarray(Uniform(2, 5).sample(rng, 40000))
    assert abs(u.mean() - 3.5) < 0.02
    lu = np.asarray(LogUniform(1, 100).sample(rng, 40000))
    assert abs(np.median(lu) - 10.0) < 0.5  # geometric midpoint
    ln = np.asarray(LogNormal(5.0, 0.3).sample(rng, 40000))
    assert abs(np.median(ln) - 5.0) < 0.05 and abs(np.log(ln).std() - 0.3) < 0.01
    c = Choice(("a", "b"), p=(0.25, 0.75)).sample(rng, 40000)
    assert abs(np.mean(c == "b") - 0.75) < 0.01


def test_parse_forms_and_errors():
    assert parse_distribution("uniform(20, 120)") == Uniform(20, 120)
    assert parse_distribution({"dist": "uniform", "low": 1, "high": 2}) == Uniform(1, 2)
    assert parse_distribution(7) == Constant(7)
    assert parse_distribution("groove") == Constant("groove")
    assert parse_distribution(["a", "b"]) == Choice(("a", "b"))
    with pytest.raises(ValueError, match="unknown distribution 'gauss'"):
        parse_distribution("gauss(1, 2)")
    with pytest.raises(ValueError, match="finite"):
        parse_distribution("nan")
    with pytest.raises(ValueError, match="finite"):
        parse_distribution(float("nan"))
    with pytest.raises(ValueError, match="low <= high"):
        parse_distribution("uniform(3, 1)")


def _space():
    return ParameterSpace((
        Parameter("a", Uniform(0, 1), 0, 10),
        Parameter("k", Choice((1, 2, 3)), 0, 5, integer=True),
        Parameter("style", Choice(("x", "y")), options=("x", "y")),
    ))


def test_overrides_validate_names_and_ranges():
    s = _space()
    s2 = s.with_sets(["a=uniform(2, 3)", "style=y"])
    assert s2["a"].dist == Uniform(2, 3) and s2["style"].dist == Constant("y")
    with pytest.raises(ValueError, match="unknown parameter 'b'"):
        s.with_overrides({"b": 1})
    with pytest.raises(ValueError, match=r"a: uniform\(2, 30\) reaches outside the allowed range \[0, 10\]"):
        s.with_overrides({"a": "uniform(2, 30)"})
    with pytest.raises(ValueError, match="'z' is not allowed; allowed: one of 'x', 'y'"):
        s.with_overrides({"style": "z"})
    with pytest.raises(ValueError, match="key=value"):
        s.with_sets(["a"])


@pytest.mark.parametrize("design", ["random", "sobol", "lhs"])
def test_designs_cover_the_space(design):
    s = _space()
    pts = s.sample(64, design=design, rng=SEED)
    a = np.array([p["a"] for p in pts])
    assert 0 <= a.min() and a.max() <= 1
    assert all(isinstance(p["k"], int) for p in pts)
    if design != "random":  # stratified: every eighth of [0, 1] is hit
        assert len(np.unique(np.floor(a * 8))) == 8


def test_lhs_is_stratified_exactly():
    pts = _space().sample(10, design="lhs", rng=SEED)
    a = np.sort([p["a"] for p in pts])
    assert np.array_equal(np.floor(a * 10), np.arange(10))


def test_per_sample_seeds_are_independent_of_everything_else():
    s = _space()
    assert s.sample_one(7, 3) == s.sample_one(7, 3)
    assert s.sample_one(7, 3) != s.sample_one(7, 4)
    assert s.sample_one(7, 3) != s.sample_one(8, 3)
    a = np.random.default_rng(sample_seed(7, 3, "structure")).random()
    b = np.random.default_rng(sample_seed(7, 3, "imaging")).random()
    assert a != b
    with pytest.raises(ValueError, match="stage"):
        sample_seed(7, 3, "bogus")


def test_perturb_stays_near_and_in_range():
    s = ParameterSpace((Parameter("a", Uniform(0, 10), 0, 10), Parameter("c", Choice(("x", "y")), options=("x", "y"))))
    base = {"a": 5.0, "c": "x"}
    rng = np.random.default_rng(SEED)
    out = [s.perturb(base, 0.1, p_resample=0.3, rng=rng) for _ in range(500)]
    a = np.array([o["a"] for o in out])
    assert a.min() >= 4.0 - 1e-9 and a.max() <= 6.0 + 1e-9 and a.std() > 0.3
    changed = np.mean([o["c"] != "x" for o in out])
    assert 0.08 < changed < 0.25  # redrawn with p=0.3, half of redraws land on "y"
    edge = [s.perturb({"a": 9.9, "c": "x"}, 0.2, rng=rng)["a"] for _ in range(100)]
    assert max(edge) <= 10.0


def test_validate_scenario():
    s = _space()
    assert s.validate_scenario({"a": 0.5})["style"] in ("x", "y")
    with pytest.raises(ValueError, match="outside the allowed range"):
        s.validate_scenario({"a": 11})
    with pytest.raises(ValueError, match="finite"):
        s.validate_scenario({"a": math.nan})
    with pytest.raises(ValueError, match="unknown parameter"):
        s.validate_scenario({"q": 1})
