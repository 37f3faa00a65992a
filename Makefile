# glnet developer tasks. From a fresh clone:
#
#   make install   # .venv/ with glnet (editable) and the cpu, train and test extras
#   make test      # everything the test suite needs, then the whole suite
#
# Both are idempotent; `make install` is a no-op until pyproject.toml changes.

SHELL := /bin/bash
.DEFAULT_GOAL := help

# The interpreter that creates the virtual environment.
PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# Written after a complete install; a newer pyproject.toml makes it stale.
STAMP := $(VENV)/.glnet-installed
# Installed explicitly and first: this exact version is a CPU wheel available
# locally, while an unpinned `torch` would pull a multi-GB CUDA build.
TORCH_VERSION := 2.13.0
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-m 'not slow' -x".
PYTEST_ARGS ?=

# Set-up steps `make test` runs before pytest. Hook for later issues: the QGIS
# tests will need QGIS itself (`make qgis-setup`: apt-get install qgis
# python3-qgis ...); that issue defines the target and appends it here.
TEST_SETUP := install

.PHONY: help install test venv-prerequisites clean distclean

help:
	@echo "make install    create $(VENV)/ and install glnet with the cpu, train and test extras"
	@echo "make test       set up everything the tests need, then run the whole test suite"
	@echo "make clean      remove build and test caches"
	@echo "make distclean  clean, and remove $(VENV)/"

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory venv-prerequisites
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install 'torch==$(TORCH_VERSION)'
	$(VPY) -m pip install -e '.[cpu,train,test]'
	touch $@

# Debian's own python3 cannot create virtual environments without the
# python3-venv package; install it when missing (needs root and apt).
venv-prerequisites:
	@if ! $(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1; then \
		echo "$(PYTHON) cannot create virtual environments; installing python3-venv"; \
		apt-get update && apt-get install -y python3-venv; \
	fi

# pytest's own exit status reaches make unchanged, so a failing test and
# status 5 ("no tests were collected") both fail the target.
test: $(TEST_SETUP)
	$(VPY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf build dist *.egg-info .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
