# e2b-rs — entry points for people and CI.
#
#   make test      everything CI runs (what .ci/run calls)
#   make check     formatting, clippy -D warnings, generated-code freshness, docs, packaging
#   make package   package every published crate; each package's tests compile alone
#   make codegen   regenerate e2b-api and e2b-envd from spec/
#   make demo      start a local E2B server, run the quickstart against it, stop
#   make bench     this SDK, the official Python and JS SDKs and the floor side by side
#   make fuzz      fuzz every decoder of network input, FUZZ_SECONDS (60) per target

CARGO ?= cargo
PYTHON ?= python3
export CARGO_TERM_COLOR ?= always

# Project-owned Python environments for the official-SDK compatibility tests.
VENV := .venv/compat
VENV_LATEST := .venv/compat-latest
# The official code-interpreter package (e2b-code-interpreter, which brings its own e2b):
# the pinned release and the newest one.
VENV_CI := .venv/compat-ci
VENV_CI_LATEST := .venv/compat-ci-latest
COMPAT := tests/compat/python
# The official npm packages (e2b 2.45 and the newest, @e2b/code-interpreter), run with
# `node --test`; installed with `npm ci` from the committed package-lock.json.
COMPAT_JS := tests/compat/js
COMPAT_JS_TESTS := $(COMPAT_JS)/e2b-2.45.test.mjs $(COMPAT_JS)/e2b-2.51.test.mjs \
	$(COMPAT_JS)/code-interpreter.test.mjs
# The Python kernel environment of `code-interpreter-v1` sandboxes: ipykernel,
# pandas, matplotlib, e2b-charts and the IPython startup scripts (under ipython/).
KERNEL_ENV := .venv/kernel
KERNEL_SRC := crates/e2b-local/kernel
export E2B_LOCAL_KERNEL_ENV ?= $(CURDIR)/$(KERNEL_ENV)
TARGET_DIR := $(or $(CARGO_TARGET_DIR),$(CURDIR)/target)
E2B_LOCAL_BIN := $(abspath $(TARGET_DIR)/debug/e2b-local)

.PHONY: all test check fmt clippy codegen codegen-check doc no-ignored-doctests package demo help \
	deps isolation venvs js-deps kernel-env compat compat-run e2b-local-bin fuzz \
	check-tags-short bench

all: check test

help:
	@sed -n '3,10p' Makefile

# Installs what is missing (bubblewrap, slirp4netns, the Java and R runtimes, the SDK venvs
# and npm packages), builds the e2b-local binary the in-process servers start sandboxes with,
# then runs every Rust test (with a smoke of each fuzz target: FUZZ_SMOKE_MS per target,
# fuzz/tests/smoke.rs) and the official-SDK compatibility modules.
FUZZ_SMOKE_MS ?= 400
test: deps e2b-local-bin
	E2B_LOCAL_BIN=$(E2B_LOCAL_BIN) E2B_FUZZ_SMOKE_MS=$(FUZZ_SMOKE_MS) \
		$(CARGO) test --workspace --locked
	$(MAKE) --no-print-directory check-tags-short
	$(MAKE) --no-print-directory compat-run

# The SDK crates regenerated and compiled at the oldest supported upstream tag and the newest
# (README, "Supported upstream range"); SPEC_REPO is where the tags come from.
# Tests never reach the network: without the offline bundle (and without SPEC_REPO given),
# the check says so and is skipped.
SPEC_BUNDLE := $(wildcard $(CURDIR)/../shared/upstream/e2b-spec.bundle)
SPEC_REPO ?= $(SPEC_BUNDLE)
check-tags-short:
	@if [ -n "$(SPEC_REPO)" ]; then \
		echo "+ $(CARGO) xtask check-tags --ends-only --repo $(SPEC_REPO)"; \
		$(CARGO) xtask check-tags --ends-only --repo $(SPEC_REPO); \
	else \
		echo "check-tags-short skipped: no offline spec bundle at ../shared/upstream/e2b-spec.bundle (set SPEC_REPO to a git remote with upstream's tags)"; \
	fi

# Every module runs, even after one has failed; the target fails if any did.
compat-run:
	@export E2B_LOCAL_BIN="$(E2B_LOCAL_BIN)"; failed=; \
	run() { echo "+ $$*"; "$$@" || failed="$$failed\n  $$*"; }; \
	run $(VENV)/bin/pytest -q -p no:cacheprovider $(COMPAT)/test_official_sdk.py $(COMPAT)/test_template_build.py \
		$(COMPAT)/test_volume_secret_sdk.py; \
	run $(VENV_LATEST)/bin/pytest -q -p no:cacheprovider $(COMPAT)/test_official_sdk.py $(COMPAT)/test_latest_sdk.py \
		$(COMPAT)/test_template_build.py $(COMPAT)/test_volume_secret_sdk.py; \
	run $(VENV_CI)/bin/pytest -q -p no:cacheprovider $(COMPAT)/test_code_interpreter_sdk.py; \
	run $(VENV_CI_LATEST)/bin/pytest -q -p no:cacheprovider $(COMPAT)/test_code_interpreter_sdk.py; \
	run node --test --test-concurrency=1 --test-reporter=spec $(COMPAT_JS_TESTS); \
	if [ -n "$$failed" ]; then printf 'compatibility modules that failed:%b\n' "$$failed"; exit 1; fi

check: fmt clippy codegen-check doc no-ignored-doctests package

fmt:
	$(CARGO) fmt --all --check

# --all-targets covers the live tests too: they always compile, and the `live` feature
# only stops them being ignored (crates/e2b-sandbox/tests/live.rs).
clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

codegen:
	$(CARGO) xtask codegen

codegen-check:
	$(CARGO) xtask codegen --check

# --- prerequisites (idempotent) -------------------------------------------------

deps: isolation venvs js-deps kernel-env

isolation:
	@scripts/install-isolation.sh
	@scripts/setup-rootless.sh

venvs: $(VENV)/.installed $(VENV_LATEST)/.installed $(VENV_CI)/.installed $(VENV_CI_LATEST)/.installed

$(VENV)/.installed: $(COMPAT)/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

$(VENV_LATEST)/.installed: $(COMPAT)/requirements-latest.txt
	$(PYTHON) -m venv $(VENV_LATEST)
	$(VENV_LATEST)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

$(VENV_CI)/.installed: $(COMPAT)/requirements-code-interpreter.txt
	$(PYTHON) -m venv $(VENV_CI)
	$(VENV_CI)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

$(VENV_CI_LATEST)/.installed: $(COMPAT)/requirements-code-interpreter-latest.txt
	$(PYTHON) -m venv $(VENV_CI_LATEST)
	$(VENV_CI_LATEST)/bin/pip install --quiet --disable-pip-version-check -r $<
	touch $@

js-deps: $(COMPAT_JS)/node_modules/.installed

$(COMPAT_JS)/node_modules/.installed: $(COMPAT_JS)/package.json $(COMPAT_JS)/package-lock.json
	@command -v npm >/dev/null 2>&1 || { \
		echo "error: npm not found; the npm compatibility tests need Node.js >= 20.18.1 and npm"; exit 1; }
	cd $(COMPAT_JS) && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error
	touch $@

kernel-env: $(KERNEL_ENV)/.installed

# What a user without a checkout runs, `e2b-local kernel-env install`: it embeds the files
# under crates/e2b-local/kernel and installs them as this target always did (a venv from
# requirements.txt, the IPython startup scripts, tslab from npm when npm is installed).
$(KERNEL_ENV)/.installed: $(KERNEL_SRC)/requirements.txt $(wildcard $(KERNEL_SRC)/startup/*.py) \
		$(KERNEL_SRC)/package.json $(KERNEL_SRC)/package-lock.json $(KERNEL_SRC)/tslab-main-result.js \
		| e2b-local-bin
	$(E2B_LOCAL_BIN) kernel-env install --python $(PYTHON) $(KERNEL_ENV)
	touch $@

e2b-local-bin:
	$(CARGO) build --locked -p e2b-local --bin e2b-local

# The official SDKs against e2b-local.
compat: deps e2b-local-bin
	$(MAKE) --no-print-directory compat-run

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --locked

# Doctests are compiled (`no_run` for network examples), never `ignore`d.
no-ignored-doctests:
	@! grep -rnE '```[[:space:]]*(rust,[[:space:]]*)?ignore' --include='*.rs' crates xtask \
		|| { echo 'error: ignored doctests found (use no_run)'; exit 1; }

# Every crate without `publish = false`, packaged together (none needs to be on crates.io
# yet), then every package built, with its tests, from the extracted packages alone
# (scripts/package.sh says how, and why that replaces cargo's own verification).
# CONTRIBUTING.md has the publish order.
package:
	CARGO="$(CARGO)" scripts/package.sh

# Coverage-guided fuzzing of every decoder of network input on the stable toolchain
# (libFuzzer; FUZZ_ENGINE=stable for the uninstrumented engine), FUZZ_SECONDS per
# target, FUZZ_TARGETS to pick some. See scripts/fuzz.sh and fuzz/.
FUZZ_SECONDS ?= 60
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_TARGETS="$(FUZZ_TARGETS)" FUZZ_ENGINE="$(FUZZ_ENGINE)" \
		CARGO="$(CARGO)" scripts/fuzz.sh

# Side-by-side benchmarks against one release e2b-local (benches/bench.sh): this SDK, the
# official Python and JS SDKs and the floor (a raw HTTP client issuing the same requests).
# Prints the table of medians and ratios; writes target/bench/bench.{json,md,png}.
bench: deps
	CARGO="$(CARGO)" benches/bench.sh

# The newcomer's first command: start e2b-local, run the quickstart against it, stop.
demo:
	@scripts/demo.sh
