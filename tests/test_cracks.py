"""Surface cracks: crack geometry and its measurement, texture quilting, the recipe, the
tile rule, repeated-run statistics and the crack experiment."""

import math

import numpy as np
import pytest
from skimage.draw import line

from synthscope.evaluation.cracks import (
    CrackExperiment,
    fit_cracks_scenario,
    run_crack_experiment,
    tile_image,
)
from synthscope.evaluation.stats import agresti_coull, error_rate, paired_ttest
from synthscope.evaluation.texture import histogram_distance, spectrum_distance
from synthscope.recipes import get_recipe
from synthscope.recipes.surface_cracks import make_surface_cracks, tile_class
from synthscope.structures.cracks import (
    CrackMeasurements,
    CrackModel,
    fit_crack_model,
    generate_cracks,
    measure_cracks,
)
from synthscope.structures.exemplar import TextureDictionary, quilt_texture
from synthscope.structures.textures import fbm_noise

from .conftest import SEED, real_dir

KNOWN = CrackModel(segments_mean=6, segment_length_px=25, segment_length_cv=0.3, bend_angle_deg=30,
                   width_px=3.0, width_cv=0.2, taper_fraction=0.15)


def test_generate_cracks_is_deterministic_and_labels_lie_on_the_coverage():
    a = generate_cracks((128, 160), n_cracks=2, model=KNOWN, rng=SEED)
    b = generate_cracks((128, 160), n_cracks=2, model=KNOWN, rng=SEED)
    c = generate_cracks((128, 160), n_cracks=2, model=KNOWN, rng=SEED + 1)
    assert np.array_equal(a.labels, b.labels) and not np.array_equal(a.labels, c.labels)
    cover = a.maps["crack"]
    assert a.labels.dtype == np.uint8 and set(np.unique(a.labels)) == {0, 1}
    assert cover.dtype == np.float32 and 0 <= cover.min() and cover.max() <= 1
    assert (cover[a.labels == 1] > 0).all()
    # anti-aliased: partial coverage exists along the edges
    assert ((cover > 0.05) & (cover < 0.95)).sum() > 0.2 * a.labels.sum()
    assert generate_cracks((64, 64), n_cracks=0, rng=1).labels.sum() == 0


def test_crack_width_and_length_are_rendered_as_asked():
    model = CrackModel(segments_mean=1, segment_length_px=60, segment_length_cv=0, width_px=4.0, width_cv=0,
                       taper_fraction=0)
    spec = generate_cracks((200, 200), n_cracks=1, model=model, rng=SEED)
    # one straight 60 px capsule of width 4: area 60 * 4 + pi * 2^2 (the round ends)
    assert spec.maps["crack"].sum() == pytest.approx(60 * 4 + math.pi * 4, rel=0.05)
    assert spec.stats["crack_length_px"] == pytest.approx(60, rel=0.01)


def test_measure_a_hand_drawn_bent_line():
    mask = np.zeros((100, 140), bool)
    for (r0, c0), (r1, c1) in (((50, 10), (50, 70)), ((50, 70), (20, 122))):
        rr, cc = line(r0, c0, r1, c1)
        mask[rr, cc] = True
    mask = np.pad(mask, 0) | np.roll(mask, 1, 0) | np.roll(mask, -1, 0)  # 3 px thick
    m = measure_cracks(mask)
    assert m.cracks == 1 and m.junctions == 0
    assert list(m.segments) == [2]
    # a 60 px and a 60 px leg (the skeleton loses about a pixel at each tip)
    assert sorted(m.segment_lengths_px) == pytest.approx([58, 59], abs=2.5)
    assert m.bend_angles_deg[0] == pytest.approx(math.degrees(math.atan2(30, 52)), abs=4)
    assert m.widths_px[0] == pytest.approx(3.0, rel=0.15)


def test_fit_recovers_known_crack_distributions_within_15_percent():
    rng = np.random.default_rng(SEED)
    ms = []
    for _ in range(30):
        spec = generate_cracks((512, 512), n_cracks=1, model=KNOWN, rng=rng)
        img = 0.5 + 0.05 * rng.standard_normal((512, 512)) - 0.3 * spec.maps["crack"]
        ms.append(measure_cracks(spec.labels, img))
    fit, contrast = fit_crack_model(CrackMeasurements.concat(ms))
    for name in ("segments_mean", "segment_length_px", "bend_angle_deg", "width_px", "taper_fraction"):
        assert getattr(fit, name) == pytest.approx(getattr(KNOWN, name), rel=0.15), name
    # darkening 0.3 over noise 0.05: contrast 6 surroundings-std units
    assert contrast["mean"] == pytest.approx(6.0, rel=0.15)


def test_fit_counts_branches():
    model = CrackModel(segments_mean=8, segment_length_px=25, bend_angle_deg=20, branch_probability=0.3,
                       taper_fraction=0.1)
    rng = np.random.default_rng(SEED)
    specs = [generate_cracks((512, 512), n_cracks=1, model=model, rng=rng) for _ in range(20)]
    m = CrackMeasurements.concat([measure_cracks(s.labels) for s in specs])
    drawn = sum(s.stats["n_branches"] for s in specs)
    assert drawn > 5 and m.junctions == pytest.approx(drawn, rel=0.35)


def test_crack_model_and_fit_reject_bad_values():
    with pytest.raises(ValueError, match=r"taper_fraction must be in \[0.0, 0.5\]"):
        CrackModel(taper_fraction=0.7)
    with pytest.raises(ValueError, match="no cracks"):
        fit_crack_model(measure_cracks(np.zeros((32, 32), bool)))


@pytest.fixture(scope="module")
def dictionary():
    # a stand-in for real surface: anisotropic, speckled, not fBm
    rng = np.random.default_rng(SEED)
    imgs = []
    for _i in range(4):
        base = fbm_noise((160, 200), wavelength_px=3, beta=1.0, rng=rng)
        streaks = np.repeat(rng.standard_normal((160, 1)), 200, 1) * 0.8
        imgs.append((base + streaks + 3 * (rng.random((160, 200)) > 0.995)).astype(np.float32))
    return imgs, TextureDictionary.from_images(imgs, patch_px=24, stride_px=6, flatten_px=0, rng=SEED)


def test_quilting_is_deterministic_standardised_and_closer_to_the_source_than_fbm(dictionary):
    imgs, d = dictionary
    a = quilt_texture((96, 96), d, rng=1)
    assert np.array_equal(a, quilt_texture((96, 96), d, rng=1))
    assert not np.array_equal(a, quilt_texture((96, 96), d, rng=2))
    assert a.shape == (96, 96) and abs(a.mean()) < 1e-4 and a.std() == pytest.approx(1, abs=1e-4)
    ref = [im[i:i + 96, j:j + 96] for im in imgs for i, j in ((0, 0), (60, 100))]
    quilted = [quilt_texture((96, 96), d, rng=i) for i in range(8)]
    fbm = [fbm_noise((96, 96), wavelength_px=8, beta=2, rng=i) for i in range(8)]
    assert spectrum_distance(quilted, ref) < 0.5 * spectrum_distance(fbm, ref)
    assert histogram_distance(quilted, ref) < histogram_distance(fbm, ref)


def _steepest(t):
    t = (t - t.mean()) / t.std()
    return np.percentile(np.abs(np.concatenate([np.diff(t, axis=0).ravel(), np.diff(t, axis=1).ravel()])), 99.9)


def test_quilting_leaves_no_seams_in_a_smooth_texture():
    # on a smooth texture any misfit between patches is a step: the steepest 0.1 % of
    # pixel-to-pixel changes show it (patches pasted without matching and cutting
    # double them)
    imgs = [fbm_noise((200, 200), wavelength_px=40, beta=3, rng=i) for i in range(4)]
    d = TextureDictionary.from_images(imgs, patch_px=24, stride_px=4, flatten_px=0, rng=1)
    source = np.mean([_steepest(im[i:i + 120, j:j + 120]) for im in imgs for i, j in ((0, 0), (80, 80))])
    quilted = np.mean([_steepest(quilt_texture((120, 120), d, rng=s)) for s in range(4)])
    rng = np.random.default_rng(0)
    pasted = np.zeros((150, 150), np.float32)
    for i in range(7):
        for j in range(7):
            pasted[i * 18:i * 18 + 24, j * 18:j * 18 + 24] = d.patches[rng.integers(len(d))]
    assert quilted < 1.3 * source
    assert _steepest(pasted[:120, :120]) > 1.7 * source


def test_dictionary_leaves_out_masked_cracks():
    img = np.random.default_rng(0).standard_normal((64, 64)).astype(np.float32)
    mask = np.zeros((64, 64), bool)
    mask[:, 30:33] = True
    with pytest.raises(ValueError, match="fewer than 2 crack-free"):
        TextureDictionary.from_images([img], [mask], patch_px=32, exclude_px=6)
    d = TextureDictionary.from_images([img], [mask], patch_px=16, stride_px=4, exclude_px=2, flatten_px=0)
    assert len(d) > 0 and len(d) < len(TextureDictionary.from_images([img], patch_px=16, stride_px=4, flatten_px=0))


def test_surface_cracks_labels_follow_the_tile_rule_and_classes_balance(dictionary):
    r = get_recipe("surface_cracks")
    labels = []
    for i in range(60):
        s = r.render_index(i, entropy=SEED, shape=(96, 96))
        assert s.label == max(tile_class(s.mask), 0)
        labels.append(s.label)
    # half the tiles are drawn with cracks; a few crack draws may stay under the rule
    assert 0.3 <= np.mean(labels) <= 0.65
    _, d = dictionary
    rx = make_surface_cracks(d)
    s = rx.render_index(0, entropy=SEED, shape=(96, 96))
    assert s.scenario["texture"] == "exemplar"
    with pytest.raises(ValueError, match="texture: 'exemplar' needs a texture dictionary"):
        r.render({**r.space.sample_one(0, 0), "texture": "exemplar"}, shape=(64, 64))


def test_tile_rule_and_tiling():
    m = np.zeros((128, 128), np.uint8)
    assert tile_class(m) == 0
    m[60:62, :50] = 1  # 100 px: under 1 %, ambiguous
    assert tile_class(m) == -1
    m[60:62, :] = 1  # 256 px
    assert tile_class(m) == 1
    img = np.arange(256 * 384, dtype=np.float32).reshape(256, 384)
    mask = np.zeros((256, 384), np.uint8)
    mask[10:12, 0:128] = 2  # crack class 2 in the first tile only
    mask[200, 300] = 2  # a speck: makes tile (1, 2) ambiguous
    tiles, labels, masks = tile_image(img, mask, tile_px=128, stride_px=128, crack_class=2)
    assert len(tiles) == 5 and list(labels) == [1, 0, 0, 0, 0]
    assert tiles[1][0, 0] == img[0, 128] and masks[0].sum() == 256


def test_agresti_coull_by_hand():
    # z = 2.5758 for 99 %: n~ = 100 + z^2 = 106.635, p~ = (5 + z^2 / 2) / n~ = 0.07800
    lo, hi = agresti_coull(5, 100, confidence=0.99)
    z = 2.5758293035489
    nt = 100 + z * z
    pt = (5 + z * z / 2) / nt
    half = z * math.sqrt(pt * (1 - pt) / nt)
    assert (lo, hi) == pytest.approx((pt - half, pt + half), abs=1e-9)
    assert (lo, hi) == pytest.approx((0.01109, 0.14491), abs=2e-4)
    assert agresti_coull(0, 10)[0] == 0.0
    with pytest.raises(ValueError):
        agresti_coull(11, 10)


def test_paired_ttest_by_hand():
    # differences 1, 0, 2, 1: mean 1, sd sqrt(2/3), t = 1 / (sd / 2) = 2.449, df 3
    t, p = paired_ttest([1, 2, 3, 4], [0, 2, 1, 3])
    assert t == pytest.approx(2.4495, abs=1e-4)
    assert p == pytest.approx(0.0917, abs=2e-4)
    assert paired_ttest([1, 2], [1, 2]) == (0.0, 1.0)
    r = error_rate([2, 4, 3], 20)
    assert r.mean == pytest.approx(0.15) and r.std == pytest.approx(0.05) and r.low < 0.15 < r.high


def test_fit_cracks_scenario_is_accepted_by_the_recipe():
    rng = np.random.default_rng(SEED)
    specs = [generate_cracks((256, 256), n_cracks=1, model=KNOWN, rng=rng) for _ in range(4)]
    imgs = [0.5 + 0.05 * rng.standard_normal((256, 256)) - 0.3 * s.maps["crack"] for s in specs]
    out = fit_cracks_scenario(imgs, [s.labels for s in specs])
    r = get_recipe("surface_cracks")
    space = r.space.with_overrides(out["parameters"])
    s = r.render_index(0, entropy=1, space=space, shape=(64, 64))
    assert s.scenario["width_px"] == out["parameters"]["width_px"]


def test_crack_experiment_on_a_tiny_synthetic_real_set(tmp_path):
    # "real" images made by the recipe itself: the protocol must run and score them
    from PIL import Image

    r = get_recipe("surface_cracks")
    (tmp_path / "real" / "images").mkdir(parents=True)
    (tmp_path / "real" / "masks").mkdir()
    for i in range(4):
        scen = {**r.space.sample_one(SEED, i), "crack_probability": 1.0, "n_cracks": 3, "width_px": 3.0,
                "segments_mean": 12.0, "segment_length_px": 30.0}
        s = r.render(scen, shape=(192, 256), entropy=SEED, index=i)
        Image.fromarray((s.image * 255).astype(np.uint8)).save(tmp_path / "real" / "images" / f"{i}.png")
        Image.fromarray(s.mask).save(tmp_path / "real" / "masks" / f"{i}.png")
    cfg = CrackExperiment(real=str(tmp_path / "real"), runs=2, tile_px=64, train_stride_px=32, test_stride_px=64,
                          synthetic_tiles=24, steps_synthetic=3, steps_real=3, steps_finetune=3, batch_size=8,
                          width=4, workers=1)
    res = run_crack_experiment(cfg, tmp_path / "out")
    assert res["split"]["train_images"] == ["0", "1"] and res["split"]["test_images"] == ["2", "3"]
    n_test = res["split"]["test_tiles"]["n"]
    for m in ("synthetic", "real", "mixed"):
        assert len(res["errors"][m]["test"]) == 2 and all(0 <= e <= n_test for e in res["errors"][m]["test"])
        rate = res["rates"]["test"][m]
        assert rate["ci_low"] <= rate["mean"] <= rate["ci_high"]
    assert 0 <= res["tests"]["test"]["real_vs_mixed"]["p"] <= 1
    assert (tmp_path / "out" / "synthetic" / "manifest.json").exists()


def test_fit_on_crackforest_dev_masks():
    d = real_dir("crackforest")
    from synthscope.datasets import RealFolder

    f = RealFolder(d, require_masks=True)
    pairs = [f.pair(i) for i in range(4)]
    out = fit_cracks_scenario([p[0] for p in pairs], [p[1] for p in pairs])
    p = out["parameters"]
    # thin dark road cracks: a few px wide, darker than their surroundings
    assert 1.0 < p["width_px"] < 8.0 and out["measured"]["contrast"]["mean"] > 0.5


def test_pores_darken_the_texture_but_are_not_cracks():
    r = get_recipe("surface_cracks")
    scen = {**r.space.sample_one(SEED, 0), "crack_probability": 0.0, "texture": "procedural", "two_phase": 0.0}
    plain = r.render(scen, shape=(128, 128), entropy=1, index=0)
    pored = r.render({**scen, "pore_fraction": 0.15, "pore_contrast": 4.0}, shape=(128, 128), entropy=1, index=0)
    assert plain.mask.sum() == 0 and pored.mask.sum() == 0 and pored.label == 0
    # about 15 % of the field turns darker by more than a std of the tile (both tiles
    # standardised: the detector rescales the signal)
    z = lambda a: (a - np.median(a)) / a.std()  # noqa: E731
    darker = (z(plain.image) - z(pored.image)) > 1.0
    assert 0.08 < darker.mean() < 0.22
