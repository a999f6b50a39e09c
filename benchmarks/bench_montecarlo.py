"""Speed of the Monte Carlo electron transport.

1. Electrons per second per core at 20 keV in Si and Au (numba kernel on one thread),
   against the anchor timed in the same run: the straightforward numpy version of the
   same physics (all live electrons stepped as arrays), also one core.
2. The kernel on all cores (numba threads) for the same electrons.
3. A 256 x 256 BSE image at 100 electrons per pixel of a voxel specimen (Au particles
   in a carbon matrix, 5 nm voxels) at 5 and 20 keV, on all cores.
4. Fast mode (`image_fast`): a 512 x 512 image of a porous specimen (Au particles and
   open pores in carbon) from kernels precomputed once, and its error against the full
   Monte Carlo of the same specimen (a 128 x 128 crop, 200 electrons per pixel).

    python benchmarks/bench_montecarlo.py [--electrons 4000] [--image-size 256] [--skip-20kev-image]
"""

from __future__ import annotations

import argparse
import os
import time

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numba  # noqa: E402
import numpy as np  # noqa: E402

from synthscope.imaging._mc_reference import simulate_bulk_numpy  # noqa: E402
from synthscope.imaging.fast_signal import image_fast, signal_kernel  # noqa: E402
from synthscope.imaging.montecarlo import image_montecarlo, simulate_bulk  # noqa: E402


def specimen(n: int, rng) -> np.ndarray:
    """Au spheres (radius 4-12 voxels, some cut by the surface) in a C matrix, 60 voxels deep."""
    vol = np.ones((60, n, n), np.uint8)
    zz, yy, xx = np.ogrid[:60, :n, :n]
    for _ in range(n * n // 600):
        r = rng.uniform(4, 12)
        cz, cy, cx = rng.uniform(-4, 30), rng.uniform(0, n), rng.uniform(0, n)
        vol[(zz - cz) ** 2 + (yy - cy) ** 2 + (xx - cx) ** 2 < r * r] = 2
    return vol


def porous(n: int, rng) -> np.ndarray:
    """specimen() plus open pores (boxes 4-24 voxels wide, 5-25 deep) cut from the top."""
    vol = specimen(n, rng)
    for _ in range(n * n // 900):
        y, x = rng.integers(0, n, 2)
        h, w, d = rng.integers(4, 24, 2).tolist() + [int(rng.integers(5, 25))]
        vol[:d, y:y + h, x:x + w] = 0
    return vol


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--electrons", type=int, default=4000)
    ap.add_argument("--image-size", type=int, default=256)
    ap.add_argument("--skip-20kev-image", action="store_true")
    args = ap.parse_args()
    cores = numba.config.NUMBA_NUM_THREADS
    n = args.electrons
    print(f"numba threads available: {cores}")
    simulate_bulk("Si", energy_kev=20, n_electrons=10, rng=0)  # compile / load
    print(f"\n1. bulk, 20 keV, {n} electrons: electrons per second per core")
    print("   material  numpy (anchor)  kernel 1 core   ratio   kernel all cores")
    for el in ("Si", "Au"):
        t0 = time.perf_counter()
        simulate_bulk_numpy(el, energy_kev=20, n_electrons=n, rng=1)
        ref = n / (time.perf_counter() - t0)
        numba.set_num_threads(1)
        one = simulate_bulk(el, energy_kev=20, n_electrons=n, rng=1).electrons_per_second
        numba.set_num_threads(cores)
        many = simulate_bulk(el, energy_kev=20, n_electrons=n, rng=1).electrons_per_second
        print(f"   {el:8}  {ref:14.0f}  {one:13.0f}  {one / ref:6.1f}x  {many:16.0f}")

    s = args.image_size
    vol = specimen(s, np.random.default_rng(0))
    image_montecarlo(vol[:, :4, :4], ["C", "Au"], voxel_nm=5, energy_kev=5, electrons_per_pixel=1, rng=0)
    print(f"\n2. {s}x{s} BSE image, 100 electrons per pixel, C matrix with Au spheres, 5 nm voxels, {cores} cores")
    for e in (5.0, 20.0):
        if e == 20.0 and args.skip_20kev_image:
            continue
        img = image_montecarlo(vol, ["C", "Au"], voxel_nm=5, energy_kev=e, electrons_per_pixel=100, rng=0)
        rate = s * s * 100 / img.seconds
        print(f"   {e:4.0f} keV: {img.seconds:7.1f} s  ({rate:,.0f} electrons/s; "
              f"BSE yield C {img.bse[vol[0] == 1].mean():.3f}, Au {img.bse[vol[0] == 2].mean():.3f})")

    print("\n3. fast mode, C matrix with Au spheres and open pores, 5 nm voxels")
    for e in (3.0, 10.0):
        t0 = time.perf_counter()
        kern = [signal_kernel(m, energy_kev=e, voxel_nm=5) for m in ("C", "Au")]
        tk = time.perf_counter() - t0
        big = porous(512, np.random.default_rng(1))
        image_fast(big[:, :32, :32], ["C", "Au"], voxel_nm=5, energy_kev=e, kernels=kern)  # compile
        fast = image_fast(big, ["C", "Au"], voxel_nm=5, energy_kev=e, kernels=kern)
        crop = big[:, :128, :128]
        full = image_montecarlo(crop, ["C", "Au"], voxel_nm=5, energy_kev=e, electrons_per_pixel=200, rng=0)
        f = image_fast(crop, ["C", "Au"], voxel_nm=5, energy_kev=e, kernels=kern)
        lin = image_fast(crop, ["C", "Au"], voxel_nm=5, energy_kev=e, kernels=kern, bse_model="linear")
        from scipy import ndimage as ndi

        print(f"   {e:4.0f} keV: kernels {tk:4.1f} s once; 512x512 image {fast.seconds:5.2f} s; "
              f"vs full MC ({full.seconds:.0f} s, 128x128):")
        for label, img, name in (("BSE, cascade", f, "bse_total"), ("BSE, linear", lin, "bse_total"), ("SE", f, "se")):
            a, b = getattr(img, name), ndi.uniform_filter(getattr(full, name), 3)
            print(f"      {label:13} r={np.corrcoef(a.ravel(), b.ravel())[0, 1]:.3f}"
                  f" MAE/mean={np.abs(a - b).mean() / b.mean():.3f} mean {a.mean():.4f}/{b.mean():.4f}")


if __name__ == "__main__":
    main()
