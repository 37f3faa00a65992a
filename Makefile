# glnet developer tasks. From a fresh clone:
#
#   make install   # .venv/ with glnet (editable) and the cpu, train, test and dask extras
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
# Extra pytest arguments, e.g. make test PYTEST_ARGS="-m 'not slow' -x", for
# the .venv suite; QGIS_PYTEST_ARGS for tests/qgis/ (paths relative to it).
PYTEST_ARGS ?=
QGIS_PYTEST_ARGS ?=
# Flags for `make bench` (benchmarks/bench.py), e.g. BENCH_ARGS="--paper --large".
BENCH_ARGS ?=

# Set-up steps `make test` runs before pytest: the virtual environment, and
# QGIS with the plugin linked and its dependencies (the tests under
# tests/qgis/ run inside QGIS's own Python and through qgis_process).
TEST_SETUP := install qgis-setup

# QGIS 3.22 as Debian 12 ships it. Its Python is the system one, not $(PYTHON).
QGIS_PYTHON ?= /usr/bin/python3
# /usr/bin/qgis_process is a wrapper that fails on Debian 12; the binary works.
QGIS_PROCESS ?= /usr/bin/qgis_process.bin
# The QGIS profile the plugin is linked into (the one QGIS and qgis_process use).
QGIS_PROFILE ?= $(HOME)/.local/share/QGIS/QGIS3/profiles/default
# Debian packages: QGIS, and the plugin's dependencies built against QGIS's
# GDAL; pip for the plugin-private onnxruntime; pytest for the QGIS tests;
# unzip for the test that unpacks the plugin zip as an unprivileged user;
# xvfb for the test that starts the real desktop (`qgis --lang de`), which
# crashes on Qt's offscreen platform.
QGIS_APT_PACKAGES := qgis python3-qgis qgis-providers python3-rasterio python3-geopandas \
	python3-shapely python3-fiona python3-pip python3-pytest unzip xvfb
# Runs qgis_process and the QGIS tests without a display.
QGIS_ENV := QT_QPA_PLATFORM=offscreen
# The glnet Python package seen from QGIS's Python: the checkout linked as plugin `glnet`.
QGIS_DEPS_TOOL := PYTHONPATH=$(QGIS_PROFILE)/python/plugins $(QGIS_PYTHON) -m glnet.glnet_plugin.dependencies --profile $(QGIS_PROFILE)
# The plugin archive `make plugin-zip` writes.
PLUGIN_ZIP := dist/glnet.zip

.PHONY: help install demo lint bench test test-python test-qgis venv-prerequisites qgis-setup qgis-packages plugin-zip translations clean distclean

help:
	@echo "make install    create $(VENV)/ and install glnet with the cpu, train, test and dask extras"
	@echo "make demo       install, then segment the shipped sample scene with the shipped demo model"
	@echo "                (summary, mask, polygons and preview in $(DEMO_OUT)/)"
	@echo "make lint       ruff (pyflakes, pycodestyle errors, import order, bugbear) and mypy over the package"
	@echo "make bench      speed, memory and agreement benchmark: benchmarks/results/bench-DATE.json and the tables"
	@echo "                of docs/performance.md (a few minutes; BENCH_ARGS=\"--paper --large\" for more)"
	@echo "make test       set up everything the tests need, then make lint and the whole test suite"
	@echo "make qgis-setup install QGIS 3.22 (apt, when missing) and the plugin's dependencies, link this"
	@echo "                checkout as QGIS plugin glnet and enable it (idempotent)"
	@echo "make plugin-zip $(PLUGIN_ZIP) for QGIS's Plugins > Install from ZIP, checked as the QGIS plugin repository"
	@echo "                checks uploads; RELEASE=1 also refuses placeholder addresses in metadata.txt"
	@echo "make translations  refresh i18n/*.ts from the plugin's tr() texts and compile i18n/*.qm"
	@echo "make clean      remove build and test caches"
	@echo "make distclean  clean, and remove $(VENV)/"

install: $(STAMP)

$(STAMP): pyproject.toml
	@$(MAKE) --no-print-directory venv-prerequisites
	test -x $(VPY) || $(PYTHON) -m venv $(VENV)
	$(VPY) -m pip install 'torch==$(TORCH_VERSION)'
	$(VPY) -m pip install -e '.[cpu,train,test,dask]'
	touch $@

# The demo: the shipped GLNet bundle on the shipped sample scene (glnet_core/samples/data/),
# outputs replaced on every run. DEMO_OUT picks the output folder.
DEMO_OUT ?= demo-output
demo: install
	$(VENV)/bin/glnet demo --out "$(DEMO_OUT)" --overwrite

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
	$(MAKE) --no-print-directory lint
	$(MAKE) --no-print-directory test-python
	$(MAKE) --no-print-directory test-qgis

# The benchmark of docs/performance.md (bundles and rasters cached under /tmp between runs).
bench: install
	$(VPY) benchmarks/bench.py $(BENCH_ARGS)

# Static checks; configured in pyproject.toml ([tool.ruff], [tool.mypy]).
lint: install
	$(VENV)/bin/ruff check .
	@mkdir -p build/lint && ln -sfn ../.. build/lint/glnet
	$(VENV)/bin/mypy

# The suite in .venv (tests/qgis/ is left to test-qgis: it needs QGIS's Python).
test-python:
	$(VPY) -m pytest $(PYTEST_ARGS)

# The QGIS tests, inside QGIS's own Python; their own pytest.ini keeps the
# .venv suite's conftest and options out.
test-qgis:
	cd tests/qgis && $(QGIS_ENV) $(QGIS_PYTHON) -m pytest -c pytest.ini $(QGIS_PYTEST_ARGS)

# QGIS from apt when missing (needs root), then onnxruntime and the optional
# Dask group (glnet:segment's Dask scheduler; the QGIS tests use it) into the
# plugin's private folder, then this checkout linked as plugin `glnet` and enabled.
# Every step checks first, so a second run changes nothing.
qgis-setup: qgis-packages
	@mkdir -p $(QGIS_PROFILE)/python/plugins
	@link=$(QGIS_PROFILE)/python/plugins/glnet; \
	if [ -e "$$link" ] && [ ! -L "$$link" ]; then \
		echo "$$link exists and is not a link to this checkout; remove it first" >&2; exit 1; \
	fi; \
	if [ "$$(readlink "$$link")" != "$(CURDIR)" ]; then ln -sfn "$(CURDIR)" "$$link"; echo "linked $$link -> $(CURDIR)"; fi
	$(QGIS_DEPS_TOOL) --install --dask
	@out=$$($(QGIS_ENV) $(QGIS_PROCESS) plugins enable glnet 2>&1) || \
		echo "$$out" | grep -q "already enabled" || { echo "$$out" >&2; exit 1; }
	@$(QGIS_ENV) $(QGIS_PROCESS) list 2>/dev/null | grep -q 'glnet:segment' || \
		{ echo "qgis_process does not list the glnet algorithms" >&2; exit 1; }
	@echo "QGIS plugin glnet is enabled in $(QGIS_PROFILE); qgis_process lists its algorithms"

qgis-packages:
	@missing=$$(for p in $(QGIS_APT_PACKAGES); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" != 0 ]; then echo "missing Debian packages: $$missing (run make qgis-setup as root, or apt-get install them)" >&2; exit 1; fi; \
		echo "installing from apt: $$missing"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y $$missing; \
	fi

# What QGIS's "Install from ZIP" and the QGIS plugin repository accept: one
# folder glnet/ with metadata.txt, LICENSE and the plugin's code and
# translations; no tests, benchmarks or training code. The archive is checked
# as the repository checks uploads (glnet_plugin/plugin_zip.py) and not written
# when a check fails. RELEASE=1 builds a release: it refuses while the e-mail
# address or URLs in metadata.txt are placeholders.
RELEASE ?=
plugin-zip:
	$(QGIS_PYTHON) glnet_plugin/plugin_zip.py --out $(PLUGIN_ZIP)$(if $(filter-out 0,$(RELEASE)), --release)

translations:
	$(QGIS_PYTHON) i18n/refresh_translations.py

clean:
	rm -rf build dist *.egg-info .pytest_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +

distclean: clean
	rm -rf $(VENV)
