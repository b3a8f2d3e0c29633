# Two commands: `make run` sets everything up and opens the dashboard; `make test` sets up, runs `ruff check`
# (rules in pyproject.toml) and then every test.
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed-requirements

.PHONY: run test setup worker clean-cache

$(STAMP): requirements.txt
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(VENV)/bin/streamlit run app.py --server.address $${SER_ADDRESS:-127.0.0.1}

test: setup
	$(VENV)/bin/python -m ruff check ser ui app_pages app.py tests benchmarks
	$(VENV)/bin/python -m pytest

clean-cache:
	rm -rf cache

worker: setup
	$(VENV)/bin/python -m ser worker
