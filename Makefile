# gclog — the two commands a fresh machine needs are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
EXAMPLE := examples/tour.ipynb

.PHONY: run test lint format bench completions screenshot clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,bench,report]'
	touch $(STAMP)

## run: set up, run the example notebook with gclog, and show where the records went
run: $(STAMP)
	@mkdir -p build
	$(BIN)/gclog run $(EXAMPLE) -o build/tour.gclog.ipynb
	@echo
	@echo "The records of that run, as NDJSON (first 3 of them):"
	@$(BIN)/gclog export --last | head -n 3 | cut -c 1-200
	@echo "...  (all of them: $(BIN)/gclog export --last)"
	@echo "A summary: $(BIN)/gclog report   (and a timeline: $(BIN)/gclog report --html report.html)"

## test: lint and the layer rule, then the whole test suite (real kernels, real HTTP endpoints)
# Four workers even on two cores: most of a test's time is spent waiting on kernels and servers.
test: $(STAMP)
	@scripts/ensure-chromium
	$(BIN)/ruff check gclog tests bench docs
	$(BIN)/ruff format --check gclog tests bench docs
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest -n 4

lint: $(STAMP)
	$(BIN)/ruff check gclog tests bench docs

format: $(STAMP)
	$(BIN)/ruff format gclog tests bench docs
	$(BIN)/ruff check --fix gclog tests bench docs

## bench: gclog side by side with papermill, nbconvert and a bare jupyter_client loop
bench: $(STAMP)
	$(BIN)/python -m bench

## completions: regenerate the shell completion scripts in completions/
completions: $(STAMP)
	$(BIN)/gclog completion bash > completions/gclog.bash
	$(BIN)/gclog completion zsh > completions/_gclog
	$(BIN)/gclog completion fish > completions/gclog.fish

## screenshot: run the example notebook and photograph its HTML report (docs/report.png)
screenshot: $(STAMP)
	@scripts/ensure-chromium
	$(BIN)/python docs/screenshot.py

clean:
	rm -rf build $(VENV) .pytest_cache .ruff_cache
