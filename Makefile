# driftlab: two commands do all set-up on a fresh machine (see README):
#   make repro   -> install, then regenerate every figure into figures/
#   make test    -> install, then run the fast test profile (what CI runs)
PY ?= python3
PYTEST_WORKERS ?= 2
export OMP_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

.PHONY: install repro repro-quick gallery test test-slow test-gpu gpu-session gpu-sweep bench docs

# torch: a loose requirement (torch>=2.2) in pyproject; if torch is missing we ask for the
# pinned 2.13.0, which pip takes from the local CPU wheel where one lies on disk instead of
# downloading a multi-GB CUDA build. An existing torch is kept as it is.
install:
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q "torch==2.13.0"
	@$(PY) -m pip install -q -e ".[test]"

repro: install
	driftlab repro

repro-quick: install
	driftlab repro --quick

gallery: install  # docs/gallery.md from the committed figures, runtimes and docs/claims.md
	driftlab repro --gallery

test: install
	$(PY) -m pytest -n $(PYTEST_WORKERS) -q

test-slow: install
	HYPOTHESIS_PROFILE=thorough $(PY) -m pytest -n $(PYTEST_WORKERS) -q -m "slow"

test-gpu: install
	$(PY) -m pytest -q -m "gpu"

# on a lent GPU machine (no install there: nothing can be downloaded): tests + benchmarks
gpu-session:  # PART=tests|probe|bench for one part with twice the time
	bash benchmarks/gpu_session.sh $(or $(PART),all)

# on a lent GPU machine: resume the annealing-at-scale sweep (verdict-deciding cells first) for
# BUDGET minutes (default 8: fits a 10-minute command), then summarize; commit the new run files
gpu-sweep:
	PYTHONPATH=$(CURDIR) PYTHONUNBUFFERED=1 $(PY) -m analysis.simulation_anneal_scale run --device cuda \
		--budget-minutes $(or $(BUDGET),8) $(if $(MAX_N),--max-n $(MAX_N))

bench: install
	$(PY) benchmarks/bench_drift.py --quick

# the documentation site (offline): API reference from the numpydoc docstrings, guides,
# examples executed by sphinx-gallery; output in docs/_build/html
docs: install
	@$(PY) -m pip install -q -e ".[docs]"
	$(PY) -m sphinx -b html -q docs docs/_build/html
