"""Instance splitting and instance metrics against hand-built cases."""

import numpy as np
import pytest

from synthscope.evaluation.instances import instance_scores, instances_from_mask, match_instances


def _disc(shape, cy, cx, r):
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    return (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r


def test_touching_discs_come_apart():
    m = _disc((80, 120), 40, 35, 20) | _disc((80, 120), 40, 72, 20)  # overlap by 3 px
    lab = instances_from_mask(m)
    assert lab.max() == 2
    for cx in (35, 72):
        d = _disc((80, 120), 40, cx, 20)
        ids, counts = np.unique(lab[d], return_counts=True)
        assert counts.max() / d.sum() > 0.85  # one instance covers most of each disc
    assert np.all((lab > 0) == m)


def test_separate_objects_and_empty_mask():
    m = np.zeros((50, 50), bool)
    assert instances_from_mask(m).max() == 0
    m[5:10, 5:10] = True
    m[30:40, 30:45] = True
    m[0, 49] = True  # one pixel: below min_area_px, dropped
    lab = instances_from_mask(m, min_area_px=4)
    assert lab.max() == 2 and lab[0, 49] == 0


def test_scores_hand_computed():
    truth = np.zeros((40, 40), np.int32)
    truth[0:10, 0:10] = 1
    truth[20:30, 20:30] = 2
    pred = np.zeros_like(truth)
    pred[0:10, 0:10] = 1          # exact: IoU 1
    pred[20:30, 26:36] = 2        # overlap 10x4 = 40 of union 160: IoU 0.25
    pred[35:38, 0:3] = 3          # nothing there
    iou = match_instances(pred, truth)
    assert iou.shape == (2, 3)
    assert iou[0, 0] == 1.0 and iou[1, 1] == pytest.approx(0.25) and iou[1, 2] == 0.0
    s = instance_scores(pred, truth, threshold=0.5)
    assert (s.tp, s.fp, s.fn) == (1, 2, 1)
    assert s.ap == pytest.approx(1 / 4) and s.precision == pytest.approx(1 / 3) and s.recall == pytest.approx(0.5)
    assert s.count_error == pytest.approx(0.5)
    s = instance_scores(pred, truth, threshold=0.2)
    assert (s.tp, s.fp, s.fn) == (2, 1, 0)
    assert instance_scores(truth, truth).ap == 1.0 and instance_scores(truth, truth).size_distance == 0.0


def test_shape_mismatch_is_an_error():
    with pytest.raises(ValueError, match="differ in shape"):
        match_instances(np.zeros((3, 3), int), np.zeros((4, 3), int))
