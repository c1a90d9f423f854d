PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench dovecot-test slow-test browser-test postgres-test wild-test container-test clean

$(STAMP): pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/formbot demo

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -m "not dovecot and not slow and not browser and not postgres and not wild"

dovecot-test: $(STAMP)
	$(BIN)/pytest -q -m "dovecot and not wild"

# The 446 public test mails of ../shared/wildmail (or $$FORMBOT_WILDMAIL) in Dovecot, two polls.
wild-test: $(STAMP)
	$(BIN)/pytest -q -s -m wild

# The whole default suite again, on PostgreSQL (bash .ci/install-postgres.sh first).
PG_URL ?= postgresql+psycopg://formbot:formbot@127.0.0.1:5432/formbot
postgres-test: $(STAMP)
	FORMBOT_TEST_DATABASE=$(PG_URL) $(BIN)/pytest -q -m "not dovecot and not slow and not browser and not sqlite and not wild"

# The image built and run with podman (as root: bash .ci/install-podman.sh first).
container-test: $(STAMP)
	bash .ci/container-test.sh

browser-test: $(STAMP)
	$(BIN)/pytest -q -m browser

slow-test: $(STAMP)
	$(BIN)/pytest -q -s -m slow

# Every figure of issue 6 with its ratio and target. latency.py needs Dovecot
# (.ci/install-dovecot.sh), parse.py LibreOffice (.ci/install-libreoffice.sh).
bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/parse.py
	$(BIN)/python bench/memory.py
	$(BIN)/python bench/latency.py
	$(BIN)/python bench/startup.py
	$(BIN)/python bench/ocr.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) demo-export.xlsx
