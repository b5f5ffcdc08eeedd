# The two set-up commands of the README. Each creates .venv and installs by itself.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pdf-tools clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/dispatch demo

test: $(STAMP) lint typecheck pdf-tools
	$(BIN)/pytest -q $(PYTEST_ARGS)

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

typecheck: $(STAMP)
	$(BIN)/mypy

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
