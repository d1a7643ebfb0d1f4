# The two commands that do all set-up on a fresh machine:
#   make demo   — bring up the embedded local stack, ingest a synthetic catalogue through the
#                 streaming job, and print search results
#   make test   — lint, then the whole test suite (unit + integration against real services); CI runs this
VENV ?= $(HOME)/.cache/stockmind/venv
PY := $(VENV)/bin/python
# bench/gpu.py needs a GPU: bench/gpu.sh runs it there.
CPU_BENCHES := $(filter-out bench/gpu.py,$(wildcard bench/*.py))

.PHONY: demo lint test unit venv system iac-venv bench bench-quick notebooks terraform-validate down clean

venv:
	@bash scripts/ensure_venv.sh

system:
	@bash scripts/ensure_system.sh

iac-venv:
	@bash scripts/ensure_iac_venv.sh

demo: venv
	$(PY) -m stockmind.dev.demo

lint: venv
	$(PY) -m ruff check .

test: venv system iac-venv
	$(PY) -m ruff check .
	$(PY) -m pytest

unit: venv
	$(PY) -m pytest tests/unit

bench-quick: venv
	@for b in $(CPU_BENCHES); do echo "== $$b --quick"; $(PY) $$b --quick || exit 1; done

bench: venv
	@for b in $(CPU_BENCHES); do echo "== $$b"; $(PY) $$b || exit 1; done

notebooks: venv
	@mkdir -p notebooks/outputs
	@cd notebooks && for nb in 0*.ipynb; do echo "== $$nb"; $(PY) -m stockmind.evaluation.notebook_runner $$nb --save outputs/$$nb || exit 1; done

terraform-validate:
	bash scripts/terraform_validate.sh

down: venv
	$(VENV)/bin/stockmind local down

clean:
	rm -rf .stockmind .pytest_cache notebooks/outputs bench/results
