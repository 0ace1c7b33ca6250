"""Walks over the backward graph that need no gradients: which nodes are reachable, how many
edges lead into each, and which of them lead on to given targets."""
from __future__ import annotations

from typing import Iterable

from .node import Node


def count_dependencies(root_nodes: Iterable[Node]) -> tuple[dict[Node, int], set[Node]]:
    """Discovers the graph below ``root_nodes``: per node, how many edges lead into it, and the set
    of nodes reached."""
    deps: dict[Node, int] = {}
    seen = set(root_nodes)
    stack = list(seen)
    while stack:
        for nxt, _ in stack.pop().next_functions:
            if nxt is not None:
                deps[nxt] = deps.get(nxt, 0) + 1
                if nxt not in seen:
                    seen.add(nxt)
                    stack.append(nxt)
    return deps, seen


def needed_nodes(seen: set, deps: dict, targets: Iterable[Node]) -> set:
    """The nodes of ``seen`` from which one of ``targets`` can be reached: only these need to run
    when ``autograd.grad`` asks for the gradients of ``targets``' tensors."""
    targets = set(targets)
    remaining = dict(deps)
    order = []
    frontier = [n for n in seen if remaining.get(n, 0) == 0]
    while frontier:
        n = frontier.pop()
        order.append(n)
        for nxt, _ in n.next_functions:
            if nxt is not None:
                remaining[nxt] -= 1
                if remaining[nxt] == 0:
                    frontier.append(nxt)
    needed: set = set()
    for n in reversed(order):
        if n in targets or any(nxt in needed for nxt, _ in n.next_functions if nxt is not None):
            needed.add(n)
    return needed
