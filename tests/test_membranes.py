"""Cells and membranes: the requested cell size is met over 100 samples, organelles
are drawn into the image but never into the membrane label, and they sit inside cells."""

import numpy as np
from scipy import ndimage as ndi

from synthscope.recipes import get_recipe
from synthscope.structures._kernels import triple_junctions
from synthscope.structures.membranes import add_junction_blobs, add_organelles, generate_cells


def test_cell_membranes_recipe_meets_cell_size_over_100_samples():
    r = get_recipe("cell_membranes")
    space = r.space.with_overrides({"mean_cell_diameter_px": "loguniform(25, 60)"})
    ratios = []
    for i in range(100):
        s = space.sample_one(9, i)
        spec = r.structure((192, 192), s, np.random.default_rng(i))
        ratios.append(spec.stats["mean_grain_diameter_px"] / s["mean_cell_diameter_px"])
        assert spec.stats["cell_count"] == spec.instances.max()
    assert abs(np.mean(ratios) - 1) < 0.10, np.mean(ratios)


def test_organelles_change_the_image_not_the_labels():
    base = generate_cells((192, 192), mean_cell_diameter_px=80, mitochondria_per_cell=0, vesicles_per_cell=0,
                          granules_per_cell=0, rng=3)
    spec = add_organelles(base, mitochondria_per_cell=1.0, mito_length_px=24, mito_width_px=10,
                          vesicles_per_cell=3, granules_per_cell=2, rng=4)
    assert np.array_equal(spec.labels, base.labels)
    changed = spec.maps["tint"] != base.maps["tint"]
    assert changed.any()
    assert spec.stats["vesicles_count"] > 0 and spec.stats["granules_count"] > 0
    # organelles are placed inside cells: little of what they change lies on membranes
    assert (changed & (base.labels == 1)).sum() < 0.1 * changed.sum()


def test_junction_blobs_fill_junctions_and_are_labelled_membrane():
    base = generate_cells((256, 256), mean_cell_diameter_px=40, mitochondria_per_cell=0, vesicles_per_cell=0,
                          granules_per_cell=0, rng=5)
    spec = add_junction_blobs(base, fraction=1.0, radius_px=6.0, rng=6)
    added = (spec.labels == 1) & (base.labels == 0)
    assert spec.stats["junction_blob_count"] >= 0.5 * base.stats["cell_count"]  # about 2 junctions per cell
    assert added.sum() > 0
    # every added membrane pixel is dark (a full-depth groove), and they lie at
    # junctions: far closer to one than cell pixels are in general
    assert np.all(spec.maps["height"][added] <= -0.5)
    seeds = np.ones(base.labels.shape, bool)
    j = triple_junctions(base.instances.astype(np.int32))
    seeds[j[:, 0], j[:, 1]] = False
    dist = ndi.distance_transform_edt(seeds)
    assert np.median(dist[added]) < 6.0 < 0.5 * np.median(dist[base.labels == 0]), (
        np.median(dist[added]), np.median(dist[base.labels == 0]))
    comp, n = ndi.label(spec.labels == 1)
    assert n <= ndi.label(base.labels == 1)[1]  # patches join membranes, they are not islands
    none = add_junction_blobs(base, fraction=0.0, rng=6)
    assert np.array_equal(none.labels, base.labels) and none.stats["junction_blob_count"] == 0
    half = [add_junction_blobs(base, fraction=0.3, radius_px=4.0, rng=i).stats["junction_blob_count"] for i in range(10)]
    assert abs(np.mean(half) / spec.stats["junction_blob_count"] - 0.3) < 0.05
    # each patch fills about pi r^2: the added area per patch (beyond the membrane
    # already there) is below that and above a tenth of it
    per = added.sum() / spec.stats["junction_blob_count"]
    assert 0.1 * np.pi * 36 < per < np.pi * 36 * 1.3, per


def test_ragged_membranes_keep_the_labels_and_flatten_the_profile():
    kw = dict(mean_cell_diameter_px=60, membrane_width_px=5, width_variation=0, gap_fraction=0,
              mitochondria_per_cell=0, vesicles_per_cell=0, granules_per_cell=0)
    soft = generate_cells((192, 192), raggedness=0.0, rng=5, **kw)
    ragged = generate_cells((192, 192), raggedness=1.0, rng=5, **kw)
    assert np.array_equal(soft.labels, ragged.labels)

    def floor(spec):  # share of the drawn membrane at full depth
        depth = -spec.maps["height"]
        return (depth[depth > 0.5] > 0.99).mean()

    assert floor(ragged) > 1.5 * floor(soft)
