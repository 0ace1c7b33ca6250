"""ember.optim.SparseAdam: ember has no sparse tensors, so every gradient is dense and refused
with torch's error, as torch refuses dense gradients; its constructor checks match torch's."""
from __future__ import annotations

from helpers import same_error, torch_or_skip

torch = torch_or_skip()


def test_dense_gradient_is_refused_like_torch():
    def step(m):
        w = m.ones(3, requires_grad=True)
        opt = m.optim.SparseAdam([w])
        (w * w).sum().backward()
        opt.step()
    same_error(step)


def test_no_gradient_is_a_no_op_like_torch():
    import ember
    for m in (torch, ember):
        w = m.ones(3, requires_grad=True)
        opt = m.optim.SparseAdam([w], lr=0.1)
        opt.step()
        assert w.tolist() == [1.0, 1.0, 1.0]
        assert repr(opt) == repr(torch.optim.SparseAdam([torch.ones(3, requires_grad=True)],
                                                        lr=0.1))


def test_errors_match_torch():
    for kw in (dict(lr=-1), dict(eps=-1), dict(betas=(1.0, 0.9)), dict(betas=(0.9, 1.0))):
        same_error(lambda m, kw=kw: m.optim.SparseAdam([m.zeros(2, requires_grad=True)], **kw))
