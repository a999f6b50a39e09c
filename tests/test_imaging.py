import numpy as np
import pytest

from synthscope.imaging import add_shot_noise, augment_pair, image_detector
from synthscope.structures import Specimen, generate_grains

from .conftest import SEED


def _spec():
    return generate_grains((96, 96), mean_grain_diameter_px=24, rng=SEED)


def test_detector_invariants():
    s = _spec()
    a = image_detector(s, rng=SEED)
    b = image_detector(s, rng=SEED)
    c = image_detector(s, rng=SEED + 1)
    assert a.dtype == np.float32 and a.shape == s.shape
    assert 0 <= a.min() and a.max() <= 1
    assert np.array_equal(a, b) and not np.array_equal(a, c)


def test_shot_noise_has_poisson_variance():
    rng = np.random.default_rng(SEED)
    sig = np.full((200, 200), 0.5, np.float32)
    for dose in (10.0, 400.0):  # exact Poisson and its normal limit
        x = add_shot_noise(sig, dose, rng=rng)
        assert abs(x.mean() - 0.5) < 0.01
        assert abs(x.var() / (0.5 / dose) - 1) < 0.05
    with pytest.raises(ValueError, match="dose_e_per_px"):
        add_shot_noise(sig, 0, rng=rng)


@pytest.mark.parametrize("lam", [80.0, 150.5, 900.3])
def test_counts_beyond_the_tables_follow_the_poisson_law(lam):
    # means past the tables (64) are sums of equal table draws: still exact
    from scipy import stats

    from synthscope.imaging import _kernels as k
    from synthscope.imaging.detector import _poisson_cdf

    a = np.full(200_000, lam, np.float32)
    out = np.empty_like(a)
    k.poisson_fill(np.uint64(SEED), a, _poisson_cdf(), out)
    obs = np.bincount(out.astype(int))
    exp = stats.poisson.pmf(np.arange(len(obs)), lam) * a.size
    ok = exp > 20
    chi2 = ((obs[ok] - exp[ok]) ** 2 / exp[ok]).sum()
    assert stats.chi2.sf(chi2, ok.sum() - 1) > 0.001
    assert abs(out.mean() - lam) < 4 * np.sqrt(lam / a.size)


def test_detector_counts_are_the_poisson_fill_scaled_and_clipped():
    # both entry points run one sampler: same key, same counts (read noise 0), the
    # detector's divided by the dose and clipped to [0, 1]; means past the tables too
    from synthscope.imaging import _kernels as k
    from synthscope.imaging.detector import _poisson_cdf

    rng = np.random.default_rng(SEED)
    sig = rng.uniform(-0.2, 1.3, (64, 80)).astype(np.float32)
    for dose in (30.0, 200.0):
        counts = np.empty_like(sig)
        k.poisson_fill(np.uint64(7), np.maximum(sig, 0) * np.float32(dose), _poisson_cdf(), counts)
        out = np.empty_like(sig)
        k.poisson_counts(sig, dose, 0.0, np.uint64(7), _poisson_cdf(), out)
        assert np.array_equal(out, np.clip(counts.astype(np.float64) / dose, 0, 1).astype(np.float32))
        assert np.all(counts[sig <= 0] == 0) and np.array_equal(counts, np.rint(counts))
    with pytest.raises(ValueError, match="C-contiguous"):
        k.poisson_counts(sig, 30.0, 0.0, np.uint64(7), _poisson_cdf(), np.empty((80, 64), np.float32).T)


@pytest.mark.parametrize("lam", [0.3, 3.7, 20.3, 47.5])
def test_low_dose_counts_follow_the_poisson_law(lam):
    # the table + remainder sampler is exact: counts of a flat signal pass a chi-square
    # test against the Poisson pmf, both alone and inside the detector (dose < 50)
    from scipy import stats

    rng = np.random.default_rng(SEED)
    flat = np.full((300, 300), 1.0, np.float32)
    spec = Specimen(labels=np.zeros((300, 300), np.uint8), instances=None,
                    maps={"tint": np.full((300, 300), 0.5, np.float32)})
    cases = [add_shot_noise(flat, lam, rng=rng)]
    if 10 < lam < 25:  # signal 0.5 at a dose of 2 lam < 50 (counts above 2 lam clip at 1)
        cases.append(image_detector(spec, blur_sigma_px=0, brightness=0.5, dose_e_per_px=2 * lam, read_noise=0,
                                    topography_contrast=0, rng=rng))
    for x, dose in zip(cases, (lam, 2 * lam), strict=False):
        counts = (x * dose).ravel()
        k = np.rint(counts).astype(int)
        # the detector clips at full signal (a few pixels here); add_shot_noise does not
        whole = x.ravel() < 1 if dose > lam else np.ones(k.size, bool)
        assert whole.mean() > 0.999 and np.allclose(k[whole], counts[whole], atol=1e-3)
        obs = np.bincount(k)
        exp = stats.poisson.pmf(np.arange(len(obs)), lam) * k.size
        ok = exp > 20
        chi2 = ((obs[ok] - exp[ok]) ** 2 / exp[ok]).sum()
        assert stats.chi2.sf(chi2, ok.sum() - 1) > 0.001
        assert abs(k.mean() - lam) < 4 * np.sqrt(lam / k.size) + 1e-9


def test_grooves_are_dark_and_edge_effect_bright():
    s = generate_grains((128, 128), mean_grain_diameter_px=30, grain_contrast=0.0, min_adjacent_contrast=0,
                        texture_amplitude=0, groove_width_px=3, rng=SEED)
    on = s.labels > 0
    kw = dict(blur_sigma_px=0.5, dose_e_per_px=1e5, read_noise=0, rng=SEED)
    groove = image_detector(s, topography_contrast=1.0, **kw)
    assert groove[on].mean() < groove[~on].mean() - 0.1
    ridge = image_detector(s, topography_contrast=-1.0, **kw)
    assert ridge[on].mean() > ridge[~on].mean() + 0.1
    inverted = image_detector(s, topography_contrast=1.0, invert=True, **kw)
    assert inverted[on].mean() > inverted[~on].mean() + 0.1


def test_bright_particles_saturate_instead_of_hiding_grooves():
    from synthscope.structures import add_distractors

    s = generate_grains((192, 192), mean_grain_diameter_px=40, grain_contrast=0.0, min_adjacent_contrast=0,
                        texture_amplitude=0, groove_width_px=3, rng=SEED)
    d = add_distractors(s, particles_per_grain=1.5, particle_size_px=10, particle_style="bright",
                        particle_contrast=3.0, interior_fraction=0.0, rng=SEED)
    kw = dict(topography_contrast=1.0, blur_sigma_px=0.5, dose_e_per_px=1e5, read_noise=0, rng=SEED)
    free = d.maps["cover"] < 0.01
    on, off = (s.labels > 0) & free, (s.labels == 0) & free
    plain = image_detector(s, **kw)
    decorated = image_detector(d, **kw)
    # boundary contrast away from particles is set by the uncovered specimen: it stays
    # (a global normalisation would shrink it several-fold under such bright particles)
    c_plain = plain[on].mean() - plain[off].mean()
    c_dec = decorated[on].mean() - decorated[off].mean()
    assert c_plain < -0.1
    assert 0.7 < c_dec / c_plain < 1.3
    assert decorated[d.maps["cover"] > 0.99].mean() > decorated[off].mean() + 0.2


def test_blur_lowers_noise_roughness():
    s = _spec()
    sharp = image_detector(s, blur_sigma_px=0.0, dose_e_per_px=1e5, read_noise=0, rng=1)
    soft = image_detector(s, blur_sigma_px=2.0, dose_e_per_px=1e5, read_noise=0, rng=1)
    assert np.abs(np.diff(soft)).mean() < np.abs(np.diff(sharp)).mean()


def test_detector_rejects_bad_settings():
    with pytest.raises(ValueError):
        image_detector(_spec(), blur_sigma_px=-1)
    with pytest.raises(ValueError):
        image_detector(Specimen(labels=np.zeros((8, 8), np.uint8), maps={"tint": np.zeros((8, 8), np.float32)}),
                       dose_e_per_px=0)


def test_augment_keeps_pairs_aligned():
    s = generate_grains((128, 128), mean_grain_diameter_px=30, rng=SEED)
    img = s.labels.astype(np.float32)  # the image is the mask: augmentation must keep them aligned
    for i in range(10):
        a, m = augment_pair(img, s.labels, intensity_jitter=0.0, rng=i)
        assert a.shape == img.shape and m.dtype == np.uint8
        assert np.mean((a > 0.5) == (m > 0)) > 0.97
    a1, m1 = augment_pair(img, s.labels, rng=5)
    a2, m2 = augment_pair(img, s.labels, rng=5)
    assert np.array_equal(a1, a2) and np.array_equal(m1, m2)


def test_compiled_tone_matches_its_numpy_definition():
    from synthscope.imaging import _kernels as k

    rng = np.random.default_rng(SEED)
    sig = rng.normal(0, 1, (40, 60)).astype(np.float32)
    off = rng.normal(0, 2, 40).astype(np.float32)
    field = rng.normal(0, 1, (40, 60)).astype(np.float32)
    out = np.empty_like(sig)
    k.tone(sig, np.float32(0.2), np.float32(1.5), off, field, np.float32(0.3), np.float32(0.5), np.float32(0.2),
           k.gamma_lut(1.4), True, out)
    # reference: shift each row (linear interpolation, edges repeated), standardise,
    # then tone curve
    shifted = np.stack([np.interp(np.clip(np.arange(60) - o, 0, 59), np.arange(60), row) for row, o in zip(sig, off, strict=True)])
    ref = 1.0 - np.clip(0.5 + 0.2 * ((shifted - 0.2) * 1.5 + 0.3 * field), 0, 1) ** 1.4
    np.testing.assert_allclose(out, ref, atol=1e-5)


def test_shot_and_read_noise_variances_add():
    from synthscope.imaging import _kernels as k

    rng = np.random.default_rng(SEED)
    s = np.full((300, 300), 0.4, np.float32)
    out = np.empty_like(s)
    k.gaussian_counts(s, np.float32(200.0), np.float32(0.03), np.uint64(rng.integers(2**63)), out)
    assert abs(out.mean() - 0.4) < 0.002
    assert out.var() == pytest.approx(0.4 / 200 + 0.03**2, rel=0.03)


def test_compiled_signal_map_matches_its_numpy_definition():
    from synthscope.imaging import _kernels as k

    rng = np.random.default_rng(SEED)
    tint = rng.random((30, 50)).astype(np.float32)
    height = rng.normal(0, 1, (30, 50)).astype(np.float32)
    free = rng.random((30, 50)) > 0.3
    out = np.empty_like(tint)
    n, mu, var = k.signal_map(tint, height, 0.7, 0.4, 1.1, free, out)
    slope = np.hypot(*np.gradient(height.astype(np.float64)))
    ref = tint + 0.7 * height + 0.4 * np.minimum(slope, 1.1)
    np.testing.assert_allclose(out, ref, atol=1e-5)
    assert n == free.sum() and mu == pytest.approx(ref[free].mean(), abs=1e-6)
    assert var == pytest.approx(ref[free].var(), rel=1e-5)
    flat = np.full((30, 50), 0.3, np.float32)  # exactly zero variance, not rounding noise
    assert k.signal_map(flat, k.empty_f32(), 0.0, 0.0, 0.0, np.zeros((0, 0), bool), out)[2] == 0.0
    samples = k.slope_sample(height, free, 2)
    sub = slope[::2, ::2][free[::2, ::2]]
    np.testing.assert_allclose(np.sort(samples), np.sort(sub[sub > 1e-3]), rtol=1e-5)


@pytest.mark.parametrize("sigma, corr", [(0.0, 0.0), (0.7, np.exp(-1 / 1.96)), (1.0, np.exp(-0.25)), (1.5, np.exp(-1 / 9))])
def test_detector_blur_correlates_the_noise_as_a_gaussian_psf_does(sigma, corr):
    # a flat specimen: what varies is noise; white noise blurred by a Gaussian of sigma s
    # has lag-1 correlation exp(-1 / (4 s^2)) (from 0.7 px on; a sampled kernel narrower
    # than that correlates less: 0.26 at 0.5 px)
    flat = Specimen(labels=np.zeros((256, 256), np.uint8), maps={"tint": np.full((256, 256), 0.5, np.float32)})
    img = image_detector(flat, blur_sigma_px=0.0, dose_e_per_px=1e6, read_noise=0.03, detector_blur_px=sigma,
                         rng=SEED).astype(np.float64)
    r = img - img.mean()
    lag1 = 0.5 * ((r[:, :-1] * r[:, 1:]).mean() + (r[:-1] * r[1:]).mean()) / r.var()
    assert lag1 == pytest.approx(corr, abs=0.05)
    assert abs(img.mean() - 0.5) < 0.02  # the level is kept


def test_detector_blur_rejects_negative_or_nan():
    for bad in (-0.5, float("nan")):
        with pytest.raises(ValueError, match="detector_blur_px"):
            image_detector(_spec(), detector_blur_px=bad)
