import numpy as np
import pytest

torch = pytest.importorskip("torch")

from synthscope.learning import (  # noqa: E402
    Stage,
    TrainConfig,
    create_model,
    decide_classes,
    load_model,
    predict,
    predict_mask,
    train,
)
from synthscope.learning.data import RecipeDataset  # noqa: E402
from synthscope.recipes import get_recipe  # noqa: E402


def test_create_model_registry():
    m = create_model("unet", width=8)
    y = m(torch.zeros(1, 1, 64, 64))
    assert y.shape == (1, 2, 64, 64)
    with pytest.raises(ValueError, match="unknown arch 'vit'; allowed: unet"):
        create_model("vit")


def test_stream_item_i_is_sample_i():
    r = get_recipe("grain_boundaries")
    ds = RecipeDataset(r, entropy=3, size=64, augment=False)
    x, y = ds[5]
    s = r.render_index(5, entropy=3, shape=(64, 64))
    assert np.array_equal(y[0].numpy(), s.mask)
    x2, _ = RecipeDataset(r, entropy=3, size=64)[5]
    x3, _ = RecipeDataset(r, entropy=3, size=64)[5]
    assert torch.equal(x2, x3)


def test_train_checkpoint_resume_and_predict_any_size(tmp_path):
    r = get_recipe("grain_boundaries")
    cfg = TrainConfig(model_kwargs={"width": 8}, classes=r.classes, stages=(Stage(64, 2, 0.5), Stage(96, 2, 0.5)),
                      max_minutes=None, max_steps=4, loader_workers=0, log_every=1)
    s1 = train(tmp_path / "run", cfg, recipe=r)
    assert s1["steps"] == 4 and (tmp_path / "run" / "model.pt").exists()
    assert np.isfinite(s1["final_loss"])
    native_bf16 = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert s1["precision"] == ("bfloat16" if native_bf16 else "float32")
    cfg2 = TrainConfig(**{**cfg.__dict__, "max_steps": 6})
    s2 = train(tmp_path / "run", cfg2, recipe=r)  # resumes at step 4
    assert s2["steps"] == 6
    model = load_model(tmp_path / "run")
    p = predict(model, np.random.default_rng(0).random((70, 150)).astype(np.float32), roi_size=64)
    assert p.shape == (2, 70, 150)
    np.testing.assert_allclose(p.sum(0), 1.0, atol=1e-4)
    assert model.synthscope_meta["class_weights"] == list(cfg.class_weights)
    img = np.random.default_rng(1).random((64, 64)).astype(np.float32)
    w = cfg.class_weights
    np.testing.assert_array_equal(predict_mask(model, img, roi_size=64),
                                  (predict(model, img, roi_size=64)[1] * w[0] > predict(model, img, roi_size=64)[0] * w[1]))


def test_decide_classes_undoes_class_weights():
    # hand-computed: with weights (1, 2) class 1 needs p1 > 2/3
    p1 = np.array([[0.5, 0.6, 0.66, 0.67, 0.9]], np.float32)
    probs = np.stack([1 - p1, p1])
    np.testing.assert_array_equal(decide_classes(probs), [[0, 1, 1, 1, 1]])
    np.testing.assert_array_equal(decide_classes(probs, (1.0, 2.0)), [[0, 0, 0, 1, 1]])
    three = np.array([0.2, 0.35, 0.45], np.float32)[:, None, None]
    assert decide_classes(three)[0, 0] == 2 and decide_classes(three, (1, 1, 2))[0, 0] == 1
    with pytest.raises(ValueError, match="class_weights must be 2 positive numbers"):
        decide_classes(probs, (1.0, 0.0))


def test_decision_weights_follow_the_recipe_unless_chosen():
    from types import SimpleNamespace

    from synthscope.learning.infer import decision_weights

    def model(recipe):
        return SimpleNamespace(synthscope_meta={"recipe": recipe, "class_weights": [1.0, 2.0, 2.0]})

    # coating cross-sections decide raw (the layer, a region scored by IoU), the others calibrated
    assert decision_weights(model("coating_cross_section")) is None
    assert decision_weights(model("grain_boundaries")) == [1.0, 2.0, 2.0]
    assert decision_weights(model(None)) == [1.0, 2.0, 2.0]  # runs of unknown recipes
    assert decision_weights(model("not_a_recipe")) == [1.0, 2.0, 2.0]
    assert decision_weights(model("coating_cross_section"), "calibrated") == [1.0, 2.0, 2.0]
    assert decision_weights(model("grain_boundaries"), "raw") is None
    with pytest.raises(ValueError, match="decision must be one of auto, calibrated, raw, got 'max'"):
        decision_weights(model(None), "max")
    # one pixel, layer (weight 2) at 0.5 against background 0.4: raw takes the layer,
    # calibrated the background (0.5 / 2 < 0.4)
    probs = np.array([0.4, 0.5, 0.1], np.float32)[:, None, None]
    assert decide_classes(probs, decision_weights(model("coating_cross_section")))[0, 0] == 1
    assert decide_classes(probs, decision_weights(model("grain_boundaries")))[0, 0] == 0


def test_mixed_precision_choice():
    from synthscope.learning.train import _mixed_precision

    cpu = torch.device("cpu")
    assert _mixed_precision(cpu, False) is None
    native = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert _mixed_precision(cpu, True) == (torch.bfloat16 if native else None)


def test_train_config_validation():
    with pytest.raises(ValueError, match="shares"):
        TrainConfig(stages=(Stage(64, 2, 0.5),))
    with pytest.raises(ValueError, match="max_minutes or max_steps"):
        TrainConfig(max_minutes=None, max_steps=None)


def test_train_from_a_generated_folder(tmp_path):
    from synthscope.engine import generate

    r = get_recipe("grain_boundaries")
    data = generate(r, 3, tmp_path / "data", entropy=2, size=(48, 80))  # smaller than the patch: padded
    cfg = TrainConfig(model_kwargs={"width": 8}, classes=r.classes, stages=(Stage(64, 2, 1.0),),
                      max_minutes=None, max_steps=2, loader_workers=0)
    s = train(tmp_path / "run", cfg, data=data)
    assert s["steps"] == 2 and s["samples_seen"] == 4
    with pytest.raises(ValueError, match="give one of a recipe"):
        train(tmp_path / "run2", cfg, recipe=r, data=data)


def test_predict_at_a_scale_returns_the_image_shape_and_matches_a_pointwise_model():
    from synthscope.learning.infer import predict

    # a pointwise model (1x1 convolution): resampling the image, predicting and resampling
    # back must agree with predicting at full size wherever the image is smooth
    model = torch.nn.Conv2d(1, 2, 1)
    with torch.no_grad():
        model.weight[:] = torch.tensor([1.0, -1.0]).view(2, 1, 1, 1)
        model.bias.zero_()
    yy, xx = np.mgrid[:150, :200]
    img = (np.sin(xx / 15.0) + np.cos(yy / 20.0)).astype(np.float32)
    full = predict(model, img, roi_size=64, tta=False)
    for s in (0.5, 0.37, 1.6):
        p = predict(model, img, roi_size=64, tta=False, scale=s)
        assert p.shape == full.shape == (2, 150, 200)
        assert np.allclose(p.sum(0), 1, atol=1e-5)
        inner = (slice(10, -10), slice(10, -10))
        assert np.abs(p[1][inner] - full[1][inner]).mean() < 0.02
    # a network with a fixed window sees structures shrink with the scale: a 15 px box
    # filter fully covers a 20 px bar at full size, a third of it at scale 0.25
    box = torch.nn.Conv2d(1, 2, 15, padding=7, bias=False)
    with torch.no_grad():
        box.weight[:] = torch.stack([torch.ones(1, 15, 15), -torch.ones(1, 15, 15)]) / 225
    bar = np.zeros((160, 160), np.float32)
    bar[:, 70:90] = 1.0
    # (normalised, the bar stands 2 units above the background: class 0 wins at its centre)
    a = predict(box, bar, roi_size=64, tta=False)[0, 80, 80]
    b = predict(box, bar, roi_size=64, tta=False, scale=0.25)[0, 80, 80]
    assert a > b + 0.1, (a, b)
    with pytest.raises(ValueError, match="scale must be in"):
        predict(model, img, scale=0.0)


def test_predict_at_several_scales_averages_the_single_scale_probabilities():
    from synthscope.learning.infer import predict

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 5, padding=2), torch.nn.Tanh(), torch.nn.Conv2d(3, 3, 3, padding=1))
    img = np.random.default_rng(0).random((90, 130)).astype(np.float32)
    singles = [predict(model, img, roi_size=64, tta=False, scale=s) for s in (1.0, 0.7, 0.5)]
    multi = predict(model, img, roi_size=64, tta=False, scale=(1.0, 0.7, 0.5))
    assert multi.shape == (3, 90, 130)
    assert np.allclose(multi, np.mean(singles, 0), atol=1e-6)
    assert np.allclose(multi.sum(0), 1, atol=1e-5)
    # the scales differ for this network, so the average is not any one of them
    assert min(np.abs(multi - s).max() for s in singles) > 1e-3
    assert np.allclose(predict(model, img, roi_size=64, tta=False, scale=[0.7]), singles[1])
    with pytest.raises(ValueError, match="at least one"):
        predict(model, img, scale=())
    with pytest.raises(ValueError, match="scale must be in"):
        predict(model, img, scale=(1.0, 9.0))


def test_pyramid_scales_halve_until_the_image_fits_one_window():
    from synthscope.learning.infer import predict, pyramid_scales

    assert pyramid_scales((1024, 1024), 256) == (1.0, 0.5, 0.25)
    assert pyramid_scales((1024, 700), 256) == (1.0, 0.5, 0.25)  # shorter side 700 -> 350 -> 175
    assert pyramid_scales((300, 2000), 256) == (1.0, 0.5)
    assert pyramid_scales((256, 256), 256) == (1.0,)
    assert pyramid_scales((100000, 100000), 256)[-1] >= 0.05  # never below predict's range
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 5, padding=2), torch.nn.Tanh(), torch.nn.Conv2d(3, 3, 3, padding=1))
    img = np.random.default_rng(1).random((140, 150)).astype(np.float32)
    assert np.allclose(predict(model, img, roi_size=64, tta=False, scale="pyramid"),
                       predict(model, img, roi_size=64, tta=False, scale=(1.0, 0.5, 0.25)), atol=1e-6)
    small = img[:60, :60]  # fits one window: the pyramid is the image alone
    assert np.allclose(predict(model, small, roi_size=64, tta=False, scale="pyramid"),
                       predict(model, small, roi_size=64, tta=False), atol=1e-6)
    with pytest.raises(ValueError, match="'pyramid'"):
        predict(model, img, scale="pyramids")


def test_fuse_probabilities_keeps_the_strongest_foreground_evidence():
    from synthscope.learning.infer import fuse_probabilities, predict

    # two classes: the greater boundary probability of the two views, hand-computed
    a = np.array([[[0.9, 0.2]], [[0.1, 0.8]]], np.float32)  # (C=2, H=1, W=2)
    b = np.array([[[0.3, 0.6]], [[0.7, 0.4]]], np.float32)
    np.testing.assert_allclose(fuse_probabilities([a, b]), [[[0.3, 0.2]], [[0.7, 0.8]]], atol=1e-7)
    # three classes: foreground maxima (0.5, 0.4) and background minimum 0.1, renormalised by 1.0
    a3 = np.array([0.1, 0.5, 0.4], np.float32)[:, None, None]
    b3 = np.array([0.6, 0.1, 0.3], np.float32)[:, None, None]
    np.testing.assert_allclose(fuse_probabilities([a3, b3])[:, 0, 0], [0.1, 0.5, 0.4], atol=1e-7)
    c3 = np.array([0.2, 0.2, 0.6], np.float32)[:, None, None]  # maxima 0.5, 0.6 and minimum 0.1: sum 1.2
    np.testing.assert_allclose(fuse_probabilities([a3, c3])[:, 0, 0], np.array([0.1, 0.5, 0.6]) / 1.2, atol=1e-6)
    assert np.allclose(fuse_probabilities([a]), a)
    with pytest.raises(ValueError, match="at least one view"):
        fuse_probabilities([])
    # predict on a (K, H, W) stack is the fusion of the views' predictions
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 5, padding=2), torch.nn.Tanh(), torch.nn.Conv2d(2, 2, 3, padding=1))
    views = np.random.default_rng(2).random((2, 70, 90)).astype(np.float32)
    kw = dict(roi_size=64, tta=False)
    want = fuse_probabilities([predict(model, v, **kw) for v in views])
    assert np.allclose(predict(model, views, **kw), want, atol=1e-6)
    assert not np.allclose(want, predict(model, views[0], **kw), atol=1e-3)  # the second view counts
    with pytest.raises(ValueError, match="views"):
        predict(model, views[None])


def test_recipes_name_their_inference_scale():
    from synthscope.recipes import get_recipe
    from synthscope.recipes.base import Recipe

    assert get_recipe("coating_cross_section").inference_scale == "pyramid"
    assert get_recipe("grain_boundaries").inference_scale == "1"
    assert get_recipe("grain_boundaries").grey == "fuse" and get_recipe("precipitates").grey == "luminance"
    r = get_recipe("grain_boundaries")
    with pytest.raises(ValueError, match="inference_scale"):
        Recipe(name="x", space=r.space, structure=r.structure, imaging=r.imaging, inference_scale="0.01")
    with pytest.raises(ValueError, match="inference_scale"):
        Recipe(name="x", space=r.space, structure=r.structure, imaging=r.imaging, inference_scale="big")
    with pytest.raises(ValueError, match="grey must be one of luminance, pca, fuse"):
        Recipe(name="x", space=r.space, structure=r.structure, imaging=r.imaging, grey="hue")
    with pytest.raises(ValueError, match="model_depth must be in 2..8, got 9"):
        Recipe(name="x", space=r.space, structure=r.structure, imaging=r.imaging, model_depth=9)
    with pytest.raises(ValueError, match="class_decision must be one of calibrated, raw, got 'max'"):
        Recipe(name="x", space=r.space, structure=r.structure, imaging=r.imaging, class_decision="max")
