"""Tests of nabla.data: datasets, DataLoader, the IDX reader and downloader, bundled
digits, toy sets."""

from __future__ import annotations

import gzip
import hashlib
import io
import time
import tracemalloc
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest

import nabla
from nabla.data import (
    ConcatDataset,
    DataLoader,
    Dataset,
    Subset,
    TensorDataset,
    datasets,
    default_collate,
    random_split,
)
from nabla.data.dataset import _ImageArrayDataset
from nabla.data.datasets import MNIST, DownloadError, FashionMNIST, read_idx

SAMPLE = Path(__file__).resolve().parents[1].parent / "shared/data/mnist-sample"
needs_sample = pytest.mark.skipif(not (SAMPLE / "train-images-idx3-ubyte.gz").exists(),
                                  reason=f"MNIST sample not found at {SAMPLE}")
MNIST_NAMES = ["train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"]


def gen(seed):
    return nabla.random.Generator().manual_seed(seed)


def small_ds(n=10):
    return TensorDataset(np.arange(n * 2, dtype=np.float32).reshape(n, 2), np.arange(n))


def labels_seen(loader):
    return np.concatenate([y.numpy() for _, y in loader])


# ------------------------------------------------------------------ TensorDataset

def test_tensor_dataset_items_and_len():
    ds = TensorDataset(nabla.tensor([[1.0, 2.0], [3.0, 4.0]]), nabla.tensor([7, 8]))
    assert len(ds) == 2
    x, y = ds[1]
    assert isinstance(x, nabla.Tensor) and x.numpy().tolist() == [3.0, 4.0]
    assert y.shape == () and y.item() == 8
    assert all(isinstance(t, nabla.Tensor) for t in ds.tensors)


def test_tensor_dataset_wraps_numpy_without_copying():
    X = np.zeros((3, 2), np.float32)
    ds = TensorDataset(X, np.arange(3))
    X[1, 0] = 5.0
    assert ds[1][0].numpy()[0] == 5.0
    assert ds.tensors[0]._data is X


def test_tensor_dataset_size_mismatch_names_the_sizes():
    with pytest.raises(ValueError, match=r"\[5, 4\]"):
        TensorDataset(np.zeros((5, 2)), np.zeros(4))


def test_tensor_dataset_needs_a_tensor_and_a_first_dimension():
    with pytest.raises(ValueError, match="at least one"):
        TensorDataset()
    with pytest.raises(ValueError, match="0-d"):
        TensorDataset(np.array(3.0, dtype=np.float32))
    with pytest.raises(TypeError, match="list"):
        TensorDataset([1, 2, 3])


def test_tensor_dataset_iterates_and_stops():
    assert len(list(small_ds(4))) == 4


# ------------------------------------------------------------------ DataLoader

@pytest.mark.parametrize("n,bs,drop_last,expected", [
    (10, 3, False, [3, 3, 3, 1]),
    (10, 3, True, [3, 3, 3]),
    (9, 3, False, [3, 3, 3]),
    (9, 3, True, [3, 3, 3]),
    (2, 5, False, [2]),
    (2, 5, True, []),
    (1, 1, False, [1]),
])
def test_loader_batch_counts_and_shapes(n, bs, drop_last, expected):
    loader = DataLoader(small_ds(n), batch_size=bs, drop_last=drop_last)
    batches = list(loader)
    assert len(loader) == len(expected) == len(batches)
    assert [len(y) for _, y in batches] == expected
    for x, y in batches:
        assert x.shape == (len(y), 2) and x.dtype == nabla.float32
        assert y.dtype == nabla.int64


def test_loader_without_shuffle_keeps_order():
    assert labels_seen(DataLoader(small_ds(10), batch_size=4)).tolist() == list(range(10))


def test_loader_empty_dataset_raises():
    with pytest.raises(ValueError, match="empty dataset"):
        DataLoader(TensorDataset(np.zeros((0, 3))), batch_size=2)


@pytest.mark.parametrize("bs", [0, -1, 1.5, True])
def test_loader_bad_batch_size(bs):
    with pytest.raises(ValueError, match="batch_size"):
        DataLoader(small_ds(), batch_size=bs)


def test_shuffle_is_reproducible_with_the_same_seed():
    a = DataLoader(small_ds(50), batch_size=8, shuffle=True, generator=gen(3))
    b = DataLoader(small_ds(50), batch_size=8, shuffle=True, generator=gen(3))
    c = DataLoader(small_ds(50), batch_size=8, shuffle=True, generator=gen(4))
    for _ in range(3):  # the same sequence of epochs, not only the first
        ea, eb, ec = labels_seen(a), labels_seen(b), labels_seen(c)
        assert ea.tolist() == eb.tolist()
        assert ea.tolist() != ec.tolist()


def test_shuffle_draws_a_fresh_order_each_epoch():
    loader = DataLoader(small_ds(50), batch_size=8, shuffle=True, generator=gen(0))
    first, second = labels_seen(loader), labels_seen(loader)
    assert first.tolist() != second.tolist()
    assert first.tolist() != list(range(50))


def test_shuffle_with_global_generator_follows_manual_seed():
    loader = DataLoader(small_ds(30), batch_size=7, shuffle=True)
    nabla.manual_seed(11)
    a = labels_seen(loader)
    nabla.manual_seed(11)
    b = labels_seen(loader)
    assert a.tolist() == b.tolist()


@pytest.mark.parametrize("shuffle", [False, True])
def test_every_sample_seen_exactly_once_per_epoch(shuffle):
    loader = DataLoader(small_ds(37), batch_size=5, shuffle=shuffle, generator=gen(1))
    for _ in range(3):
        seen = labels_seen(loader)
        assert sorted(seen.tolist()) == list(range(37))


def test_drop_last_with_shuffle_never_repeats():
    loader = DataLoader(small_ds(37), batch_size=5, shuffle=True, drop_last=True,
                        generator=gen(2))
    seen = labels_seen(loader)
    assert len(seen) == 35 and len(set(seen.tolist())) == 35


def test_iter_fixes_the_epoch_order_immediately():
    loader = DataLoader(small_ds(20), batch_size=5, shuffle=True, generator=gen(5))
    it1 = iter(loader)
    it2 = iter(loader)  # a second epoch drawn before the first is consumed
    a = np.concatenate([y.numpy() for _, y in it1])
    b = np.concatenate([y.numpy() for _, y in it2])
    assert a.tolist() != b.tolist()


def test_fast_path_never_calls_getitem(monkeypatch):
    def boom(self, i):
        raise AssertionError("per-sample __getitem__ called on the fast path")

    ds = small_ds(20)
    monkeypatch.setattr(TensorDataset, "__getitem__", boom)
    x, y = next(iter(DataLoader(ds, batch_size=8, shuffle=True, generator=gen(0))))
    assert x.shape == (8, 2)
    np.testing.assert_array_equal(x.numpy()[:, 0] / 2, y.numpy())


def test_fast_path_batches_are_copies():
    X = np.arange(12, dtype=np.float32).reshape(6, 2)
    x, _ = next(iter(DataLoader(TensorDataset(X, np.arange(6)), batch_size=3)))
    x._data[:] = -1
    assert X.min() == 0.0


def test_fast_path_matches_generic_path():
    ds = small_ds(23)
    fast = DataLoader(ds, batch_size=4, shuffle=True, generator=gen(9))
    slow = DataLoader(ds, batch_size=4, shuffle=True, generator=gen(9),
                      collate_fn=default_collate)
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xf.numpy(), xs.numpy())
        np.testing.assert_array_equal(yf.numpy(), ys.numpy())
        assert xf.dtype == xs.dtype and yf.dtype == ys.dtype


def test_subclass_overriding_getitem_is_honoured():
    class Doubled(TensorDataset):
        def __getitem__(self, i):
            x, y = super().__getitem__(i)
            return nabla.from_numpy(x.numpy() * 2), y

    x, y = next(iter(DataLoader(Doubled(np.ones((4, 1), np.float32), np.arange(4)),
                                batch_size=4)))
    assert x.numpy().tolist() == [[2.0]] * 4 and y.numpy().tolist() == [0, 1, 2, 3]


class Squares(Dataset):
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n

    def __getitem__(self, i):
        return np.full(3, i, dtype=np.float32), i * i


def test_generic_dataset_is_collated():
    loader = DataLoader(Squares(7), batch_size=3)
    batches = list(loader)
    assert len(loader) == 3
    x, y = batches[-1]
    assert x.shape == (1, 3) and x.dtype == nabla.float32
    assert y.dtype == nabla.int64 and y.numpy().tolist() == [36]


def test_custom_collate_fn_gets_the_list_of_samples():
    got = []
    loader = DataLoader(small_ds(5), batch_size=2, collate_fn=lambda b: got.append(b) or len(b))
    assert list(loader) == [2, 2, 1]
    assert isinstance(got[0], list) and isinstance(got[0][0], tuple)


def test_dataset_base_class_is_abstract():
    with pytest.raises(NotImplementedError):
        len(Dataset())
    with pytest.raises(NotImplementedError):
        Dataset()[0]


# ------------------------------------------------------------------ default_collate

def test_collate_python_scalars():
    assert default_collate([1, 2, 3]).dtype == nabla.int64
    assert default_collate([1.0, 2.5]).dtype == nabla.float64  # as torch: Python floats are double
    assert default_collate([True, False]).dtype == nabla.bool_
    assert default_collate([np.float64(1), np.float64(2)]).dtype == nabla.float64
    assert default_collate(["a", "b"]) == ["a", "b"]


def test_collate_arrays_tensors_and_structures():
    Point = namedtuple("Point", "x label")
    out = default_collate([Point(np.zeros((2, 2)), 0), Point(np.ones((2, 2)), 1)])
    assert isinstance(out, Point) and out.x.shape == (2, 2, 2)
    d = default_collate([{"a": nabla.tensor([1.0]), "b": 2}, {"a": nabla.tensor([3.0]), "b": 4}])
    assert d["a"].numpy().tolist() == [[1.0], [3.0]] and d["b"].numpy().tolist() == [2, 4]
    lst = default_collate([[1, 2.0], [3, 4.0]])
    assert isinstance(lst, list) and lst[0].dtype == nabla.int64


def test_collate_errors_are_clear():
    with pytest.raises(ValueError, match="different shapes"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(TypeError, match="object"):
        default_collate([object(), object()])
    with pytest.raises(ValueError, match="same number of fields"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(ValueError, match="empty"):
        default_collate([])


# ------------------------------------------------------------------ Subset, random_split

def test_random_split_sizes_disjoint_and_complete():
    ds = small_ds(100)
    parts = random_split(ds, [70, 20, 10], generator=gen(0))
    assert [len(p) for p in parts] == [70, 20, 10]
    ids = [set(int(p[i][1].item()) for i in range(len(p))) for p in parts]
    assert set.union(*ids) == set(range(100))
    assert sum(len(s) for s in ids) == 100


def test_random_split_fractions_like_pytorch():
    parts = random_split(small_ds(10), [0.33, 0.33, 0.34], generator=gen(0))
    assert [len(p) for p in parts] == [4, 3, 3]  # floor 3,3,3; the leftover goes first


def test_random_split_is_reproducible():
    a = random_split(small_ds(20), [10, 10], generator=gen(1))[0]
    b = random_split(small_ds(20), [10, 10], generator=gen(1))[0]
    assert a._idx.tolist() == b._idx.tolist()
    assert a._idx.tolist() != list(range(10))


@pytest.mark.parametrize("lengths,exc", [
    ([5, 4], ValueError),            # sums to 9, not 10
    ([6, 6], ValueError),
    ([0.5, 0.6], ValueError),        # fractions summing to 1.1
    ([0.5, 0.4], ValueError),
    ([-1, 11], ValueError),
    ([1.5, -0.5], ValueError),
    ([], ValueError),
    (["a", "b"], TypeError),
])
def test_random_split_rejects_bad_lengths(lengths, exc):
    with pytest.raises(exc):
        random_split(small_ds(10), lengths)


def test_subset_fast_path_and_bounds():
    ds = small_ds(10)
    sub = Subset(ds, [9, 3, -1])
    assert len(sub) == 3 and int(sub[2][1].item()) == 9
    (x, y), = list(DataLoader(sub, batch_size=3))
    assert y.numpy().tolist() == [9, 3, 9]
    with pytest.raises(IndexError, match="out of range"):
        Subset(ds, [10])


def test_subset_of_generic_dataset_falls_back():
    (x, y), = list(DataLoader(Subset(Squares(5), [4, 1]), batch_size=2))
    assert y.numpy().tolist() == [16, 1]


def test_concat_dataset():
    ds = ConcatDataset([small_ds(3), small_ds(2)])
    assert len(ds) == 5
    assert int(ds[3][1].item()) == 0 and int(ds[-1][1].item()) == 1
    with pytest.raises(IndexError):
        ds[5]
    assert sorted(labels_seen(DataLoader(ds, batch_size=2)).tolist()) == [0, 0, 1, 1, 2]


# ------------------------------------------------------------------ IDX reader

def idx_bytes(array: np.ndarray, code: int = 0x08) -> bytes:
    header = bytes([0, 0, code, array.ndim]) + np.array(array.shape, ">u4").tobytes()
    return header + array.astype(array.dtype.newbyteorder(">")).tobytes()


def write(path: Path, data: bytes) -> Path:
    if path.suffix == ".gz":
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_roundtrip(tmp_path, suffix):
    a = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    out = read_idx(write(tmp_path / f"a{suffix}", idx_bytes(a)))
    assert out.dtype == np.uint8 and out.shape == (2, 3, 4)
    np.testing.assert_array_equal(out, a)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_multibyte_types_come_back_native(tmp_path, suffix):
    a = np.array([-2, 300, 7], dtype=np.int16)
    out = read_idx(write(tmp_path / f"s{suffix}", idx_bytes(a, 0x0B)))
    assert out.dtype == np.int16 and out.dtype.isnative
    assert out.tolist() == [-2, 300, 7]
    f = np.array([[1.5, -2.25]], dtype=np.float32)
    assert read_idx(write(tmp_path / f"f{suffix}", idx_bytes(f, 0x0D))).tolist() == [[1.5, -2.25]]


GOOD = idx_bytes(np.arange(60, dtype=np.uint8).reshape(3, 4, 5))


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("data,pattern", [
    (b"\x01\x00" + GOOD[2:], "bad IDX magic bytes 01 00 08 03"),
    (GOOD[:2] + b"\x07" + GOOD[3:], "bad IDX magic bytes 00 00 07 03"),
    (GOOD[:3] + b"\x00" + GOOD[4:], "bad IDX magic"),
    (GOOD[:2], "shorter than the 4-byte magic"),
    (GOOD[:10], "truncated IDX header"),
    (GOOD[:-1], "60 data bytes, but the file holds 59: fewer"),
    (GOOD[:16], "holds 0: fewer"),
    (GOOD + b"\x00", "trailing bytes"),
])
def test_read_idx_rejects_corrupt_files(tmp_path, suffix, data, pattern):
    path = write(tmp_path / f"bad-idx3-ubyte{suffix}", data)
    with pytest.raises(ValueError, match=pattern) as info:
        read_idx(path)
    assert str(path) in str(info.value)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_read_idx_huge_claim_fails_fast_without_allocating(tmp_path, suffix):
    # The header claims 10^6 x 10^6 x 1 = 10^12 bytes; the file holds 60.
    header = bytes([0, 0, 8, 3]) + np.array([10**6, 10**6, 1], ">u4").tobytes()
    path = write(tmp_path / f"huge{suffix}", header + GOOD[16:])
    tracemalloc.start()
    t = time.perf_counter()
    try:
        # Raw: the file size says 60 bytes. Gzip: no decompression needed either, since
        # a few dozen compressed bytes cannot inflate to a terabyte.
        detail = "cannot inflate" if suffix else "holds 60: fewer"
        with pytest.raises(ValueError, match=f"1000000000000 data bytes.*{detail}"):
            read_idx(path)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert time.perf_counter() - t < 1.0
    assert peak < 16 << 20


def test_read_idx_corrupt_gzip_stream(tmp_path):
    packed = gzip.compress(GOOD)
    path = tmp_path / "cut.gz"
    path.write_bytes(packed[: len(packed) // 2])
    with pytest.raises(ValueError, match="cut.gz"):
        read_idx(path)
    path.write_bytes(b"this is not gzip at all")
    with pytest.raises(ValueError, match="corrupt gzip"):
        read_idx(path)


def test_read_idx_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_idx(tmp_path / "nope")


# ------------------------------------------------------------------ MNIST (real sample)

@pytest.fixture(scope="module")
def mnist_train():
    return MNIST(SAMPLE, train=True)


@needs_sample
def test_mnist_sample_counts_shapes_dtypes(mnist_train):
    test = MNIST(SAMPLE, train=False)
    assert len(mnist_train) == 7000 and len(test) == 1000
    for ds in (mnist_train, test):
        assert ds.data.shape == (len(ds), 28, 28) and ds.data.dtype == nabla.uint8
        assert ds.targets.shape == (len(ds),) and ds.targets.dtype == nabla.int64
        labels = ds.targets.numpy()
        assert labels.min() == 0 and labels.max() == 9
        assert len(np.unique(labels)) == 10
    image, label = mnist_train[0]
    assert isinstance(image, nabla.Tensor) and image.shape == (1, 28, 28)
    assert image.dtype == nabla.float32 and type(label) is int
    px = image.numpy()
    assert px.min() >= 0.0 and px.max() <= 1.0 and px.max() > 0.5
    np.testing.assert_allclose(px[0] * 255, mnist_train.data.numpy()[0], atol=1e-4)


@needs_sample
def test_mnist_arrays_and_tensors(mnist_train):
    X, y = mnist_train.arrays(flatten=True)
    assert X.shape == (7000, 784) and X.dtype == np.float32 and y.dtype == np.int64
    assert 0.0 <= X.min() and X.max() == 1.0
    raw, _ = mnist_train.arrays(normalize=False)
    assert raw.shape == (7000, 1, 28, 28) and raw.dtype == np.uint8
    Xt, yt = mnist_train.tensors()
    assert Xt.shape == (7000, 1, 28, 28) and isinstance(yt, nabla.Tensor)


@needs_sample
def test_mnist_raw_files_and_torchvision_layout(tmp_path, mnist_train):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    for name in MNIST_NAMES:  # uncompressed copies, written by the test
        (raw / name).write_bytes(gzip.decompress((SAMPLE / f"{name}.gz").read_bytes()))
    ds = MNIST(tmp_path, train=True)
    np.testing.assert_array_equal(ds.data.numpy(), mnist_train.data.numpy())
    np.testing.assert_array_equal(ds.targets.numpy(), mnist_train.targets.numpy())
    assert len(MNIST(tmp_path, train=False)) == 1000


@needs_sample
def test_mnist_loader_batches(mnist_train, monkeypatch):
    def boom(self, i):
        raise AssertionError("per-sample path used")

    monkeypatch.setattr(_ImageArrayDataset, "__getitem__", boom)
    loader = DataLoader(mnist_train, batch_size=64, shuffle=True, generator=gen(0))
    assert len(loader) == 110
    n = 0
    for x, y in loader:
        assert x.shape[1:] == (1, 28, 28) and x.dtype == nabla.float32
        assert y.dtype == nabla.int64
        n += len(y)
    assert n == 7000
    assert x.shape[0] == 7000 - 109 * 64


@needs_sample
def test_mnist_transforms_use_generic_path():
    ds = MNIST(SAMPLE, train=False, transform=lambda img: int(img.sum()),
               target_transform=lambda t: t + 100)
    x, y = ds[0]
    assert x == ds.data.numpy()[0].sum() and y == ds.targets.numpy()[0] + 100
    xb, yb = next(iter(DataLoader(ds, batch_size=5)))
    assert xb.shape == (5,) and (yb.numpy() >= 100).all()


def test_mnist_missing_files_message_names_directory_and_files(tmp_path):
    with pytest.raises(FileNotFoundError) as info:
        MNIST(tmp_path / "nowhere", train=False)
    msg = str(info.value)
    assert str((tmp_path / "nowhere").resolve()) in msg
    assert "t10k-images-idx3-ubyte.gz" in msg and "t10k-labels-idx1-ubyte.gz" in msg
    assert "download=True" in msg


def test_mnist_mismatched_counts(tmp_path):
    write(tmp_path / "t10k-images-idx3-ubyte", idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.zeros(2, np.uint8)))
    with pytest.raises(ValueError, match="3 images but .* 2 labels"):
        MNIST(tmp_path, train=False)
    write(tmp_path / "t10k-labels-idx1-ubyte", idx_bytes(np.array([1, 2, 10], np.uint8)))
    with pytest.raises(ValueError, match="label 10 is out of range"):
        MNIST(tmp_path, train=False)


def test_published_hash_tables_are_complete():
    for cls in (MNIST, FashionMNIST):
        assert sorted(cls.resources) == sorted(n + ".gz" for n in MNIST_NAMES)
        for sha, size in cls.resources.values():
            assert len(sha) == 64 and int(sha, 16) >= 0 and size > 0


# ------------------------------------------------------------------ download

@pytest.fixture
def fake_mirrors(tmp_path):
    """Two local mirrors: the first serves corrupt copies, the second good ones; and a
    resources table with the good copies' hashes."""
    rng = np.random.default_rng(0)
    good = {
        "t10k-images-idx3-ubyte.gz":
            gzip.compress(idx_bytes(rng.integers(0, 256, (6, 28, 28), dtype=np.uint8))),
        "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(np.arange(6, dtype=np.uint8))),
    }
    bad_dir, good_dir = tmp_path / "mirror-bad", tmp_path / "mirror-good"
    bad_dir.mkdir()
    good_dir.mkdir()
    resources = {}
    for name, data in good.items():
        (good_dir / name).write_bytes(data)
        (bad_dir / name).write_bytes(data[:-5] + b"XXXXX")  # same size, wrong bytes
        resources[name] = (hashlib.sha256(data).hexdigest(), len(data))

    class TinyMNIST(MNIST):
        pass

    TinyMNIST.resources = resources
    return TinyMNIST, bad_dir.as_uri() + "/", good_dir.as_uri() + "/", good


def test_download_falls_back_to_next_mirror_and_verifies(tmp_path, fake_mirrors):
    TinyMNIST, bad, good_url, good = fake_mirrors
    calls = []

    def opener(url):
        calls.append(url)
        return open(url.removeprefix("file://"), "rb")

    root = tmp_path / "cache"
    ds = TinyMNIST(root, train=False, download=True, mirrors=[bad, good_url], opener=opener)
    assert len(ds) == 6 and ds.targets.numpy().tolist() == list(range(6))
    assert calls == [bad + "t10k-images-idx3-ubyte.gz", good_url + "t10k-images-idx3-ubyte.gz",
                     bad + "t10k-labels-idx1-ubyte.gz", good_url + "t10k-labels-idx1-ubyte.gz"]
    # Only the verified files remain: the corrupt downloads and temporaries are gone.
    assert sorted(p.name for p in root.iterdir()) == sorted(good)
    for name, data in good.items():
        assert (root / name).read_bytes() == data
    # A second construction finds the files and downloads nothing.
    calls.clear()
    TinyMNIST(root, train=False, download=True, mirrors=[bad, good_url], opener=opener)
    assert calls == []


def test_download_with_urllib_file_urls(tmp_path, fake_mirrors):
    TinyMNIST, bad, good_url, _ = fake_mirrors
    ds = TinyMNIST(tmp_path / "c", train=False, download=True, mirrors=[bad, good_url])
    assert len(ds) == 6


def test_download_all_mirrors_fail_says_where_to_put_files(tmp_path, fake_mirrors):
    TinyMNIST, bad, _, _ = fake_mirrors

    def offline(url):
        raise OSError("network is unreachable")

    root = tmp_path / "offline"
    with pytest.raises(DownloadError) as info:
        TinyMNIST(root, train=False, download=True, mirrors=[bad, "https://x.invalid/"],
                  opener=offline)
    msg = str(info.value)
    assert "network is unreachable" in msg and "https://x.invalid/t10k-images" in msg
    assert str(root.resolve()) in msg and "t10k-images-idx3-ubyte.gz" in msg
    assert list(root.iterdir()) == []  # nothing half-written left behind


def test_download_rejects_wrong_hash_and_oversize(tmp_path):
    from nabla.data.datasets.mnist import download_file

    payload = b"x" * 1000
    sha = hashlib.sha256(payload).hexdigest()
    with pytest.raises(DownloadError, match="SHA-256"):
        download_file("f.gz", tmp_path, ["m/"], "0" * 64, opener=lambda u: io.BytesIO(payload))
    with pytest.raises(DownloadError, match="more than the expected 999 bytes"):
        download_file("f.gz", tmp_path, ["m/"], sha, opener=lambda u: io.BytesIO(payload),
                      max_bytes=999)
    assert list(tmp_path.iterdir()) == []
    out = download_file("f.gz", tmp_path, ["m"], sha, opener=lambda u: io.BytesIO(payload))
    assert out.read_bytes() == payload


def test_default_root_is_the_cache(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "nabla" / "fashion-mnist")):
        FashionMNIST(train=False)


# ------------------------------------------------------------------ digits

def test_digits_bundle():
    X, y = datasets.digits()
    assert X.shape == (1797, 1, 8, 8) and X.dtype == nabla.float32
    assert y.shape == (1797,) and y.dtype == nabla.int64
    assert sorted(set(y.numpy().tolist())) == list(range(10))
    x = X.numpy()
    assert x.min() == 0.0 and x.max() == 1.0
    # grey levels 0..16 scaled by 1/16: every value is a multiple of 1/16
    np.testing.assert_array_equal(x * 16, np.round(x * 16))
    assert np.bincount(y.numpy()).min() >= 170


def test_digits_split_is_deterministic_disjoint_and_stratified():
    from nabla.data.datasets.digits import _load, _split_indices

    labels = _load()[1]
    tr = _split_indices(labels, "train", 0.2, 0)
    te = _split_indices(labels, "test", 0.2, 0)
    assert len(tr) + len(te) == 1797 and not set(tr.tolist()) & set(te.tolist())
    share = np.bincount(labels[te], minlength=10) / np.bincount(labels, minlength=10)
    assert np.all(np.abs(share - 0.2) < 0.01)
    assert np.array_equal(te, _split_indices(labels, "test", 0.2, 0))
    assert not np.array_equal(te, _split_indices(labels, "test", 0.2, 1))
    Xtr, ytr = datasets.digits("train", flatten=True)
    assert Xtr.shape == (len(tr), 64)
    np.testing.assert_array_equal(ytr.numpy(), labels[tr])
    with pytest.raises(ValueError, match="split"):
        datasets.digits("validation")


def test_digits_dataset_class():
    train, test = datasets.Digits(train=True), datasets.Digits(train=False)
    assert len(train) + len(test) == 1797
    image, label = test[0]
    assert image.shape == (1, 8, 8) and type(label) is int
    assert train.data.dtype == nabla.uint8 and train.data.numpy().max() == 16
    x, y = next(iter(DataLoader(train, batch_size=32, shuffle=True, generator=gen(0))))
    assert x.shape == (32, 1, 8, 8) and float(x.numpy().max()) <= 1.0
    X, _ = test.arrays(flatten=True)
    assert X.shape == (len(test), 64)


def test_digits_bundle_shipped_with_licence():
    folder = Path(datasets.__file__).parent
    text = (folder / "DIGITS_LICENSE.txt").read_text()
    assert "CC BY 4.0" in text and "Alpaydin" in text
    with np.load(folder / "digits.npz", allow_pickle=False) as f:
        assert sorted(f.files) == ["images", "labels"]


# ------------------------------------------------------------------ toy sets

TOYS = {
    "xor": lambda seed: datasets.xor(40, noise=0.1, seed=seed),
    "spiral": lambda seed: datasets.spiral(20, classes=3, noise=0.2, seed=seed),
    "moons": lambda seed: datasets.moons(40, noise=0.1, seed=seed),
    "circles": lambda seed: datasets.circles(40, noise=0.05, seed=seed),
    "blobs": lambda seed: datasets.blobs(40, centers=4, std=0.5, seed=seed),
    "house_prices": lambda seed: datasets.house_prices(40, seed=seed),
}


@pytest.mark.parametrize("name", sorted(TOYS))
def test_toy_sets_are_seeded(name):
    X1, y1 = TOYS[name](0)
    X2, y2 = TOYS[name](0)
    X3, _ = TOYS[name](1)
    np.testing.assert_array_equal(X1.numpy(), X2.numpy())
    np.testing.assert_array_equal(y1.numpy(), y2.numpy())
    assert not np.array_equal(X1.numpy(), X3.numpy())
    assert X1.dtype == nabla.float32 and X1.shape[1] == 2 and len(y1) == len(X1)


@pytest.mark.parametrize("name,n,classes", [
    ("xor", 40, 2), ("spiral", 60, 3), ("moons", 40, 2), ("circles", 40, 2), ("blobs", 40, 4)])
def test_toy_classification_shapes_and_labels(name, n, classes):
    X, y = TOYS[name](0)
    assert X.shape == (n, 2) and y.shape == (n,) and y.dtype == nabla.int64
    assert np.bincount(y.numpy()).tolist() == [n // classes] * classes


def test_toy_global_generator_when_seed_is_none():
    nabla.manual_seed(5)
    a = datasets.moons(10, seed=None)[0].numpy()
    nabla.manual_seed(5)
    b = datasets.moons(10, seed=None)[0].numpy()
    np.testing.assert_array_equal(a, b)


def test_toy_geometry():
    X, y = datasets.xor(400, noise=0.0)
    x = X.numpy()
    np.testing.assert_array_equal(y.numpy(), np.logical_xor(x[:, 0] > 0.5, x[:, 1] > 0.5))
    X, y = datasets.spiral(100, classes=2, noise=0.0)
    r = np.hypot(*X.numpy().T)
    assert r.max() == pytest.approx(1.0, abs=1e-6) and r.min() == 0.0
    X, y = datasets.blobs(100, centers=[[0, 0], [10, 10]], std=0.1)
    means = [X.numpy()[y.numpy() == k].mean(0) for k in (0, 1)]
    np.testing.assert_allclose(means, [[0, 0], [10, 10]], atol=0.05)
    X, y = datasets.circles(200, noise=0.0, factor=0.3)
    r = np.hypot(*X.numpy().T)
    np.testing.assert_allclose(r, np.where(y.numpy() == 0, 1.0, 0.3), atol=1e-6)


def test_house_prices_regression():
    X, y = datasets.house_prices(2000, noise=10.0, seed=0)
    assert X.shape == (2000, 2) and y.shape == (2000, 1) and y.dtype == nabla.float32
    size, location = X.numpy().T
    assert 30 <= size.min() and size.max() <= 250 and 0 <= location.min() <= location.max() <= 1
    A = np.c_[np.ones(2000), X.numpy()]
    coef = np.linalg.lstsq(A, y.numpy()[:, 0], rcond=None)[0]
    np.testing.assert_allclose(coef, [50, 3, 200], rtol=0.05)
    residual = y.numpy()[:, 0] - A @ coef
    assert 8 < residual.std() < 12


@pytest.mark.parametrize("call", [
    lambda: datasets.xor(0), lambda: datasets.spiral(10, classes=0),
    lambda: datasets.moons(-3), lambda: datasets.circles(10, factor=1.5),
    lambda: datasets.blobs(10, centers=np.zeros(3)),
])
def test_toy_bad_arguments(call):
    with pytest.raises(ValueError):
        call()


# ------------------------------------------------------------------ speed

@needs_sample
def test_loader_is_cheap_per_batch(mnist_train):
    loader = DataLoader(mnist_train, batch_size=64, shuffle=True, generator=gen(0))
    for _ in loader:  # warm up
        pass
    t = time.perf_counter()
    for _ in loader:
        pass
    per_batch = (time.perf_counter() - t) / len(loader)
    # Measured ~20 us; a per-sample Python loop costs ~10x more. Generous for slow CI.
    assert per_batch < 1e-3, f"{per_batch * 1e6:.0f} us per batch"

