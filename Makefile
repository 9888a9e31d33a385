# Two commands do all the set-up on a fresh machine:
#   make demo   materialize the sandbox and run the incident drill headless
#   make test   ruff + mypy + pytest on both cores (with every extra, and Debian's chromium for the browser test)
# Both create .venv when it is missing and reinstall only when a dependency file changed.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-$(shell cat pyproject.toml environment.yml | sha256sum | cut -c1-16)

EXTRAS := dev,s3,lab,ray

.PHONY: demo test bench bytecode browser clean-venv

# pip's output goes to this log; its path is printed only when the set-up fails.
SETUP_LOG := outputs/setup.log

# torch is pinned first and alone so that nothing else can pull a CUDA build.
# All extras in one resolve: asked one by one, pip spends minutes on botocore.
$(STAMP): pyproject.toml environment.yml
	@echo "set-up: installing the dependencies into $(VENV) (a few minutes on a fresh machine)"
	@mkdir -p $(dir $(SETUP_LOG)) && : > $(SETUP_LOG)
	@{ { test -x $(BIN)/python || $(PYTHON) -m venv $(VENV); } \
		&& rm -f $(VENV)/.installed-* \
		&& $(BIN)/python -m pip install --upgrade "pip>=24" \
		&& $(BIN)/python -m pip install "torch==2.13.0" \
		&& $(BIN)/python -m pip install -e ".[$(EXTRAS)]"; } >>$(SETUP_LOG) 2>&1 \
		|| { echo "set-up failed; pip's output is in $(SETUP_LOG), its end:"; \
		     tail -n 15 $(SETUP_LOG); exit 1; }
	@touch $@

# An editable install has no bytecode until first import, and machines that set
# PYTHONDONTWRITEBYTECODE never write it: compile once, as a wheel install would.
bytecode: $(STAMP)
	@$(BIN)/python -m compileall -q -x "sandbox/files" runbook_lib

demo: bytecode
	@echo "demo: the perf-regression drill on a fresh sandbox, archive in outputs/"
	@$(BIN)/runbook drill --archive outputs

# The browser test drives Debian's chromium (Playwright's own browser download is not
# used). Install it when missing and apt is usable as root; elsewhere the test skips
# and says why.
browser:
	@if [ ! -x /usr/bin/chromium ] && [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing chromium with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium \
			>/dev/null || echo "warning: chromium could not be installed; the browser test will skip"; \
	fi

test: bytecode browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	# Two workers, one per core; a module's tests stay on one worker (its fixtures are
	# built once there). pytest's exit 5 (no test collected) still fails make.
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

bench: bytecode
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean-venv:
	rm -rf $(VENV)
