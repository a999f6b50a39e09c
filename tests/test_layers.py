"""Layered cross-sections and the coating recipe: requested layer thickness and area
fraction are met over 100 samples, cracks stay inside the layer and cross it, pores
stay out of it, rough profiles have the requested amplitude."""

import numpy as np
import pytest
from scipy import ndimage as ndi

from synthscope.recipes import get_recipe
from synthscope.structures.layers import generate_layers, rough_profile


def test_rough_profile_amplitude():
    p = rough_profile(4096, amplitude_px=5.0, wavelength_px=50.0, rng=0)
    assert abs(p.std() - 5.0) < 0.05 and abs(p.mean()) < 1e-9
    assert np.all(rough_profile(100, amplitude_px=0.0, wavelength_px=10.0, rng=0) == 0)


def test_cracks_cross_the_layer_and_stay_inside():
    s = generate_layers((200, 400), layer_thickness_px=40, cracks_per_100px=2.0, crack_wander=0.1,
                        interface_amplitude_px=3.0, rng=1)
    layer = s.labels > 0
    crack = s.labels == 2
    assert crack.any() and np.all(layer[crack])
    # every crack reaches from the top of the layer to its bottom (a column of the layer
    # where a crack component spans at least 80 % of the layer's thickness)
    comp, n = ndi.label(crack, structure=np.ones((3, 3)))
    thick = layer.sum(0)
    for k in range(1, n + 1):
        ys, xs = np.nonzero(comp == k)
        assert ys.max() - ys.min() + 1 >= 0.8 * np.median(thick[xs]), k
    # pores never inside the layer
    assert not np.any((s.maps["phase"] == 4) & layer)


def test_coating_coverage_is_the_share_of_the_layer_under_coating():
    kw = dict(layer_thickness_px=30, layer_position=0.7, coating_fraction=1.0, interface_amplitude_px=2.0,
              interface_wavelength_px=60.0, coating_porosity=0.0, cracks_per_100px=0.0)
    full = generate_layers((160, 600), **kw, rng=4)
    assert full.stats["coating_coverage"] == 1.0
    got = [generate_layers((160, 600), **kw, coating_coverage=0.5, rng=i).stats["coating_coverage"] for i in range(20)]
    assert abs(np.mean(got) - 0.5) < 0.08, np.mean(got)
    bare = generate_layers((160, 600), **kw, coating_coverage=0.0, rng=5)
    phase = bare.maps["phase"]
    assert not (phase == 1).any() and (phase == 0).any()
    # spalled or not, the layer and its labels are the same
    assert np.array_equal(bare.labels, generate_layers((160, 600), **kw, coating_coverage=1.0, rng=5).labels)
    # mount lies straight on the layer where the coating is gone: the pixel above the
    # layer's top is mount in every column
    top = np.argmax(bare.labels > 0, axis=0)
    assert np.all(phase[np.maximum(top - 1, 0), np.arange(600)] == 0)


def test_mount_glows_next_to_the_specimen():
    r = get_recipe("coating_cross_section")
    s = {**r.space.sample_one(3, 0), "partial_view": 0.0, "magnification": 1.0, "coating_fraction": 0.5, "layer_position": 0.75,
         "mount_glow": 0.3, "mount_glow_px": 20.0, "mount_level": 0.1, "phase_texture": 0.0}
    spec = r.structure((200, 200), s, np.random.default_rng(2))
    mount = spec.maps["phase"] == 0
    d = ndi.distance_transform_edt(mount)
    tint = spec.maps["tint"]
    near, far = tint[mount & (d <= 3)].mean(), tint[mount & (d > 40)].mean()
    assert abs(far - 0.1) < 0.03 and abs(near - far - 0.3 * np.exp(-2 / 20)) < 0.05, (near, far)


@pytest.mark.parametrize("bad", [dict(layer_position=2.5), dict(layer_thickness_px=0), dict(coating_coverage=1.5)])
def test_bad_arguments(bad):
    with pytest.raises(ValueError):
        generate_layers((64, 64), **bad)


def test_coating_recipe_meets_its_targets_over_100_samples():
    r = get_recipe("coating_cross_section")
    ratios, af_err = [], []
    for i in range(100):
        # the targets describe a whole layer in view
        s = {**r.space.sample_one(5, i), "partial_view": 0.0}
        spec = r.structure((256, 256), s, np.random.default_rng(i))
        # a magnified sample is drawn on a coarser grid (statistics in its pixels), where
        # the thickness is at most 0.45 of the height
        h = spec.stats.get("structure_shape", (256, 256))[0]
        ratios.append(spec.stats["mean_layer_thickness_px"] / min(s["layer_thickness_px"], 0.45 * h))
        af_err.append(spec.stats["layer_area_fraction"] - spec.stats["mean_layer_thickness_px"] / h)
    assert abs(np.mean(ratios) - 1) < 0.10, np.mean(ratios)
    assert np.max(np.abs(af_err)) < 1e-9  # area fraction and mean thickness agree exactly
    assert np.percentile(np.abs(np.array(ratios) - 1), 90) < 0.25


def test_partial_views_move_the_layer_out_of_the_frame_in_part_or_whole():
    r = get_recipe("coating_cross_section")
    kinds = {"none": 0, "cut at top": 0, "cut at bottom": 0}
    for i in range(60):
        s = {**r.space.sample_one(4, i), "magnification": 1.0, "partial_view": 1.0}
        spec = r.structure((128, 128), s, np.random.default_rng(i))
        layer = spec.labels > 0
        if not layer.any():
            kinds["none"] += 1
            # with the layer above the view only substrate (phase 3, or its pores) is left
            if s["layer_position"] + s["view_shift"] < -0.5:
                assert np.isin(spec.maps["phase"], (3, 4)).all()
            continue
        kinds["cut at top"] += layer[0].mean() > 0.5
        kinds["cut at bottom"] += layer[-1].mean() > 0.5
        assert spec.stats["layer_area_fraction"] == layer.mean()
    assert all(v >= 3 for v in kinds.values()), kinds
    # with partial_view 0, view_shift changes nothing
    s = {**r.space.sample_one(4, 0), "partial_view": 0.0}
    a = r.structure((96, 96), {**s, "view_shift": 0.8}, np.random.default_rng(0))
    b = r.structure((96, 96), {**s, "view_shift": -0.8}, np.random.default_rng(0))
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.maps["tint"], b.maps["tint"])


def test_magnification_enlarges_the_structure_not_the_labels_meaning():
    r = get_recipe("coating_cross_section")
    s = {**r.space.sample_one(3, 0), "partial_view": 0.0, "cracks_per_100px": 0.0, "coating_porosity": 0.0, "substrate_porosity": 0.0,
         "layer_thickness_px": 30.0, "thickness_variation": 0.05, "tilt_deg": 0.0, "interface_amplitude_px": 1.0}
    one = r.structure((240, 240), {**s, "magnification": 1.0}, np.random.default_rng(1))
    three = r.structure((240, 240), {**s, "magnification": 3.0}, np.random.default_rng(1))
    assert three.labels.shape == three.maps["tint"].shape == (240, 240)
    assert three.stats["structure_shape"] == [80, 80] and "magnification" not in one.stats
    # the layer is three times as thick in the output's pixels
    t1 = (one.labels == 1).sum(0).mean()
    t3 = (three.labels == 1).sum(0).mean()
    assert abs(t3 / t1 - 3.0) < 0.3, (t1, t3)
    assert set(np.unique(three.labels)) <= {0, 1, 2}


def test_coating_render():
    r = get_recipe("coating_cross_section")
    smp = r.render_index(0, entropy=2, shape=(128, 192))
    assert smp.image.shape == (128, 192) and smp.mask.max() <= 2 and smp.image.dtype == np.float32


def _feature_diff(r, s, key):
    """Tint of the structure of scenario ``s`` minus that with feature ``key`` off (same
    rng); the labels must be equal. Returns (difference, layer mask, top row, bottom row
    per column)."""
    spec = r.structure((256, 512), s, np.random.default_rng(0))
    plain = r.structure((256, 512), {**s, key: 0.0}, np.random.default_rng(0))
    assert np.array_equal(spec.labels, plain.labels)  # the feature is not labelled apart
    layer = spec.labels > 0
    top = np.argmax(layer, axis=0)
    bottom = layer.shape[0] - 1 - np.argmax(layer[::-1], axis=0)
    return spec.maps["tint"] - plain.maps["tint"], layer, top, bottom


def test_interface_beads_trace_the_lower_interface_over_the_requested_share():
    r = get_recipe("coating_cross_section")
    base = {**r.space.sample_one(1, 0), "partial_view": 0.0, "magnification": 1.0, "bead_contrast": 0.5, "bead_spacing_px": 3.0,
            "bead_radius_px": 1.0}
    covered = {}
    for share in (1.0, 0.5):
        d, layer, _, bottom = _feature_diff(r, {**base, "interface_beads": share}, "interface_beads")
        ys, xs = np.nonzero(d > 0.25)
        assert np.abs(ys - bottom[xs]).mean() < 2.0
        covered[share] = len(np.unique(xs)) / layer.any(0).sum()
    # dots 3 px apart, about 2 px wide: most columns along a traced stretch; half the
    # stretches traced: half of that
    assert covered[1.0] > 0.5 and abs(covered[0.5] / covered[1.0] - 0.5) < 0.15, covered


def test_interface_line_darkens_a_thin_band_below_the_layer_over_the_requested_share():
    r = get_recipe("coating_cross_section")
    base = {**r.space.sample_one(1, 0), "partial_view": 0.0, "magnification": 1.0, "interface_line_px": 2.0,
            "interface_line_contrast": 0.3, "interface_line_sign": -1}
    covered = {}
    for share in (1.0, 0.5):
        d, layer, _, bottom = _feature_diff(r, {**base, "interface_line": share}, "interface_line")
        assert d.max() <= 1e-6 and d.min() >= -0.3 - 1e-6  # dark, by at most the contrast
        ys, xs = np.nonzero(d < -0.29)
        # fully covered rows: the two just below the layer's last row
        assert np.all((ys - bottom[xs] >= 1) & (ys - bottom[xs] <= 2))
        assert np.all(d[layer] == 0)
        covered[share] = len(np.unique(xs)) / layer.any(0).sum()
        # the line's integral across it is its width, in every traced column
        col = -d[:, np.unique(xs)].sum(0) / 0.3
        assert np.allclose(col, 2.0, atol=1e-3), col[:5]
    assert covered[1.0] == 1.0 and abs(covered[0.5] - 0.5) < 0.05, covered
    d, *_ = _feature_diff(r, {**base, "interface_line": 1.0, "interface_line_sign": 1}, "interface_line")
    assert d.min() >= -1e-6 and d.max() > 0.29  # bright


def test_intruding_pores_carve_round_pockets_into_the_layer_top_only():
    kw = dict(layer_thickness_px=40, layer_position=0.6, coating_fraction=1.0, coating_porosity=0.2,
              pore_diameter_px=24.0, cracks_per_100px=0.0, substrate_porosity=0.0, tilt_deg=0.0)
    flat = generate_layers((200, 400), **kw, rng=3)
    deep = generate_layers((200, 400), **kw, pore_intrusion=1.0, rng=3)
    layer0, layer1 = flat.labels == 1, deep.labels == 1
    carved = layer0 & ~layer1
    assert carved.sum() > 50  # pockets there
    assert not (layer1 & ~layer0).any()  # nothing added
    assert np.all(deep.maps["phase"][carved] == 4)  # they are pores, labelled background
    # each pocket is part of a pore that opens into the coating
    ys = np.arange(200)[:, None]
    top = np.argmax(layer0, axis=0)
    comp, n = ndi.label(deep.maps["phase"] == 4)
    in_coat = np.unique(comp[(deep.maps["phase"] == 4) & (ys < top[None, :])])
    assert set(np.unique(comp[carved])) <= set(in_coat)
    # only the layer's upper half: every column keeps its lower half labelled
    bottom = 199 - np.argmax(layer0[::-1], axis=0)
    assert not (carved & (ys >= ((top + bottom + 1) / 2)[None, :])).any()
    assert np.all(layer1.any(0) == layer0.any(0))
    # the statistics describe the labelled layer
    assert deep.stats["layer_area_fraction"] == layer1.mean()
    assert np.array_equal(generate_layers((200, 400), **kw, pore_intrusion=0.0, rng=3).labels, flat.labels)


def test_void_row_runs_inside_the_layer_at_the_requested_depth():
    r = get_recipe("coating_cross_section")
    base = {**r.space.sample_one(1, 0), "partial_view": 0.0, "magnification": 1.0, "void_row_px": 3.0, "dark_level": 0.0,
            "layer_level": 0.5, "substrate_offset": 0.0, "phase_texture": 0.0, "interface_line": 0.0,
            "layer_streaks": 0.0, "interface_beads": 0.0, "cracks_per_100px": 0.0, "pore_intrusion": 0.0,
            "coating_mottle": 0.0,
            "layer_thickness_px": 60.0, "thickness_variation": 0.05}
    for depth in (0.25, 0.6):
        d, layer, top, bottom = _feature_diff(r, {**base, "void_row": 0.9, "void_row_depth": depth}, "void_row")
        assert np.all(d[~layer] == 0) and d.max() <= 1e-6  # darker, inside the layer only
        ys, xs = np.nonzero(d < -0.45)  # fully dark void pixels
        rel = (ys - top[xs]) / (bottom[xs] - top[xs])
        assert abs(np.median(rel) - depth) < 0.05, (depth, np.median(rel))
        # on over 0.9 of the length, broken by gaps in about a quarter of it
        share = len(np.unique(xs)) / layer.any(0).sum()
        assert 0.55 < share < 0.8, share
