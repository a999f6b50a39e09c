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
    one_line_error(run("generate", "grain_boundary", "--out", out), "grain_boundary", "allowed: grain_boundaries")
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
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".rep")]


def test_evaluate_and_segment_write_outputs(tmp_path, tiny_run):
    real = _real_folder(tmp_path / "real")
    res = run("evaluate", tiny_run, "--real", real, "--out", tmp_path / "rep", "--roi", "64")
    assert res.returncode == 0, res.stderr
    rep = json.loads((tmp_path / "rep" / "report.json").read_text())
    ds = rep["datasets"][0]
    assert set(ds["baselines"]) == {"otsu_dark", "otsu_bright", "kmeans_dark", "kmeans_bright"}
    assert 0 <= ds["model"]["boundary_f1"] <= 1
    assert (tmp_path / "rep" / "report.md").exists() and list((tmp_path / "rep").glob("*.png"))
    res = run("segment", tiny_run, real / "images", "--out", tmp_path / "seg", "--roi", "64")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "seg" / "0.png").exists() and (tmp_path / "seg" / "grains.csv").exists()
    summ = json.loads((tmp_path / "seg" / "summary.json").read_text())
    assert len(summ["images"]) == 2 and "astm_grain_size_number" in summ["images"][0]
    with Image.open(tmp_path / "seg" / "0.png") as im:
        mask = np.array(im)
    assert mask.shape == (64, 64) and mask.max() <= 1


def test_preview_writes_a_sheet(tmp_path):
    real = _real_folder(tmp_path / "real")
    res = run("preview", "grain_boundaries", "--out", tmp_path / "sheet.png", "--real", real, "--n", "3",
              "--size", "64", "64")
    assert res.returncode == 0, res.stderr
    with Image.open(tmp_path / "sheet.png") as im:
        assert im.width > 3 * 64 and im.height > 4 * 64


def test_recipes_lists_parameters():
    res = run("recipes", "grain_boundaries")
    assert res.returncode == 0 and "mean_grain_diameter_px" in res.stdout
