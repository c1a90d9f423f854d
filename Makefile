PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench dovecot-test slow-test browser-test postgres-test wild-test \
	container-test clean system-packages test-system-packages test-debian-python

# Debian packages, installed when missing (.ci/system-packages.sh: apt-get as root, sudo
# otherwise, else it names them and stops). The venv needs python3-venv; the default
# suite LibreOffice (legacy .doc/.xls tests drive a live one), python3-uno (the warm
# converter's bridge runs under /usr/bin/python3), bsdtar (.rar members), and for the tests
# that print the workbook and make sample scans: pdftotext (poppler-utils), a CJK font;
# pgrep (procps) for the tests that watch LibreOffice processes.
DEMO_PACKAGES := python3-venv
TEST_PACKAGES := $(DEMO_PACKAGES) libreoffice-writer-nogui libreoffice-calc-nogui \
	python3-uno libarchive-tools poppler-utils fonts-wqy-zenhei procps

system-packages:
	@bash .ci/system-packages.sh $(DEMO_PACKAGES)

test-system-packages:
	@bash .ci/system-packages.sh $(TEST_PACKAGES)

$(STAMP): pyproject.toml | system-packages
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/formbot demo

DEFAULT_SUITE := -m "not dovecot and not slow and not browser and not postgres and not wild"

test: test-system-packages $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q $(DEFAULT_SUITE)

# The default suite again on Debian 12's own Python (3.11.2 there), the one a Debian
# server and the image run: a reader pool that passed on a newer 3.11 once hung on it.
DEBIAN_PY := /usr/bin/python3
DEBIAN_VENV := .venv-debian
$(DEBIAN_VENV)/.installed: pyproject.toml | system-packages
	$(DEBIAN_PY) -m venv $(DEBIAN_VENV)
	$(DEBIAN_VENV)/bin/pip install -q --upgrade pip
	$(DEBIAN_VENV)/bin/pip install -q -e '.[test]'
	touch $@

# On SQLite, where the interpreter shows most: reading mail in worker processes (the
# pool, time limits, killed readers), LibreOffice's bridge and OCR's worker. CI runs the
# whole default suite on this Python through `make postgres-test`;
# `make test-debian-python DEBIAN_TESTS=tests` runs it all here on SQLite.
DEBIAN_TESTS ?= tests/poll tests/parsers/test_convert.py tests/parsers/test_paper.py
test-debian-python: test-system-packages $(DEBIAN_VENV)/.installed
	$(DEBIAN_VENV)/bin/python --version
	$(DEBIAN_VENV)/bin/pytest -q $(DEFAULT_SUITE) $(DEBIAN_TESTS)

dovecot-test: $(STAMP)
	$(BIN)/pytest -q -m "dovecot and not wild"

# The 446 public test mails of ../shared/wildmail (or $$FORMBOT_WILDMAIL) in Dovecot, two polls.
wild-test: $(STAMP)
	$(BIN)/pytest -q -s -m wild

# The whole default suite again, on PostgreSQL (bash .ci/install-postgres.sh first), and
# on Debian's own Python: one run covers both the other store and the interpreter a
# Debian server and the image have (PG_VENV=.venv runs it on the newer one instead).
PG_URL ?= postgresql+psycopg://formbot:formbot@127.0.0.1:5432/formbot
PG_VENV ?= $(DEBIAN_VENV)
postgres-test: test-system-packages $(PG_VENV)/.installed
	$(PG_VENV)/bin/python --version
	FORMBOT_TEST_DATABASE=$(PG_URL) $(PG_VENV)/bin/pytest -q -m "not dovecot and not slow and not browser and not sqlite and not wild"

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
	rm -rf $(VENV) $(DEBIAN_VENV) demo-export.xlsx
