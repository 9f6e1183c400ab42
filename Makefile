# The two commands of the README, plus helpers. Every cargo call goes through
# scripts/cargo.sh so the run and test commands share one target directory and profile.
.PHONY: run test bench bench-hedging bench-e2e fuzz lint fmt clean-data

run:
	scripts/quickstart.sh

test:
	scripts/test.sh

# Datapath and erasure-coding micro-benchmarks (criterion). Built without the RocksDB feature so the release
# profile does not compile RocksDB's C++ a second time.
bench:
	scripts/cargo.sh bench --no-default-features --bench datapath --bench erasure

# GET p99 with one provider delayed 10x against the healthy p99, in one run (s3s-fs providers).
bench-hedging:
	scripts/cargo.sh bench --no-default-features --bench hedging

# The end-to-end benchmark: gateway vs one s3s-fs directly vs rclone crypt+union (docs/performance.md).
bench-e2e:
	scripts/bench-e2e.sh

# Every fuzz target for FUZZ_SECONDS each (default 600), growing fuzz/corpus/ (cargo fuzz).
fuzz:
	scripts/fuzz.sh $${FUZZ_SECONDS:-600}

lint:
	scripts/cargo.sh fmt --all -- --check
	scripts/cargo.sh clippy --all-targets -- -D warnings
	python3 scripts/fn-lengths.py --max-p90 30

fmt:
	scripts/cargo.sh fmt --all

clean-data:
	rm -rf .data
