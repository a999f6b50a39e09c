import numpy as np
import pytest
from PIL import Image

from synthscope.datasets import RealFolder, read_image
from synthscope.datasets.io import colour_views, to_grey


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


def _tinted(h=40, w=40):
    """Bright top half split by a hue-only step (equal luminance), black bottom half."""
    img = np.zeros((h, w, 3))
    img[: h // 2, : w // 2] = (0.6, 0.5, 0.7)
    lum = 0.299 * 0.6 + 0.587 * 0.5 + 0.114 * 0.7
    # no blue, green 0.55 and red chosen so that the luminance is lum again
    img[: h // 2, w // 2:] = ((lum - 0.587 * 0.55) / 0.299, 0.55, 0.0)
    return img


def test_colour_views_show_the_hue_steps_the_first_axis_hides(tmp_path):
    img = _tinted()
    lum = to_grey(img, "luminance")
    assert abs(lum[5, 5] - lum[5, 35]) < 1e-9  # the top halves are equally bright
    v = colour_views(img)
    assert v.shape == (2, 40, 40) and v.dtype == np.float32 and v.min() == 0 and v.max() == 1
    np.testing.assert_allclose(v[0], to_grey(img, "pca"), atol=1e-6)  # view 0 is the pca grey
    # the brightness step dominates the first axis; the hue step the second
    assert abs(v[0][5, 5] - v[0][35, 5]) > 0.9
    assert abs(v[1][5, 5] - v[1][5, 35]) > 0.9 > 0.2 > abs(v[0][5, 5] - v[0][5, 35])
    assert colour_views(img, max_views=1).shape == (1, 40, 40)
    with pytest.raises(ValueError, match="max_views"):
        colour_views(img, max_views=4)
    with pytest.raises(ValueError, match="colour image"):
        colour_views(img[..., 0])
    g = np.repeat(np.linspace(0, 1, 25).reshape(5, 5)[..., None], 3, -1)  # grey stored as RGB
    assert colour_views(g).shape == (1, 5, 5)
    # colour noise alone (second axis std ~0.07 of the first's) is not a view
    ramp = np.repeat(np.linspace(0, 1, 1600).reshape(40, 40)[..., None], 3, -1)
    noisy = ramp + np.random.default_rng(0).normal(0, 0.02, ramp.shape)
    assert colour_views(noisy).shape == (1, 40, 40)
    # read_image and RealFolder: colour files become view stacks, grey files stay 2-D
    root = tmp_path / "f"
    (root / "images").mkdir(parents=True)
    (root / "masks").mkdir()
    Image.fromarray((img * 255).round().astype(np.uint8)).save(root / "images" / "tint.png")
    Image.fromarray((lum * 255).round().astype(np.uint8)).save(root / "images" / "grey.png")
    for stem in ("tint", "grey"):
        Image.fromarray(np.zeros((40, 40), np.uint8)).save(root / "masks" / f"{stem}.png")
    assert read_image(root / "images" / "tint.png", grey="fuse").shape == (2, 40, 40)
    assert read_image(root / "images" / "grey.png", grey="fuse").shape == (40, 40)
    f = RealFolder(root, grey="fuse", require_masks=True)
    shapes = {f.stem(i): f.pair(i)[0].shape for i in range(len(f))}
    assert shapes == {"tint": (2, 40, 40), "grey": (40, 40)}


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
