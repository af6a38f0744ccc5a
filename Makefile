# Two commands do everything: `make run` (set up, then start the app) and `make test`
# (set up, then lint and test). Each set-up step leaves a stamp, so a second run skips it.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8501
# The app listens on this machine only; `make run ADDRESS=0.0.0.0` serves it to the network
# (then read README "Hosting": HTTPS, TURN, and the folders the app can reach).
ADDRESS ?= 127.0.0.1
# torchvision looks for ImageNet weights in $TORCH_HOME/hub/checkpoints (default ~/.cache/torch).
TORCH_HOME ?= $(HOME)/.cache/torch
export TORCH_HOME
export WANDB_MODE ?= offline
export WANDB_SILENT ?= true
export STREAMLIT_BROWSER_GATHER_USAGE_STATS ?= false

.PHONY: run test test-slow test-all lint format lock setup clean bench
setup: $(VENV)/.installed $(TORCH_HOME)/hub/checkpoints/mobilenet_v2-b0353104.pth

# The lock is installed with uv: pip would take the machine's CPU-only torch wheel, which breaks
# the PyPI torchvision (see ../shared/NOTES.md). --require-hashes checks every download.
$(VENV)/.installed: requirements.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	@test -x $(BIN)/uv || $(BIN)/python -m pip install --quiet --disable-pip-version-check uv==0.13.8
	$(BIN)/uv pip install --python $(BIN)/python --require-hashes -r requirements.txt
	@touch $@

$(TORCH_HOME)/hub/checkpoints/mobilenet_v2-b0353104.pth: | $(VENV)/.installed
	$(BIN)/python scripts/install_weights.py --dest $(TORCH_HOME)/hub/checkpoints

run: setup
	$(BIN)/streamlit run Home.py --server.address $(ADDRESS) --server.port $(PORT) --server.headless true

test: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest -m "not slow"

test-slow: setup
	$(BIN)/python -m pytest -m slow

test-all: setup
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/python -m pytest

format: setup
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

bench: setup
	$(BIN)/python bench/models.py

# Recompile the lock after editing requirements.in.
lock:
	$(BIN)/uv pip compile requirements.in --python-version 3.11 --generate-hashes -o requirements.txt

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
