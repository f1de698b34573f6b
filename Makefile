# armr: `make demo` shows what it does, `make test` runs every test (installing what they need).

CARGO ?= cargo

.PHONY: all build test demo bench clean

all: build

build:
	$(CARGO) build --release

test: build
	scripts/install-test-deps
	$(CARGO) test --release

demo: build
	scripts/demo

# The overhead suite (scripts/bench: instructions per call, start-up, memory, nginx, logging;
# updates docs/performance.md), then the criterion benchmarks of the parser and the policy index.
bench: build
	scripts/install-test-deps
	scripts/install-bench-deps
	scripts/bench
	$(CARGO) bench

clean:
	$(CARGO) clean
