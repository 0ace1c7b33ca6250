"""ember.optim.swa_utils against torch.optim.swa_utils: AveragedModel (SWA, EMA via avg_fn and
multi_avg_fn, use_buffers), its state_dict keys and repr, SWALR's lr sequence and state,
update_bn's running statistics, the averaging functions' errors."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import same_error, torch_or_skip

import ember

torch = torch_or_skip()


def _model(mod, seed=0):
    r = np.random.default_rng(seed)
    m = mod.nn.Sequential(mod.nn.Linear(3, 4), mod.nn.BatchNorm1d(4), mod.nn.ReLU(),
                          mod.nn.Linear(4, 2))
    with mod.no_grad():
        for p in m.parameters():
            p.copy_(mod.tensor(r.standard_normal(tuple(p.shape)).astype(np.float32)))
    return m


def _perturb(mod, model, k):
    r = np.random.default_rng(100 + k)
    with mod.no_grad():
        for p in model.parameters():
            p.add_(mod.tensor(r.standard_normal(tuple(p.shape)).astype(np.float32)))
    model(mod.tensor(r.standard_normal((8, 3)).astype(np.float32)))  # moves BN's buffers


def _averaged(mod, kind, use_buffers=False):
    swa = mod.optim.swa_utils
    if kind == "swa":
        return lambda m: swa.AveragedModel(m, use_buffers=use_buffers)
    if kind == "ema_multi":
        return lambda m: swa.AveragedModel(m, multi_avg_fn=swa.get_ema_multi_avg_fn(0.9),
                                           use_buffers=use_buffers)
    if kind == "ema":
        return lambda m: swa.AveragedModel(m, avg_fn=swa.get_ema_avg_fn(0.8),
                                           use_buffers=use_buffers)
    return lambda m: swa.AveragedModel(m, multi_avg_fn=swa.get_swa_multi_avg_fn(),
                                       use_buffers=use_buffers)


@pytest.mark.parametrize("kind,use_buffers", [
    ("swa", False), ("ema_multi", False), ("ema", False), ("swa_multi", False), ("swa", True),
    ("ema_multi", True), ("ema", True)])
def test_averaged_model_matches_torch(kind, use_buffers):
    out = {}
    for mod in (torch, ember):
        model = _model(mod)
        avg = _averaged(mod, kind, use_buffers)(model)
        for k in range(4):
            _perturb(mod, model, k)
            avg.update_parameters(model)
        out[mod.__name__] = {k: v.detach().numpy().copy() for k, v in avg.state_dict().items()}
        out[mod.__name__ + "_repr"] = repr(avg)
        x = mod.tensor(np.ones((2, 3), np.float32))
        avg.eval()
        out[mod.__name__ + "_y"] = avg(x).detach().numpy()
    assert list(out["ember"]) == list(out["torch"])
    for k, v in out["torch"].items():
        np.testing.assert_allclose(out["ember"][k], v, rtol=1e-5, atol=1e-6, err_msg=k)
        assert out["ember"][k].dtype == v.dtype, k
    assert out["ember_repr"] == out["torch_repr"]
    np.testing.assert_allclose(out["ember_y"], out["torch_y"], rtol=1e-5, atol=1e-6)


def test_swa_multi_avg_fn_on_integer_buffers_fails_like_torch():
    # torch's multi-tensor SWA average divides integer buffers (num_batches_tracked) with addcdiv
    def run(mod):
        model = _model(mod)
        avg = _averaged(mod, "swa_multi", use_buffers=True)(model)
        for k in range(2):
            _perturb(mod, model, k)
            avg.update_parameters(model)
    same_error(run)


def test_update_bn_matches_torch():
    r = np.random.default_rng(3)
    batches = [r.standard_normal((5, 3)).astype(np.float32) for _ in range(4)]
    stats = {}
    for mod in (torch, ember):
        model = _model(mod)
        model.eval()
        loader = [(mod.tensor(b), 0) for b in batches]
        mod.optim.swa_utils.update_bn(loader, model)
        bn = model[1]
        assert not model.training and bn.momentum == 0.1
        stats[mod.__name__] = (bn.running_mean.numpy().copy(), bn.running_var.numpy().copy(),
                               int(bn.num_batches_tracked))
    for e, t in zip(stats["ember"], stats["torch"]):
        np.testing.assert_allclose(e, t, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kw", [dict(swa_lr=0.05, anneal_epochs=4),
                                dict(swa_lr=[0.05, 0.01], anneal_epochs=3,
                                     anneal_strategy="linear"),
                                dict(swa_lr=0.02, anneal_epochs=0)])
def test_swalr_matches_torch(kw):
    seqs, sds = {}, {}
    for mod in (torch, ember):
        groups = [{"params": [mod.zeros(2, requires_grad=True)]},
                  {"params": [mod.zeros(2, requires_grad=True)], "lr": 0.3}]
        opt = mod.optim.SGD(groups, lr=0.1)
        sched = mod.optim.swa_utils.SWALR(opt, **kw)
        seq = []
        for _ in range(8):
            opt.step()
            sched.step()
            seq.append(sched.get_last_lr())
        seqs[mod.__name__], sds[mod.__name__] = seq, sched.state_dict()
    for e, t in zip(seqs["ember"], seqs["torch"]):
        assert e == pytest.approx(t, rel=1e-12)
    assert sds["ember"] == sds["torch"]


@pytest.mark.parametrize("build", [
    lambda m: m.optim.swa_utils.get_ema_multi_avg_fn(1.5),
    lambda m: m.optim.swa_utils.get_ema_avg_fn(-0.1),
    lambda m: m.optim.swa_utils.SWALR(m.optim.SGD([m.zeros(1, requires_grad=True)], lr=0.1),
                                      0.05, anneal_strategy="step"),
    lambda m: m.optim.swa_utils.SWALR(m.optim.SGD([m.zeros(1, requires_grad=True)], lr=0.1),
                                      0.05, anneal_epochs=-1),
])
def test_errors_match_torch(build):
    same_error(build)
