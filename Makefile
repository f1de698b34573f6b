# armr: `make demo` shows what it does, `make test` runs every test (installing what they need).

CARGO ?= cargo

.PHONY: all build test demo bench clean install uninstall

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

# `make install` (PREFIX, DESTDIR as usual): the armr command, libarmr.so (which `armr run` finds
# from the command, at ../lib/armr), stripped, with their debug info kept apart under DEBUGDIR
# (gdb: `set debug-file-directory $(DEBUGDIR)`, or DEBUGDIR=/usr/lib/debug), and the docs.
# The system-wide policy is `armr install`'s (docs/system-wide.md).
PREFIX ?= /usr/local
DESTDIR ?=
BINDIR = $(PREFIX)/bin
LIBDIR = $(PREFIX)/lib/armr
DEBUGDIR ?= $(PREFIX)/lib/debug
DOCDIR = $(PREFIX)/share/doc/armr
MANDIR = $(PREFIX)/share/man/man1
BASHCOMPDIR = $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR = $(PREFIX)/share/zsh/site-functions
FISHCOMPDIR = $(PREFIX)/share/fish/vendor_completions.d
OBJCOPY ?= objcopy
INSTALLED = $(BINDIR)/armr $(LIBDIR)/libarmr.so

# Each file is renamed into place: a process loading the library (ld.so.preload) never maps half of one.
install: build
	install -d -m 0755 $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DOCDIR) \
		$(DESTDIR)$(DEBUGDIR)$(BINDIR) $(DESTDIR)$(DEBUGDIR)$(LIBDIR)
	$(OBJCOPY) --only-keep-debug target/release/armr $(DESTDIR)$(DEBUGDIR)$(BINDIR)/armr.debug
	$(OBJCOPY) --strip-all --add-gnu-debuglink=$(DESTDIR)$(DEBUGDIR)$(BINDIR)/armr.debug \
		target/release/armr $(DESTDIR)$(BINDIR)/.armr.new
	chmod 0755 $(DESTDIR)$(BINDIR)/.armr.new
	mv -f $(DESTDIR)$(BINDIR)/.armr.new $(DESTDIR)$(BINDIR)/armr
	$(OBJCOPY) --only-keep-debug target/release/libarmr.so $(DESTDIR)$(DEBUGDIR)$(LIBDIR)/libarmr.so.debug
	$(OBJCOPY) --strip-unneeded --add-gnu-debuglink=$(DESTDIR)$(DEBUGDIR)$(LIBDIR)/libarmr.so.debug \
		target/release/libarmr.so $(DESTDIR)$(LIBDIR)/.libarmr.so.new
	chmod 0644 $(DESTDIR)$(LIBDIR)/.libarmr.so.new

	mv -f $(DESTDIR)$(LIBDIR)/.libarmr.so.new $(DESTDIR)$(LIBDIR)/libarmr.so
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	# Completions and man pages, generated from the command's own argument parser.
	install -d -m 0755 $(DESTDIR)$(MANDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) \
		$(DESTDIR)$(FISHCOMPDIR)
	target/release/armr completions bash > $(DESTDIR)$(BASHCOMPDIR)/armr
	target/release/armr completions zsh > $(DESTDIR)$(ZSHCOMPDIR)/_armr
	target/release/armr completions fish > $(DESTDIR)$(FISHCOMPDIR)/armr.fish
	target/release/armr man --dir $(DESTDIR)$(MANDIR)
	chmod 0644 $(DESTDIR)$(BASHCOMPDIR)/armr $(DESTDIR)$(ZSHCOMPDIR)/_armr \
		$(DESTDIR)$(FISHCOMPDIR)/armr.fish $(DESTDIR)$(MANDIR)/armr*.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/armr $(DESTDIR)$(LIBDIR)/libarmr.so \
		$(DESTDIR)$(DEBUGDIR)$(BINDIR)/armr.debug $(DESTDIR)$(DEBUGDIR)$(LIBDIR)/libarmr.so.debug
	rm -rf $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(MANDIR)/armr.1 $(DESTDIR)$(MANDIR)/armr-*.1 $(DESTDIR)$(BASHCOMPDIR)/armr \
		$(DESTDIR)$(ZSHCOMPDIR)/_armr $(DESTDIR)$(FISHCOMPDIR)/armr.fish
	-rmdir $(DESTDIR)$(LIBDIR) $(DESTDIR)$(DEBUGDIR)$(LIBDIR) $(DESTDIR)$(DEBUGDIR)$(BINDIR) 2>/dev/null
