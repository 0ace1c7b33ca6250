"""``ember.autograd.grad_mode``, torch's public path for the grad-mode switches, which live with
the graph data below ``Tensor`` (``ember.graph.grad_mode``)."""
from ..graph.grad_mode import (  # noqa: F401
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
    state,
)
