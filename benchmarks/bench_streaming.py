"""Does on-the-fly generation keep up with training? Trains for a few minutes streaming
grain_boundaries samples and prints the share of loop time spent waiting for data,
with the training throughput from disk-free random tensors (the anchor: no data cost).

    python benchmarks/bench_streaming.py [--minutes 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time

import torch

from synthscope.learning import Stage, TrainConfig, create_model, train
from synthscope.recipes import get_recipe


def anchor_steps_per_s(size: int, batch: int, seconds: float = 20.0) -> float:
    model = create_model("unet", width=16)
    opt = torch.optim.AdamW(model.parameters(), 1e-3)
    x = torch.randn(batch, 1, size, size)
    y = torch.randint(0, 2, (batch, 1, size, size))
    from monai.losses import DiceCELoss

    loss_fn = DiceCELoss(to_onehot_y=True, softmax=True)
    t0, n = time.perf_counter(), 0
    while time.perf_counter() - t0 < seconds:
        loss = loss_fn(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        n += 1
    return n / (time.perf_counter() - t0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--minutes", type=float, default=2.0)
    a = ap.parse_args()
    r = get_recipe("grain_boundaries")
    cfg = TrainConfig(classes=r.classes, stages=(Stage(128, 16, 0.5), Stage(256, 8, 0.5)), max_minutes=a.minutes)
    with tempfile.TemporaryDirectory() as d:
        s = train(d, cfg, recipe=r)
    print(f"streamed training, {a.minutes:g} min: {s['steps']} steps, {s['samples_per_s']:.1f} samples/s, "
          f"data wait {100 * s['data_wait_fraction']:.1f} % of loop time (target <= 10 %)")
    torch.set_num_threads(1)
    anchor = anchor_steps_per_s(256, 8)
    steps_per_s = s["steps"] / s["elapsed_s"]
    print(f"anchor: same network on random tensors at 256 px, 1 thread: {anchor:.2f} steps/s; "
          f"streamed run averaged {steps_per_s:.2f} steps/s over both stages")


if __name__ == "__main__":
    main()
