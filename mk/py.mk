# The Python wheel (python/, issue 7). Included from the root Makefile.
#
#   make test-py    venv + dev tools, build the wheel (maturin, dev profile),
#                   install it, then pytest, mypy --strict (tests, examples,
#                   and the key-value demo in examples/kv) and stubtest.
#   make wheel-py   only build the wheel into target/python-wheels/.
#   make install-py build the wheel and install it into the venv (what
#                   test-py and mk/demo.mk's demo start from).
#
# Needs only python3 (3.8+, with the venv module), pip and a Rust toolchain.

PY_ROOT     := $(abspath $(dir $(lastword $(MAKEFILE_LIST)))/..)
PYTHON      ?= python3
PY_VENV     ?= $(PY_ROOT)/.venv-py
PY_BIN      := $(PY_VENV)/bin
PY_WHEELS   := $(PY_ROOT)/target/python-wheels
PY_STAMP    := $(PY_VENV)/.dev-tools-installed
# Keep caches out of the source tree.
PY_ENV      := PYTHONDONTWRITEBYTECODE=1 MYPY_CACHE_DIR=$(PY_ROOT)/target/mypy-cache

.PHONY: test-py wheel-py venv-py install-py

venv-py: $(PY_STAMP)

$(PY_STAMP): $(PY_ROOT)/python/requirements-dev.txt
	@test -x $(PY_BIN)/python || $(PYTHON) -m venv $(PY_VENV)
	$(PY_BIN)/python -m pip install --quiet --disable-pip-version-check -r $(PY_ROOT)/python/requirements-dev.txt
	@touch $@

wheel-py: $(PY_STAMP)
	@rm -f $(PY_WHEELS)/polyraft-*.whl
	cd $(PY_ROOT)/python && $(PY_BIN)/maturin build --quiet --out $(PY_WHEELS)

install-py: wheel-py
	$(PY_BIN)/python -m pip install --quiet --disable-pip-version-check --force-reinstall --no-deps $(PY_WHEELS)/polyraft-*.whl

# pytest includes tests/test_demo.py, which runs examples/kv/demo.py once.
test-py: install-py
	cd $(PY_ROOT)/python && $(PY_ENV) $(PY_BIN)/pytest -p no:cacheprovider
	cd $(PY_ROOT)/python && $(PY_ENV) $(PY_BIN)/mypy --strict tests examples ../examples/kv ../examples/kv-host
	cd $(PY_ROOT) && $(PY_ENV) $(PY_BIN)/python -m mypy.stubtest polyraft
	cd $(PY_ROOT)/python && $(PY_ENV) $(PY_BIN)/python examples/cluster.py > /dev/null
