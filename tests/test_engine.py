import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from synthscope.datasets import open_dataset
from synthscope.engine import design_scenarios, generate
from synthscope.recipes import get_recipe

from .conftest import SEED

R = get_recipe("grain_boundaries")


def _files(root: Path) -> dict:
    return {p.relative_to(root).as_posix(): p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_file() and p.name != "manifest.json"}


def test_same_entropy_same_bytes_for_one_and_two_workers(tmp_path):
    a = generate(R, 10, tmp_path / "a", entropy=SEED, size=(64, 64), workers=1)
    b = generate(R, 10, tmp_path / "b", entropy=SEED, size=(64, 64), workers=2, chunk=1)
    assert _files(a) == _files(b)
    info = open_dataset(a)
    assert len(info) == 10 and info.manifest["entropy"] == SEED
    img, mask = info.load(3)
    alone = R.render_index(3, entropy=SEED, shape=(64, 64))
    assert np.array_equal(mask, alone.mask)
    assert np.abs(img - alone.image).max() <= 0.5 / 255 + 1e-6  # 8-bit quantisation only


def test_killed_run_resumes_to_the_same_dataset(tmp_path):
    ref = generate(R, 30, tmp_path / "ref", entropy=SEED, size=(96, 96))
    out = tmp_path / "killed"
    cmd = [sys.executable, "-m", "synthscope.cli.main", "generate", "grain_boundaries", "--n", "30",
           "--out", str(out), "--size", "96", "96", "--entropy", str(SEED)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        log = out / "samples.jsonl"
        if log.exists() and len(log.read_text().splitlines()) >= 5:
            break
        time.sleep(0.02)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = len((out / "samples.jsonl").read_text().splitlines())
    assert n_before < 30, "the run finished before it could be killed"
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    assert _files(out) == _files(ref)
    assert not list(out.rglob(".*.tmp"))


def test_torn_log_line_is_redone(tmp_path):
    out = generate(R, 6, tmp_path / "d", entropy=1, size=(48, 48))
    lines = (out / "samples.jsonl").read_text().splitlines()
    (out / "samples.jsonl").write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])
    generate(R, 6, out, entropy=1, size=(48, 48))
    recs = [json.loads(x) for x in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["index"] for r in recs] == list(range(6))


def test_resume_refuses_other_settings(tmp_path):
    out = generate(R, 4, tmp_path / "d", entropy=1, size=(48, 48))
    with pytest.raises(ValueError, match="another entropy"):
        generate(R, 4, out, entropy=2, size=(48, 48))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("x")
    with pytest.raises(ValueError, match="not a synthscope dataset"):
        generate(R, 4, tmp_path / "other", entropy=1, size=(48, 48))


def test_bad_arguments_leave_nothing(tmp_path):
    with pytest.raises(ValueError, match="size"):
        generate(R, 4, tmp_path / "x", size=(4, 4))
    with pytest.raises(ValueError, match="image_format"):
        generate(R, 4, tmp_path / "x", image_format="gif")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("design", ["sobol", "lhs"])
def test_quasi_random_designs_are_reproducible(design):
    a = design_scenarios(R.space, 16, entropy=3, design=design)
    b = design_scenarios(R.space, 16, entropy=3, design=design)
    assert a == b and a != design_scenarios(R.space, 16, entropy=4, design=design)
