# The README's two commands: `make test` and `make demo`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-dev
BASE := $(VENV)/.installed

.PHONY: test bench demo clean dot

$(BIN)/python:
	$(PY) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	@echo "installing ember and its dev extras into $(VENV) (torch 2.13.0 among them: a few minutes the first time)"
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

# vision: Pillow, tqdm, matplotlib (~185 MB); viz: graphviz, for the graph commands the demo shows
$(BASE): pyproject.toml | $(BIN)/python
	@echo "installing ember with its [vision,viz] extras into $(VENV) (about a minute the first time)"
	$(BIN)/pip install -q -e '.[vision,viz]'
	touch $(BASE)

# The graph-rendering tests need Graphviz's `dot`; as root (CI) it comes from Debian's packages.
dot:
	@command -v dot >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "installing Graphviz (apt-get install graphviz) for the rendering tests"; \
	    apt-get update -qq && apt-get install -y -qq graphviz >/dev/null; \
	  else echo "note: Graphviz's dot is missing (apt-get install graphviz); rendering tests skip"; fi; }

# loadgroup: the MPI tests share one group (tests/distributed), so two jobs' ranks never compete.
# The suite runs with the oneDNN extra (a dev dependency); the tests of what oneDNN computes
# (convolutions, softmax, GELU) run again on the NumPy path (EMBER_ONEDNN=0), which is what an
# install without the extra computes with.
ONEDNN_TESTS := tests/nn/test_conv_pool.py tests/nn/test_conv_pool_nd.py tests/nn/test_cnn_training.py tests/backend \
	tests/test_special.py tests/ops/test_reduce.py tests/nn/test_nn_functional.py tests/nn/test_transformer.py \
	tests/nn/test_attention.py tests/nn/test_losses.py
# The third pass runs the suite again with every tensor on the fake CUDA device
# (tests/device/fakecupy.py: CuPy's API over NumPy, refusing host data where CuPy does), so a
# host-only call in ember fails here without a GPU.
FAKECUDA_TESTS := tests
# on the second of two fake GPUs, the first current: every public call must run on its tensors' GPU
SECOND_GPU_TESTS := tests/ops tests/nn tests/autograd tests/optim tests/test_device_guard.py
test: $(STAMP) dot
	$(BIN)/python -m pytest -n 2 --dist loadgroup tests
	EMBER_ONEDNN=0 $(BIN)/python -m pytest -n 2 -q $(ONEDNN_TESTS)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --device fakecuda $(FAKECUDA_TESTS)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q --device fakecuda:1 $(SECOND_GPU_TESTS)

# three alternating rounds per workload: on a shared machine a busy spell then hits both frameworks
bench: $(STAMP)
	$(BIN)/python benchmarks/run.py --rounds 3

demo: $(BASE)
	$(BIN)/python -m ember.demo

clean:
	rm -rf $(VENV) build *.egg-info
