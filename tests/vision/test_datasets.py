"""ember.vision.datasets: ImageFolder/DatasetFolder on generated trees, and Digits vs sklearn."""
from __future__ import annotations

import os

import numpy as np
import pytest

import ember
from ember.utils.data import DataLoader
from ember.vision import transforms as T
from ember.vision.datasets import (
    IMG_EXTENSIONS, DatasetFolder, Digits, ImageFolder, find_classes, make_dataset,
)

Image = pytest.importorskip("PIL.Image")


def write_image(path, w=6, h=5, seed=0, mode="RGB"):
    a = np.random.default_rng(seed).integers(0, 256, (h, w, 3), dtype=np.uint8)
    img = Image.fromarray(a).convert(mode)
    img.save(path)
    return img


@pytest.fixture
def tree(tmp_path):
    """root/{zebra,ant,cat}: ant has 2 images (one nested), cat 1 image + a text file, zebra 1."""
    root = tmp_path / "root"
    for name in ("zebra", "ant", "cat"):
        (root / name).mkdir(parents=True)
    write_image(root / "ant" / "b.png", seed=1)
    (root / "ant" / "sub").mkdir()
    write_image(root / "ant" / "sub" / "a.JPG", seed=2)
    write_image(root / "cat" / "x.bmp", seed=3, mode="L")
    (root / "cat" / "notes.txt").write_text("not an image")
    write_image(root / "zebra" / "z.png", seed=4)
    (root / "loose.png").write_bytes(b"")  # files at the top level are not classes
    return root


def test_image_folder_classes_samples_targets(tree):
    ds = ImageFolder(str(tree))
    assert ds.classes == ["ant", "cat", "zebra"]
    assert ds.class_to_idx == {"ant": 0, "cat": 1, "zebra": 2}
    paths = [os.path.relpath(p, tree) for p, _ in ds.samples]
    assert paths == ["ant/b.png", os.path.join("ant", "sub", "a.JPG"), "cat/x.bmp", "zebra/z.png"]
    assert ds.targets == [0, 0, 1, 2] and ds.imgs is ds.samples and len(ds) == 4
    img, label = ds[2]
    assert img.mode == "RGB" and img.size == (6, 5) and label == 1  # grey file loaded as RGB
    with Image.open(tree / "zebra" / "z.png") as want:
        assert np.array_equal(np.asarray(ds[3][0]), np.asarray(want.convert("RGB")))
    assert ".png" in IMG_EXTENSIONS and ".webp" in IMG_EXTENSIONS


def test_transforms_and_repr(tree):
    ds = ImageFolder(tree, transform=T.ToTensor(), target_transform=lambda y: y * 10)
    x, y = ds[3]
    assert tuple(x.shape) == (3, 5, 6) and x.dtype == ember.float32 and y == 20
    text = repr(ImageFolder(str(tree), transform=T.ToTensor()))
    assert text.splitlines()[:3] == ["Dataset ImageFolder", "    Number of datapoints: 4",
                                     f"    Root location: {tree}"]
    assert text.endswith("StandardTransform\nTransform: ToTensor()")


def test_dataloader_collates_batches(tree):
    ds = ImageFolder(tree, transform=T.Compose([T.Resize((8, 8)), T.ToTensor()]))
    x, y = next(iter(DataLoader(ds, batch_size=3)))
    assert tuple(x.shape) == (3, 3, 8, 8) and x.dtype == ember.float32
    assert y.tolist() == [0, 0, 1]


def test_is_valid_file_extensions_and_allow_empty(tree):
    ds = ImageFolder(tree, is_valid_file=lambda p: p.endswith(".txt") or p.endswith(".png"))
    assert sorted(os.path.basename(p) for p, _ in ds.samples) == ["b.png", "notes.txt", "z.png"]
    with pytest.raises(ValueError, match="Both extensions and is_valid_file cannot be None"):
        DatasetFolder(tree, loader=open, extensions=(".png",), is_valid_file=lambda p: True)
    with pytest.raises(ValueError, match="Both extensions and is_valid_file"):
        make_dataset(tree, {"ant": 0})
    only_png = DatasetFolder(tree, loader=lambda p: p, extensions=(".png",), allow_empty=True)
    assert [t for _, t in only_png.samples] == [0, 2]
    assert only_png[0][0].endswith("b.png")


def test_empty_class_error_lists_extensions(tree):
    with pytest.raises(FileNotFoundError) as err:
        DatasetFolder(tree, loader=lambda p: p, extensions=(".png", ".gif"))
    assert str(err.value) == (
        "Found no valid file for the classes cat. Supported extensions are: .png, .gif")
    (tree / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="Found no valid file for the classes empty. "
                                                "Supported extensions are: .jpg, .jpeg"):
        ImageFolder(tree)
    assert len(ImageFolder(tree, allow_empty=True).classes) == 4


def test_no_class_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=f"Couldn't find any class folder in {tmp_path}."):
        ImageFolder(tmp_path)
    with pytest.raises(FileNotFoundError):
        find_classes(tmp_path / "missing")


@pytest.mark.parametrize("kind", ["garbage", "truncated_png", "truncated_jpeg"])
def test_unreadable_image_names_the_file(tmp_path, kind):
    good = tmp_path / "c" / ("ok.jpg" if kind == "truncated_jpeg" else "ok.png")
    good.parent.mkdir()
    write_image(good, w=40, h=30)
    data = good.read_bytes()
    bad = tmp_path / "c" / ("bad" + good.suffix)
    bad.write_bytes(b"this is not an image" if kind == "garbage" else data[:len(data) // 2])
    ds = ImageFolder(tmp_path)
    index = [p for p, _ in ds.samples].index(str(bad))
    with pytest.raises(OSError) as err:
        ds[index]
    assert str(bad) in str(err.value)
    if kind == "garbage":
        from PIL import UnidentifiedImageError

        assert isinstance(err.value, UnidentifiedImageError)


# ---------------------------------------------------------------------------- Digits


@pytest.fixture(scope="module")
def sk():
    datasets = pytest.importorskip("sklearn.datasets")
    return datasets.load_digits()


def test_digits_split_sizes_disjoint_stratified(sk):
    train, val = Digits(train=True), Digits(train=False)
    assert len(train) + len(val) == 1797 == len(sk.target)
    assert set(train.indices).isdisjoint(val.indices)
    assert sorted(np.concatenate([train.indices, val.indices]).tolist()) == list(range(1797))
    for c in range(10):
        n = int((sk.target == c).sum())
        assert val.targets.count(c) == int(round(n * 0.2))
    assert train.targets == sk.target[train.indices].tolist()
    assert val.targets == sk.target[val.indices].tolist()
    assert train.classes == [str(d) for d in range(10)] and train.class_to_idx["7"] == 7


def test_digits_deterministic_and_seeded():
    a, b = Digits(train=False), Digits(train=False)
    assert np.array_equal(a.indices, b.indices)
    assert not np.array_equal(a.indices, Digits(train=False, seed=1).indices)
    assert len(Digits(val_fraction=0.0)) == 1797


def test_digits_images_match_sklearn_pixels(sk):
    ds = Digits(train=True, image_size=8)
    img, label = ds[5]
    i = ds.indices[5]
    assert img.mode == "RGB" and img.size == (8, 8) and label == sk.target[i]
    want = np.round(sk.images[i] * 255 / 16).astype(np.uint8)
    for ch in range(3):
        assert np.array_equal(np.asarray(img)[:, :, ch], want)
    big = Digits(image_size=20)[5][0]
    expect = Image.fromarray(want).resize((20, 20), Image.Resampling.BILINEAR)
    assert big.size == (20, 20) and np.array_equal(np.asarray(big)[:, :, 1], np.asarray(expect))


def test_digits_transform_loader_and_repr():
    ds = Digits(train=False, image_size=16, transform=T.ToTensor())
    x, y = next(iter(DataLoader(ds, batch_size=5)))
    assert tuple(x.shape) == (5, 3, 16, 16) and y.dtype == ember.int64
    assert repr(ds) == ("Dataset Digits\n    Number of datapoints: 359\n    Split: val\n"
                        "    StandardTransform\nTransform: ToTensor()")
    with pytest.raises(ValueError, match="val_fraction"):
        Digits(val_fraction=1.5)
    with pytest.raises(ValueError, match="image_size"):
        Digits(image_size=0)
