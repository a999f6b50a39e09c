import numpy as np
import pytest

from synthscope.evaluation.noise import compare_noise, noise_level


def _scene(shape=(256, 256)):
    """Smooth shading plus flat regions with sharp steps, span about 1."""
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float32)
    img = 0.3 * yy / shape[0] + 0.2 * np.sin(xx / 40.0)
    img = img + 0.5 * ((xx // 64 + yy // 64) % 2)
    return img.astype(np.float32)


@pytest.mark.parametrize("sigma", [0.01, 0.03, 0.08])
def test_noise_level_reads_added_white_noise(sigma):
    clean = _scene()
    rng = np.random.default_rng(1)
    noisy = clean + rng.normal(0, sigma, clean.shape).astype(np.float32)
    span = np.subtract(*np.percentile(noisy, (99, 1)))
    est = noise_level(noisy)
    assert est == pytest.approx(sigma / span, rel=0.15)


def test_noise_level_of_a_clean_image_is_small_and_blur_lowers_it():
    from scipy import ndimage as ndi

    clean = _scene()
    assert noise_level(clean) < 0.002  # steps and shading are not noise
    noisy = clean + np.random.default_rng(2).normal(0, 0.05, clean.shape).astype(np.float32)
    assert noise_level(ndi.gaussian_filter(noisy, 1.0)) < 0.5 * noise_level(noisy)
    with pytest.raises(ValueError, match="2D"):
        noise_level(np.zeros((4, 4)))


def test_compare_noise_shares():
    rng = np.random.default_rng(3)
    clean = _scene((128, 128))
    real = [clean + rng.normal(0, 0.02, clean.shape) for _ in range(3)]
    renders = [clean + rng.normal(0, s, clean.shape) for s in (0.005, 0.02, 0.02, 0.1)]
    c = compare_noise(real, renders)
    assert c["real_min"] <= c["real_median"] <= c["real_max"]
    # the two renders at the real noise fall within the real range (up to estimator spread)
    assert c["renders_within_real"] <= 0.5
    assert 0.25 <= c["renders_cleaner_than_real_max"] <= 0.75
    assert c["renders_max"] > 3 * c["real_max"]
