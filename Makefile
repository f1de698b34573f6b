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

bench:
	$(CARGO) bench

clean:
	$(CARGO) clean
