"""Write the seed corpus: small valid files of each kind the readers take.

    python fuzz/make_seeds.py DIR    # DIR/safetensors/* and DIR/idx/*
"""

from __future__ import annotations

import gzip
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def make(directory: str) -> None:
    from targets import tiny_training

    from nabla import io, models
    from nabla.train import EarlyStopping

    st = os.path.join(directory, "safetensors")
    idx = os.path.join(directory, "idx")
    os.makedirs(st, exist_ok=True)
    os.makedirs(idx, exist_ok=True)
    model, opt, gen = tiny_training()
    es = EarlyStopping("loss", patience=2)
    es.on_train_begin()
    io.save_checkpoint(os.path.join(st, "checkpoint"), model, opt, epoch=2, step=4,
                       generator=gen, callbacks=[es], extra={"history": {"loss": [1.0, 0.5]}})
    io.save(model, os.path.join(st, "model"))
    io.save(models.rnn_classifier(input_size=3, hidden_size=2, num_classes=2),
            os.path.join(st, "rnn"))
    dtypes = ["uint8", "uint16", "uint32", "uint64", "int8", "int16", "int32", "int64",
              "float16", "float32", "float64", "bool"]
    io.save({d: np.arange(3).astype(d) for d in dtypes}, os.path.join(st, "dtypes"),
            metadata={"note": "all dtypes"})
    io.save({}, os.path.join(st, "empty"))
    raw = bytes([0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0, 2]) + bytes(range(8))
    floats = bytes([0, 0, 0x0D, 1, 0, 0, 0, 2]) + np.array([1.5, -2], ">f4").tobytes()
    for name, body in (("u8", raw), ("f4", floats)):
        with open(os.path.join(idx, name), "wb") as f:
            f.write(b"\0" + body)  # first byte even: read as a plain file
        with open(os.path.join(idx, name + ".gz"), "wb") as f:
            f.write(b"\1" + gzip.compress(body))  # odd: as a .gz file


if __name__ == "__main__":
    make(sys.argv[1] if len(sys.argv) > 1 else "fuzz/corpus")
