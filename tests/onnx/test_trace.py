"""The tracer (ember._trace): what it records, and that eager mode is left as it was."""
from __future__ import annotations

import numpy as np
import pytest
from helpers import torch_or_skip

import ember
import ember.nn as nn
from ember._trace import Graph, TraceError, is_tracing, trace
from ember.backend import NUMPY
from ember.devices import device_of, move
from ember.ops import _op


def _host(array):
    """A graph's array (kept on its tensor's device) as a NumPy array."""
    return move(array, NUMPY, None)


def _torch_node_names(out) -> list[str]:
    """The node types of torch's autograd graph under ``out``, AccumulateGrad left out."""
    seen, stack, names = set(), [out.grad_fn], []
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        if type(fn).__name__ != "AccumulateGrad":
            names.append(type(fn).__name__)
        stack.extend(f for f, _ in fn.next_functions)
    return sorted(names)


def test_records_torchs_nodes_for_a_cnn():
    """Each recorded node carries torch's node name: the same multiset as torch's graph."""
    torch = torch_or_skip()
    ember.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                      nn.Flatten(), nn.Linear(36, 5), nn.Softmax(-1)).eval()
    t = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                            torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(36, 5),
                            torch.nn.Softmax(-1)).eval()
    t.load_state_dict({k: torch.from_numpy(v.numpy()) for k, v in m.state_dict().items()})
    x = np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)
    g, out = trace(m, (ember.tensor(x),))
    tx = torch.tensor(x, requires_grad=True)
    ref = t(tx)
    assert sorted(n.name for n in g.nodes) == _torch_node_names(ref)
    np.testing.assert_allclose(out.detach().numpy(), ref.detach().numpy(), atol=1e-6)


def test_graph_structure():
    ember.manual_seed(0)
    m = nn.Sequential(nn.Linear(4, 3), nn.ReLU()).eval()
    x = ember.randn(2, 4)
    g, _ = trace(m, (x,))
    assert isinstance(g, Graph)
    assert [v.kind for v in g.inputs] == ["input"] and g.inputs[0].shape == (2, 4)
    assert list(g.params) == ["0.weight", "0.bias"]
    assert [n.name for n in g.nodes] == ["TBackward0", "AddmmBackward0", "ReluBackward0"]
    t, addmm, relu = g.nodes
    assert t.args == (g.params["0.weight"],) and t.outputs[0].is_static  # foldable: no input
    assert addmm.args == (g.params["0.bias"], g.inputs[0], t.outputs[0])
    assert addmm.kwargs == {"beta": 1, "alpha": 1}
    assert g.outputs == [relu.outputs[0]] and relu.outputs[0].producer is relu
    assert not relu.outputs[0].is_static and relu.outputs[0].data is None
    assert device_of(t.outputs[0].data) == x.device  # the trace keeps arrays where they live
    np.testing.assert_array_equal(_host(t.outputs[0].data), m[0].weight.detach().numpy().T)
    assert "AddmmBackward0(%0.bias, %input_0, %v0, beta=1, alpha=1)" in str(g)


def test_in_place_detach_constants_and_dead_nodes():
    def fn(x):
        y = x * 2
        y.relu_()  # the value y names from here on is relu's output
        z = y.detach() + ember.tensor([1.0, 2.0, 3.0])  # a constant made inside the forward
        _ = x.sum()  # computed, never used: not a live node
        return z

    g, out = trace(fn, (ember.tensor([-1.0, 0.5, 2.0]),))
    names = [n.name for n in g.nodes]
    assert names == ["MulBackward0", "ReluBackward0", "AddBackward0", "SumBackward0"]
    mul, relu, add, _ = g.nodes
    assert relu.args[0] is mul.outputs[0]
    assert add.args[0] is relu.outputs[0]  # detach() of a traced value is that value
    assert add.args[1].kind == "const" and g.constants == [add.args[1]]
    np.testing.assert_array_equal(_host(add.args[1].data), [1.0, 2.0, 3.0])
    assert [n.name for n in g.live_nodes()] == names[:3]
    np.testing.assert_array_equal(out.numpy(), [1.0, 3.0, 7.0])


def test_integer_inputs_and_multiple_outputs():
    emb = nn.Embedding(5, 2)
    g, _ = trace(lambda i: (emb(i), emb(i).sum()), (ember.tensor([[0, 4]]),))
    assert g.inputs[0].dtype is ember.int64 and len(g.outputs) == 2
    assert g.nodes[0].name == "EmbeddingBackward0" and g.nodes[0].kwargs["indices"] is g.inputs[0]


def test_eager_untouched():
    x = ember.randn(3)
    m = nn.Linear(3, 2)
    m.weight.requires_grad_(False)
    before = x.numpy().copy()
    _, out = trace(m, (x,))
    assert _op._tracer is None and not is_tracing()
    assert not x.requires_grad and x.grad_fn is None
    np.testing.assert_array_equal(x.numpy(), before)
    assert not m.weight.requires_grad and m.bias.requires_grad
    with ember.no_grad():
        np.testing.assert_array_equal(out.detach().numpy(), m(x).numpy())


def test_hook_cleared_after_failure_and_no_nesting():
    def bad(x):
        raise KeyError("boom")

    with pytest.raises(KeyError):
        trace(bad, (ember.randn(2),))
    assert _op._tracer is None

    def nested(x):
        trace(lambda y: y + 1, (x,))

    with pytest.raises(TraceError, match="inside another trace"):
        trace(nested, (ember.randn(2),))
    assert _op._tracer is None


def test_untracked_in_place_write_is_refused():
    def fn(i):
        with ember.no_grad():
            j = i + 0
            j.add_(1)  # an untracked tensor written in place: the trace cannot follow it
        return j * 2

    with pytest.raises(TraceError, match="modified in place outside the ops"):
        trace(fn, (ember.tensor([1, 2]),))


def test_functions_without_ops_recorded_on_request():
    """Comparisons and argmax make their tensors without Op.apply: with ``non_ops=True`` they
    are nodes of the graph, else constants of the trace; the originals are put back."""
    from ember._trace import tracer
    from ember.ops import compare, reduce

    def fn(x):
        return ember.where(x > 0, x, -x) + x.argmax().float()

    x = ember.tensor([-1.0, 2.0, -3.0])
    g, out = trace(fn, (x,), non_ops=True)
    names = [n.name for n in g.nodes]
    assert names[:2] == ["Ufunc", "NegBackward0"] and "ArgExtremum" in names
    assert g.nodes[0].kwargs == {"ufunc": "greater", "promote": True}
    assert g.nodes[0].args == (g.inputs[0], 0) and not g.constants
    assert compare._no_grad is tracer._compare_no_grad
    assert reduce._arg_extremum is tracer._arg_extremum
    g, _ = trace(fn, (x,))
    assert "Ufunc" not in [n.name for n in g.nodes] and len(g.constants) == 1
    np.testing.assert_array_equal(out.detach().numpy(), [2.0, 3.0, 4.0])
