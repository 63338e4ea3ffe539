# Two commands for a newcomer: `make run` and `make test`. Both create .venv when missing.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: install run test bench mutation check clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

install: $(STAMP)

run: install  ## migrate, seed the demo shops, start web + worker + beat
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	bin/run-all

test: install  ## the whole suite (PostgreSQL + Redis parts when DATABASE_URL or CI is set)
	bin/test

bench: install  ## speed targets, each against the naive approach; results in var/bench.json (needs PostgreSQL + Redis)
	@rm -f var/bench.json
	@command -v wrk >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null; }  # bench_shortlink's load
	@status=0; for script in bench/bench_*.py; do echo "== $$script"; \
	  DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test} REDIS_URL=$${REDIS_URL:-redis://127.0.0.1:6379/0} \
	  $(PY) $$script || status=1; done; echo "== results: var/bench.json"; exit $$status

mutation: install  ## mutation score of the core modules and their survivors (tens of minutes; not part of test)
	PY=$(PY) bin/mutation --fresh $(MODULES)

check: install
	$(PY) manage.py check
	$(PY) manage.py makemigrations --check --dry-run

clean:
	rm -rf $(VENV) var staticfiles .pytest_cache mutants
