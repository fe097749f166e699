#!/usr/bin/env bash
# Fuzz every decoder of network input (the targets of fuzz/, `e2b-fuzz list`)
# for FUZZ_SECONDS each, on the stable toolchain.
#
#   FUZZ_ENGINE=libfuzzer (default)  coverage-guided: the targets are built with
#       LLVM SanitizerCoverage (stable `-C passes`/`-C llvm-args` flags, what
#       cargo-fuzz passes with `--sanitizer none`) and linked with libFuzzer,
#       which needs a C++ compiler. The corpus grows under FUZZ_WORK and is
#       reused by the next run.
#   FUZZ_ENGINE=stable  the in-repo mutation engine, no instrumentation.
#
# FUZZ_TARGETS (space-separated) picks targets; failing inputs are kept under
# FUZZ_WORK/artifacts/<target>/ and replayed with
# `cargo run -p e2b-fuzz -- replay <target> <file>`.
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO=${CARGO:-cargo}
ENGINE=${FUZZ_ENGINE:-libfuzzer}
PER_TARGET=${FUZZ_SECONDS:-60}
TARGET_DIR=${CARGO_TARGET_DIR:-$PWD/target}
WORK=${FUZZ_WORK:-$TARGET_DIR/fuzz-work}

case "$PER_TARGET" in
	'' | *[!0-9]*) echo "FUZZ_SECONDS must be a whole number of seconds" >&2; exit 2 ;;
esac

# The stable binary lists the targets and writes their seeds and dictionaries.
$CARGO build --locked -q -p e2b-fuzz --bin e2b-fuzz
driver=$TARGET_DIR/debug/e2b-fuzz
targets=${FUZZ_TARGETS:-$("$driver" list | awk '{print $1}')}

if [ "$ENGINE" = stable ]; then
	$CARGO build --locked -q --release -p e2b-fuzz --bin e2b-fuzz
	# shellcheck disable=SC2086
	FUZZ_ARTIFACTS=$WORK/artifacts exec "$TARGET_DIR/release/e2b-fuzz" run --seconds "$PER_TARGET" $targets
fi
if [ "$ENGINE" != libfuzzer ]; then
	echo "FUZZ_ENGINE is libfuzzer or stable, not '$ENGINE'" >&2
	exit 2
fi
if ! command -v c++ >/dev/null 2>&1; then
	echo "libFuzzer needs a C++ compiler (apt-get install g++), or use FUZZ_ENGINE=stable" >&2
	exit 1
fi

# Instrument only the target triple's code: build scripts and proc macros stay plain.
host=$(rustc -vV | sed -n 's/^host: //p')
coverage="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4"
coverage+=" -Cllvm-args=-sanitizer-coverage-inline-8bit-counters"
coverage+=" -Cllvm-args=-sanitizer-coverage-pc-table"
coverage+=" -Cllvm-args=-sanitizer-coverage-trace-compares"
RUSTFLAGS="$coverage -Cdebug-assertions -Coverflow-checks" \
	$CARGO build --locked --release -p e2b-fuzz --features libfuzzer --bin e2b-fuzz-libfuzzer \
	--target "$host" --target-dir "$TARGET_DIR/fuzz-build"
fuzzer=$TARGET_DIR/fuzz-build/$host/release/e2b-fuzz-libfuzzer

rm -rf "$WORK/seeds" "$WORK/dict"
"$driver" seeds "$WORK/seeds"
"$driver" dict "$WORK/dict"

failed=()
for target in $targets; do
	mkdir -p "$WORK/corpus/$target" "$WORK/artifacts/$target"
	echo "== $target: ${PER_TARGET}s"
	if ! E2B_FUZZ_TARGET=$target "$fuzzer" "$WORK/corpus/$target" "$WORK/seeds/$target" \
		-dict="$WORK/dict/$target.dict" -max_total_time="$PER_TARGET" -timeout=10 \
		-rss_limit_mb=2048 -max_len=65536 -print_final_stats=1 \
		-artifact_prefix="$WORK/artifacts/$target/" 2>"$WORK/$target.log"; then
		tail -n 40 "$WORK/$target.log" >&2
		failed+=("$target")
	fi
	grep -E '^(stat::number_of_executed_units|stat::new_units_added|#[0-9]+.*DONE)' \
		"$WORK/$target.log" || true
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "fuzz targets failed: ${failed[*]} (inputs under $WORK/artifacts/; replay with" \
		"cargo run -p e2b-fuzz -- replay TARGET FILE)" >&2
	exit 1
fi
echo "fuzzed: $(echo $targets | wc -w) targets, ${PER_TARGET}s each"
