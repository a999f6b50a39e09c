"""The real-only baseline: networks trained on the labelled real images alone, k-fold
cross-validated, so that no image is scored by a network that saw it."""

import dataclasses

import numpy as np
import pytest

from synthscope.evaluation.metrics import boundary_f1
from synthscope.evaluation.real_only import fold_indices, fold_pairs, train_real_only
from synthscope.learning import Stage, TrainConfig, predict_mask


def test_fold_indices_by_hand():
    assert fold_indices(2, 5) == [0, 1]                     # leave-one-out up to `folds` images
    assert fold_indices(5, 5) == [0, 1, 2, 3, 4]
    assert fold_indices(7, 3) == [0, 1, 2, 0, 1, 2, 0]
    assert fold_indices(12, 5).count(0) == 3 and max(fold_indices(12, 5)) == 4
    with pytest.raises(ValueError, match="at least 2 labelled images"):
        fold_indices(1, 5)
    with pytest.raises(ValueError, match="folds must be at least 2"):
        fold_indices(4, 1)


def test_fold_pairs_leave_the_fold_out_and_expand_colour_views():
    imgs = [np.full((4, 4), i, np.float32) for i in range(3)]
    imgs[2] = np.stack([np.full((4, 4), 20.0), np.full((4, 4), 21.0)])  # two colour views
    masks = [np.full((4, 4), 10 + i, np.uint8) for i in range(3)]
    xs, ys = fold_pairs(imgs, masks, [0, 1, 0], 0)
    assert [float(x[0, 0]) for x in xs] == [1.0]
    assert [int(y[0, 0]) for y in ys] == [11]
    xs, ys = fold_pairs(imgs, masks, [0, 1, 0], 1)
    assert [float(x[0, 0]) for x in xs] == [0.0, 20.0, 21.0]   # each view a training image
    assert [int(y[0, 0]) for y in ys] == [10, 12, 12]          # with its image's mask
    assert all(x.ndim == 2 for x in xs)


def _lines(seed, size=96):
    """A grey image with dark 2 px lines, and its boundary mask."""
    r = np.random.default_rng(seed)
    img = 0.6 + 0.05 * r.standard_normal((size, size))
    mask = np.zeros((size, size), np.uint8)
    for _ in range(3):
        c = int(r.integers(8, size - 8))
        if r.random() < 0.5:
            img[:, c - 1:c + 1] -= 0.4
            mask[:, c - 1:c + 1] = 1
        else:
            img[c - 1:c + 1, :] -= 0.4
            mask[c - 1:c + 1, :] = 1
    return img.astype(np.float32), mask


def test_fold_networks_learn_lines_they_never_saw():
    pairs = [_lines(s) for s in range(4)]
    cfg = TrainConfig(model_kwargs={"width": 8}, stages=(Stage(64, 4, 1.0),), loader_workers=0)
    seen = []
    fold_of, nets = train_real_only([p[0] for p in pairs], [p[1] for p in pairs], cfg, minutes=5, folds=2,
                                    max_steps=40, progress=lambda f, k, rec: seen.append((f, k, rec["step"])))
    assert fold_of == [0, 1, 0, 1] and len(nets) == 2
    assert {(f, k) for f, k, _ in seen} == {(0, 2), (1, 2)}
    for i, (img, mask) in enumerate(pairs):
        pred = predict_mask(nets[fold_of[i]], img, roi_size=64)
        assert boundary_f1(pred, mask).f1 > 0.9, i


def test_train_real_only_rejects_bad_input():
    img, mask = _lines(0)
    cfg = TrainConfig(model_kwargs={"width": 8}, stages=(Stage(64, 4, 1.0),), loader_workers=0)
    with pytest.raises(ValueError, match="minutes per fold must be > 0"):
        train_real_only([img, img], [mask, mask], cfg, minutes=0)
    with pytest.raises(ValueError, match="masks hold class 3"):
        train_real_only([img, img], [mask, mask * 3], cfg, minutes=1)


def test_fine_tuning_starts_from_the_given_run(tmp_path):
    """One step from a network that already finds the lines keeps finding them; one step
    from random weights does not: ``init`` is where the folds start."""
    from synthscope.learning import train

    pairs = [_lines(s) for s in range(4)]
    imgs, masks = [p[0] for p in pairs], [p[1] for p in pairs]
    cfg = TrainConfig(model_kwargs={"width": 8}, stages=(Stage(64, 4, 1.0),), loader_workers=0)
    train(tmp_path / "base", dataclasses.replace(cfg, max_steps=40), pairs=(imgs[2:], masks[2:]))
    scores = {}
    for init in (tmp_path / "base", None):
        fold_of, nets = train_real_only(imgs[:2], masks[:2], cfg, minutes=5, folds=2, max_steps=1, init=init)
        scores[init is None] = min(boundary_f1(predict_mask(nets[fold_of[i]], imgs[i], roi_size=64), masks[i]).f1
                                   for i in range(2))
    assert scores[False] > 0.9 and scores[True] < 0.5, scores


def test_fine_tuning_learning_rate(tmp_path):
    """The folds train at the run's rate from scratch and a tenth of it when fine-tuning,
    unless ``lr`` says otherwise: the rate is what the fold runs record."""
    pairs = [_lines(s) for s in range(2)]
    imgs, masks = [p[0] for p in pairs], [p[1] for p in pairs]
    cfg = TrainConfig(model_kwargs={"width": 8}, stages=(Stage(64, 4, 1.0),), loader_workers=0, lr=3e-3)
    from synthscope.learning import train

    train(tmp_path / "base", dataclasses.replace(cfg, max_steps=1), pairs=(imgs, masks))
    for init, lr, want in ((None, None, 3e-3), (tmp_path / "base", None, 3e-4), (tmp_path / "base", 1e-3, 1e-3)):
        _, nets = train_real_only(imgs, masks, cfg, minutes=5, folds=2, max_steps=1, init=init, lr=lr)
        assert [n.synthscope_meta["train_config"]["lr"] for n in nets] == pytest.approx([want, want]), (init, lr)
    for bad in (0.0, -1e-3, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="lr must be a finite number > 0"):
            train_real_only(imgs, masks, cfg, minutes=5, lr=bad)
