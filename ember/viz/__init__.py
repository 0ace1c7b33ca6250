"""Seeing the graph: draw autograd's DAG, explain what backward computes, summarise a model.

``draw_graph`` needs the ``graphviz`` Python package and Graphviz's ``dot`` program
(``pip install 'ember[viz]'``; Debian: ``apt-get install graphviz``); the rest needs only NumPy.
"""
from .explain import Explanation, Send, Step, explain_backward
from .graph import GradRecorder, draw_graph, record_grads
from .summary import LayerInfo, Summary, summary

__all__ = ["draw_graph", "record_grads", "GradRecorder", "explain_backward", "Explanation", "Step",
           "Send", "summary", "Summary", "LayerInfo"]
