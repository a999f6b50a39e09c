"""The command line: bad input gives one line naming the file or key, exit code 2 and no
partial output; the main commands run end to end on tiny settings."""

import json
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image


def run(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "synthscope.cli.main", *map(str, args)],
                          capture_output=True, text=True, cwd=cwd)


def one_line_error(res, *needles):
    assert res.returncode == 2, res.stderr
    lines = [x for x in res.stderr.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    for n in needles:
        assert n in lines[0], (n, lines[0])


def test_generate_bad_input(tmp_path):
    out = tmp_path / "d"
    bad = tmp_path / "bad.yaml"
    bad.write_text("parameters: {waviness: [1, 2\n")
    one_line_error(run("generate", "grain_boundaries", "--out", out, "--scenario", bad), "bad.yaml", "malformed YAML")
    one_line_error(run("generate", "grain_boundaries", "--out", out, "--set", "wavines=0.1"),
                   "wavines", "did you mean 'waviness'")
    one_line_error(run("generate", "grain_boundaries", "--out", out, "--set", "waviness=2"),
                   "waviness", "[0.0, 1.0]")
    one_line_error(run("generate", "grain_boundaries", "--out", out, "--set", "waviness=nan"), "waviness", "finite")
    unk = tmp_path / "unk.yaml"
    unk.write_text("parameters: {grain_size: 3}\n")
    one_line_error(run("generate", "grain_boundaries", "--out", out, "--scenario", unk), "unk.yaml", "grain_size")
    one_line_error(run("generate", "grain_boundary", "--out", out), "grain_boundary", "did you mean 'grain_boundaries'",
                   "allowed: cell_membranes, coating_cross_section, fibsem_porous, grain_boundaries, precipitates, surface_cracks")
    one_line_error(run("generate", "grain_boundaries", "--out", out, "--n", "0"), "--n")
    assert not out.exists()


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    res = run("train", "--recipe", "grain_boundaries", "--out", root / "run", "--max-steps", "3",
              "--max-minutes", "5", "--stages", "64:2:1.0", "--loader-workers", "0", "--width", "8")
    assert res.returncode == 0, res.stderr
    return root / "run"


def _real_folder(root, n=2, size=(64, 64), mask_size=None):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray((rng.random(size) * 255).astype(np.uint8)).save(root / "images" / f"{i}.png")
        m = np.zeros(mask_size or size, np.uint8)
        m[:, 10] = 1
        Image.fromarray(m).save(root / "masks" / f"{i}.png")
    return root


def test_evaluate_and_segment_bad_input(tmp_path, tiny_run):
    empty = tmp_path / "empty"
    (empty / "images").mkdir(parents=True)
    out = tmp_path / "rep"
    one_line_error(run("evaluate", tiny_run, "--real", empty, "--out", out), "empty", "no images")
    wrong = _real_folder(tmp_path / "wrong", mask_size=(32, 64))
    one_line_error(run("evaluate", tiny_run, "--real", wrong, "--out", out), "0.png", "mask is 64x32")
    broken = _real_folder(tmp_path / "broken")
    (broken / "images" / "1.png").write_bytes(b"not a png")
    one_line_error(run("evaluate", tiny_run, "--real", broken, "--out", out), "1.png", "cannot read image")
    one_line_error(run("segment", tiny_run, broken / "images", "--out", out), "1.png", "cannot read image")
    one_line_error(run("segment", tiny_run, tmp_path / "nothing.png", "--out", out), "nothing.png")
    one_line_error(run("evaluate", tmp_path, "--real", _real_folder(tmp_path / "ok"), "--out", out),
                   "not a training run folder")
    one_line_error(run("segment", tiny_run, broken / "images", "--out", out, "--scale", "0"), "--scale", "[0.05, 4]")
    one_line_error(run("segment", tiny_run, broken / "images", "--out", out, "--decision", "max"), "--decision",
                   "auto, calibrated, raw")
    one_line_error(run("segment", tiny_run, broken / "images", "--out", out, "--scale", "1,x"), "--scale", "'1,x'")
    one_line_error(run("evaluate", tiny_run, "--real", _real_folder(tmp_path / "ok2"), "--out", out, "--scale", "1,nan"),
                   "--scale", "[0.05, 4]")
    one_line_error(run("segment", tiny_run, broken / "images", "--out", out, "--grey", "hue"), "--grey",
                   "auto, luminance, pca, fuse", "'hue'")
    for bad in ("1.5", "nan"):
        one_line_error(run("segment", tiny_run, broken / "images", "--out", out, "--close-gaps", bad), "--close-gaps",
                       "[0, 1]")
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rep")]


def test_evaluate_reports_the_real_only_baseline(tmp_path, tiny_run):
    real = _real_folder(tmp_path / "real", n=3)
    out = tmp_path / "rep"
    res = run("evaluate", tiny_run, "--real", real, "--out", out, "--roi", "64",
              "--real-only-minutes", "0.05", "--finetune-minutes", "0.05", "--cv-folds", "2")
    assert res.returncode == 0, res.stderr
    ds = json.loads((out / "report.json").read_text())["datasets"][0]
    assert set(ds["references"]) == {"real_only_cv", "finetuned_cv"}
    for ro in ds["references"].values():
        assert 0 <= ro["boundary_f1"] <= 1 and 0 <= ro["mean_iou"] <= 1
    assert ds["best_baseline"] in ds["baselines"] and "real_only_cv" not in ds["baselines"]
    md = (out / "report.md").read_text()
    assert "| real_only_cv |" in md and "| finetuned_cv |" in md and "real_only_cv_boundary_f1" in md
    lr = json.loads((tiny_run / "config.json").read_text())["train"]["lr"]
    assert f"alone, 0.05 min per fold at learning rate {lr:g} (the run's: {lr:g}), 2-fold cross-validation" in md
    assert f"fine-tuned on the real images, 0.05 min per fold at learning rate {lr / 10:g} (the run's" in md
    assert all(0 <= p["real_only_cv_boundary_f1"] <= 1 for p in ds["per_image"])
    meta = json.loads((out / "report.json").read_text())["meta"]
    for name in ("real_only_cv", "finetuned_cv"):
        assert len(meta[f"{name}_steps"]["real"]) == 2 and all(s > 0 for s in meta[f"{name}_steps"]["real"])
    said = " ".join(res.stderr.split())
    assert "real only (cross-validated) boundary f1" in said and "fine-tuned (cross-validated) boundary f1" in said
    # bad input: one line naming the option or folder, nothing written
    bad = tmp_path / "bad"
    one_line_error(run("evaluate", tiny_run, "--real", real, "--out", bad, "--real-only-minutes", "-1"),
                   "--real-only-minutes", ">= 0")
    one_line_error(run("evaluate", tiny_run, "--real", real, "--out", bad, "--real-only-minutes", "nan"),
                   "--real-only-minutes")
    one_line_error(run("evaluate", tiny_run, "--real", real, "--out", bad, "--finetune-minutes", "-2"),
                   "--finetune-minutes", ">= 0")
    one_line_error(run("evaluate", tiny_run, "--real", real, "--out", bad, "--real-only-minutes", "1",
                       "--cv-folds", "1"), "--cv-folds", "at least 2")
    single = _real_folder(tmp_path / "single", n=1)
    one_line_error(run("evaluate", tiny_run, "--real", single, "--out", bad, "--real-only-minutes", "1"),
                   "single", "at least 2 labelled images")
    for factor in ("0", "-1", "inf"):
        one_line_error(run("evaluate", tiny_run, "--real", real, "--out", bad, "--finetune-minutes", "1",
                           "--finetune-lr-factor", factor), "--finetune-lr-factor", "> 0")
    assert not bad.exists()
    # fine-tuning at the run's full rate, when asked
    res = run("evaluate", tiny_run, "--real", real, "--out", tmp_path / "full", "--roi", "64",
              "--finetune-minutes", "0.05", "--cv-folds", "2", "--finetune-lr-factor", "1")
    assert res.returncode == 0, res.stderr
    md = (tmp_path / "full" / "report.md").read_text()
    assert f"fine-tuned on the real images, 0.05 min per fold at learning rate {lr:g} (the run's" in md


def test_evaluate_and_segment_write_outputs(tmp_path, tiny_run):
    real = _real_folder(tmp_path / "real")
    res = run("evaluate", tiny_run, "--real", real, "--out", tmp_path / "rep", "--roi", "64")
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    ds = rep["datasets"][0]
    assert set(ds["baselines"]) == {"otsu_dark", "otsu_bright", "kmeans_dark", "kmeans_bright"}
    assert 0 <= ds["model"]["boundary_f1"] <= 1
    assert 0 <= ds["model"]["boundary_f1_unthinned"] <= 1
    assert "boundary_f1_unthinned" in (tmp_path / "rep" / "report.md").read_text()
    assert (tmp_path / "rep" / "report.md").exists() and list((tmp_path / "rep").glob("*.png"))
    res = run("segment", tiny_run, real / "images", "--out", tmp_path / "seg", "--roi", "64")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "seg" / "0.png").exists() and (tmp_path / "seg" / "grains.csv").exists()
    summ = json.loads((tmp_path / "seg" / "summary.json").read_text())
    assert len(summ["images"]) == 2 and "astm_grain_size_number" in summ["images"][0]
    assert summ["close_gaps"] == 0.7
    with Image.open(tmp_path / "seg" / "0.png") as im:
        mask = np.array(im)
    assert mask.shape == (64, 64) and mask.max() <= 1
    # the grain map holds the grains of grains.csv, id for id and area for area (boundary
    # pixels given to the nearest grain); the overlay paints the boundaries red on grey
    entry = summ["images"][0]
    with Image.open(tmp_path / "seg" / entry["instances"]) as im:
        grains = np.array(im)
    assert grains.shape == (64, 64) and (grains > 0).all()
    rows = [r.split(",") for r in (tmp_path / "seg" / "grains.csv").read_text().splitlines()[1:]]
    areas = {int(r[1]): int(r[2]) for r in rows if r[0] == "0.png"}
    assert len(areas) == entry["grain_count"] == grains.max()
    assert areas == {i: int(a) for i, a in enumerate(np.bincount(grains.ravel())) if i > 0}
    with Image.open(tmp_path / "seg" / entry["overlay"]) as im:
        ov = np.array(im).astype(int)
    assert ov.shape == (64, 64, 3) and (mask == 1).any() and (mask == 0).any()
    assert (ov[mask == 1, 0] > ov[mask == 1, 1] + 50).all()
    assert (ov[mask == 0, 0] == ov[mask == 0, 1]).all() and (ov[mask == 0, 1] == ov[mask == 0, 2]).all()
    res = run("segment", tiny_run, real / "images", "--out", tmp_path / "plain", "--roi", "64", "--no-overlays")
    assert res.returncode == 0, res.stderr
    assert not (tmp_path / "plain" / "overlays").exists()
    assert "overlay" not in json.loads((tmp_path / "plain" / "summary.json").read_text())["images"][0]
    # grain models divide by their training weights by default; --decision raw does not,
    # so its boundary (weight 2) is drawn wherever the default draws it, and maybe more
    assert rep["meta"]["class_weights_divided"] == [1.0, 2.0] and summ["class_weights_divided"] == [1.0, 2.0]
    res = run("segment", tiny_run, real / "images", "--out", tmp_path / "raw", "--roi", "64", "--decision", "raw")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "raw" / "summary.json").read_text())["class_weights_divided"] is None
    with Image.open(tmp_path / "raw" / "0.png") as im:
        assert (np.array(im) >= mask).all()
    # at another scale the masks keep the images' shape
    res = run("segment", tiny_run, real / "images", "--out", tmp_path / "seg2", "--roi", "64", "--scale", "0.5")
    assert res.returncode == 0, res.stderr
    with Image.open(tmp_path / "seg2" / "0.png") as im:
        assert np.array(im).shape == (64, 64)
    # several scales (predictions averaged)
    res = run("segment", tiny_run, real / "images", "--out", tmp_path / "seg3", "--roi", "64", "--scale", "1,0.5")
    assert res.returncode == 0, res.stderr
    with Image.open(tmp_path / "seg3" / "0.png") as im:
        assert np.array(im).shape == (64, 64)
    # the default, auto: the run's recipe's choice (1 for grain_boundaries); pyramid by name
    assert json.loads((tmp_path / "seg" / "summary.json").read_text())["scale"] == 1.0
    res = run("segment", tiny_run, real / "images", "--out", tmp_path / "seg4", "--roi", "32", "--scale", "pyramid")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "seg4" / "summary.json").read_text())["scale"] == "pyramid"
    with Image.open(tmp_path / "seg4" / "0.png") as im:
        assert np.array(im).shape == (64, 64)


def test_colour_images_are_fused_by_default_for_grain_models(tmp_path, tiny_run):
    # tint-like colour images: the grain recipe's auto grey is 'fuse', the report and the
    # summary say so, and the masks keep the images' (H, W)
    real = tmp_path / "tint"
    (real / "images").mkdir(parents=True)
    (real / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(2):
        Image.fromarray((rng.random((48, 56, 3)) * 255).astype(np.uint8)).save(real / "images" / f"{i}.png")
        Image.fromarray(np.zeros((48, 56), np.uint8)).save(real / "masks" / f"{i}.png")
    res = run("evaluate", tiny_run, "--real", real, "--out", tmp_path / "rep", "--roi", "32")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["meta"]["grey"] == "fuse"
    res = run("segment", tiny_run, real / "images", "--out", tmp_path / "seg", "--roi", "32")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "seg" / "summary.json").read_text())["grey"] == "fuse"
    with Image.open(tmp_path / "seg" / "0.png") as im:
        assert np.array(im).shape == (48, 56)
    res = run("segment", tiny_run, real / "images", "--out", tmp_path / "seg2", "--roi", "32", "--grey", "luminance")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "seg2" / "summary.json").read_text())["grey"] == "luminance"


def test_grey_auto_resolves_to_the_recipes_choice(tmp_path, tiny_run):
    from synthscope.cli.main import _resolve_grey

    assert _resolve_grey("auto", tiny_run) == "fuse"
    assert _resolve_grey("pca", tiny_run) == "pca"  # an explicit choice wins
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"recipe": None}))
    assert _resolve_grey("auto", other) == "luminance"  # runs of unknown recipes


def test_preview_writes_a_sheet(tmp_path):
    real = _real_folder(tmp_path / "real")
    res = run("preview", "grain_boundaries", "--out", tmp_path / "sheet.png", "--real", real, "--n", "3",
              "--size", "64", "64")
    assert res.returncode == 0, res.stderr
    with Image.open(tmp_path / "sheet.png") as im:
        assert im.width > 3 * 64 and im.height > 4 * 64
    # the real images' pixel noise against the renders'
    assert "pixel noise (std / signal span): real" in " ".join((res.stdout + res.stderr).split()), res.stderr


def test_recipes_lists_parameters():
    res = run("recipes", "grain_boundaries")
    assert res.returncode == 0 and "mean_grain_diameter_px" in res.stdout


def _crack_folder(root, n=2):
    """Images with dark bent cracks (mask value 2, as in a set whose class 1 is a layer)."""
    from synthscope.structures.cracks import CrackModel, generate_cracks

    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    model = CrackModel(segments_mean=6, segment_length_px=20, width_px=3)
    for i in range(n):
        spec = generate_cracks((128, 160), n_cracks=2, model=model, rng=rng)
        img = 0.6 + 0.05 * rng.standard_normal((128, 160)) - 0.4 * spec.maps["crack"]
        Image.fromarray((np.clip(img, 0, 1) * 255).astype(np.uint8)).save(root / "images" / f"{i}.png")
        m = (spec.labels * 2).astype(np.uint8)
        m[:10] = np.where(m[:10] == 0, 1, m[:10])
        Image.fromarray(m).save(root / "masks" / f"{i}.png")
    return root


def test_fit_cracks_writes_a_scenario_that_generate_accepts(tmp_path):
    import yaml

    real = _crack_folder(tmp_path / "real")
    out = tmp_path / "fit" / "cracks.yaml"
    one_line_error(run("fit", "cracks", "--real", real, "--out", out, "--crack-class", "3"), "no mask pixel has value 3")
    one_line_error(run("fit", "cracks", "--real", real, "--out", tmp_path / "c.txt", "--crack-class", "2"), ".yaml")
    one_line_error(run("fit", "cracks", "--real", real, "--out", out, "--crack-class", "2", "--include", "x*"),
                   "--include")
    assert not out.exists()
    res = run("fit", "cracks", "--real", real, "--out", out, "--crack-class", "2")
    assert res.returncode == 0, res.stderr
    doc = yaml.safe_load(out.read_text())
    assert doc["recipe"] == "surface_cracks"
    assert 2.0 < doc["parameters"]["width_px"] < 4.5 and doc["parameters"]["bend_angle_deg"] > 5
    assert doc["parameters"]["crack_contrast"].startswith("truncnormal(")
    res = run("generate", "surface_cracks", "--out", tmp_path / "d", "--n", "2", "--scenario", out,
              "--textures", real)
    assert res.returncode == 0, res.stderr
    lines = (tmp_path / "d" / "samples.jsonl").read_text().splitlines()
    rec = json.loads(lines[0])
    assert rec["scenario"]["texture"] == "exemplar" and rec["label"] in (0, 1)
    assert rec["scenario"]["width_px"] == doc["parameters"]["width_px"]
    one_line_error(run("generate", "grain_boundaries", "--out", tmp_path / "g", "--textures", real),
                   "--textures applies to recipe surface_cracks")


def test_experiment_bad_config(tmp_path):
    cfg = tmp_path / "exp.yaml"
    cfg.write_text("real: somewhere\nrunz: 3\n")
    one_line_error(run("experiment", cfg, "--out", tmp_path / "o"), "exp.yaml", "unknown key 'runz'")
    cfg.write_text(f"real: {tmp_path}\nruns: 1\n")
    one_line_error(run("experiment", cfg, "--out", tmp_path / "o"), "exp.yaml", "runs must be in [2, 10000]")
    cfg.write_text("real: /no/such/folder\n")
    one_line_error(run("experiment", cfg, "--out", tmp_path / "o"), "not found")
    assert not (tmp_path / "o").exists()


def test_evaluate_class_map(tmp_path, tiny_run):
    real = _crack_folder(tmp_path / "real")
    one_line_error(run("evaluate", tiny_run, "--real", real, "--out", tmp_path / "r", "--class-map", "1-0"),
                   "--class-map")
    res = run("evaluate", tiny_run, "--real", real, "--out", tmp_path / "r", "--class-map", "1:0,2:1", "--roi", "64")
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "r" / "report.json").read_text())
    assert set(rep["datasets"][0]["model"]["iou"]) <= {"0", "1", 0, 1}


def test_adapt_runs_resumes_and_refuses_other_settings(tmp_path, tiny_run):
    one_line_error(run("adapt", tmp_path / "none", "--out", tmp_path / "a"), "not a training run folder")
    one_line_error(run("adapt", tiny_run, "--out", tmp_path / "a", "--strategy", "best"), "--strategy", "worst")
    args = ["adapt", tiny_run, "--out", tmp_path / "a", "--budget", "4", "--validation", "10", "--steps", "1",
            "--size", "64", "--batch", "2"]
    res = run(*args)
    assert res.returncode == 0, res.stderr
    assert "validation IoU" in res.stdout + res.stderr and (tmp_path / "a" / "model.pt").exists()
    assert len((tmp_path / "a" / "round-1" / "proposals.jsonl").read_text().splitlines()) == 4
    assert run(*args).returncode == 0  # finished: read back, nothing redone
    one_line_error(run(*args[:-2], "--batch", "3"), "other settings", "batch")


def test_adaptive_experiment_end_to_end(tmp_path, tiny_run):
    real = _real_folder(tmp_path / "real")
    cfg = tmp_path / "adaptive.yaml"
    cfg.write_text(f"protocol: adaptive\nbase: {tiny_run}\nstrategies: [random, worst]\nruns: 2\nbudget: 4\n"
                   f"validation: 10\nsize: 64\nsteps: 1\nbatch: 2\nworkers: 1\nreal: [{real}]\n")
    res = run("experiment", cfg, "--out", tmp_path / "o")
    assert res.returncode == 0, res.stderr
    results = json.loads((tmp_path / "o" / "results.json").read_text())
    assert sorted(results["per_run"]) == ["random-001", "random-002", "worst-001", "worst-002"]
    assert set(results["tests"]["validation_iou"]) == {"worst_vs_random"}
    assert "real_f1:real" in results["metrics"]
    assert "Paired two-tailed t-tests" in (tmp_path / "o" / "report.md").read_text()


def test_adaptive_experiment_bad_config(tmp_path, tiny_run):
    cfg = tmp_path / "a.yaml"
    cfg.write_text(f"protocol: adaptive\nbase: {tiny_run}\nbudjet: 3\n")
    one_line_error(run("experiment", cfg, "--out", tmp_path / "o"), "a.yaml", "unknown key 'budjet'")
    cfg.write_text(f"protocol: adaptive\nbase: {tiny_run}\nstrategies: [worst]\n")
    one_line_error(run("experiment", cfg, "--out", tmp_path / "o"), "a.yaml", "must include 'random'")
    cfg.write_text("protocol: adaptive\nbase: /no/such/run\n")
    one_line_error(run("experiment", cfg, "--out", tmp_path / "o"), "a.yaml", "not found")
    cfg.write_text("protocol: adaptiv\n")
    one_line_error(run("experiment", cfg, "--out", tmp_path / "o"), "protocol must be one of cracks, adaptive")
    assert not (tmp_path / "o").exists()


def test_particle_model_evaluates_and_segments_instances(tmp_path):
    res = run("train", "--recipe", "precipitates", "--out", tmp_path / "run", "--max-steps", "2", "--max-minutes", "5",
              "--stages", "64:2:1.0", "--loader-workers", "0", "--width", "8")
    assert res.returncode == 0, res.stderr
    real = _real_folder(tmp_path / "real")
    res = run("evaluate", tmp_path / "run", "--real", real, "--out", tmp_path / "rep", "--roi", "64")
    assert res.returncode == 0, res.stderr
    d = json.loads((tmp_path / "rep" / "report.json").read_text())["datasets"][0]
    assert "instance_ap50" in d["model"] and "boundary_f1" not in d["model"]
    res = run("segment", tmp_path / "run", real / "images", "--out", tmp_path / "seg", "--roi", "64")
    assert res.returncode == 0, res.stderr
    header = (tmp_path / "seg" / "particles.csv").read_text().splitlines()[0]
    assert header.startswith("image,particle_id,class,area_px")
    summary = json.loads((tmp_path / "seg" / "summary.json").read_text())
    assert len(summary["images"]) == 2 and "precipitate" in summary["images"][0]
    entry = summary["images"][0]
    with Image.open(tmp_path / "seg" / entry["instances"]) as im:
        inst = np.array(im)
    assert inst.shape == (64, 64) and inst.max() == entry["precipitate"]["count"]
    assert (tmp_path / "seg" / entry["overlay"]).is_file()


def test_instance_maps_past_16_bits_are_written_as_32_bit_tiff(tmp_path):
    import tifffile

    from synthscope.cli.main import _write_instances

    small = np.arange(12, dtype=np.int32).reshape(3, 4)
    assert _write_instances(tmp_path, "a", small) == "a_instances.png"
    with Image.open(tmp_path / "a_instances.png") as im:
        assert np.array_equal(np.array(im), small)
    big = small + 70_000
    assert _write_instances(tmp_path, "b", big) == "b_instances.tif"
    back = tifffile.imread(tmp_path / "b_instances.tif")
    assert back.dtype == np.uint32 and np.array_equal(back, big)


def test_train_depth_option(tmp_path):
    one_line_error(run("train", "--recipe", "grain_boundaries", "--out", tmp_path / "r", "--depth", "1"),
                   "--depth", "2..8")
    assert not (tmp_path / "r").exists()
    res = run("train", "--recipe", "grain_boundaries", "--out", tmp_path / "r6", "--max-steps", "1", "--depth", "6",
              "--stages", "64:2:1.0", "--width", "4")
    assert res.returncode == 0, res.stderr
    from synthscope.learning import load_model

    model = load_model(tmp_path / "r6")
    # six levels: channels 4, 8, ..., 4 * 2**5
    convs = [m for m in model.modules() if isinstance(m, __import__("torch").nn.Conv2d)]
    assert max(m.out_channels for m in convs) == 128


def test_train_takes_the_recipes_depth_unless_given(tmp_path):
    import torch

    from synthscope.learning import load_model
    from synthscope.recipes import get_recipe

    assert get_recipe("coating_cross_section").model_depth == 6 and get_recipe("grain_boundaries").model_depth == 5
    widest = {}
    for name, extra in (("coat", ()), ("coat4", ("--depth", "4")), ("gb", ())):
        recipe = "grain_boundaries" if name == "gb" else "coating_cross_section"
        res = run("train", "--recipe", recipe, "--out", tmp_path / name, "--max-steps", "1", "--stages", "64:2:1.0",
                  "--width", "4", *extra)
        assert res.returncode == 0, res.stderr
        convs = [m for m in load_model(tmp_path / name).modules() if isinstance(m, torch.nn.Conv2d)]
        widest[name] = max(m.out_channels for m in convs)
    # width 4: depth d has channels 4 .. 4 * 2**(d - 1)
    assert widest == {"coat": 128, "coat4": 32, "gb": 64}


def test_scale_auto_resolves_to_the_recipes_choice():
    from synthscope.cli.main import _resolve_scale

    assert _resolve_scale("auto", "coating_cross_section") == "pyramid"
    assert _resolve_scale("auto", "grain_boundaries") == 1.0
    assert _resolve_scale("auto", None) == 1.0 and _resolve_scale("auto", "no_such_recipe") == 1.0
    assert _resolve_scale((1.0, 0.5), "coating_cross_section") == (1.0, 0.5)  # an explicit choice wins
