# The two commands (see README.md): `make run` and `make test`. `make bench` measures.
.PHONY: setup run test test-fast bench

setup:
	@bash scripts/setup.sh

run: setup
	@.venv/bin/python -m bot.run

# Several test processes (two per core, at most 8; TEST_PROCESSES overrides), each test module in
# one of them: a module's fixtures and order stay as they are in a serial run. Modules are handed
# out in collection order, the longest first (tests/conftest.py): xdist's own order, by number of
# tests, left the one-test worker-kill module for last, alone for a minute.
TEST_PROCESSES ?= $(shell n=$$(nproc 2>/dev/null || echo 2); echo $$(( 2 * n < 8 ? 2 * n : 8 )))

test:
	@bash scripts/setup.sh --with-browser
	@.venv/bin/python -m pytest -n $(TEST_PROCESSES) --dist loadfile --no-loadscope-reorder

# The edit loop: the tests that need neither the database nor the NLU server (tests/conftest.py).
test-fast:
	@test -x .venv/bin/python || bash scripts/setup.sh
	@.venv/bin/python -m pytest -m pure -q

bench: setup
	@.venv/bin/python -m bench

# Held-out NLU evaluation: var/nlu-report/report.md and confusion.png (nlu/README.md).
.PHONY: nlu-report
nlu-report: setup
	@.venv-nlu/bin/python -m nlu evaluate

# Knowledge base (issue 13): the search's precision and coverage on data/knowledge_eval.yml, and
# loading entries from a YAML file as drafts (the same command updates a running system).
.PHONY: kb-report kb-import
kb-report: setup
	@.venv/bin/python -m bot.knowledge_report

kb-import: setup
	@.venv/bin/python -m bot.knowledge_import $(or $(FILE),data/knowledge_seed.yml)

# The "có thể trùng" suggestion on its labelled reports (data/duplicates/): precision and recall.
.PHONY: duplicates-report
duplicates-report: setup
	@.venv/bin/python -m bot.duplicates_eval

# Backups (README, "Backups"): a consistent snapshot of the embedded database and var/media/ into
# var/backups/; restore into the stopped app after checking the archive.
.PHONY: backup restore
backup:
	@.venv/bin/python -m bot.backup create

restore:
	@test -n "$(FILE)" || { echo "usage: make restore FILE=var/backups/tongdai1022-....tar.gz" >&2; exit 2; }
	@.venv/bin/python -m bot.backup restore "$(FILE)"
