"""draw_graph: the DOT structure of the tutorial's Q, saved tensors, recorded gradients, names,
module clusters, rendering, and the errors when Graphviz is missing."""
from __future__ import annotations

import os
import re
import shutil
import sys

import numpy as np
import pytest

import ember
from ember import nn
from ember.viz import draw_graph, record_grads
from ember.viz._walk import backward_order

pytest.importorskip("graphviz")  # the viz extra; CI installs it
HAVE_DOT = shutil.which("dot") is not None
if os.environ.get("CI") == "true":
    assert HAVE_DOT, "CI must install Graphviz (apt-get install graphviz)"


def _nodes(src: str) -> dict:
    """DOT node id -> label."""
    out = {}
    for m in re.finditer(r'^\s*(\w+) \[label=("(?:[^"\\]|\\.)*"|\S+)', src, re.M):
        out[m.group(1)] = m.group(2).strip('"')
    return out


def _edges(src: str) -> list:
    """(tail, head, label) in the order the DOT source declares them."""
    out = []
    for m in re.finditer(r'^\s*(\w+) -> (\w+)(?: \[(.*?)\])?$', src, re.M | re.S):
        attrs = m.group(3) or ""
        label = re.search(r'label=("(?:[^"\\]|\\.)*"|\S+)', attrs)
        out.append((m.group(1), m.group(2), label.group(1).strip('"') if label else None))
    return out


def _cluster_body(src: str, name: str) -> str:
    """The text of one cluster, nested clusters included."""
    start = src.index("{", src.index(f'cluster_{name}"' if "." in name else f"cluster_{name} "))
    depth = 0
    for i in range(start, len(src)):
        depth += {"{": 1, "}": -1}.get(src[i], 0)
        if depth == 0:
            return src[start:i + 1]
    raise AssertionError("unbalanced DOT source")


def _q():
    a = ember.tensor([2.0, 3.0], requires_grad=True)
    b = ember.tensor([6.0, 4.0], requires_grad=True)
    return a, b, 3 * a**3 - b**2


def test_q_nodes_edges_and_labels():
    a, b, Q = _q()
    src = draw_graph(Q, params={"a": a, "b": b}).source
    nodes = _nodes(src)
    names = sorted(label.split("\n")[0] for label in nodes.values())
    assert names == sorted(["SubBackward0", "MulBackward0", "PowBackward0", "PowBackward0",
                            "AccumulateGrad", "AccumulateGrad", "a", "b", "output"])
    labels = list(nodes.values())
    assert "a\n[2] float32" in labels and "b\n[2] float32" in labels
    out_id = next(k for k, v in nodes.items() if v.startswith("output"))
    assert "darkolivegreen1" in re.search(rf"^\s*{out_id} \[.*?\]$", src, re.M | re.S).group(0)
    edges = _edges(src)
    # the numbered edges, in their order: consumer's inputs in argument order
    numbered = [(nodes[t].split("\n")[0], nodes[h].split("\n")[0], lab) for t, h, lab in edges
                if lab and lab.startswith("#")]
    assert [lab for *_, lab in numbered] == ["#1", "#2", "#3", "#4", "#5"]
    assert numbered[0][:2] == ("MulBackward0", "SubBackward0")
    assert numbered[1][:2] == ("PowBackward0", "SubBackward0")
    assert {e[:2] for e in numbered[2:]} == {("AccumulateGrad", "PowBackward0"),
                                             ("PowBackward0", "MulBackward0")}
    # root edge to the highlighted output, and each leaf tied to its AccumulateGrad
    assert any(h == out_id and nodes[t] == "SubBackward0" for t, h, _ in edges)
    leaf_edges = [(nodes[t], nodes[h]) for t, h, _ in edges if nodes[t] in ("a\n[2] float32",
                                                                         "b\n[2] float32")]
    assert sorted(leaf_edges) == [("a\n[2] float32", "AccumulateGrad"),
                                  ("b\n[2] float32", "AccumulateGrad")]


def test_edge_numbers_follow_the_engine_and_torch():
    """The numbering is the order backward runs the nodes: checked against ember's engine (via
    pre-hooks) and against torch's on the same expression."""
    from helpers import torch_or_skip

    torch = torch_or_skip()
    a, b, Q = _q()
    ran = []
    for node in backward_order([Q.grad_fn]):
        if node.name() != "AccumulateGrad":
            node.register_prehook(lambda g, n=node: ran.append(n.name()))
    predicted = [n.name() for n in backward_order([Q.grad_fn]) if n.name() != "AccumulateGrad"]
    Q.backward(ember.ones(2))
    assert ran == predicted
    ta = torch.tensor([2.0, 3.0], requires_grad=True)
    tb = torch.tensor([6.0, 4.0], requires_grad=True)
    tQ = 3 * ta**3 - tb**2
    torch_ran, stack = [], [tQ.grad_fn]
    seen = set()
    while stack:
        n = stack.pop()
        if n is None or n in seen or "AccumulateGrad" in n.name():
            continue
        seen.add(n)
        n.register_prehook(lambda g, n=n: torch_ran.append(n.name()))
        stack.extend(f for f, _ in n.next_functions)
    tQ.backward(torch.ones(2))
    assert torch_ran == ran


def test_unnamed_leaves_show_shape_and_dtype():
    x = ember.ones(3, 2, dtype=ember.float64, requires_grad=True)
    src = draw_graph((x * 2).sum()).source
    assert "[3, 2] float64" in _nodes(src).values()


def test_output_name_and_several_outputs():
    a, b, Q = _q()
    y = a.sum()
    nodes = _nodes(draw_graph([Q, y], params={"Q": Q, "a": a}).source)
    firsts = {v.split("\n")[0] for v in nodes.values()}
    assert {"Q", "output 1", "SubBackward0", "SumBackward0"} <= firsts


def test_show_saved_lists_tensors_bytes_and_settings():
    a, b, Q = _q()
    nodes = _nodes(draw_graph(Q, show_saved=True).source).values()
    pow3 = next(v for v in nodes if v.startswith("PowBackward0") and "exponent = 3" in v)
    assert "saved[0]: [2] float32 8 B" in pow3  # a itself: 2 float32 = 8 bytes
    sub = next(v for v in nodes if v.startswith("SubBackward0"))
    assert "alpha = 1" in sub
    Q.backward(ember.ones(2))
    nodes = _nodes(draw_graph(Q, show_saved=True).source).values()
    pow3 = next(v for v in nodes if v.startswith("PowBackward0") and "exponent = 3" in v)
    assert "freed" in pow3


def test_show_saved_bytes_of_a_matmul():
    x = ember.randn(3, 5, requires_grad=True)
    w = ember.randn(5, 7, requires_grad=True)
    nodes = _nodes(draw_graph(x @ w, show_saved=True).source).values()
    mm = next(v for v in nodes if v.startswith("MmBackward0"))
    assert f"[3, 5] float32 {3 * 5 * 4} B" in mm and f"[5, 7] float32 {5 * 7 * 4} B" in mm


def test_show_grads_are_what_backward_sent():
    from helpers import torch_or_skip

    torch = torch_or_skip()
    a, b, Q = _q()
    with record_grads(Q):
        Q.backward(gradient=ember.tensor([1.0, 1.0]))
    src = draw_graph(Q, params={"a": a, "b": b}, show_grads=True).source
    nodes = _nodes(src)
    ta = torch.tensor([2.0, 3.0], requires_grad=True)
    tb = torch.tensor([6.0, 4.0], requires_grad=True)
    (3 * ta**3 - tb**2).backward(torch.tensor([1.0, 1.0]))
    into_acc = {}
    for t, h, lab in _edges(src):
        if nodes.get(t) == "AccumulateGrad" and lab:  # edges point forward: leaf side first
            into_acc[t] = lab
    for leaf, tgrad in ((a, ta.grad), (b, tb.grad)):
        want = "[" + ", ".join(f"{v:.0f}." for v in tgrad.tolist()) + "]"
        assert np.array_equal(leaf.grad.numpy(), tgrad.numpy())
        assert any(lab.endswith(f"[2] {want}") for lab in into_acc.values()), (want, into_acc)
        leaf_label = next(v for v in nodes.values() if v.startswith("a\n" if leaf is a else "b\n"))
        assert leaf_label.endswith(f"grad [2] {want}")
    root = next(lab for t, h, lab in _edges(src) if nodes[h].startswith("output"))
    assert root == "grad_output\n[2] [1., 1.]"


def test_show_grads_shapes_only_for_large_tensors_and_hooks_change_nothing():
    x = ember.randn(4, 5, requires_grad=True)
    y = (x * 3).sum()
    handle = record_grads(y)
    y.backward()
    handle.remove()
    x2 = ember.tensor(x.detach().numpy(), requires_grad=True)
    (x2 * 3).sum().backward()
    assert np.array_equal(x.grad.numpy(), x2.grad.numpy())
    labels = [lab for *_, lab in _edges(draw_graph(y, show_grads=True).source) if lab]
    assert any(lab == "#2\n[4, 5]" for lab in labels), labels  # 20 values: shape only


def test_show_grads_without_a_record_says_what_to_do():
    a, b, Q = _q()
    Q.backward(ember.ones(2))
    with pytest.raises(RuntimeError, match="record_grads"):
        draw_graph(Q, show_grads=True)


def test_named_parameters_and_module_clusters():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    y = model(ember.randn(5, 4)).sum()
    src = draw_graph(y, params=model.named_parameters()).source
    labels = set(_nodes(src).values())
    assert {"0.weight\n[3, 4] float32", "0.bias\n[3] float32", "2.weight\n[2, 3] float32",
            "2.bias\n[2] float32"} <= labels
    clusters = re.findall(r'subgraph "?cluster_([\w.]+)"? \{', src)
    assert sorted(clusters) == ["0", "2"]
    body = _cluster_body(src, "2")
    assert "AddmmBackward0" in body and "2.weight" in body and "0.weight" not in body


def test_resnet18_graph_clusters_and_svg(resnet18, tmp_path):
    y = resnet18(ember.randn(2, 3, 32, 32)).sum()
    dot = draw_graph(y, params=resnet18.named_parameters())
    src = dot.source
    labels = _nodes(src).values()
    n_params = len(list(resnet18.parameters()))
    assert sum(v.startswith("AccumulateGrad") for v in labels) == n_params == 62
    assert sum(v.startswith("ConvolutionBackward0") for v in labels) == 20
    clusters = set(re.findall(r'subgraph "?cluster_([\w.]+)"? \{', src))
    assert {"conv1", "bn1", "layer1", "layer1.0", "layer1.0.conv1", "layer2.0.downsample.0",
            "fc"} <= clusters
    block = _cluster_body(src, "layer1.0")
    # the ReLU between the block's two convolutions sits in the block, outside bn1's box
    assert "ReluBackward0" in block.replace(_cluster_body(src, "layer1.0.bn1"), "")
    if HAVE_DOT:
        path = dot.render(str(tmp_path / "resnet"), format="svg", cleanup=True)
        assert path.endswith("resnet.svg")
        assert "<svg" in open(path).read()
        assert not (tmp_path / "resnet").exists()  # cleanup removed the DOT source


@pytest.mark.skipif(not HAVE_DOT, reason="Graphviz's dot is not installed")
@pytest.mark.parametrize("fmt, magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_render_q(tmp_path, fmt, magic):
    a, b, Q = _q()
    path = draw_graph(Q, params={"a": a, "b": b}, show_saved=True).render(
        str(tmp_path / "q"), format=fmt, cleanup=True)
    assert path == str(tmp_path / f"q.{fmt}")
    with open(path, "rb") as f:
        assert f.read().startswith(magic)
    assert os.listdir(tmp_path) == [f"q.{fmt}"]


def test_missing_dot_says_how_to_install(tmp_path, monkeypatch):
    import graphviz

    a, b, Q = _q()
    dot = draw_graph(Q)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(graphviz.ExecutableNotFound, match="apt-get install graphviz"):
        dot.render(str(tmp_path / "q"), format="svg", cleanup=True)
    with pytest.raises(RuntimeError, match="Graphviz"):
        dot.pipe(format="svg")
    assert not (tmp_path / "q.svg").exists()


def test_missing_graphviz_package_names_the_extra(monkeypatch):
    from ember.viz import graph

    graph._digraph_class.cache_clear()
    monkeypatch.setitem(sys.modules, "graphviz", None)
    try:
        with pytest.raises(ModuleNotFoundError, match=r"pip install 'ember\[viz\]'"):
            draw_graph(_q()[2])
    finally:
        graph._digraph_class.cache_clear()


def test_bad_params_and_outputs():
    a, b, Q = _q()
    with pytest.raises(TypeError, match="params"):
        draw_graph(Q, params=[a])
    with pytest.raises(TypeError, match="outputs\\[1\\]"):
        draw_graph([Q, 3])


def test_jupyter_display_hook_exists():
    dot = draw_graph(_q()[2])
    assert hasattr(dot, "_repr_mimebundle_")
    if HAVE_DOT:
        assert "<svg" in dot._repr_mimebundle_()["image/svg+xml"]
