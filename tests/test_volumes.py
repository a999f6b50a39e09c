"""3-D specimens and FIB-SEM serial sectioning with shine-through."""

import numpy as np
import pytest

from synthscope.imaging.fibsem import image_fibsem
from synthscope.structures.volumes import (
    generate_particle_volume,
    generate_porous_volume,
    mean_chord_length,
)

from .conftest import SEED


def test_mean_chord_length_hand_computed():
    a = np.zeros((1, 1, 10), bool)
    a[0, 0, 2:5] = True  # one run of 3 along x; along y and z: three runs of 1
    assert mean_chord_length(a) == pytest.approx((3 + 3 + 3) / (1 + 3 + 3))
    assert mean_chord_length(np.zeros((3, 3, 3), bool)) == 0.0


@pytest.mark.parametrize("kind", ["spinodal", "blobs"])
def test_porous_volume_hits_porosity_and_ligament_size(kind):
    rng = np.random.default_rng(SEED)
    for i in range(6):
        por = rng.uniform(0.3, 0.7)
        lig = rng.uniform(4, 10)
        spec = generate_porous_volume((32, 64, 64), porosity=por, kind=kind, ligament_size_vox=lig, rng=i)
        assert spec.stats["porosity"] == pytest.approx(por, abs=0.02)
        assert spec.stats["ligament_size_vox"] == pytest.approx(lig, rel=0.10)
        assert spec.labels.dtype == np.uint8 and set(np.unique(spec.labels)) == {0, 1}
        assert (spec.instances > 0).sum() == (spec.labels == 0).sum()


def test_overlapping_spheres_porosity_and_determinism():
    for por in (0.15, 0.4, 0.65):
        spec = generate_porous_volume((32, 64, 64), porosity=por, kind="spheres", pore_diameter_vox=8, rng=3)
        assert spec.stats["porosity"] == pytest.approx(por, abs=0.02)
    a = generate_porous_volume((16, 32, 32), kind="spheres", rng=1)
    b = generate_porous_volume((16, 32, 32), kind="spheres", rng=1)
    c = generate_porous_volume((16, 32, 32), kind="spheres", rng=2)
    assert np.array_equal(a.labels, b.labels) and not np.array_equal(a.labels, c.labels)
    with pytest.raises(ValueError, match="kind must be one of"):
        generate_porous_volume((16, 32, 32), kind="foam")
    with pytest.raises(ValueError, match="porosity"):
        generate_porous_volume((16, 32, 32), porosity=0.95)


def test_particle_volume_fraction_and_size():
    for vf, d in ((0.05, 8.0), (0.2, 10.0)):
        spec = generate_particle_volume((40, 80, 80), volume_fraction=vf, mean_diameter_vox=d, rng=SEED)
        assert spec.stats["volume_fraction"] == pytest.approx(vf, abs=0.02)
        assert spec.stats["mean_diameter_vox"] == pytest.approx(d, rel=0.10)
        assert spec.instances.max() == spec.stats["particle_count"]
        assert set(np.unique(spec.labels)) == {1, 2}
        # particles never touch: every instance is one connected piece
        from scipy import ndimage as ndi

        assert ndi.label(spec.instances > 0)[1] == spec.stats["particle_count"]


def _porous(seed=0):
    return generate_porous_volume((40, 64, 64), porosity=0.5, kind="spinodal", ligament_size_vox=8, rng=seed).labels


def test_fibsem_stack_truth_is_the_cut_face_and_shine_through_lights_pores():
    vol = _porous()
    st = image_fibsem(vol, ["Au"], voxel_nm=5, energy_kev=2, n_slices=6, thickness_cv=0, drift_px_per_slice=0,
                      curtain_amplitude=0, dose_e_per_px=1e4, read_noise=0, rng=SEED)
    assert st.images.shape == st.truth.shape == (6, 64, 64) and st.images.dtype == np.float32
    assert 0 <= st.images.min() and st.images.max() <= 1
    for i in range(6):
        assert np.array_equal(st.truth[i], (vol[i] > 0).astype(np.uint8))
    none = image_fibsem(vol, ["Au"], voxel_nm=5, energy_kev=2, n_slices=6, thickness_cv=0, drift_px_per_slice=0,
                        curtain_amplitude=0, dose_e_per_px=1e4, read_noise=0, shine_through=False, rng=SEED)
    pore = st.truth == 0
    solid_level = st.images[~pore].mean()
    # empty pores show the solid behind them, dimmer than the face; without shine-through
    # they are dark and flat
    assert none.images[pore].mean() < st.images[pore].mean() < solid_level
    from scipy import ndimage as ndi

    inner = np.stack([ndi.binary_erosion(p, iterations=2) for p in pore])  # away from the blurred edges
    assert st.images[inner].std() > 2 * none.images[inner].std()


def test_fibsem_drift_moves_image_and_truth_together_and_is_reproducible():
    vol = _porous(1)
    kw = dict(voxel_nm=5, energy_kev=2, n_slices=5, drift_px_per_slice=2.0, rng=7)
    a = image_fibsem(vol, ["Ag"], **kw)
    b = image_fibsem(vol, ["Ag"], **kw)
    assert np.array_equal(a.images, b.images)
    assert (a.drift_px[0] == 0).all() and np.abs(a.drift_px).max() > 0
    for i in range(5):
        dy, dx = a.drift_px[i]
        k = int(round(a.positions_vox[i]))
        face = (vol[k] > 0).astype(np.uint8)
        sl = (slice(max(dy, 0), 64 + min(dy, 0)), slice(max(dx, 0), 64 + min(dx, 0)))
        src = (slice(max(-dy, 0), 64 + min(-dy, 0)), slice(max(-dx, 0), 64 + min(-dx, 0)))
        assert np.array_equal(a.truth[i][sl], face[src])
    with pytest.raises(ValueError, match="se_fraction"):
        image_fibsem(vol, ["Au"], se_fraction=2.0)


def test_stack_recipe_writes_tiff_stacks(tmp_path):
    import tifffile

    from synthscope.datasets.io import open_dataset
    from synthscope.engine import generate

    from .test_cli import run

    generate_out = tmp_path / "fib"
    res = run("generate", "fibsem_porous", "--n", "2", "--out", generate_out, "--size", "48", "64", "--slices", "3")
    assert res.returncode == 0, res.stderr
    info = open_dataset(generate_out)
    img, mask = info.load(1)
    assert img.shape == mask.shape == (3, 48, 64)
    assert tifffile.imread(info.mask_path(1)).shape == (3, 48, 64)
    from synthscope.recipes import get_recipe

    with pytest.raises(ValueError, match="size must be"):
        generate(get_recipe("grain_boundaries"), 1, tmp_path / "g", size=(3, 48, 64))


def test_shine_through_defeats_otsu_and_the_report_scores_any_segmenter(tmp_path):
    from synthscope.evaluation.shine_through import shine_through_markdown, shine_through_report

    always_solid = lambda im: np.ones(im.shape, np.uint8)  # noqa: E731
    rep = shine_through_report({"solid": always_solid}, n_stacks=2, shape=(2, 64, 64), entropy=SEED)
    c = rep["conditions"]
    assert rep["n_slices"] == 4
    # without shine-through pores are dark and flat: Otsu is nearly right; with it they show the
    # solid behind them and Otsu is clearly worse
    assert c["no_shine_through"]["otsu"]["mean_iou"] > 0.75
    assert c["shine_through"]["otsu"]["mean_iou"] < c["no_shine_through"]["otsu"]["mean_iou"] - 0.05
    assert c["shine_through"]["solid"]["pore_iou"] == 0.0
    assert 0 < c["shine_through"]["solid"]["solid_iou"] < 1
    assert "| otsu |" in shine_through_markdown(rep)


def test_microscope_settings_in_physical_units():
    from synthscope.imaging.fibsem import microscope_settings
    from synthscope.imaging.montecarlo import probe_sigma_nm

    s = microscope_settings(energy_kev=2, probe_current_pa=100, dwell_time_us=3, pixel_size_nm=5, material="Au")
    assert s["electrons_per_pixel"] == pytest.approx(100e-12 * 3e-6 / 1.602176634e-19, rel=1e-3)
    # counts at full signal: the electrons times gold's backscatter coefficient (~0.4-0.5 at 2 keV)
    assert 0.35 < s["dose_e_per_px"] / s["electrons_per_pixel"] < 0.6
    assert s["probe_sigma_px"] == pytest.approx(probe_sigma_nm(energy_kev=2, working_distance_mm=4) / 5, rel=1e-2)
    c = microscope_settings(energy_kev=2, probe_current_pa=100, dwell_time_us=3, pixel_size_nm=5, material="C")
    assert c["dose_e_per_px"] < 0.5 * s["dose_e_per_px"]
