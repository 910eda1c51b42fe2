# The two commands (see README.md): `make run` and `make test`. `make bench` measures.
.PHONY: setup run test bench

setup:
	@bash scripts/setup.sh

run: setup
	@.venv/bin/python -m bot.run

test:
	@bash scripts/setup.sh --with-browser
	@.venv/bin/python -m pytest

bench: setup
	@.venv/bin/python -m bench
