"""IDX files whose headers claim more than they should (issue 22)."""

import gzip
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from nabla.data.datasets import mnist


def _gzip_claiming(path, shape, payload=0):
    """A gzip IDX image file with header ``shape`` (uint8) followed by ``payload`` zero
    bytes as gzip members of up to 16 MiB: gzip readers join members, so a 1 GiB
    payload costs a few tiny members, not a 1 GiB compression."""
    header = bytes([0, 0, 8, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)
    block = 16 << 20
    member = gzip.compress(b"\0" * block, compresslevel=9)
    with open(path, "wb") as f:
        f.write(gzip.compress(header))
        for _ in range(payload // block):
            f.write(member)
        f.write(gzip.compress(b"\0" * (payload % block), compresslevel=9))


def test_mnist_refuses_an_honest_1gib_image_file_under_100mb(tmp_path):
    n = (1 << 30) // 784  # 1 GiB of 28x28 images, really there once inflated
    _gzip_claiming(tmp_path / "train-images-idx3-ubyte.gz", (n, 28, 28), payload=n * 784)
    labels = bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + bytes(range(10))
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(gzip.compress(labels))
    assert (tmp_path / "train-images-idx3-ubyte.gz").stat().st_size < 2 << 20
    code = textwrap.dedent(f"""
        import tracemalloc
        tracemalloc.start()
        from nabla.data.datasets import MNIST
        try:
            MNIST({str(tmp_path)!r})
            print("accepted")
        except ValueError as e:
            print("refused:", e)
        print(tracemalloc.get_traced_memory()[1])
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300)
    lines = out.stdout.strip().splitlines()
    assert lines and lines[0].startswith("refused:") and "but" in lines[0] \
        and "holds 10 labels" in lines[0], out
    assert int(lines[-1]) < 100 << 20


def test_read_idx_refuses_claims_over_the_absolute_limit(tmp_path):
    p = tmp_path / "big-idx3-ubyte.gz"
    _gzip_claiming(p, (2048,), payload=2048)
    with pytest.raises(ValueError, match="over the 1000-byte limit"):
        mnist.read_idx(p, max_bytes=1000)
    raw = tmp_path / "big-idx3-ubyte"
    raw.write_bytes(bytes([0, 0, 8, 1]) + (1000).to_bytes(4, "big") + bytes(1000))
    with pytest.raises(ValueError, match="over the 999-byte limit"):
        mnist.read_idx(raw, max_bytes=999)
    assert mnist.read_idx(raw).shape == (1000,)


def test_read_idx_gz_round_trip_and_missing_file(tmp_path):
    p = tmp_path / "x-idx2-ubyte.gz"
    a = np.arange(12, dtype=np.uint8).reshape(3, 4)
    p.write_bytes(gzip.compress(bytes([0, 0, 8, 2, 0, 0, 0, 3, 0, 0, 0, 4]) + a.tobytes()))
    assert np.array_equal(mnist.read_idx(p), a)
    assert mnist.read_idx_header(p) == (np.dtype(np.uint8), (3, 4))
    with pytest.raises(FileNotFoundError):
        mnist.read_idx(tmp_path / "missing-idx1-ubyte.gz")
