"""torchvision's on-disk datasets: folders laid out as torchvision prepares them, downloads from a
local HTTP server (MD5-checked), torchvision's errors, and the pickle reader that runs no code.

Nothing leaves the machine: the files are made here and served from 127.0.0.1.
"""
import gzip
import hashlib
import io
import os
import pickle
import tarfile

import numpy as np
import pytest
from local_http import Server

import ember
from ember.io import UnsafeCheckpointError
from ember.io._numpy_pickle import load_numpy_pickle
from ember.vision import datasets
from ember.vision.datasets import utils

PIL = pytest.importorskip("PIL")


# -- helpers ------------------------------------------------------------------------------------
def idx_bytes(arr):
    """An IDX file as MNIST's: magic (0, 0, type 8 = uint8, ndim), big-endian sizes, data."""
    arr = np.ascontiguousarray(arr, dtype=np.uint8)
    head = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return head + arr.tobytes()


def md5(data):
    return hashlib.md5(data).hexdigest()


def mnist_files(n_train=6, n_test=4, seed=0):
    rng = np.random.default_rng(seed)
    out = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        out[f"{prefix}-images-idx3-ubyte"] = idx_bytes(rng.integers(0, 256, (n, 28, 28)))
        out[f"{prefix}-labels-idx1-ubyte"] = idx_bytes(rng.integers(0, 10, (n,)))
    return out


@pytest.fixture
def server():
    s = Server()
    yield s
    s.close()


# -- FakeData -----------------------------------------------------------------------------------
def test_fakedata_deterministic_per_index_and_leaves_rng_alone():
    ds = datasets.FakeData(size=5, image_size=(3, 8, 6), num_classes=4)
    assert len(ds) == 5
    ember.manual_seed(7)
    before = ember.get_rng_state()
    img, target = ds[2]
    assert ember.equal(ember.get_rng_state(), before)
    assert img.size == (6, 8) and img.mode == "RGB" and 0 <= target < 4 and type(target) is int
    img2, target2 = ds[2]
    assert np.array_equal(np.asarray(img), np.asarray(img2)) and target == target2
    assert not np.array_equal(np.asarray(img), np.asarray(ds[3][0]))
    with pytest.raises(IndexError, match="FakeData index out of range"):
        ds[5]
    gray = datasets.FakeData(size=2, image_size=(1, 5, 5))[0][0]
    assert gray.mode == "L"
    assert repr(ds).splitlines()[:2] == ["Dataset FakeData", "    Number of datapoints: 5"]


# -- MNIST family -------------------------------------------------------------------------------
@pytest.mark.parametrize("gz", [False, True])
def test_mnist_reads_torchvision_folder(tmp_path, gz):
    files = mnist_files()
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name, data in files.items():
        if gz:
            (raw / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (raw / name).write_bytes(data)
    train = datasets.MNIST(str(tmp_path))
    test = datasets.MNIST(tmp_path, train=False)
    assert len(train) == 6 and len(test) == 4
    assert train.data.dtype == ember.uint8 and train.data.shape == (6, 28, 28)
    assert train.targets.dtype == ember.int64
    images = np.frombuffer(files["train-images-idx3-ubyte"][16:], np.uint8).reshape(6, 28, 28)
    labels = np.frombuffer(files["train-labels-idx1-ubyte"][8:], np.uint8)
    img, target = train[3]
    assert img.mode == "L" and np.array_equal(np.asarray(img), images[3])
    assert target == int(labels[3]) and type(target) is int
    assert train.class_to_idx["3 - three"] == 3
    assert repr(test).splitlines() == [
        "Dataset MNIST", "    Number of datapoints: 4", f"    Root location: {tmp_path}",
        "    Split: Test"]
    with pytest.warns(UserWarning, match="train_labels has been renamed targets"):
        assert train.train_labels is train.targets


def test_mnist_missing_files_error(tmp_path):
    with pytest.raises(RuntimeError,
                       match="^Dataset not found. You can use download=True to download it$"):
        datasets.MNIST(tmp_path)
    (tmp_path / "FashionMNIST" / "raw").mkdir(parents=True)
    with pytest.raises(RuntimeError, match="Dataset not found"):
        datasets.FashionMNIST(tmp_path, train=False)


def test_mnist_transforms_and_classes(tmp_path):
    raw = tmp_path / "KMNIST" / "raw"
    raw.mkdir(parents=True)
    for name, data in mnist_files().items():
        (raw / name).write_bytes(data)
    from ember.vision import transforms

    ds = datasets.KMNIST(tmp_path, transform=transforms.ToTensor(), target_transform=lambda t: -t)
    x, y = ds[0]
    assert x.shape == (1, 28, 28) and x.dtype == ember.float32 and y == -int(ds.targets[0])
    assert ds.classes[1] == "ki" and datasets.FashionMNIST.classes[9] == "Ankle boot"


def test_mnist_download_with_md5_and_mirror_fallback(tmp_path, server, monkeypatch, capsys):
    files = mnist_files()
    resources = []
    for name, data in files.items():
        gzipped = gzip.compress(data)
        server.files["/good/" + name + ".gz"] = gzipped
        resources.append((name + ".gz", md5(gzipped)))
    # the first mirror is down (404): each file comes from the second, as torchvision does
    monkeypatch.setattr(datasets.MNIST, "mirrors", [server.base + "/down/", server.base + "/good/"])
    monkeypatch.setattr(datasets.MNIST, "resources", resources)
    ds = datasets.MNIST(tmp_path, download=True)
    assert len(ds) == 6
    raw = tmp_path / "MNIST" / "raw"
    assert sorted(os.listdir(raw)) == sorted(list(files) + [n + ".gz" for n in files])
    assert (raw / "train-images-idx3-ubyte").read_bytes() == files["train-images-idx3-ubyte"]
    out = capsys.readouterr().out
    assert f"Downloading {server.base}/down/train-images-idx3-ubyte.gz" in out
    assert "Failed to download (trying next):" in out
    n = len(server.requests)
    datasets.MNIST(tmp_path, download=True)  # present: nothing downloaded again
    assert len(server.requests) == n


def test_mnist_download_bad_md5_and_all_mirrors_down(tmp_path, server, monkeypatch):
    data = gzip.compress(b"tampered")
    server.files["/m/train-images-idx3-ubyte.gz"] = data
    monkeypatch.setattr(datasets.MNIST, "mirrors", [server.base + "/m/"])
    monkeypatch.setattr(datasets.MNIST, "resources",
                        [("train-images-idx3-ubyte.gz", "0" * 32)])
    with pytest.raises(RuntimeError, match="File not found or corrupted."):
        datasets.MNIST(tmp_path, download=True)
    monkeypatch.setattr(datasets.MNIST, "resources",
                        [("t10k-images-idx3-ubyte.gz", "0" * 32)])
    with pytest.raises(RuntimeError, match="Error downloading t10k-images-idx3-ubyte.gz"):
        datasets.MNIST(tmp_path, download=True)


def test_mnist_real_urls_and_md5s():
    # torchvision's mirrors and checksums: the files it downloads are the ones ember checks
    assert datasets.MNIST.mirrors[0] == "https://ossci-datasets.s3.amazonaws.com/mnist/"
    assert dict(datasets.MNIST.resources)["train-images-idx3-ubyte.gz"] == \
        "f68b3c2dcbeaaa9fbdd348bbdeb94873"
    assert datasets.EMNIST.md5 == "58c8d27c78d21e728a6bc7b3cc06412e"
    assert datasets.CIFAR10.tgz_md5 == "c58f30108f718f92721af3b95e74349a"


def test_emnist_split_files_and_errors(tmp_path):
    raw = tmp_path / "EMNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(1)
    (raw / "emnist-letters-test-images-idx3-ubyte").write_bytes(
        idx_bytes(rng.integers(0, 256, (3, 28, 28))))
    (raw / "emnist-letters-test-labels-idx1-ubyte").write_bytes(idx_bytes([1, 26, 5]))
    ds = datasets.EMNIST(tmp_path, split="letters", train=False)
    assert len(ds) == 3 and ds.classes[26] == "z" and ds[1][1] == 26
    assert len(datasets.EMNIST.classes_split_dict["byclass"]) == 62
    assert len(datasets.EMNIST.classes_split_dict["balanced"]) == 47
    with pytest.raises(ValueError, match="Unknown value 'nope' for argument split. Valid values "
                       "are {'byclass', 'bymerge', 'balanced', 'letters', 'digits', 'mnist'}."):
        datasets.EMNIST(tmp_path, split="nope")


def test_emnist_download_zip(tmp_path, server, monkeypatch):
    import zipfile

    rng = np.random.default_rng(2)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("gzip/emnist-digits-train-images-idx3-ubyte.gz",
                   gzip.compress(idx_bytes(rng.integers(0, 256, (2, 28, 28)))))
        z.writestr("gzip/emnist-digits-train-labels-idx1-ubyte.gz",
                   gzip.compress(idx_bytes([4, 2])))
    server.files["/gzip.zip"] = buf.getvalue()
    monkeypatch.setattr(datasets.EMNIST, "url", server.base + "/gzip.zip")
    monkeypatch.setattr(datasets.EMNIST, "md5", md5(buf.getvalue()))
    ds = datasets.EMNIST(tmp_path, split="digits", download=True)
    assert ds.targets.tolist() == [4, 2]
    assert not (tmp_path / "EMNIST" / "raw" / "gzip").exists()


def test_idx_reader_types_and_errors(tmp_path):
    arr = np.arange(12, dtype=">i4").reshape(3, 4)
    p = tmp_path / "x-idx2-int"
    p.write_bytes(bytes([0, 0, 12, 2]) + (3).to_bytes(4, "big") + (4).to_bytes(4, "big")
                  + arr.tobytes())
    t = datasets.mnist.read_sn3_pascalvincent_tensor(str(p))
    assert t.dtype == ember.int32 and t.tolist() == arr.tolist()
    with pytest.raises(TypeError, match="x should be of dtype torch.uint8"):
        datasets.mnist.read_label_file(str(p))
    p.write_bytes(b"\x12\x34\x56\x78")
    with pytest.raises(ValueError, match="not an IDX file"):
        datasets.mnist.read_sn3_pascalvincent_tensor(str(p))


# -- CIFAR --------------------------------------------------------------------------------------
def cifar_batch(n, rng, fine=False):
    # as the real batches: a Python-2-era dict of bytes keys, a uint8 array, a list of labels
    # (Python 2 str keys, which encoding="latin1" reads back as str)
    entry = {"batch_label": "testing batch 1 of 1",
             "data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
             "filenames": ["img%d.png" % i for i in range(n)]}
    entry["fine_labels" if fine else "labels"] = [int(v) for v in rng.integers(0, 10, n)]
    if fine:
        entry["coarse_labels"] = [0] * n
    return pickle.dumps(entry, protocol=2)


def make_cifar10(root, rng, monkeypatch):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    train_list, blobs = [], {}
    for i in range(1, 6):
        blobs[f"data_batch_{i}"] = cifar_batch(2, rng)
    blobs["test_batch"] = cifar_batch(3, rng)
    blobs["batches.meta"] = pickle.dumps({"label_names": [f"c{i}" for i in range(10)],
                                          "num_vis": 3072}, protocol=2)
    for name, data in blobs.items():
        (folder / name).write_bytes(data)
    train_list = [[f"data_batch_{i}", md5(blobs[f"data_batch_{i}"])] for i in range(1, 6)]
    monkeypatch.setattr(datasets.CIFAR10, "train_list", train_list)
    monkeypatch.setattr(datasets.CIFAR10, "test_list", [["test_batch", md5(blobs["test_batch"])]])
    monkeypatch.setattr(datasets.CIFAR10, "meta", {"filename": "batches.meta",
                                                   "key": "label_names",
                                                   "md5": md5(blobs["batches.meta"])})
    return blobs


def test_cifar10_reads_torchvision_folder(tmp_path, monkeypatch):
    blobs = make_cifar10(tmp_path, np.random.default_rng(0), monkeypatch)
    ds = datasets.CIFAR10(tmp_path)
    assert len(ds) == 10 and ds.data.shape == (10, 32, 32, 3) and ds.data.dtype == np.uint8
    first = pickle.loads(blobs["data_batch_2"])
    img, target = ds[2]
    assert img.mode == "RGB" and target == first["labels"][0]
    assert np.array_equal(np.asarray(img), first["data"][0].reshape(3, 32, 32).transpose(1, 2, 0))
    assert ds.classes == [f"c{i}" for i in range(10)] and ds.class_to_idx["c4"] == 4
    test = datasets.CIFAR10(tmp_path, train=False)
    assert len(test) == 3 and repr(test).endswith("Split: Test")


def test_cifar_errors(tmp_path, monkeypatch):
    with pytest.raises(RuntimeError, match="^Dataset not found or corrupted. You can use "
                       "download=True to download it$"):
        datasets.CIFAR10(tmp_path)
    make_cifar10(tmp_path, np.random.default_rng(0), monkeypatch)
    (tmp_path / "cifar-10-batches-py" / "batches.meta").write_bytes(b"changed")
    with pytest.raises(RuntimeError, match="^Dataset metadata file not found or corrupted. "):
        datasets.CIFAR10(tmp_path)
    with open(tmp_path / "cifar-10-batches-py" / "data_batch_1", "ab") as f:
        f.write(b"x")  # a corrupted batch fails the MD5 check
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted"):
        datasets.CIFAR10(tmp_path)


def test_cifar100_download_tarball(tmp_path, server, monkeypatch):
    rng = np.random.default_rng(3)
    blobs = {"train": cifar_batch(4, rng, fine=True), "test": cifar_batch(2, rng, fine=True),
             "meta": pickle.dumps({"fine_label_names": [f"f{i}" for i in range(100)],
                                   "coarse_label_names": ["x"]}, protocol=2)}
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in blobs.items():
            info = tarfile.TarInfo(f"cifar-100-python/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    server.files["/cifar-100-python.tar.gz"] = buf.getvalue()
    C = datasets.CIFAR100
    monkeypatch.setattr(C, "url", server.base + "/cifar-100-python.tar.gz")
    monkeypatch.setattr(C, "tgz_md5", md5(buf.getvalue()))
    monkeypatch.setattr(C, "train_list", [["train", md5(blobs["train"])]])
    monkeypatch.setattr(C, "test_list", [["test", md5(blobs["test"])]])
    monkeypatch.setattr(C, "meta", dict(C.meta, md5=md5(blobs["meta"])))
    ds = C(tmp_path, download=True)
    assert (tmp_path / "cifar-100-python.tar.gz").exists()
    fine = pickle.loads(blobs["train"])["fine_labels"]
    assert ds.targets == fine and ds.classes[99] == "f99" and len(ds) == 4
    monkeypatch.setattr(C, "tgz_md5", "0" * 32)
    (tmp_path / "cifar-100-python" / "train").write_bytes(b"gone")
    (tmp_path / "cifar-100-python.tar.gz").unlink()
    with pytest.raises(RuntimeError, match="File not found or corrupted."):
        C(tmp_path, download=True)


# -- the pickle reader ----------------------------------------------------------------------------
class _Evil:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


def test_numpy_pickle_reader_refuses_code():
    with pytest.raises(UnsafeCheckpointError, match="refusing to load"):
        load_numpy_pickle(pickle.dumps({"data": _Evil()}))
    with pytest.raises(UnsafeCheckpointError):
        load_numpy_pickle(pickle.dumps(np.array([object()], dtype=object)))
    ok = {"a": np.arange(6, dtype=np.float32).reshape(2, 3), "b": [1, "x", b"y", (2.5,)]}
    for proto in (2, 4, 5):
        back = load_numpy_pickle(pickle.dumps(ok, protocol=proto))
        assert np.array_equal(back["a"], ok["a"]) and back["b"] == ok["b"]


# -- utils --------------------------------------------------------------------------------------
def test_utils_integrity_and_extract(tmp_path):
    p = tmp_path / "f.bin"
    p.write_bytes(b"hello")
    assert utils.calculate_md5(p) == md5(b"hello")
    assert utils.check_integrity(p) and utils.check_integrity(p, md5(b"hello"))
    assert not utils.check_integrity(p, "0" * 32) and not utils.check_integrity(tmp_path / "no")
    g = tmp_path / "a.txt.gz"
    g.write_bytes(gzip.compress(b"abc"))
    assert utils.extract_archive(g) == str(tmp_path / "a.txt")
    assert (tmp_path / "a.txt").read_bytes() == b"abc"
    with pytest.raises(RuntimeError, match="Archive type of"):
        utils.extract_archive(p)
    with pytest.raises(ValueError, match="Expected type str for argument mode, but got type"):
        utils.verify_str_arg(3, "mode", ("a",))


# -- SVHN, STL10, Flowers102, OxfordIIITPet -------------------------------------------------------
def test_matlab_reader_matches_scipy(tmp_path):
    sio = pytest.importorskip("scipy.io")
    from ember.vision.datasets._matlab import loadmat

    arrays = {"X": np.random.default_rng(0).integers(0, 256, (4, 5, 3, 2)).astype(np.uint8),
              "y": np.array([[1.0], [10.0]]), "ids": np.array([[3, 1, 2]], dtype=np.uint16),
              "f": np.arange(6, dtype=np.float32).reshape(2, 3), "i": np.array([[-5]], np.int64)}
    for compress in (False, True):
        p = tmp_path / f"a{compress}.mat"
        sio.savemat(p, arrays, do_compression=compress)
        for squeeze in (False, True):
            got, want = loadmat(p, squeeze_me=squeeze), sio.loadmat(p, squeeze_me=squeeze)
            for k in arrays:
                g, w = np.asarray(got[k]), np.asarray(want[k])  # scipy squeezes 1x1 to a scalar
                assert g.shape == w.shape and (squeeze or g.dtype == w.dtype), k
                np.testing.assert_array_equal(g, w)
    (tmp_path / "bad.mat").write_bytes(b"x" * 200)
    with pytest.raises(ValueError, match="is not a MATLAB 5 .mat file"):
        loadmat(tmp_path / "bad.mat")


def test_svhn_reads_mat_and_downloads(tmp_path, server, monkeypatch):
    sio = pytest.importorskip("scipy.io")
    X = np.random.default_rng(1).integers(0, 256, (32, 32, 3, 4)).astype(np.uint8)
    y = np.array([[10], [1], [9], [10]], dtype=np.uint8)
    src = tmp_path / "src.mat"
    sio.savemat(src, {"X": X, "y": y})
    data = src.read_bytes()
    server.files["/test_32x32.mat"] = data
    monkeypatch.setitem(datasets.SVHN.split_list, "test",
                        [server.base + "/test_32x32.mat", "test_32x32.mat", md5(data)])
    root = tmp_path / "svhn"
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted."):
        datasets.SVHN(root, split="test")
    ds = datasets.SVHN(root, split="test", download=True)
    assert len(ds) == 4 and ds.labels.tolist() == [0, 1, 9, 0] and ds.labels.dtype == np.int64
    img, target = ds[2]
    assert target == 9 and np.array_equal(np.asarray(img), X[:, :, :, 2])
    assert repr(ds).endswith("Split: test")
    with pytest.raises(ValueError, match="Unknown value 'val' for argument split"):
        datasets.SVHN(root, split="val")


def make_stl10(root, n_train=4, n_test=3, n_unl=2):
    rng = np.random.default_rng(2)
    folder = root / "stl10_binary"
    folder.mkdir(parents=True)
    blobs = {"train_X.bin": rng.integers(0, 256, n_train * 3 * 96 * 96).astype(np.uint8),
             "train_y.bin": np.array([1, 10, 3, 4][:n_train], np.uint8),
             "unlabeled_X.bin": rng.integers(0, 256, n_unl * 3 * 96 * 96).astype(np.uint8),
             "test_X.bin": rng.integers(0, 256, n_test * 3 * 96 * 96).astype(np.uint8),
             "test_y.bin": np.array([2, 2, 7][:n_test], np.uint8)}
    for name, a in blobs.items():
        (folder / name).write_bytes(a.tobytes())
    (folder / "class_names.txt").write_text("\n".join(f"k{i}" for i in range(10)) + "\n")
    (folder / "fold_indices.txt").write_text("0 2\n" + "1 3\n" * 9)
    return {k: md5(v.tobytes()) for k, v in blobs.items()}, blobs


def test_stl10_splits_and_folds(tmp_path, monkeypatch):
    sums, blobs = make_stl10(tmp_path)
    monkeypatch.setattr(datasets.STL10, "train_list",
                        [[k, sums[k]] for k in ("train_X.bin", "train_y.bin", "unlabeled_X.bin")])
    monkeypatch.setattr(datasets.STL10, "test_list",
                        [[k, sums[k]] for k in ("test_X.bin", "test_y.bin")])
    ds = datasets.STL10(tmp_path)
    assert len(ds) == 4 and ds.labels.tolist() == [0, 9, 2, 3] and ds.classes[3] == "k3"
    img, target = ds[1]
    plane = blobs["train_X.bin"].reshape(-1, 3, 96, 96)[1]
    # each 96x96 plane is stored column-major
    assert target == 9 and np.array_equal(np.asarray(img), plane.transpose(2, 1, 0))
    assert datasets.STL10(tmp_path, folds=0).labels.tolist() == [0, 2]
    both = datasets.STL10(tmp_path, split="train+unlabeled")
    assert len(both) == 6 and both.labels.tolist()[-2:] == [-1, -1]
    assert datasets.STL10(tmp_path, split="unlabeled")[0][1] == -1
    assert len(datasets.STL10(tmp_path, split="test")) == 3
    with pytest.raises(ValueError, match=r"folds should be in the range \[0, 10\), but got 10."):
        datasets.STL10(tmp_path, folds=10)
    (tmp_path / "stl10_binary" / "test_y.bin").write_bytes(b"\x01")
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted."):
        datasets.STL10(tmp_path)


def _jpeg(path, color):
    from PIL import Image

    Image.new("RGB", (6, 5), color).save(path)


def test_flowers102_layout_and_download(tmp_path, server, monkeypatch):
    sio = pytest.importorskip("scipy.io")
    work = tmp_path / "work"
    (work / "jpg").mkdir(parents=True)
    for i in range(1, 6):
        _jpeg(work / "jpg" / f"image_{i:05d}.jpg", (40 * i, 0, 0))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        tar.add(work / "jpg", arcname="jpg")
    sio.savemat(work / "imagelabels.mat", {"labels": np.array([[3.0, 1.0, 102.0, 3.0, 2.0]])})
    sio.savemat(work / "setid.mat", {"trnid": np.array([[1, 3]], np.uint16),
                                     "valid": np.array([[2]], np.uint16),
                                     "tstid": np.array([[4, 5]], np.uint16)})
    files = {"102flowers.tgz": buf.getvalue(),
             "imagelabels.mat": (work / "imagelabels.mat").read_bytes(),
             "setid.mat": (work / "setid.mat").read_bytes()}
    for name, data in files.items():
        server.files["/flowers/" + name] = data
    monkeypatch.setattr(datasets.Flowers102, "_download_url_prefix", server.base + "/flowers/")
    monkeypatch.setattr(datasets.Flowers102, "_file_dict",
                        {"image": ("102flowers.tgz", md5(files["102flowers.tgz"])),
                         "label": ("imagelabels.mat", md5(files["imagelabels.mat"])),
                         "setid": ("setid.mat", md5(files["setid.mat"]))})
    with pytest.raises(RuntimeError, match="Dataset not found or corrupted."):
        datasets.Flowers102(tmp_path)
    train = datasets.Flowers102(tmp_path, download=True)
    assert (tmp_path / "flowers-102" / "jpg" / "image_00003.jpg").exists()
    assert len(train) == 2 and [train[i][1] for i in range(2)] == [2, 101]
    img, _ = train[1]
    assert img.mode == "RGB" and img.size == (6, 5)
    assert len(datasets.Flowers102(tmp_path, split="val")) == 1
    test = datasets.Flowers102(tmp_path, split="test")
    assert [t for _, t in test] == [2, 1] and repr(test).endswith("split=test")


def test_oxford_pet_layout_and_targets(tmp_path):
    from PIL import Image

    base = tmp_path / "oxford-iiit-pet"
    (base / "images").mkdir(parents=True)
    (base / "annotations" / "trimaps").mkdir(parents=True)
    rows = [("Abyssinian_1", 1, 1), ("great_pyrenees_12", 2, 2), ("Abyssinian_7", 1, 1)]
    for name, _, _ in rows:
        _jpeg(base / "images" / f"{name}.jpg", (10, 200, 30))
        Image.new("L", (6, 5), 2).save(base / "annotations" / "trimaps" / f"{name}.png")
    (base / "annotations" / "trainval.txt").write_text(
        "".join(f"{n} {c} {b} 1\n" for n, c, b in rows))
    (base / "annotations" / "test.txt").write_text("")
    ds = datasets.OxfordIIITPet(tmp_path)
    assert len(ds) == 3 and ds.classes == ["Abyssinian", "Great Pyrenees"]
    assert ds.class_to_idx["Great Pyrenees"] == 1 and ds[1][1] == 1
    both = datasets.OxfordIIITPet(tmp_path, target_types=["binary-category", "segmentation"])
    img, (binary, seg) = both[1]
    assert img.mode == "RGB" and binary == 1 and seg.mode == "L"
    assert len(datasets.OxfordIIITPet(tmp_path, split="test")) == 0
    with pytest.raises(ValueError, match="Unknown value 'mask' for argument target_types"):
        datasets.OxfordIIITPet(tmp_path, target_types="mask")
    with pytest.raises(RuntimeError, match="^Dataset not found. You can use download=True"):
        datasets.OxfordIIITPet(tmp_path / "none")


def test_oxford_pet_download(tmp_path, server, monkeypatch):
    def tar_of(files):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            for name, data in files.items():
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        return buf.getvalue()

    from PIL import Image

    jpg = io.BytesIO()
    Image.new("RGB", (4, 4)).save(jpg, format="JPEG")
    images = tar_of({"images/Bengal_3.jpg": jpg.getvalue()})
    anns = tar_of({"annotations/trainval.txt": b"Bengal_3 5 1 2\n",
                   "annotations/test.txt": b""})
    server.files["/images.tar.gz"], server.files["/annotations.tar.gz"] = images, anns
    monkeypatch.setattr(datasets.OxfordIIITPet, "_RESOURCES", (
        (server.base + "/images.tar.gz", md5(images)),
        (server.base + "/annotations.tar.gz", md5(anns))))
    ds = datasets.OxfordIIITPet(tmp_path, download=True)
    assert ds.classes == ["Bengal"] and ds[0][1] == 4
    assert (tmp_path / "oxford-iiit-pet" / "images.tar.gz").exists()


def python2_cifar_pickle(raw, shape, labels):
    """The opcodes of CIFAR's real batches: a Python 2 cPickle (protocol 2) of a dict whose
    array's data and dtype code are Py2 ``str`` (SHORT_BINSTRING), read back with latin1."""
    import struct

    def sbs(b):
        return b"U" + bytes([len(b)]) + b

    def k(i):  # BININT1 or BININT2
        return b"K" + bytes([i]) if i < 256 else b"M" + struct.pack("<H", i)

    def j(i):
        return b"J" + struct.pack("<i", i)

    dtype = (b"cnumpy\ndtype\n" + sbs(b"u1") + k(0) + k(1) + b"\x87R(" + k(3) + sbs(b"|")
             + b"NNN" + j(-1) + j(-1) + k(0) + b"tb")
    dims = b"".join(k(n) for n in shape) + b"\x86"
    arr = (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + k(0) + b"\x85"
           + sbs(b"b") + b"\x87R(" + k(1) + dims + dtype + b"\x89" + b"T"
           + struct.pack("<I", len(raw)) + raw + b"tb")
    lab = b"](" + b"".join(k(v) for v in labels) + b"e"
    return b"\x80\x02}(" + sbs(b"data") + arr + sbs(b"labels") + lab + b"u."


def test_python2_pickles_read_like_pickle_latin1():
    raw = bytes(np.random.default_rng(0).integers(0, 256, 2 * 3072, dtype=np.uint8))
    blob = python2_cifar_pickle(raw, (2, 3072), [4, 9])
    want = pickle.loads(blob, encoding="latin1")  # what torchvision does with the real files
    got = load_numpy_pickle(blob)
    assert got.keys() == want.keys() == {"data", "labels"}
    assert got["data"].dtype == np.uint8 and np.array_equal(got["data"], want["data"])
    assert got["labels"] == [4, 9]
