# e2b-rs — entry points for people and CI.
#
#   make test      everything CI runs (what .ci/run calls)
#   make check     formatting, clippy -D warnings, generated-code freshness, docs
#   make codegen   regenerate e2b-api and e2b-envd from spec/
#   make demo      the first thing a newcomer runs (arrives with e2b-local)

CARGO ?= cargo
export CARGO_TERM_COLOR ?= always

.PHONY: all test check fmt clippy codegen codegen-check doc no-ignored-doctests demo help

all: check test

help:
	@sed -n '3,7p' Makefile

test:
	$(CARGO) test --workspace --locked

check: fmt clippy codegen-check doc no-ignored-doctests

fmt:
	$(CARGO) fmt --all --check

clippy:
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

codegen:
	$(CARGO) xtask codegen

codegen-check:
	$(CARGO) xtask codegen --check

doc:
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps --locked

# Doctests are compiled (`no_run` for network examples), never `ignore`d.
no-ignored-doctests:
	@! grep -rnE '```[[:space:]]*(rust,[[:space:]]*)?ignore' --include='*.rs' crates xtask \
		|| { echo 'error: ignored doctests found (use no_run)'; exit 1; }

demo:
	@echo "make demo starts a local E2B-compatible server and runs the quickstart;"
	@echo "it arrives with the e2b-local and e2b-sandbox crates. Today: make test, make check."
