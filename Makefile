# Two commands: `make run` sets everything up and opens the dashboard; `make test` sets up, runs `ruff check`
# (rules in pyproject.toml) and then every test, in 2 processes (pytest-xdist; SER_TEST_PROCESSES to change),
# each numerical library on one thread so that the two do not fight over the cores.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-requirements

.PHONY: run test setup worker clean-cache

# --no-compile: Python writes the bytecode of the modules it imports when it first imports them; bytecode for
# every file of torch, transformers and the rest made a fresh install take 91 s here instead of 34 s.
$(STAMP): requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet --no-compile -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/streamlit run app.py --server.address $${SER_ADDRESS:-127.0.0.1}

test: setup
	$(VENV)/bin/python -m ruff check ser ui app_pages app.py tests benchmarks
	OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 $(VENV)/bin/python -m pytest -n $${SER_TEST_PROCESSES:-2} --dist worksteal

clean-cache:
	rm -rf cache

worker: setup
	$(VENV)/bin/python -m ser worker
