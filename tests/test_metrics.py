import numpy as np
import pytest
from scipy import ndimage as ndi

from synthscope.evaluation import (
    boundary_f1,
    dice,
    grain_size_distance,
    grains_from_boundaries,
    iou,
    kmeans_segment,
    mean_iou,
    otsu_segment,
    pixel_error,
    score_pair,
    split_at_gaps,
)


def test_pixel_metrics_hand_computed():
    gt = np.array([[0, 0, 1, 1]] * 2, np.uint8)
    pr = np.array([[0, 1, 1, 0]] * 2, np.uint8)
    assert pixel_error(pr, gt) == 0.5
    assert iou(pr, gt, 1) == pytest.approx(1 / 3)  # |{2}| / |{1,2,3}|
    assert iou(pr, gt, 0) == pytest.approx(1 / 3)
    assert mean_iou(pr, gt) == pytest.approx(1 / 3)
    assert dice(pr, gt, 1) == pytest.approx(0.5)
    assert np.isnan(iou(np.zeros((2, 2)), np.zeros((2, 2)), 1))
    with pytest.raises(ValueError, match="shape"):
        iou(np.zeros((2, 2)), np.zeros((3, 2)))


def test_boundary_f1_tolerance_hand_computed():
    gt = np.zeros((40, 40), np.uint8)
    gt[20, 5:35] = 1  # a 30 px line
    near = np.zeros_like(gt)
    near[22, 5:35] = 1  # 2 px off: inside the tolerance
    far = np.zeros_like(gt)
    far[23, 5:35] = 1  # 3 px off: outside
    assert boundary_f1(near, gt, tolerance_px=2).f1 == pytest.approx(1.0)
    assert boundary_f1(far, gt, tolerance_px=2).f1 == 0.0
    half = np.zeros_like(gt)
    half[20, 5:20] = 1  # half the line, exactly on it
    bf = boundary_f1(half, gt, tolerance_px=2)
    assert bf.precision == 1.0
    assert bf.recall == pytest.approx(17 / 30)  # 15 px plus the 2 px reached by the tolerance
    thick = np.zeros_like(gt)
    thick[18:23, 5:35] = 1  # a 5 px wide band on the line: thinning makes it a line again
    assert boundary_f1(thick, gt, tolerance_px=2).f1 > 0.95
    assert boundary_f1(np.zeros_like(gt), np.zeros_like(gt)).f1 == 1.0
    assert boundary_f1(np.zeros_like(gt), gt).f1 == 0.0


def test_boundary_f1_unthinned_counts_every_pixel_of_a_wide_truth():
    gt = np.zeros((40, 40), np.uint8)
    gt[17:24, 5:35] = 1  # a 7 px wide hand-drawn band
    line = np.zeros_like(gt)
    line[20, 5:35] = 1  # a one-pixel prediction on its middle
    bf = boundary_f1(line, gt, tolerance_px=2, thin=False)
    assert bf.precision == 1.0
    assert bf.recall == pytest.approx(5 / 7)  # rows 18-22 lie within 2 px; rows 17 and 23 do not
    assert bf.f1 == pytest.approx(10 / 12)
    assert boundary_f1(line, gt, tolerance_px=2).f1 > 0.95  # thinned: the band is a line again
    s = score_pair(line, gt, grain_stats=False)
    assert s["boundary_f1_unthinned"] == pytest.approx(10 / 12)
    assert s["boundary_recall_unthinned"] == pytest.approx(5 / 7)


def test_grains_from_boundaries_and_distance():
    b = np.zeros((30, 30), bool)
    b[:, 15] = True
    b[10, :15] = True
    g = grains_from_boundaries(b, min_area_px=5)
    assert g.max() == 3 and (g > 0).all()
    assert grains_from_boundaries(b, min_area_px=5, close_gaps=0).max() == 3
    assert grain_size_distance([1, 2, 3], [1, 2, 3]) == 0.0
    assert grain_size_distance([1, 2], [10, 20]) == 1.0


def test_baselines_both_polarities():
    img = np.full((20, 20), 0.8, np.float32)
    img[:, 10:] = 0.2
    assert otsu_segment(img, dark_foreground=True)[:, 10:].all()
    assert not otsu_segment(img, dark_foreground=True)[:, :10].any()
    assert kmeans_segment(img, dark_foreground=False)[:, :10].all()


def test_score_pair_reports_grain_statistics():
    gt = np.zeros((64, 64), np.uint8)
    gt[:, 32] = 1
    s = score_pair(gt, gt)
    assert s["boundary_f1"] == 1.0 and s["grain_count_pred"] == s["grain_count_true"] == 2


def _grid_lines(n=4, cell=40, width=2):
    """An n x n grid of square grains, ``cell`` px apart, lines ``width`` px wide."""
    side = n * cell
    b = np.zeros((side, side), bool)
    for k in range(1, n):
        b[k * cell - width // 2:k * cell - width // 2 + width, :] = True
        b[:, k * cell - width // 2:k * cell - width // 2 + width] = True
    return b


def test_grains_close_gaps_in_lines():
    b = _grid_lines()
    assert grains_from_boundaries(b).max() == 16  # closed lines: nothing to close
    g = b.copy()
    g[79:81, 55:61] = False  # a 6 px gap in a horizontal line (rows 79-80)
    g[119:121, 15:19] = False  # a 4 px gap in another
    g[50:56, 39:41] = False  # and a 6 px one in a vertical line (columns 39-40)
    assert grains_from_boundaries(g, close_gaps=0).max() == 13  # each gap joins two grains
    lab = grains_from_boundaries(g)
    assert lab.max() == 16
    # the grains are the grid's cells: each cell centre in its own grain
    centres = {int(lab[20 + 40 * i, 20 + 40 * j]) for i in range(4) for j in range(4)}
    assert len(centres) == 16


def test_grains_keep_concave_grains_and_wide_openings():
    # a dumbbell: two 30 px rooms joined by an 8 px corridor, all drawn with closed lines
    b = np.ones((60, 100), bool)
    b[15:45, 5:35] = False
    b[15:45, 65:95] = False
    b[26:34, 35:65] = False
    assert split_at_gaps(b).max() == 1  # a waist without line ends is not a gap
    assert grains_from_boundaries(b, min_area_px=5).max() == 1
    # a wall with a door almost as wide as the rooms is an opening, not a gap
    w = _grid_lines(n=2, cell=40)
    w[4:36, 39:41] = False  # the upper half of the vertical line gone but for 4 px at either end
    assert grains_from_boundaries(w).max() == 3  # the two upper rooms are one grain
    with pytest.raises(ValueError, match="neck_ratio"):
        split_at_gaps(b, neck_ratio=1.5)


def test_grains_close_gaps_on_rendered_grains():
    """Gaps cut into the lines of rendered grains: closing restores the true count."""
    from synthscope.structures.grains import generate_grains

    rng = np.random.default_rng(3)
    ratios_open, ratios_closed, closed_lines = [], [], []
    for k in range(4):
        s = generate_grains((256, 256), mean_grain_diameter_px=40, label_width_px=3, waviness=0.2, rng=k)
        b = s.labels == 1
        n_true = grains_from_boundaries(b, close_gaps=0).max()
        closed_lines.append(grains_from_boundaries(b).max() / n_true)
        from skimage.morphology import skeletonize

        sk = np.argwhere(skeletonize(b))
        cut = np.zeros_like(b)
        for y, x in sk[rng.choice(len(sk), len(sk) // 60, replace=False)]:
            cut[y, x] = True
        gapped = b & ~(ndi.distance_transform_edt(~cut) <= 4)
        ratios_open.append(grains_from_boundaries(gapped, close_gaps=0).max() / n_true)
        ratios_closed.append(grains_from_boundaries(gapped).max() / n_true)
    assert np.mean(closed_lines) == pytest.approx(1, abs=0.03)
    assert np.mean(ratios_open) < 0.5
    assert np.mean(ratios_closed) == pytest.approx(1, abs=0.12)


def test_overlay_image_paints_classes_on_the_grey_image():
    from synthscope.evaluation.report import overlay_image

    img = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))
    mask = np.zeros((32, 32), np.uint8)
    mask[10:12, :] = 1
    mask[20:22, :] = 2
    ov = overlay_image(np.stack([img, 1 - img]), mask).astype(int)  # first view is the base
    assert ov.shape == (32, 32, 3)
    grey = ov[mask == 0]
    assert (grey[:, 0] == grey[:, 1]).all() and (grey[:, 1] == grey[:, 2]).all()
    assert np.corrcoef(ov[0, :, 0], img[0])[0, 1] > 0.99  # first view, not the second
    assert (ov[mask == 1, 0] > ov[mask == 1, 2] + 80).all()  # red
    assert (ov[mask == 2, 2] > ov[mask == 2, 0] + 50).all()  # cyan
    with pytest.raises(ValueError, match="shape"):
        overlay_image(img, mask[:16])
