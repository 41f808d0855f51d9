# The two commands of this project (see README):
#   make test   install pinned dependencies into .venv, then run every test
#   make local  run the whole stack on this machine: embedded AWS, local Cognito, local HTTP API
# and, beside make local: make local-apply (re-apply after an edit), make local-down (stop it).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := --quiet --disable-pip-version-check

.PHONY: test local local-apply local-down venv

venv: $(VENV)/.installed $(VENV)/checkov/.installed

# The pins first, then this project itself (editable, --no-deps so the pins stay what is installed):
# its pytest plugin is then loaded by every pytest run of .venv.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP) -r requirements.txt
	$(PY) -m pip install $(PIP) --no-deps -e .
	touch $@

# checkov pins an old boto3, so it gets a venv of its own (see requirements-checkov.in).
$(VENV)/checkov/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install $(PIP) -r requirements-checkov.txt
	touch $@

test: venv
	$(PY) -m pytest

local: $(VENV)/.installed
	$(PY) -m local_aws up

local-apply: $(VENV)/.installed
	$(PY) -m local_aws apply

local-down: $(VENV)/.installed
	$(PY) -m local_aws down
