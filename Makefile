# Compresso: two commands for a new machine.
#   make demo   install, migrate, load the catalogue, train the baseline, run a sweep, serve :8000
#   make test   install (runtime + dev + the PyTorch extra) and run the whole suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
PYTEST_ARGS ?=
# The suite runs in two pytest-xdist workers, one per core of the 2-core machines it
# is sized for; a file's tests stay in one worker so its module fixtures (a trained
# model, a started server) are built once. PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
# The demo caps each compression's fine-tuning (early stopping still applies) so the
# whole sweep runs in minutes; a lab's runners use the settings' cap (30).
DEMO_FINE_TUNE_EPOCHS ?= 5

.PHONY: demo test install install-dev install-torch lint serve browser sshd clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files re-run pip only when a requirements file changed.
$(VENV)/.runtime: requirements.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: requirements.txt requirements-dev.txt | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@ $(VENV)/.runtime

# The PyTorch extra (torch, litert-torch, ai-edge-quantizer, torch-pruning): the tests
# need it, the demo does not. After .dev so pip resolves it against what is there.
$(VENV)/.torch: requirements.txt requirements-torch.txt $(VENV)/.dev | $(BIN)/python
	$(BIN)/pip install --quiet -r requirements-torch.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev
install-torch: $(VENV)/.torch

# Browser tests drive Debian's Chromium (Playwright never downloads a browser here).
browser:
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q chromium >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q chromium >/dev/null)) \
	      && echo "Installed Debian's chromium for the browser tests."; \
	  else echo "Browser tests need /usr/bin/chromium: sudo apt-get install chromium"; exit 1; fi; \
	fi

# The ssh driver's tests start Debian's OpenSSH server on 127.0.0.1.
sshd:
	@if [ ! -x /usr/sbin/sshd ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    (apt-get install -y -q openssh-server >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q openssh-server >/dev/null)) \
	      && echo "Installed Debian's openssh-server for the ssh driver tests."; \
	  else echo "The ssh driver tests need /usr/sbin/sshd: sudo apt-get install openssh-server"; exit 1; fi; \
	fi

test: install-dev install-torch browser sshd
	$(BIN)/pytest -n $(PYTEST_WORKERS) --dist loadfile $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

demo: install
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py loadcatalogue
	COMPRESSION_FINE_TUNE_EPOCHS=$(DEMO_FINE_TUNE_EPOCHS) $(BIN)/python manage.py demo
	@echo "Dashboard: http://$(HOST):$(PORT)/"
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

serve: install
	$(BIN)/python manage.py runserver $(HOST):$(PORT)

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
