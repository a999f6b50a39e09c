import numpy as np
import pytest
from PIL import Image

from synthscope.datasets import RealFolder, read_image
from synthscope.datasets.io import to_grey


def _folder(root, n=2, size=(32, 48), rgb=False, mask_size=None, mask_values=(0, 255)):
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    rng = np.random.default_rng(0)
    for i in range(n):
        shape = (*size, 3) if rgb else size
        Image.fromarray((rng.random(shape) * 255).astype(np.uint8)).save(root / "images" / f"im{i}.png")
        m = np.full(mask_size or size, mask_values[0], np.uint8)
        m[:, 5] = mask_values[1]
        Image.fromarray(m).save(root / "masks" / f"im{i}.png")
    return root


def test_real_folder_pairs_by_stem_and_maps_classes(tmp_path):
    f = RealFolder(_folder(tmp_path / "a"), class_map={255: 1}, require_masks=True)
    assert len(f) == 2 and f.has_masks and f.stem(1) == "im1"
    img, m = f.pair(0)
    assert img.dtype == np.float32 and img.shape == (32, 48) and 0 <= img.min() and img.max() <= 1
    assert set(np.unique(m)) == {0, 1}


def test_real_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="no such folder"):
        RealFolder(tmp_path / "missing")
    (tmp_path / "empty" / "images").mkdir(parents=True)
    with pytest.raises(ValueError, match="no images"):
        RealFolder(tmp_path / "empty")
    root = _folder(tmp_path / "b")
    (root / "masks" / "im1.png").unlink()
    with pytest.raises(ValueError, match="im1.png: no mask with stem 'im1'"):
        RealFolder(root, require_masks=True)
    f = RealFolder(_folder(tmp_path / "c", mask_size=(16, 48)))
    with pytest.raises(ValueError, match="mask is 48x16, image im0.png is 48x32"):
        f.pair(0)
    with pytest.raises(ValueError, match="grey must be one of"):
        RealFolder(root, grey="hsv")


def test_rgb_to_grey(tmp_path):
    rgb = np.zeros((4, 4, 3), np.uint8)
    rgb[..., 0] = 200
    Image.fromarray(rgb).save(tmp_path / "red.png")
    assert read_image(tmp_path / "red.png")[0, 0] == pytest.approx(round(200 * 0.299) / 255, abs=1e-6)
    # hue-only contrast: blue and yellow of equal luminance are told apart by the PCA axis
    img = np.zeros((10, 10, 3))
    img[:, :5] = (0.2, 0.2, 0.9)
    img[:, 5:] = (0.35, 0.35, 0.0)
    assert abs(to_grey(img, "luminance")[0, 0] - to_grey(img, "luminance")[0, 9]) < 0.1
    pca = to_grey(img, "pca")
    assert abs(pca[0, 0] - pca[0, 9]) > 0.9
    g = np.repeat(np.linspace(0, 1, 25).reshape(5, 5)[..., None], 3, -1)  # grey stored as RGB
    np.testing.assert_allclose(to_grey(g, "pca"), g[..., 0], atol=1e-9)


def test_unreadable_and_nan_images(tmp_path):
    (tmp_path / "bad.png").write_bytes(b"nope")
    with pytest.raises(ValueError, match="bad.png: cannot read image"):
        read_image(tmp_path / "bad.png")
    import tifffile

    a = np.zeros((4, 4), np.float32)
    a[0, 0] = np.nan
    tifffile.imwrite(tmp_path / "nan.tif", a)
    with pytest.raises(ValueError, match="nan.tif: image holds NaN"):
        read_image(tmp_path / "nan.tif")
