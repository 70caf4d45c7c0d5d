# The README's two commands: `make run` and `make test`.
# Everything is installed into .venv (Python packages) and ~/.cache/botwatch (the broker's jars).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: run test venv clean

# setup.py and the C sources and headers as well: pip install -e compiles the extensions into consumer/, so a
# change to them needs the install again
$(STAMP): pyproject.toml setup.py $(wildcard consumer/*.c consumer/*.h)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

## run: local broker, topics, live synthetic traffic and the consumer printing flags (Ctrl-C stops all)
run: $(STAMP)
	PATH="$(CURDIR)/$(BIN):$$PATH" bash deploy/run.sh

## test: unit tests and integration tests against a real Kafka broker
test: $(STAMP)
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .botwatch .pytest_cache build consumer/*.so
