# The two commands of this project (see README):
#   make test   install pinned dependencies into .venv, then run every test
#   make local  run the whole stack on this machine: embedded AWS, local Cognito, local HTTP API
# and, beside make local: make local-apply (re-apply after an edit), make local-down (stop it),
# make local-reset (delete the state a restart restores: the next make local starts from scratch).
# Another Terraform root: make local ROOT=../their-infra [ARGS='--var-file dev.tfvars --var name=x']
# (a relative ROOT or ARGS path is relative to this repository; state stays in this repository's .local).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := --quiet --disable-pip-version-check
ROOT   ?=
ARGS   ?=

.PHONY: test local local-apply local-down local-reset venv

venv: $(VENV)/.installed $(VENV)/checkov/.installed

# The pins first, then this project itself (editable, --no-deps so the pins stay what is installed):
# it puts `local-aws` in .venv/bin, lets the stack's services import local_aws from any directory,
# and registers the pytest plugin (local_stack) for every pytest run of .venv.
# Last, python-hcl2 builds its grammar cache (about 1.5 s of CPU) now rather than in the first make local.
$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install $(PIP) -r requirements.txt
	$(PY) -m pip install $(PIP) --no-deps -e .
	$(PY) -c "import hcl2.parser; hcl2.parser.parser()"
	touch $@

# checkov pins an old boto3, so it gets a venv of its own (see requirements-checkov.in).
$(VENV)/checkov/.installed: requirements-checkov.txt
	$(PYTHON) -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/python -m pip install $(PIP) -r requirements-checkov.txt
	touch $@

test: venv
	$(PY) -m pytest

local: $(VENV)/.installed
	$(PY) -m local_aws up --root "$(or $(ROOT),.)" $(ARGS)

# Without ROOT, the root the running stack runs.
local-apply: $(VENV)/.installed
	$(PY) -m local_aws apply $(if $(ROOT),--root "$(ROOT)") $(ARGS)

local-down: $(VENV)/.installed
	$(PY) -m local_aws down

# The embedded AWS's saved state, the Terraform state, the signing keys, the demo password (refused while running).
local-reset: $(VENV)/.installed
	$(PY) -m local_aws reset
