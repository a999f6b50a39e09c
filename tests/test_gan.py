"""GAN pretraining (restoration pretext tasks), sim-to-real refinement, the domain
distance, and their commands."""

import json

import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage as ndi

from synthscope.evaluation.domain import domain_auc, encoder_features, kid, roc_auc
from synthscope.learning.gan import (
    GANConfig,
    degrade,
    is_decoder_key,
    load_generator,
    pretrain,
    psnr,
    restore_image,
    transfer_weights,
)
from synthscope.learning.models import create_model, normalize_image
from synthscope.learning.refine import (
    RefineConfig,
    diversity_ratio,
    load_refiner,
    refine_dataset,
    refine_image,
    train_refiner,
)
from tests.test_cli import one_line_error, run


def labelled_folder(root, images, *, thresholds):
    """A folder of images/ and masks/ (classes: the images' levels cut at ``thresholds``)."""
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    for i, s in enumerate(images):
        Image.fromarray((s * 255).astype(np.uint8)).save(root / "images" / f"{i}.png")
        Image.fromarray(np.digitize(s, thresholds).astype(np.uint8)).save(root / "masks" / f"{i}.png")
    return root


def smooth_images(n, size=96, seed=0):
    """Smooth random images in [0, 1] (blobs): easy to tell from their noisy copies."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        im = ndi.gaussian_filter(rng.random((size, size)), 4)
        im = (im - im.min()) / (im.max() - im.min())
        out.append(im.astype(np.float32))
    return out


# ----------------------------------------------------------------------------- metrics

def test_psnr_and_auc_hand_computed():
    a = np.zeros((4, 4))
    b = np.full((4, 4), 25.5)  # MSE 650.25 -> 10 log10(255^2 / 650.25) = 20 dB
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-9)
    assert psnr(b, b) == float("inf")
    # pairs (neg < pos): (0.1, 0.35) (0.1, 0.8) (0.4, 0.8) of 4 -> 0.75
    assert roc_auc([0.1, 0.4], [0.35, 0.8]) == pytest.approx(0.75)
    assert roc_auc([0.5], [0.5]) == pytest.approx(0.5)  # a tie counts half
    with pytest.raises(ValueError):
        roc_auc([], [1.0])


def test_diversity_ratio():
    x = torch.randn(6, 1, 8, 8)
    assert diversity_ratio(x, x) == pytest.approx(1.0)
    assert diversity_ratio(x, 2 * x) == pytest.approx(2.0, rel=1e-5)
    collapsed = torch.zeros_like(x) + torch.randn(1, 1, 8, 8)  # every input -> one output
    assert diversity_ratio(x, collapsed) == pytest.approx(0.0, abs=1e-6)


def test_kid_hand_computed_and_unbiased():
    # d = 1, kernel (xy + 1)^3: k(0,0) = 1, k(1,1) = 8, k(0,1) = 1 -> MMD^2 = 1 + 8 - 2 = 7
    assert kid(np.zeros((2, 1)), np.ones((2, 1)), subsets=1, subset_size=2)["kid"] == pytest.approx(7.0)
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 8)), rng.normal(size=(400, 8))
    same, shifted = kid(a, b), kid(a, b + 0.5)
    assert abs(same["kid"]) < 3 * same["kid_std"] / np.sqrt(same["subsets"]) + 0.02
    assert shifted["kid"] > 10 * abs(same["kid"]) and shifted["kid"] > 0.5
    with pytest.raises(ValueError):
        kid(a, rng.normal(size=(10, 3)))


def test_encoder_features_of_a_unet():
    g = create_model("unet", out_channels=1, width=8, depth=3)
    f = encoder_features(g, np.random.default_rng(0).normal(size=(5, 32, 32)).astype(np.float32), batch=2)
    assert f.shape[0] == 5 and f.shape[1] >= 8 + 16 and np.isfinite(f).all()


def test_domain_auc_separates_and_does_not_invent_differences():
    smooth = smooth_images(8, seed=1)
    rng = np.random.default_rng(2)
    noisy = [np.clip(s + rng.normal(0, 0.2, s.shape), 0, 1).astype(np.float32) for s in smooth_images(8, seed=3)]
    far = domain_auc(smooth, noisy, tile=32, tiles=96, steps=40, repeats=1)
    same = domain_auc(smooth_images(8, seed=4), smooth_images(8, seed=5), tile=32, tiles=96, steps=40, repeats=1)
    assert far["auc"] > 0.95, far
    assert abs(same["auc"] - 0.5) < 0.2, same
    with pytest.raises(ValueError, match="2 images"):
        domain_auc(smooth[:1], noisy)


# ----------------------------------------------------------------------------- pretext tasks

def test_degrade_tasks():
    clean = normalize_image(smooth_images(1, 64)[0])
    for task in ("noise", "blur", "downsample", "mask"):
        out = degrade(clean, np.random.default_rng(0), (task,))
        assert out.shape == clean.shape and out.dtype == np.float32
        assert np.abs(out - clean).mean() > 1e-4, task
    # masking zeroes rectangles; blur lowers the gradient energy
    m = degrade(clean, np.random.default_rng(1), ("mask",))
    assert (m == 0).sum() > 16
    b = degrade(clean + np.random.default_rng(2).normal(0, 0.3, clean.shape).astype(np.float32),
                np.random.default_rng(1), ("blur",))
    assert np.abs(np.diff(b, axis=0)).mean() < np.abs(np.diff(clean, axis=0)).mean() + 0.3
    a = degrade(clean, np.random.default_rng(7))
    np.testing.assert_array_equal(a, degrade(clean, np.random.default_rng(7)))  # reproducible from its stream
    with pytest.raises(ValueError, match="pretext tasks"):
        degrade(clean, np.random.default_rng(0), ("sharpen",))


def test_pretrain_learns_to_denoise_and_initialises_a_segmenter(tmp_path):
    imgs = [normalize_image(s).astype(np.float16) for s in smooth_images(6, 96, seed=11)]
    cfg = GANConfig(model_kwargs={"width": 8, "depth": 3}, size=48, batch=8, max_minutes=None, max_steps=150,
                    lr=2e-3, tasks=("noise",), loader_workers=0, amp=False, device="cpu", log_every=10)
    summary = pretrain(tmp_path / "pt", cfg, images=imgs)
    assert summary["steps"] == 150
    assert (tmp_path / "pt" / "generator.pt").is_file()
    recs = [json.loads(x) for x in (tmp_path / "pt" / "metrics.jsonl").read_text().splitlines()]
    assert recs[-1]["l1_restored"] < 0.7 * recs[-1]["l1_degraded"], recs[-1]
    # denoising a held-out image: PSNR rises over the noisy input
    gen = load_generator(tmp_path / "pt")
    clean = smooth_images(1, 96, seed=99)[0] * 255
    noisy = np.clip(clean + np.random.default_rng(0).normal(0, 25, clean.shape), 0, 255)
    restored = np.clip(restore_image(gen, noisy / 255, roi_size=48), 0, 1) * 255
    assert psnr(restored, clean) > psnr(noisy, clean) + 2.0
    assert restore_image(gen, noisy[:40, :50] / 255, scale=2, roi_size=48).shape == (80, 100)
    # the generator initialises a 2-class segmenter: every tensor but the output layer
    seg = create_model("unet", out_channels=2, width=8, depth=3)
    copied, total = transfer_weights(seg, torch.load(tmp_path / "pt" / "generator.pt", weights_only=False)["generator"])
    assert total - 4 <= copied < total
    name = next(k for k, v in seg.state_dict().items() if v.ndim == 4)
    np.testing.assert_array_equal(seg.state_dict()[name].numpy(), gen.state_dict()[name].numpy())
    # encoder only: the decoder keeps its random weights
    fresh = create_model("unet", out_channels=2, width=8, depth=3)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    enc, _ = transfer_weights(fresh, gen.state_dict(), part="encoder")
    assert 0 < enc < copied
    for k, v in fresh.state_dict().items():
        if is_decoder_key(k):
            assert torch.equal(v, before[k]), k
        elif k in gen.state_dict() and gen.state_dict()[k].shape == v.shape:
            assert torch.equal(v, gen.state_dict()[k]), k


def test_train_init_from_pretraining_checks_the_architecture(tmp_path):
    from synthscope.learning.train import Stage, TrainConfig, train

    cfg = GANConfig(model_kwargs={"width": 8}, size=32, batch=2, max_minutes=None, max_steps=2, loader_workers=0,
                    amp=False, device="cpu")
    imgs = [normalize_image(s) for s in smooth_images(2, 64)]
    pretrain(tmp_path / "pt", cfg, images=imgs)
    masks = [(s > 0.5).astype(np.uint8) for s in smooth_images(2, 64)]
    tc = TrainConfig(model_kwargs={"width": 8}, stages=(Stage(32, 2, 1.0),), max_minutes=None, max_steps=2,
                     loader_workers=0, amp=False, device="cpu")
    train(tmp_path / "run", tc, pairs=(smooth_images(2, 64), masks), init=tmp_path / "pt")
    assert (tmp_path / "run" / "model.pt").is_file()
    bad = TrainConfig(model_kwargs={"width": 16}, stages=(Stage(32, 2, 1.0),), max_minutes=None, max_steps=1,
                      loader_workers=0, amp=False, device="cpu")
    with pytest.raises(ValueError, match="does not match"):
        train(tmp_path / "run2", bad, pairs=(smooth_images(2, 64), masks), init=tmp_path / "pt")
    # fine-tuning the generator itself (e.g. for one task) starts from the pretrained weights
    pretrain(tmp_path / "ft", GANConfig(**{**cfg.to_json(), "tasks": ("noise",)}), images=imgs, init=tmp_path / "pt")
    with pytest.raises(ValueError, match="does not match"):
        pretrain(tmp_path / "ft2", GANConfig(**{**cfg.to_json(), "model_kwargs": {"width": 4}}), images=imgs,
                 init=tmp_path / "pt")
    with pytest.raises(ValueError, match="differ in size"):
        train(tmp_path / "run3", tc, pairs=(smooth_images(1, 64), [masks[0][:32]]))


# ----------------------------------------------------------------------------- refinement

@pytest.fixture(scope="module")
def tiny_dataset(tmp_path_factory):
    root = tmp_path_factory.mktemp("gan")
    res = run("generate", "cell_membranes", "--n", "4", "--size", "64", "64", "--out", root / "syn", "--workers", "1")
    assert res.returncode == 0, res.stderr
    real = root / "real" / "images"
    real.mkdir(parents=True)
    rng = np.random.default_rng(0)
    for i, s in enumerate(smooth_images(3, 80, seed=20)):
        noisy = np.clip(0.3 + 0.4 * s + rng.normal(0, 0.1, s.shape), 0, 1)
        Image.fromarray((noisy * 255).astype(np.uint8)).save(real / f"r{i}.png")
    return root


def test_refiner_learns_the_real_look_and_keeps_structure(tmp_path):
    """Synthetic: clean smooth images; real: the same kind, noisy and darker. The refiner
    must add noise-like texture and move the brightness toward the real images, while
    the low-pass content (the structure the masks describe) stays."""
    syn = smooth_images(6, 80, seed=30)
    rng = np.random.default_rng(1)
    real = [np.clip(0.2 + 0.4 * s + rng.normal(0, 0.08, s.shape), 0, 1).astype(np.float32) for s in smooth_images(6, 80, seed=31)]
    cfg = RefineConfig(width=8, depth=3, size=48, batch=4, max_minutes=None, max_steps=120, lr=1e-3, device="cpu",
                       log_every=20)
    summary = train_refiner(tmp_path / "ref", cfg, synthetic=syn, real=real)
    assert summary["steps"] == 120 and 0.3 < summary["diversity_ratio"] < 3.0
    g = load_refiner(tmp_path / "ref")
    test = smooth_images(1, 80, seed=32)[0]
    out = refine_image(g, test)
    assert out.shape == test.shape and 0 <= out.min() and out.max() <= 1
    assert abs(out.mean() - np.mean([r.mean() for r in real])) < abs(test.mean() - np.mean([r.mean() for r in real]))
    hp = lambda a: np.abs(a - ndi.gaussian_filter(a, 2)).mean()  # noqa: E731
    assert hp(out) > 1.5 * hp(test)
    lo_in, lo_out = ndi.gaussian_filter(test, 4), ndi.gaussian_filter(out, 4)
    assert np.corrcoef(lo_in.ravel(), lo_out.ravel())[0, 1] > 0.9


def test_refine_dataset_keeps_masks(tiny_dataset, tmp_path):
    from synthscope.datasets.io import open_dataset

    syn = open_dataset(tiny_dataset / "syn")
    cfg = RefineConfig(width=8, depth=3, size=32, batch=2, max_minutes=None, max_steps=2, device="cpu")
    train_refiner(tmp_path / "ref", cfg, synthetic=[syn.load(0)[0]], real=[syn.load(1)[0]])
    refine_dataset(tmp_path / "ref", tiny_dataset / "syn", tmp_path / "out")
    out = open_dataset(tmp_path / "out")
    assert len(out) == len(syn) and out.manifest["refined"]["from"] == str(tiny_dataset / "syn")
    for k in range(len(syn)):
        assert out.mask_path(k).read_bytes() == syn.mask_path(k).read_bytes()
        assert out.load(k)[0].shape == syn.load(k)[0].shape


def test_refine_and_pretrain_commands(tiny_dataset, tmp_path):
    root = tiny_dataset
    res = run("refine", "--real", root / "real", "--data", root / "syn", "--out", tmp_path / "ref",
              "--max-steps", "2", "--size", "32", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    for f in ("manifest.json", "sheet.png", "refiner/refiner.pt", "masks", "images"):
        assert (tmp_path / "ref" / f).exists(), f
    res = run("domain-distance", "--real", root / "real", "--data", root / "syn", "--data", tmp_path / "ref",
              "--samples", "4", "--out", tmp_path / "dist.json")
    assert res.returncode == 0, res.stderr
    dist = json.loads((tmp_path / "dist.json").read_text())
    assert len(dist) == 2 and all(0.0 <= d["domain_auc"]["auc"] <= 1.0 for d in dist)
    # streaming with the refiner on the fly
    res = run("train", "--recipe", "cell_membranes", "--refiner", tmp_path / "ref" / "refiner", "--out", tmp_path / "run",
              "--max-steps", "2", "--stages", "64:2:1.0", "--loader-workers", "0", "--width", "8", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    res = run("pretrain", "--unlabeled", root / "real", "--synthetic", "cell_membranes", "--out", tmp_path / "pt",
              "--max-steps", "2", "--size", "32", "--batch", "2", "--width", "8", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    res = run("restore", tmp_path / "pt", root / "real", "--out", tmp_path / "rest", "--scale", "2")
    assert res.returncode == 0, res.stderr
    with Image.open(tmp_path / "rest" / "r0.png") as im:
        assert im.size == (160, 160)
    res = run("train", "--real", root / "real", "--out", tmp_path / "x", "--max-steps", "1")
    one_line_error(res, "real", "masks")
    lab = labelled_folder(tmp_path / "lab", smooth_images(2, 64, seed=40), thresholds=[0.5])
    res = run("train", "--real", lab, "--labelled", "1", "--init", tmp_path / "pt", "--out", tmp_path / "ft",
              "--max-steps", "2", "--stages", "32:2:1.0", "--width", "8", "--loader-workers", "0", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "ft" / "config.json").read_text())["init"] == str(tmp_path / "pt")
    one_line_error(run("train", "--real", lab, "--labelled", "3", "--out", tmp_path / "y"), "--labelled", "1..2")


def test_train_pools_several_real_folders(tiny_dataset, tmp_path):
    """``--real`` repeated pools the folders; a class found in any of them widens the
    network's classes, and a folder without masks is named in a one-line error."""
    root = tiny_dataset
    lab = labelled_folder(tmp_path / "lab", smooth_images(2, 64, seed=40), thresholds=[0.5])
    lab2 = labelled_folder(tmp_path / "lab2", smooth_images(1, 48, seed=41), thresholds=[0.4, 0.6])
    res = run("train", "--real", lab, "--real", lab2, "--out", tmp_path / "pool", "--max-steps", "1",
              "--stages", "32:2:1.0", "--width", "8", "--loader-workers", "0", "--device", "cpu")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "pool" / "config.json").read_text())["train"]["classes"] == ["class0", "class1", "class2"]
    one_line_error(run("train", "--real", lab, "--real", root / "real", "--out", tmp_path / "z"), "real", "masks")


def test_gan_commands_bad_input(tiny_dataset, tmp_path):
    root = tiny_dataset
    out = tmp_path / "o"
    one_line_error(run("pretrain", "--unlabeled", root / "real", "--out", out, "--tasks", "noise,sharpen"),
                   "--tasks", "noise, blur, downsample, mask")
    one_line_error(run("pretrain", "--unlabeled", tmp_path / "nope", "--out", out), "nope", "not found")
    one_line_error(run("pretrain", "--unlabeled", root / "real", "--out", out, "--synthetic", "grain"), "grain")
    one_line_error(run("pretrain", "--unlabeled", root / "real", "--out", out, "--hold-out", "3"), "hold-out")
    one_line_error(run("refine", "--real", root / "real", "--data", root / "real", "--out", out), "manifest.json")
    one_line_error(run("refine", "--real", root / "real", "--data", root / "syn", "--out", out,
                       "--refiner", tmp_path), "refiner.pt")
    one_line_error(run("restore", tmp_path, root / "real", "--out", out), "generator.pt")
    one_line_error(run("train", "--recipe", "cell_membranes", "--data", root / "syn", "--out", out), "one of")
    assert not out.exists()


def test_loading_from_a_folder_without_the_file_names_it(tmp_path):
    from synthscope.learning.gan import load_generator
    from synthscope.learning.refine import load_refiner

    with pytest.raises(ValueError, match="no generator.pt"):
        load_generator(tmp_path)
    with pytest.raises(ValueError, match=r"no refiner.pt \(train one with"):
        load_refiner(tmp_path / "missing.pt")
