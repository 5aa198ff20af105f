# Two commands on a fresh machine: `make demo` and `make test`; `make docs` builds the API reference into site/.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test docs install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,docs,xgboost]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/mlsmith demo --runs-dir runs

# mypy reads its files and settings from pyproject.toml ([tool.mypy]).
test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/mypy
	$(PY) -m pytest -q -n 2

# --strict: a warning (a docstring griffe cannot read, a broken link) fails the build, as in CI.
docs: $(STAMP)
	$(VENV)/bin/mkdocs build --strict --quiet --site-dir site

clean:
	rm -rf $(VENV) runs site .pytest_cache
