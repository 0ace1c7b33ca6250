"""The backward graph's data, below ``Tensor``: nodes and their edges (``node``), grad mode
(``grad_mode``), and walks over the edges that compute nothing (``walk``). Building nodes is the
ops' business (``ember.ops._op``); running them is the engine's (``ember.autograd.engine``)."""
