# Two commands: `make run` sets everything up and opens the dashboard; `make test` sets up, runs `ruff check`
# (rules in pyproject.toml) and then every test, in 2 processes (pytest-xdist; SER_TEST_PROCESSES to change),
# each numerical library on one thread so that the two do not fight over the cores.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-requirements

.PHONY: run test setup worker clean-cache

# Bytecode: pip compiles every installed file on one core (57 s of a fresh install's 91 s here); compileall
# does the same on every core (37 s on 2). Python may not write bytecode itself where PYTHONDONTWRITEBYTECODE
# is set (as on the machines this was measured on), so it is written here, for the packages and for the
# project's own modules (every worker, CLI call and training rank imports them). A package file that does
# not compile (some ship Python 2 examples) only stays without bytecode.
$(STAMP): requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --no-compile -r requirements.txt
	$(VENV)/bin/python -m compileall -q -j 0 $(VENV)/lib >/dev/null || true
	touch $(STAMP)

setup: $(STAMP)

# Once per installation, before the first app start: umap-learn's and librosa's numba code, compiled into numba's
# disk cache (about 50 s on 2 cores), so that the first UMAP view and the first mfcc-stats extraction do not pay it.
# Not part of `make test`: the tests compile what they use, on both cores at once.
WARMED := $(VENV)/.compiled-numba

$(WARMED): $(STAMP)
	$(VENV)/bin/python -m ser.warmup || echo "(the warm-up failed; the first UMAP will compile instead)"
	touch $(WARMED)

run: setup $(WARMED)
	$(VENV)/bin/streamlit run app.py --server.address $${SER_ADDRESS:-127.0.0.1}

test: setup
	$(VENV)/bin/python -m ruff check ser ui app_pages app.py tests benchmarks
	$(VENV)/bin/python -m compileall -q -j 0 ser ui tests >/dev/null
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(VENV)/bin/python -m pytest -n $${SER_TEST_PROCESSES:-2} --dist worksteal

clean-cache:
	rm -rf cache

worker: setup
	$(VENV)/bin/python -m ser worker
