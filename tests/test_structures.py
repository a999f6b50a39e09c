import numpy as np
import pytest

from synthscope.structures import (
    add_distractors,
    astm_grain_size_number,
    boundary_edges,
    fbm_noise,
    generate_grains,
    grain_statistics,
    smooth_field,
)

from .conftest import SEED


def test_grains_invariants():
    a = generate_grains((96, 128), mean_grain_diameter_px=20, rng=SEED)
    b = generate_grains((96, 128), mean_grain_diameter_px=20, rng=SEED)
    c = generate_grains((96, 128), mean_grain_diameter_px=20, rng=SEED + 1)
    assert a.labels.shape == (96, 128) and a.labels.dtype == np.uint8
    assert a.instances.dtype == np.int32 and a.instances.min() >= 1
    assert set(np.unique(a.labels)) <= {0, 1}
    assert np.array_equal(a.labels, b.labels) and np.array_equal(a.maps["tint"], b.maps["tint"])
    assert not np.array_equal(a.labels, c.labels)
    for m in a.maps.values():
        assert m.dtype == np.float32 and np.isfinite(m).all()
    # instance ids are compact 1..N
    assert np.array_equal(np.unique(a.instances), np.arange(1, a.instances.max() + 1))


def test_boundary_label_lies_on_instance_edges():
    s = generate_grains((128, 128), mean_grain_diameter_px=25, label_width_px=1, rng=SEED)
    assert np.array_equal(s.labels.astype(bool), boundary_edges(s.instances))


@pytest.mark.parametrize("target", [20.0, 40.0, 80.0])
def test_mean_grain_diameter_hits_target_within_10_percent(target):
    """Acceptance: mean grain diameter within 10 % of the target over 100 samples."""
    rng = np.random.default_rng(SEED)
    d = [
        generate_grains((256, 256), mean_grain_diameter_px=target, relaxation_steps=int(rng.integers(0, 4)),
                        size_spread=rng.uniform(0, 0.5), waviness=rng.uniform(0, 0.3),
                        merge_fraction=rng.uniform(0, 0.35), rng=rng).stats["mean_grain_diameter_px"]
        for _ in range(100)
    ]
    assert abs(np.mean(d) / target - 1) < 0.10, np.mean(d)


@pytest.mark.parametrize("diameter", [150.0, 400.0, 2000.0])
def test_grains_larger_than_the_field(diameter):
    # a few seeds only (even collinear ones): still a valid tessellation
    for i in range(5):
        s = generate_grains((64, 64), mean_grain_diameter_px=diameter, merge_fraction=0.3, rng=SEED + i)
        assert s.labels.shape == (64, 64) and s.instances.min() >= 1
        assert s.stats["grain_count"] >= 1


def test_n_grains_sets_the_count():
    s = [generate_grains((256, 256), n_grains=60, rng=i).stats["grain_count_jeffries"] for i in range(30)]
    assert abs(np.mean(s) / 60 - 1) < 0.12


def test_relaxation_makes_sizes_more_regular():
    def cv(steps):
        out = []
        for i in range(10):
            s = generate_grains((256, 256), mean_grain_diameter_px=30, relaxation_steps=steps, waviness=0, rng=i)
            areas = np.bincount(s.instances.ravel())[1:]
            out.append(areas.std() / areas.mean())
        return np.mean(out)

    assert cv(5) < 0.75 * cv(0)


def test_roughness_lengthens_boundaries_keeps_grain_size():
    kw = dict(mean_grain_diameter_px=40, waviness=0.0, relaxation_steps=2)
    smooth = [generate_grains((256, 256), roughness=0.0, rng=SEED + i, **kw) for i in range(4)]
    rough = [generate_grains((256, 256), roughness=0.04, rng=SEED + i, **kw) for i in range(4)]
    length = [np.mean([boundary_edges(s.instances).sum() for s in g]) for g in (smooth, rough)]
    assert length[1] > 1.15 * length[0]
    d = [np.mean([s.stats["mean_equivalent_diameter_px"] for s in g]) for g in (smooth, rough)]
    assert abs(d[1] / d[0] - 1) < 0.1


def test_ragged_grooves_are_flat_floored_bands_with_ragged_edges_on_the_label():
    from scipy import ndimage as ndi

    def measure(raggedness):
        floor, spread, centre = [], [], []
        for seed in range(3):
            s = generate_grains((256, 256), mean_grain_diameter_px=60, groove_width_px=6,
                                groove_raggedness=raggedness, rng=SEED + seed)
            depth = -s.maps["height"]
            band = depth > 0.5
            rim = band ^ ndi.binary_erosion(band)
            line = boundary_edges(s.instances)
            dist = ndi.distance_transform_edt(~line)[rim]
            floor.append((depth[band] > 0.99).mean())  # share of the band at full depth
            spread.append(dist.std() / dist.mean())  # how much the band's half-width wanders
            centre.append(depth[line].mean())
        return np.mean(floor), np.mean(spread), np.mean(centre)

    soft, ragged = measure(0.0), measure(1.0)
    assert ragged[0] > 1.5 * soft[0]
    assert ragged[1] > 1.6 * soft[1]
    assert ragged[2] > 0.9  # the band stays on the labelled centreline
    with pytest.raises(ValueError, match="groove_raggedness"):
        generate_grains((64, 64), groove_raggedness=1.5, rng=SEED)


def test_merging_makes_non_convex_grains():
    from skimage.measure import regionprops

    def solidity(m):
        s = generate_grains((256, 256), mean_grain_diameter_px=40, merge_fraction=m, waviness=0, rng=3)
        return np.mean([r.solidity for r in regionprops(s.instances) if r.area > 50])

    assert solidity(0.5) < solidity(0.0) - 0.02


@pytest.mark.parametrize("angle", [0.0, 35.0, 120.0])
def test_elongated_grains_have_the_aspect_and_direction_asked_and_keep_their_size(angle):
    from skimage.measure import regionprops

    kw = dict(mean_grain_diameter_px=30, relaxation_steps=3, waviness=0.0)
    aspect, direction, diam = [], [], []
    for i in range(4):
        s = generate_grains((256, 256), elongation=3.0, elongation_angle_deg=angle, rng=SEED + i, **kw)
        diam.append(s.stats["mean_grain_diameter_px"])
        for r in regionprops(s.instances):
            if r.area > 200 and r.axis_minor_length > 0:
                aspect.append(r.axis_major_length / r.axis_minor_length)
                # skimage's orientation: angle between the row axis and the major axis
                direction.append(np.degrees(r.orientation) - 90.0)
    iso = [generate_grains((256, 256), rng=SEED + i, **kw) for i in range(4)]
    iso_aspect = np.median([r.axis_major_length / r.axis_minor_length for s in iso
                            for r in regionprops(s.instances) if r.area > 200 and r.axis_minor_length > 0])
    assert np.median(aspect) > 2.0 and iso_aspect < 1.6
    # axial angles: the mean of doubled angles, compared modulo 180 degrees
    d = np.radians(2 * np.asarray(direction))
    mean = np.degrees(np.arctan2(np.sin(d).mean(), np.cos(d).mean())) / 2
    assert abs((mean - angle + 90) % 180 - 90) < 10, mean
    assert abs(np.mean(diam) / 30 - 1) < 0.10


def test_striations_run_at_one_angle_per_grain_and_leave_the_rest_unchanged():
    kw = dict(mean_grain_diameter_px=60, texture_amplitude=0.0, rng=SEED)
    plain = generate_grains((192, 192), **kw)
    same = generate_grains((192, 192), striation_amplitude=0.0, **kw)
    striped = generate_grains((192, 192), striation_amplitude=0.2, striation_wavelength_px=6, **kw)
    assert np.array_equal(plain.maps["tint"], same.maps["tint"])
    assert np.array_equal(plain.instances, striped.instances) and np.array_equal(plain.labels, striped.labels)
    extra = striped.maps["tint"] - plain.maps["tint"]
    assert 0.0 < np.abs(extra).max() <= 0.2 + 1e-5
    # inside a striped grain the added pattern is a set of parallel stripes: its
    # gradients all point one way (coherence of the structure tensor near 1)
    coherent = 0
    for g in np.unique(plain.instances):
        inside = plain.instances == g
        if inside.sum() < 800 or np.abs(extra[inside]).max() < 0.02:
            continue
        gy, gx = np.gradient(np.where(inside, extra, 0.0))
        core = inside & ~boundary_edges(plain.instances)
        from scipy import ndimage as ndi
        core = ndi.binary_erosion(core, iterations=2)
        jyy, jxx, jxy = (gy * gy)[core].sum(), (gx * gx)[core].sum(), (gx * gy)[core].sum()
        coherence = np.hypot(jxx - jyy, 2 * jxy) / (jxx + jyy)
        assert coherence > 0.6, (g, coherence)
        coherent += 1
    assert coherent >= 2
    with pytest.raises(ValueError, match="elongation"):
        generate_grains((64, 64), elongation=0.5, rng=SEED)


@pytest.mark.parametrize("seed", range(5))
def test_min_adjacent_contrast_is_enforced(seed):
    # grain tints barely vary (std 0.02) but neighbours must differ by 0.1
    s = generate_grains((128, 128), mean_grain_diameter_px=25, grain_contrast=0.02, min_adjacent_contrast=0.1,
                        texture_amplitude=0, groove_depth=0, rng=seed)
    inst, tint = s.instances, s.maps["tint"]
    d = inst[:, 1:] != inst[:, :-1]
    diffs = np.abs(tint[:, 1:][d] - tint[:, :-1][d])
    assert np.mean(diffs < 0.099) < 0.05
    # and without the constraint most neighbours would be closer than that
    s0 = generate_grains((128, 128), mean_grain_diameter_px=25, grain_contrast=0.02, min_adjacent_contrast=0.0,
                         texture_amplitude=0, groove_depth=0, rng=seed)
    d0 = s0.instances[:, 1:] != s0.instances[:, :-1]
    assert np.mean(np.abs(s0.maps["tint"][:, 1:][d0] - s0.maps["tint"][:, :-1][d0]) < 0.099) > 0.5


def test_statistics_hand_computed():
    inst = np.zeros((10, 10), np.int32)
    inst[:, :5] = 1
    inst[:, 5:] = 2
    inst[4:6, 4:6] = 3  # inside, touching no border
    st = grain_statistics(inst, pixel_size_nm=1000)
    assert st["grain_count"] == 3
    assert st["grain_count_jeffries"] == 2 * 0.5 + 1
    assert st["mean_grain_area_px"] == pytest.approx(100 / 2)
    assert st["mean_equivalent_diameter_px"] == pytest.approx(np.sqrt(4 * 4 / np.pi))


def test_astm_number_against_the_standard_table():
    # ASTM E112 Table 4: G = 1 at 15.50 grains/mm^2 (mean area 0.0645 mm^2),
    # G = 8 at 1984 grains/mm^2 (mean area 504 um^2)
    px_nm = 1000.0  # 1 um pixels: area in px equals um^2
    assert astm_grain_size_number(0.0645e6, px_nm) == pytest.approx(1.0, abs=0.02)
    assert astm_grain_size_number(504.0, px_nm) == pytest.approx(8.0, abs=0.02)


def test_distractors_change_maps_not_labels():
    s = generate_grains((128, 128), mean_grain_diameter_px=30, rng=SEED)
    d = add_distractors(s, particles_per_grain=1.0, particle_size_px=5, blobs_per_grain=0.5, rings_per_grain=0.3,
                        scratches=2, rng=SEED)
    assert np.array_equal(d.labels, s.labels) and np.array_equal(d.instances, s.instances)
    assert not np.array_equal(d.maps["tint"], s.maps["tint"])
    assert d.stats["n_particles"] > 0
    with pytest.raises(ValueError, match="particle_style"):
        add_distractors(s, particle_style="glitter")


def test_flat_particles_hide_the_groove_beneath_them():
    s = generate_grains((160, 160), mean_grain_diameter_px=40, groove_width_px=3, rng=SEED)
    d = add_distractors(s, particles_per_grain=2.0, particle_size_px=8, particle_style="dark_rim",
                        interior_fraction=0.0, rng=SEED)
    covered = (d.maps["cover"] > 0.99) & (s.labels > 0)
    assert covered.sum() > 50  # particles sit on boundaries
    # the groove is gone inside particles, the boundary label is kept there
    assert s.maps["height"][covered].mean() < -0.3
    # height there is scaled by (1 - cover) <= 1 %
    assert np.all(np.abs(d.maps["height"][covered]) <= 0.01 * np.abs(s.maps["height"][covered]) + 1e-7)
    assert np.array_equal(d.labels, s.labels)
    assert 0.0 <= d.maps["cover"].min() and d.maps["cover"].max() <= 1.0


@pytest.mark.parametrize("style, sign", [("dark_rim", -1.0), ("bright_rim", 1.0)])
def test_outlined_particles_draw_a_rim_of_the_asked_width_and_sign(style, sign):
    """One round particle on a flat matrix: the tint change peaks on its outline (darker
    for dark_rim, lighter for bright_rim) and has fallen below 2 % of the peak two rim
    widths outside it."""
    from synthscope.structures._kernels import STYLE_CODES, stamp_particles

    n, r, rim, c = 96, 20.0, 2.5, 0.6
    tint = np.zeros((n, n), np.float32)
    height = np.zeros((n, n), np.float32)
    cover = np.zeros((n, n), np.float32)
    rough = np.zeros((8, 8), np.float32)
    one = lambda v: np.array([v], np.float64)  # noqa: E731
    stamp_particles(tint, height, cover, rough, one(48.0), one(48.0), one(r), STYLE_CODES[style], one(-sign * c),
                    one(0.0), one(1.0), one(0.0), one(0.0), np.zeros((1, 4)), np.zeros((1, 4)), one(rim))
    row = tint[48, 48:]  # along +x from the centre: the outline at 20 px
    peak = int(np.argmax(sign * row))
    assert abs(peak - r) <= 1
    assert sign * row[peak] == pytest.approx(c, rel=0.15)
    assert abs(row[int(r + 2 * rim) + 1]) < 0.02 * c
    assert abs(row[0]) < 0.02 * c  # the interior keeps the matrix's shade (interior 0)


@pytest.mark.parametrize("style", ["bump", "dark_rim", "bright_rim", "bright", "dark"])
def test_particles_hide_the_tint_step_of_the_boundary_they_sit_on(style):
    """A particle centred on the boundary between a dark and a light grain has one shade
    inside (its own, from the matrix at its centre), not the two grains' tints: no
    real micrograph shows a boundary through a particle."""
    from synthscope.structures._kernels import STYLE_CODES, stamp_particles

    n, r = 96, 14.0
    tint = np.full((n, n), 0.2, np.float32)
    tint[:, 48:] = 0.8  # the boundary at x = 48, a step of 0.6
    height = np.zeros((n, n), np.float32)
    cover = np.zeros((n, n), np.float32)
    rough = np.zeros((8, 8), np.float32)
    one = lambda v: np.array([v], np.float64)  # noqa: E731
    stamp_particles(tint, height, cover, rough, one(48.0), one(48.0), one(r), STYLE_CODES[style], one(0.3),
                    one(0.1), one(1.0), one(0.0), one(0.0), np.zeros((1, 4)), np.zeros((1, 4)), one(1.5))
    yy, xx = np.mgrid[:n, :n]
    core = tint[np.hypot(yy - 48.0, xx - 48.0) < 0.6 * r]  # well inside the outline, across the boundary
    assert np.ptp(core) < 0.02 * 0.6
    # the untouched matrix keeps its step
    assert tint[5, 5] == pytest.approx(0.2) and tint[5, 90] == pytest.approx(0.8)


@pytest.mark.parametrize("style", ["bump", "dark_rim", "bright_rim", "bright", "dark"])
def test_particles_leave_the_specimen_alone_outside_their_reach(style):
    """Grooves (negative height) and tint a few pixels off a particle are untouched, for
    every style: a particle hides what lies beneath it, not a box around it."""
    from synthscope.structures._kernels import STYLE_CODES, stamp_particles

    n, r, rim = 96, 12.0, 1.5
    rng = np.random.default_rng(SEED)
    tint = rng.uniform(0.2, 0.8, (n, n)).astype(np.float32)
    height = -rng.uniform(0.5, 1.0, (n, n)).astype(np.float32)  # grooves everywhere
    cover = np.zeros((n, n), np.float32)
    rough = rng.normal(0, 0.1, (16, 16)).astype(np.float32)
    t0, h0 = tint.copy(), height.copy()
    one = lambda v: np.array([v], np.float64)  # noqa: E731
    coef = np.array([[0.2, -0.1, 0.05, 0.1]])
    aspect, irr = 1.3, 0.2
    stamp_particles(tint, height, cover, rough, one(48.0), one(47.0), one(r), STYLE_CODES[style], one(0.5),
                    one(0.1), one(aspect), one(0.4), one(irr), coef, rng.uniform(0, 6, (1, 4)), one(rim))
    yy, xx = np.mgrid[:n, :n]
    dist = np.hypot(yy - 48.0, xx - 47.0)
    # beyond the outline's largest extent (plus the rim's reach for outlined styles)
    far = r * (1 + np.abs(coef).sum()) * aspect + (4 * rim if "rim" in style else 1.0) + 1.0
    out = dist > far
    assert out.sum() > 1000
    assert np.array_equal(height[out], h0[out]) and np.array_equal(tint[out], t0[out])
    assert cover[out].max() == 0.0
    inside = dist < 0.5 * r
    assert cover[inside].min() == 1.0  # and the particle itself was drawn
    assert not np.array_equal(height[inside], h0[inside])


def test_textures_are_normalised_and_scale_with_wavelength():
    a = fbm_noise((128, 128), wavelength_px=8, rng=SEED)
    b = fbm_noise((128, 128), wavelength_px=64, rng=SEED)
    for x in (a, b):
        assert abs(x.mean()) < 1e-4 and abs(x.std() - 1) < 1e-3 and x.dtype == np.float32

    def roughness(x):
        return np.abs(np.diff(x, axis=1)).mean()

    assert roughness(a) > roughness(b)
    f = smooth_field((100, 80), wavelength_px=20, rng=SEED)
    assert f.shape == (100, 80) and abs(f.std() - 1) < 1e-3
    with pytest.raises(ValueError, match="wavelength_px"):
        fbm_noise((8, 8), wavelength_px=0)


@pytest.mark.parametrize("shape", [(512, 512), (7, 300), (3, 3), (64, 65)])
@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.5, 6.0])
def test_gaussian_blur_matches_scipy(shape, sigma):
    from scipy import ndimage as ndi

    from synthscope.structures._kernels import gaussian_blur

    a = np.random.default_rng(SEED).standard_normal(shape).astype(np.float32)
    for mode in ("reflect", "wrap"):
        ref = ndi.gaussian_filter(a.astype(np.float64), sigma, mode=mode)
        assert np.abs(gaussian_blur(a, sigma, mode=mode) - ref).max() < 1e-5
    b = a.copy()
    assert np.array_equal(gaussian_blur(b, sigma, out=b), gaussian_blur(a, sigma))


@pytest.mark.parametrize("angle", [0.0, 0.3, np.pi / 2, 2.0, np.pi - 1e-12])
def test_draw_line_matches_the_dense_formula(angle):
    from synthscope.structures._kernels import draw_line

    h, w, (py, px), width = 60, 80, (23.3, 41.7), 1.6
    ny, nx = np.cos(angle), -np.sin(angle)
    d = np.abs(ny * (np.arange(h)[:, None] - py) + nx * (np.arange(w)[None, :] - px))
    a = np.zeros((h, w), np.float32)
    draw_line(a, py, px, ny, nx, width, 0.3)
    assert np.abs(a - 0.3 * np.clip(0.5 + width / 2 - d, 0, 1)).max() < 1e-5 and a.max() > 0.29


@pytest.mark.parametrize("ring", [False, True])
def test_level_set_matches_the_dense_formula(ring):
    from synthscope.structures._kernels import add_level_set

    f = np.random.default_rng(SEED).standard_normal((50, 60)).astype(np.float32)
    a = np.ones((50, 60), np.float32)
    add_level_set(a, f, 0.8, 0.25, ring, 0.3)
    w = np.clip(1 - np.abs(f - 0.8) / 0.25, 0, 1) if ring else np.clip((f - 0.8) / 0.25, 0, 1)
    assert np.abs(a - (1 + 0.3 * w)).max() < 1e-6 and (w > 0).any()


def test_triple_junctions_are_the_windows_of_three_grains():
    from synthscope.structures._kernels import triple_junctions

    inst = generate_grains((128, 128), mean_grain_diameter_px=20, rng=SEED).instances
    a, b, c, d = inst[:-1, :-1], inst[:-1, 1:], inst[1:, :-1], inst[1:, 1:]
    n_diff = (a != b).astype(int) + (a != c) + (a != d) + (b != c) + (b != d) + (c != d)
    ref = np.argwhere(n_diff >= 5)
    assert len(ref) > 10 and np.array_equal(triple_junctions(inst), ref)


def test_fast_normals_follow_the_normal_law():
    from scipy import stats

    from synthscope.structures._kernels import normals_f32

    a, b = np.random.default_rng(SEED), np.random.default_rng(SEED)
    x = normals_f32(a, (1000, 1000))
    assert x.dtype == np.float32 and x.shape == (1000, 1000)
    assert np.array_equal(x, normals_f32(b, (1000, 1000)))  # reproducible from the Generator
    b, c = np.random.default_rng(SEED), np.random.default_rng(SEED)
    normals_f32(b, 5)
    c.integers(0, 2**64, dtype=np.uint64)
    assert b.random() == c.random()  # the Generator advanced by one 64-bit draw (the key)
    z = x.ravel().astype(np.float64)
    assert stats.kstest(z, "norm").pvalue > 1e-3
    assert abs(z.mean()) < 5e-3 and abs(z.var() - 1) < 6e-3 and abs(stats.kurtosis(z)) < 0.02
    for t in (2.0, 3.0, 4.0):  # the tails (the ziggurat's wedges and its base strip)
        p = 2 * stats.norm.sf(t)
        assert abs((np.abs(z) > t).mean() - p) < 5 * np.sqrt(p / z.size)


@pytest.mark.parametrize("n", [1, 2, 7, 1_000_001])
def test_fast_uniforms_are_the_splitmix_stream_two_at_a_time(n):
    """Value 2k (2k + 1) is the low (high) half of the stream's output k, as a signed
    32-bit integer times 2^-31: the counter-based loop is the sequential stream; and
    the values are uniform on [-1, 1)."""
    from scipy import stats

    from synthscope._fastrng import next_u64
    from synthscope.structures._kernels import uniforms_f32

    a, b = np.random.default_rng(SEED), np.random.default_rng(SEED)
    x = uniforms_f32(a, n)
    key = b.integers(0, 2**64, dtype=np.uint64)
    assert a.random() == b.random()  # one 64-bit draw taken
    st = np.uint64(key)
    for k in range(min(n, 9)):
        if k % 2 == 0:
            st, z = next_u64(np.uint64(st))
        half = int(z) & 0xFFFFFFFF if k % 2 == 0 else int(z) >> 32
        assert x[k] == np.float32((half - 2**32 if half >= 2**31 else half) * 2.0**-31)
    assert x.min() >= -1 and x.max() < 1
    if n > 1000:
        assert stats.kstest(x.astype(np.float64), "uniform", args=(-1, 2)).pvalue > 1e-3
        assert abs(x.mean()) < 3e-3 and abs(x.var() - 1 / 3) < 2e-3


@pytest.mark.parametrize("wavelength, beta", [(8.0, 3.0), (40.0, 3.0), (200.0, 2.5)])
def test_fbm_is_gaussian_with_its_spectrum(wavelength, beta):
    """fBm from uniform spectral parts: its one-point law is normal (skewness and excess
    kurtosis near 0 over fields, tails as a normal's) and its power spectrum follows
    (f^2 + f0^2)^(-beta/2) (a log-log slope of -beta well above f0)."""
    from scipy import stats

    xs = [fbm_noise((256, 256), wavelength_px=wavelength, beta=beta, rng=k) for k in range(12)]
    z = np.concatenate([x.ravel() for x in xs]).astype(np.float64)
    assert abs(stats.skew(z)) < 0.1 and abs(stats.kurtosis(z)) < 0.2
    assert abs((np.abs(z) > 2).mean() - 0.0455) < 0.01
    p = np.mean([np.abs(np.fft.rfft2(x)) ** 2 for x in xs], axis=0)
    fy = np.fft.fftfreq(256)[:, None]
    fx = np.fft.rfftfreq(256)[None, :]
    f = np.hypot(fy, fx)
    band = lambda lo, hi: p[(f >= lo) & (f < hi)].mean()  # noqa: E731
    lo, hi = max(4.0 / wavelength, 0.03), 0.4
    slope = np.log(band(hi * 0.9, hi) / band(lo, lo * 1.1)) / np.log(hi * 0.95 / (lo * 1.05))
    assert slope == pytest.approx(-beta, abs=0.35)


@pytest.mark.parametrize("n, clustered, bucket", [(1, False, 0.5), (7, False, 0.5), (300, False, 0.5), (300, True, 0.5),
                                                 (300, True, 1.0)])
def test_seed_index_finds_the_nearest_seed_at_warped_positions(n, clustered, bucket):
    from synthscope.structures._kernels import SeedIndex

    rng = np.random.default_rng(n)
    shape = (200, 260)
    seeds = rng.uniform((0, 0), shape, size=(n, 2))
    if clustered:  # dense clump beside sparse regions: buckets hold very different counts
        seeds[: n // 2] = np.clip(rng.normal((60, 80), 6, size=(n // 2, 2)), 0, 199)
    dy = rng.normal(0, 4, (64, 96)).astype(np.float32)
    dx = rng.normal(0, 4, (64, 96)).astype(np.float32)
    lab = SeedIndex(seeds, shape, bucket=bucket).labels((64, 96), offset=(30.0, 50.0), dy=dy, dx=dx)
    yy, xx = np.mgrid[0:64, 0:96]
    py, px = yy + 30.0 + dy, xx + 50.0 + dx
    d2 = (seeds[:, 0, None, None] - py) ** 2 + (seeds[:, 1, None, None] - px) ** 2
    got = d2[lab - 1, yy, xx]
    assert lab.min() >= 1 and lab.max() <= n
    np.testing.assert_allclose(got, d2.min(axis=0), rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("warp", [None, 3.0, 12.0])
def test_seed_index_block_fill_matches_the_per_pixel_lookup(warp):
    """Seeds far enough apart that the lookup settles whole blocks at once (all four
    corners of a block's box in one cell): every pixel still gets its nearest seed,
    unwarped and under smooth warps of growing amplitude."""
    from synthscope.structures._kernels import SeedIndex, lookup_block
    from synthscope.structures.textures import smooth_field

    rng = np.random.default_rng(11)
    shape = (300, 340)
    seeds = rng.uniform((0, 0), shape, size=(40, 2))
    index = SeedIndex(seeds, shape)
    assert lookup_block(index.cell) >= 4  # the block path is the one under test
    dy = dx = None
    if warp:
        dy = smooth_field((160, 200), wavelength_px=30.0, rng=rng, amplitude=warp)
        dx = smooth_field((160, 200), wavelength_px=30.0, rng=rng, amplitude=warp)
    lab = index.labels((160, 200), offset=(70.0, 70.0), dy=dy, dx=dx)
    yy, xx = np.mgrid[0:160, 0:200]
    py, px = yy + 70.0 + (0 if dy is None else dy), xx + 70.0 + (0 if dx is None else dx)
    d2 = (seeds[:, 0, None, None] - py) ** 2 + (seeds[:, 1, None, None] - px) ** 2
    np.testing.assert_allclose(d2[lab - 1, yy, xx], d2.min(axis=0), rtol=1e-9, atol=1e-9)


def test_seed_index_centroids_are_the_cells_weighted_centroids():
    from synthscope.structures._kernels import SeedIndex

    rng = np.random.default_rng(SEED)
    shape = (120, 90)
    seeds = rng.uniform((0, 0), shape, size=(40, 2))
    wt = rng.random((60, 45))  # a half-resolution grid over shape
    m, cy, cx = SeedIndex(seeds, shape, bucket=1.0).centroids(wt, shape)
    py, px = np.mgrid[0:60, 0:45] * 2.0 + 1.0  # pixel centres of the grid, in shape's units
    lab = np.argmin((seeds[:, 0, None, None] - py) ** 2 + (seeds[:, 1, None, None] - px) ** 2, axis=0)
    ref_m = np.bincount(lab.ravel(), wt.ravel(), minlength=40)
    ok = ref_m > 0
    np.testing.assert_allclose(m, ref_m, rtol=1e-9)
    np.testing.assert_allclose(cy[ok], np.bincount(lab.ravel(), (wt * py).ravel(), 40)[ok] / ref_m[ok], rtol=1e-9)
    np.testing.assert_allclose(cx[ok], np.bincount(lab.ravel(), (wt * px).ravel(), 40)[ok] / ref_m[ok], rtol=1e-9)


def test_bilinear_upsampling_matches_separable_interpolation():
    from synthscope.structures._kernels import upsample_bilinear

    small = np.random.default_rng(3).standard_normal((5, 7)).astype(np.float32)
    out = upsample_bilinear(small, (40, 56))
    # pixel centres aligned: output pixel (i, j) samples small at ((i + .5) / 8 - .5, ...)
    y = np.clip((np.arange(40) + 0.5) / 8 - 0.5, 0, 4)
    x = np.clip((np.arange(56) + 0.5) / 8 - 0.5, 0, 6)
    ref = np.array([[np.interp(xx, np.arange(7), row) for xx in x] for row in small])  # (5, 56)
    ref = np.array([np.interp(yy, np.arange(5), ref[:, j]) for j in range(56) for yy in y]).reshape(56, 40).T
    np.testing.assert_allclose(out, ref, atol=1e-5)
    z = upsample_bilinear(small, (40, 56), standardize=True)
    assert abs(float(z.mean())) < 1e-5 and float(z.std()) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("sigma", [2.0, 4.0, 12.0])
def test_recursive_gaussian_follows_the_sampled_gaussian(sigma):
    from scipy import ndimage as ndi

    from synthscope.structures._kernels import gaussian_recursive

    e = np.zeros((200, 240), np.float32)
    e[100, :] = 1.0  # a line: its blurred profile is the 1-D kernel
    got = gaussian_recursive(e, sigma)[:, 120]
    ref = ndi.gaussian_filter(e, sigma, mode="nearest")[:, 120]
    assert np.abs(got - ref).max() < (0.055 if sigma < 4 else 0.035) * ref.max()
    assert got.sum() == pytest.approx(1.0, rel=0.01)  # mass kept
    assert abs(int(np.argmax(got)) - 100) == 0


def test_recursive_blur_treats_both_axes_alike():
    """Blurring the transpose gives the transpose of the blur (non-square, random)."""
    from synthscope.structures._kernels import gaussian_recursive

    a = np.random.default_rng(3).random((37, 83)).astype(np.float32)
    np.testing.assert_allclose(gaussian_recursive(a.T, 3.0), gaussian_recursive(a, 3.0).T, rtol=0, atol=1e-6)


def test_grid_points_read_the_zoomed_field():
    from synthscope.structures._kernels import upsample_bilinear
    from synthscope.structures.textures import grid_at, smooth_grid

    small = smooth_grid((90, 130), wavelength_px=20.0, rng=SEED)
    assert abs(float(small.mean())) < 1e-5 and float(small.std()) == pytest.approx(1.0, abs=1e-4)
    full = upsample_bilinear(small, (90, 130))
    pts = np.array([[0, 0], [89, 129], [45, 60], [10, 120], [33, 7]], float)
    np.testing.assert_allclose(grid_at(small, (90, 130), pts), full[pts[:, 0].astype(int), pts[:, 1].astype(int)],
                               atol=1e-5)


@pytest.mark.parametrize("size", [2, 3, 4, 7])
def test_label_band_is_a_square_dilation_of_the_edges(size):
    from scipy import ndimage as ndi

    from synthscope.structures.grains import _dilate_square

    m = np.random.default_rng(size).random((60, 75)) < 0.03
    ref = ndi.uniform_filter(m.astype(np.float32), size=size, mode="nearest") > 1e-6
    assert np.array_equal(_dilate_square(m, size), ref)


@pytest.mark.parametrize("k", [0, 1, 7, 500])
def test_unique_pairs_matches_numpy_unique_rows(k):
    from synthscope.structures.grains import _unique_pairs

    e = np.sort(np.random.default_rng(k).integers(0, 40, (k, 2)), axis=1)
    expected = np.unique(e, axis=0) if k else e.reshape(0, 2)
    assert np.array_equal(_unique_pairs(e), expected)


@pytest.mark.parametrize("cristae", [0, 4])
def test_stamp_ellipses_matches_the_dense_formula(cristae):
    from synthscope.structures._kernels import stamp_ellipses

    h, w = 60, 70
    cy, cx, a, b, ang = np.array([20.3, 58.0]), np.array([30.7, 66.0]), np.array([14.0, 5.0]), \
        np.array([6.0, 5.0]), np.array([0.6, 0.0])
    fill, wall, wall_px = -0.3, -1.0, 1.5
    got = np.zeros((h, w), np.float32)
    stamp_ellipses(got, cy, cx, a, b, ang, fill, wall, wall_px, cristae)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    want = np.zeros((h, w))
    for k in range(2):
        u = np.cos(ang[k]) * (xx - cx[k]) + np.sin(ang[k]) * (yy - cy[k])
        v = -np.sin(ang[k]) * (xx - cx[k]) + np.cos(ang[k]) * (yy - cy[k])
        rho = np.hypot(u / a[k], v / b[k])
        inside = rho <= 1
        edge = (1 - rho) * min(a[k], b[k])
        want += inside * (fill + wall * (edge < wall_px))
        if cristae:
            period = 2 * a[k] / (cristae + 1)
            stripe = np.abs((u + a[k]) % period - period / 2) < max(wall_px / 2, 0.6)
            want += wall * 0.8 * (inside & stripe & (edge > wall_px))
    assert np.allclose(got, want, atol=1e-5)
    assert (got < 0).sum() > 200  # both bodies drawn (the second cut by the border)


def test_label_counts_match_bincount():
    """Counts by runs: long runs, single pixels, label 0, a requested length, other
    integer types and the empty map all count as np.bincount does."""
    from synthscope.structures._kernels import label_counts

    a = np.array([[0, 0, 3, 3, 3], [3, 1, 1, 0, 7]], np.int32)
    np.testing.assert_array_equal(label_counts(a), [3, 2, 0, 4, 0, 0, 0, 1])
    np.testing.assert_array_equal(label_counts(a, 10), np.bincount(a.ravel(), minlength=10))
    b = np.random.default_rng(0).integers(0, 50, (64, 80)).repeat(3, axis=1)
    for t in (np.int64, np.uint16, np.int32):
        np.testing.assert_array_equal(label_counts(b.astype(t)), np.bincount(b.ravel()))
    assert label_counts(np.zeros((0, 4), np.int32), 3).tolist() == [0, 0, 0]
