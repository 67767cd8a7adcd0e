# smtls - make targets. `make demo` and `make test` work from a clean clone.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg
export PATH := $(CURDIR)/$(BIN):$(PATH)

.PHONY: demo demo-reset report test test-python test-lint test-playbooks test-fresh test-molecule bench bench-keystore bench-fleet venv venv-windows venv-test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(VENV)/.controller: requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements.txt
	touch $@

# Windows delivery over WinRM only: the ansible.windows collection (PyPI `ansible` package)
$(VENV)/.windows: requirements-windows.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-windows.txt
	touch $@ $(VENV)/.controller

$(VENV)/.test: requirements-test.txt requirements-windows.txt requirements.txt | $(BIN)/python
	$(BIN)/pip install -q -r requirements-test.txt
	touch $@ $(VENV)/.controller $(VENV)/.windows

venv: $(VENV)/.controller
venv-windows: $(VENV)/.windows
venv-test: $(VENV)/.test

# `make demo SMTLS_CA_SOURCE=acme`: the demo's certificates from an ACME CA (Pebble on 127.0.0.1)
DEMO_VARS := $(if $(SMTLS_CA_SOURCE),-e smtls_ca_source=$(SMTLS_CA_SOURCE))

## demo: build the embedded demo fleet under .demo/, run the rollout on it, then the report
demo: venv
	ansible-playbook tests/demo_fleet.yml $(DEMO_VARS)
	ansible-playbook playbooks/site.yml $(DEMO_VARS)
	ansible-playbook playbooks/report.yml $(DEMO_VARS)
	@echo "Fleet report: $(CURDIR)/.demo/report/smtls-report.html (and smtls-report.json)"
	@echo "Windows client bundles: $(CURDIR)/.demo/controller/windows-clients/"

## report: the fleet report of the demo fleet (read-only), in .demo/report/
report: venv
	ansible-playbook playbooks/report.yml $(DEMO_VARS)

demo-reset:
	for run in .demo/*/ServiceManager9.61/Server/RUN; do \
	  [ -d "$$run" ] && bash tests/standin/standin-ctl stop "$$run" - || true; done
	[ ! -d .demo/controller/pebble ] || $(PYTHON) tests/pebble.py stop .demo/controller/pebble
	rm -rf .demo

## test: everything CI runs
test: test-lint test-python test-playbooks test-fresh test-molecule

test-lint: venv-test
	yamllint -s .
	ansible-lint
	ruff check plugins tests bench tools
	python tools/role_docs.py --check

test-python: venv-test
	.ci/host-deps.sh
	pytest -q tests/unit tests/interop tests/modules tests/standin

test-playbooks: venv-test
	.ci/host-deps.sh
	pytest -q --durations=12 tests/playbooks

## test-fresh: the README's first command as a newcomer runs it - a fresh clone, a fresh .venv with
## the controller requirements only, `make demo` twice (the second changes nothing), `make demo-reset`
test-fresh: venv-test
	pytest -q tests/fresh

test-molecule: venv-test
	.ci/molecule.sh

## bench: keystore operations (smtls engine vs one keytool JVM per operation), then the
## rollout on 10, 100 and 300 simulated hosts against the Ansible floor
bench: bench-keystore bench-fleet

bench-keystore: venv
	python bench/keystore_bench.py

bench-fleet: venv
	python bench/fleet_bench.py $(if $(SIZES),--sizes $(SIZES))

clean:
	rm -rf $(VENV) .demo .pytest_cache
