# The two set-up commands of the README. Each creates .venv and installs by itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Exact versions with hashes of every dependency, dev tools included; `make lock` writes it.
LOCK := requirements.lock

.PHONY: demo test lint typecheck pdf-tools browser clean lock

# A fresh venv (--clear) whenever the lock or pyproject.toml changes, so that a package
# dropped from the lock does not linger. --require-hashes refuses anything not pinned
# with a matching hash; the project itself then goes in without touching its dependencies.
$(STAMP): pyproject.toml $(LOCK)
	$(PY) -m venv --clear $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r $(LOCK)
	$(BIN)/pip install --quiet --no-deps -e .
	$(BIN)/pip check  # a dependency added to pyproject.toml but not yet locked: run make lock
	touch $(STAMP)

# Re-resolve requirements.lock after a change to the dependencies in pyproject.toml.
# Versions already in the lock are kept where they still fit; to move everything to the
# newest allowed versions: make lock LOCK_ARGS=--upgrade (or --upgrade-package NAME).
# --universal writes one lock for every platform and Python >= 3.11 (with markers).
LOCK_ARGS ?=
# uv runs from a venv of its own (.venv-lock, the lock's uv version): .venv cannot host
# it, since after a change to pyproject.toml .venv no longer installs from the old lock.
# It works on a copy (uv reads the pins to keep from its output file) and replaces the
# lock only when the result differs, so that an unchanged lock does not rebuild .venv.
LOCKENV := .venv-lock
lock:
	test -x $(LOCKENV)/bin/uv || { $(PY) -m venv $(LOCKENV) && \
	  $(LOCKENV)/bin/pip install --quiet "$$(grep -m1 '^uv==' $(LOCK) | cut -d' ' -f1)"; }
	cp $(LOCK) $(LOCK).new
	$(LOCKENV)/bin/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
	  --generate-hashes --custom-compile-command "make lock" --quiet $(LOCK_ARGS) -o $(LOCK).new
	if cmp -s $(LOCK) $(LOCK).new; then rm $(LOCK).new; else mv $(LOCK).new $(LOCK); fi

demo: $(STAMP)
	$(BIN)/dispatch demo

# The suite runs on TEST_WORKERS processes (pytest-xdist); each has its own database,
# and the tests of one real broker stay on one worker (tests/conftest.py).
TEST_WORKERS ?= 3
test: $(STAMP) lint typecheck pdf-tools browser
	$(BIN)/pytest -q -n $(TEST_WORKERS) --dist loadgroup --durations=15 $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check dispatch printhouse tests bench
	$(BIN)/ruff format --check dispatch printhouse tests bench

# The rendering tests read PDFs back with poppler (pdftotext, pdfinfo, pdftoppm,
# pdffonts) and check a batch's structure with qpdf; install them when missing.
PDF_TOOLS := pdftotext pdfinfo pdftoppm pdffonts qpdf
pdf-tools:
	@missing=""; for t in $(PDF_TOOLS); do command -v $$t >/dev/null || missing="$$missing $$t"; done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing poppler-utils and qpdf (missing:$$missing)"; \
	    apt-get update -qq && apt-get install -y -qq poppler-utils qpdf >/dev/null; \
	  else \
	    echo "make: missing$$missing; install the Debian packages poppler-utils and qpdf" >&2; exit 1; \
	  fi; \
	fi

# The browser tests drive Debian's Chromium with Playwright (no browser download).
browser:
	@if ! command -v chromium >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "make: installing chromium for the browser tests"; \
	    apt-get update -qq && apt-get install -y -qq chromium >/dev/null; \
	  else \
	    echo "make: chromium is missing; install the Debian package chromium" >&2; exit 1; \
	  fi; \
	fi

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
