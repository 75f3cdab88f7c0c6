"""Structural mutations of safetensors headers (issue 22): whatever the header says,
every reader returns or raises CheckpointError naming the file, nothing else."""

import json

import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import nabla  # noqa: E402
from nabla import io, models, optim  # noqa: E402
from nabla.io import CheckpointError  # noqa: E402


def _seed_file(tmp_path_factory):
    d = tmp_path_factory.mktemp("seed")
    nabla.manual_seed(0)
    m = models.mlp(3, hidden=(4,), out_features=2)
    opt = optim.Adam(m.parameters(), lr=0.01)
    opt.zero_grad()
    m(nabla.randn(4, 3)).sum().backward()
    opt.step()
    p = d / "ckpt.safetensors"
    io.save_checkpoint(p, m, opt, epoch=1, step=1, generator=nabla.Generator().manual_seed(1),
                       extra={"history": {"loss": [0.5]}})
    raw = p.read_bytes()
    n = int.from_bytes(raw[:8], "little")
    return json.loads(raw[8:8 + n]), raw[8 + n:]


@pytest.fixture(scope="module")
def seed(tmp_path_factory):
    return _seed_file(tmp_path_factory)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2 ** 70, 2 ** 70) | st.floats()
    | st.text(max_size=8) | st.sampled_from(["F32", "U64", "BOOL", "BF16", "__tensor__"]),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner,
                                                                max_size=4),
    max_leaves=12)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from _paths(v, (*prefix, i))


def _set(obj, path, value):
    for key in path[:-1]:
        obj = obj[key]
    obj[path[-1]] = value


def _expand(header):
    """The header with its JSON-in-a-string metadata decoded, so mutations reach inside."""
    h = json.loads(json.dumps(header))
    meta = h.get("__metadata__", {})
    for k in ("nabla_checkpoint", "nabla_arch"):
        if k in meta:
            meta[k] = json.loads(meta[k])
    return h


def _collapse(h):
    meta = h.get("__metadata__")
    if isinstance(meta, dict):
        for k in ("nabla_checkpoint", "nabla_arch"):
            if k in meta and not isinstance(meta[k], str):
                meta[k] = json.dumps(meta[k])
    return h


@st.composite
def mutated_files(draw, seed):
    header, data = seed
    h = _expand(header)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(h) if p]
        path = draw(st.sampled_from(paths))
        op = draw(st.sampled_from(["replace", "delete", "nest", "int"]))
        if op == "replace":
            _set(h, path, draw(json_values))
        elif op == "nest":
            depth = draw(st.sampled_from([10, 70, 400]))
            _set(h, path, json.loads("[" * depth + "]" * depth))
        elif op == "int":
            _set(h, path, draw(st.integers(-2 ** 64, 2 ** 64)))
        else:
            parent = h
            for key in path[:-1]:
                parent = parent[key]
            del parent[path[-1]]
    text = json.dumps(_collapse(h)).encode()
    cut = draw(st.sampled_from([0, 0, 0, -1, 1]))
    body = data[:cut] if cut < 0 else data + b"\0" * cut
    return len(text).to_bytes(8, "little") + text + body


READERS = ["load", "read_metadata", "load_model", "read_checkpoint", "load_checkpoint"]


@pytest.mark.parametrize("reader", READERS)
def test_structurally_mutated_headers_raise_only_checkpoint_error(tmp_path, seed, reader):
    p = tmp_path / "mutated.safetensors"

    @settings(max_examples=60, deadline=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(mutated_files(seed))
    def check(raw):
        p.write_bytes(raw)
        try:
            if reader == "load_checkpoint":
                m = models.mlp(3, hidden=(4,), out_features=2)
                io.load_checkpoint(p, m, optim.Adam(m.parameters(), lr=0.01),
                                   generator=nabla.Generator(), restore_rng=False)
            else:
                getattr(io, reader)(p)
        except CheckpointError as e:
            assert str(p) in str(e)

    check()
