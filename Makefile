# `make demo` and `make test` set everything up themselves (a .venv) on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU build this machine kind ships; unpinned, the extras pull a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

demo: $(STAMP)
	@mkdir -p out
	$(BIN)/verifiers list
	@for f in examples/data/*.jsonl; do \
	  name=$$(basename $$f .jsonl); \
	  echo "== $$f (examples/r1.yaml) -> out/$$name.scored.jsonl"; \
	  $(BIN)/verifiers score $$f --config examples/r1.yaml --output out/$$name.scored.jsonl || exit $$?; \
	done

test: $(STAMP)
	$(BIN)/ruff check verifiers sandboxes tests benchmarks
	$(BIN)/pytest -q

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_score.py
	$(BIN)/python benchmarks/bench_math.py
	$(BIN)/python benchmarks/bench_code.py
	$(BIN)/python benchmarks/bench_trl.py
	$(BIN)/python benchmarks/bench_server.py

clean:
	rm -rf $(VENV) out .pytest_cache
