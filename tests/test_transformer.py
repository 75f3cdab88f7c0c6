"""MultiheadAttention, the Transformer family and F.scaled_dot_product_attention against
torch 2.13: torch's weights loaded through state_dict, float64, dropout off; outputs and
gradients compared."""

import math

import numpy as np
import pytest

import nabla
import nabla.nn.functional as F
from nabla import nn

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-9, atol=1e-10)


def _copy(tmod, nmod):
    """nabla's module gets torch's weights (float64); both in eval mode."""
    tmod.double().eval()
    nmod.to(nabla.float64).eval()
    sd = {k: nabla.tensor(v.detach().numpy()) for k, v in tmod.state_dict().items()}
    assert sorted(sd) == sorted(nmod.state_dict())
    nmod.load_state_dict(sd)


def _pair(x, grad=True):
    return (nabla.tensor(x, requires_grad=grad), torch.tensor(x, requires_grad=grad))


def _check_grads(nmod, tmod):
    tparams = dict(tmod.named_parameters())
    for name, p in nmod.named_parameters():
        tg = tparams[name].grad
        if tg is None:
            assert p.grad is None or not np.any(p.grad.numpy()), name
            continue
        np.testing.assert_allclose(p.grad.numpy(), tg.numpy(), err_msg=name, **TOL)


RNG = np.random.default_rng(0)


@pytest.mark.parametrize("mask", [None, "bool", "float", "causal"])
@pytest.mark.parametrize("gqa", [False, True])
def test_sdpa_matches_torch(mask, gqa):
    q = RNG.standard_normal((2, 4, 5, 6))
    kv_heads = 2 if gqa else 4
    k = RNG.standard_normal((2, kv_heads, 7, 6))
    v = RNG.standard_normal((2, kv_heads, 7, 3))
    kw = {"enable_gqa": gqa, "scale": 0.4 if gqa else None}
    if mask == "bool":
        m = RNG.random((5, 7)) > 0.4
        m[:, 0] = True
        kw["attn_mask"] = m
    elif mask == "float":
        kw["attn_mask"] = RNG.standard_normal((2, 1, 5, 7))
    elif mask == "causal":
        kw["is_causal"] = True
    nq, tq = _pair(q)
    nk, tk = _pair(k)
    nv, tv = _pair(v)
    nkw = {a: (nabla.tensor(b) if a == "attn_mask" else b) for a, b in kw.items()}
    tkw = {a: (torch.tensor(b) if a == "attn_mask" else b) for a, b in kw.items()}
    n = F.scaled_dot_product_attention(nq, nk, nv, **nkw)
    t = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, **tkw)
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), **TOL)
    g = RNG.standard_normal(t.shape)
    (n * nabla.tensor(g)).sum().backward()
    (t * torch.tensor(g)).sum().backward()
    for a, b in ((nq, tq), (nk, tk), (nv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)


def test_sdpa_refuses_mask_with_is_causal():
    x = nabla.ones(1, 2, 3)
    with pytest.raises(ValueError, match="is_causal"):
        F.scaled_dot_product_attention(x, x, x, attn_mask=nabla.ones(2, 2), is_causal=True)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("case", ["plain", "masks_bool", "masks_float", "no_weights",
                                  "per_head", "kvdim", "bias_kv_zero_attn"])
def test_multihead_attention_matches_torch(batch_first, case):
    E, H, L, S, N = 8, 2, 4, 5, 3
    kw = {}
    if case == "kvdim":
        kw = {"kdim": 6, "vdim": 7}
    if case == "bias_kv_zero_attn":
        kw = {"add_bias_kv": True, "add_zero_attn": True}
    tm = torch.nn.MultiheadAttention(E, H, batch_first=batch_first, **kw)
    nm = nn.MultiheadAttention(E, H, batch_first=batch_first, **kw)
    _copy(tm, nm)

    def shape(n, d):
        return (N, n, d) if batch_first else (n, N, d)

    nq, tq = _pair(RNG.standard_normal(shape(L, E)))
    nk, tk = _pair(RNG.standard_normal(shape(S, kw.get("kdim", E))))
    nv, tv = _pair(RNG.standard_normal(shape(S, kw.get("vdim", E))))
    call = {}
    if case in ("masks_bool", "bias_kv_zero_attn"):
        am = RNG.random((L, S)) > 0.7
        am[:, 0] = False
        kpm = np.zeros((N, S), dtype=bool)
        kpm[1, 3:] = True
        call = {"attn_mask": am, "key_padding_mask": kpm}
    elif case == "masks_float":
        call = {"attn_mask": RNG.standard_normal((L, S)),
                "key_padding_mask": RNG.standard_normal((N, S))}
    elif case == "per_head":
        call = {"attn_mask": RNG.standard_normal((N * H, L, S)),
                "average_attn_weights": False}
    elif case == "no_weights":
        call = {"need_weights": False}
    ncall = {a: nabla.tensor(b) if isinstance(b, np.ndarray) else b for a, b in call.items()}
    tcall = {a: torch.tensor(b) if isinstance(b, np.ndarray) else b for a, b in call.items()}
    nout, nw = nm(nq, nk, nv, **ncall)
    tout, tw = tm(tq, tk, tv, **tcall)
    np.testing.assert_allclose(nout.detach().numpy(), tout.detach().numpy(), **TOL)
    if tw is None:
        assert nw is None
    else:
        np.testing.assert_allclose(nw.detach().numpy(), tw.detach().numpy(), **TOL)
    g = RNG.standard_normal(tout.shape)
    (nout * nabla.tensor(g)).sum().backward()
    (tout * torch.tensor(g)).sum().backward()
    for a, b in ((nq, tq), (nk, tk), (nv, tv)):
        np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), **TOL)
    _check_grads(nm, tm)


def test_multihead_attention_unbatched():
    tm, nm = torch.nn.MultiheadAttention(6, 3), nn.MultiheadAttention(6, 3)
    _copy(tm, nm)
    x = RNG.standard_normal((4, 6))
    n, nw = nm(nabla.tensor(x), nabla.tensor(x), nabla.tensor(x))
    t, tw = tm(torch.tensor(x), torch.tensor(x), torch.tensor(x))
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), **TOL)
    np.testing.assert_allclose(nw.detach().numpy(), tw.detach().numpy(), **TOL)


def _encoder_pair(norm_first, activation, batch_first):
    kw = dict(d_model=8, nhead=2, dim_feedforward=16, dropout=0.1, batch_first=batch_first,
              norm_first=norm_first)
    tact = {"relu": "relu", "gelu": "gelu", "callable": torch.tanh}[activation]
    nact = {"relu": "relu", "gelu": "gelu", "callable": nabla.tanh}[activation]
    tl = torch.nn.TransformerEncoderLayer(activation=tact, **kw)
    nl = nn.TransformerEncoderLayer(activation=nact, **kw)
    return (torch.nn.TransformerEncoder(tl, 2, norm=torch.nn.LayerNorm(8),
                                        enable_nested_tensor=False),
            nn.TransformerEncoder(nl, 2, norm=nn.LayerNorm(8)))


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu", "callable"])
@pytest.mark.parametrize("batch_first", [False, True])
def test_transformer_encoder_matches_torch(norm_first, activation, batch_first):
    tm, nm = _encoder_pair(norm_first, activation, batch_first)
    _copy(tm, nm)
    x = RNG.standard_normal((3, 5, 8) if batch_first else (5, 3, 8))  # batch 3, length 5
    nx, tx = _pair(x)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(5, dtype=torch.float64)
    nmask = nn.Transformer.generate_square_subsequent_mask(5, dtype=nabla.float64)
    np.testing.assert_array_equal(nmask.numpy(), mask.numpy())
    kpm = np.zeros((3, 5), dtype=bool)
    kpm[1, -2:] = True
    n = nm(nx, mask=nmask, src_key_padding_mask=nabla.tensor(kpm))
    t = tm(tx, mask=mask, src_key_padding_mask=torch.tensor(kpm))
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), **TOL)
    n.sum().backward()
    t.sum().backward()
    np.testing.assert_allclose(nx.grad.numpy(), tx.grad.numpy(), **TOL)
    _check_grads(nm, tm)


@pytest.mark.parametrize("norm_first", [False, True])
def test_full_transformer_matches_torch(norm_first):
    kw = dict(d_model=8, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
              dim_feedforward=16, norm_first=norm_first, batch_first=True)
    tm, nm = torch.nn.Transformer(**kw), nn.Transformer(**kw)
    _copy(tm, nm)
    src, tgt = RNG.standard_normal((2, 6, 8)), RNG.standard_normal((2, 4, 8))
    (ns, ts), (nt, tt) = _pair(src), _pair(tgt)
    tmask = tm.generate_square_subsequent_mask(4, dtype=torch.float64)
    mkpm = np.zeros((2, 6), dtype=bool)
    mkpm[0, -1] = True
    n = nm(ns, nt, tgt_mask=nm.generate_square_subsequent_mask(4, dtype=nabla.float64),
           memory_key_padding_mask=nabla.tensor(mkpm))
    t = tm(ts, tt, tgt_mask=tmask, memory_key_padding_mask=torch.tensor(mkpm))
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), **TOL)
    g = RNG.standard_normal(t.shape)
    (n * nabla.tensor(g)).sum().backward()
    (t * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(ns.grad.numpy(), ts.grad.numpy(), **TOL)
    np.testing.assert_allclose(nt.grad.numpy(), tt.grad.numpy(), **TOL)
    _check_grads(nm, tm)


def _language_model(L):
    """The shape of PyTorch's word-language-model example: a Transformer subclass that
    keeps only the encoder and puts a Linear where the decoder was."""

    class TransformerModel(L.nn.Transformer):
        def __init__(self, ntoken, ninp, nhead, nhid, nlayers, dropout=0.5):
            super().__init__(d_model=ninp, nhead=nhead, dim_feedforward=nhid,
                             num_encoder_layers=nlayers)
            self.model_type = "Transformer"
            self.src_mask = None
            self.input_emb = L.nn.Embedding(ntoken, ninp)
            self.ninp = ninp
            self.decoder = L.nn.Linear(ninp, ntoken)

        def forward(self, src):
            mask = self.generate_square_subsequent_mask(src.shape[0], dtype=L.float64)
            x = self.input_emb(src) * math.sqrt(self.ninp)
            out = self.encoder(x, mask=mask)
            return L.nn.functional.log_softmax(self.decoder(out), dim=-1)

    return TransformerModel(11, 8, 2, 16, 2)


def test_transformer_subclass_as_in_the_word_language_model_example():
    tm, nm = _language_model(torch), _language_model(nabla)
    _copy(tm, nm)
    assert not any(k.startswith("decoder.layers") for k in nm.state_dict())
    tokens = RNG.integers(0, 11, (7, 3))
    n = nm(nabla.tensor(tokens))
    t = tm(torch.tensor(tokens))
    np.testing.assert_allclose(n.detach().numpy(), t.detach().numpy(), **TOL)
    n.sum().backward()
    t.sum().backward()
    _check_grads(nm, tm)
