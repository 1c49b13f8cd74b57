# strata: build, test, install.  GNU make; gcc 12 or clang 14.
#
#   make            build/libstrata.a and build/libstrata.so
#   make test       the Criterion suite
#   make asan       the suite under AddressSanitizer + UndefinedBehaviorSanitizer
#   make tsan       the suite under ThreadSanitizer
#   make example    build and run examples/hello.c (the main job until db_bench)
#   make install PREFIX=/usr/local DESTDIR=    /   make uninstall
#
# Missing Debian packages are installed with apt-get (through sudo when not
# root), or the build stops with the command to run.

CC ?= cc
PREFIX ?= /usr/local
DESTDIR ?=
BUILD ?= build
# Extra flags for a variant build (the sanitizers set these).
SAN ?=

VERSION := 0.1.0
SOVERSION := 0

OPT ?= -O2
CFLAGS ?= $(OPT) -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes
CPPFLAGS_ALL := -std=c11 -D_DEFAULT_SOURCE -I. -Iinclude $(shell pkg-config --cflags libzstd libxxhash 2>/dev/null)
ALL_CFLAGS := $(CPPFLAGS_ALL) $(WARN) $(CFLAGS) $(SAN) -fPIC -fvisibility=hidden -pthread -MMD -MP
LIBS := -lzstd -pthread

# The engine: everything under these folders is part of libstrata.
LIB_DIRS := src memtable wal sstable compaction
LIB_SRCS := $(foreach d,$(LIB_DIRS),$(wildcard $(d)/*.c))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)

TEST_SRCS := $(wildcard tests/*.c)
TEST_BIN := $(BUILD)/strata_tests
# HARNESS=tsan builds the same test files against tests/tsan/, a stand-in
# for Criterion's header and runner: Criterion's own runner cannot start
# under ThreadSanitizer (see tests/tsan/criterion/criterion.h).
HARNESS ?= criterion
ifeq ($(HARNESS),tsan)
TEST_SRCS += tests/tsan/runner.c
TEST_INC := -Itests/tsan
TEST_LIBS :=
else
TEST_INC :=
TEST_LIBS := -lcriterion
endif
# The harness decides which criterion.h the tests see: keep their objects apart.
TEST_OBJS := $(TEST_SRCS:tests/%.c=$(BUILD)/obj/tests-$(HARNESS)/%.o)

EXAMPLE_BIN := $(BUILD)/hello

DEPS_PKGS := libzstd-dev libxxhash-dev libcriterion-dev libjemalloc-dev pkg-config

.PHONY: all lib test asan tsan example install uninstall clean deps FORCE
all: lib

lib: $(BUILD)/libstrata.a $(BUILD)/libstrata.so $(BUILD)/strata.pc

# ---- dependencies ---------------------------------------------------------
# Checks the Debian packages on every run (one dpkg-query, a few ms) and
# installs what is missing.
deps:
	@missing=""; \
	for p in $(DEPS_PKGS); do \
	  dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "strata: missing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; \
	  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo"; \
	  else echo "strata: cannot install packages; run: sudo apt-get update && sudo apt-get install -y$$missing" >&2; exit 1; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq$$missing >/dev/null \
	    || { echo "strata: install failed; run: sudo apt-get update && sudo apt-get install -y$$missing" >&2; exit 1; }; \
	fi

# ---- the library ------------------------------------------------------------
$(BUILD)/obj/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/tests-$(HARNESS)/%.o: tests/%.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(TEST_INC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libstrata.a: $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/libstrata.so: $(LIB_OBJS)
	$(CC) -shared -Wl,-soname,libstrata.so.$(SOVERSION) $(SAN) -o $@ $^ $(LIBS)

# Written on every run, so that `make install PREFIX=...` records that prefix.
$(BUILD)/strata.pc: FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n' 'prefix=$(PREFIX)' 'libdir=$${prefix}/lib' 'includedir=$${prefix}/include' '' \
	  'Name: strata' 'Description: embeddable LSM-tree key-value store' 'Version: $(VERSION)' \
	  'Requires.private: libzstd' 'Libs: -L$${libdir} -lstrata' 'Libs.private: -pthread' \
	  'Cflags: -I$${includedir}' > $@

# ---- tests -----------------------------------------------------------------
$(TEST_BIN): $(TEST_OBJS) $(BUILD)/libstrata.a
	$(CC) $(SAN) -o $@ $(TEST_OBJS) $(BUILD)/libstrata.a $(TEST_LIBS) $(LIBS)

# Each test runs in its own process, two at a time (the machines have two
# cores).  TEST_ARGS passes more flags, e.g. TEST_ARGS=--filter='wal/*'
TEST_ARGS ?=
test: $(TEST_BIN)
	$(TEST_BIN) --jobs=2 $(TEST_ARGS)

asan:
	$(MAKE) BUILD=build/asan OPT=-O1 SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test

tsan:
	$(MAKE) BUILD=build/tsan OPT=-O1 SAN="-fsanitize=thread" HARNESS=tsan test

# ---- the example (the main job until db_bench exists) -----------------------
$(EXAMPLE_BIN): examples/hello.c $(BUILD)/libstrata.a include/strata.h
	$(CC) $(CPPFLAGS_ALL) $(WARN) $(CFLAGS) $(SAN) -o $@ examples/hello.c $(BUILD)/libstrata.a $(LIBS)

example: $(EXAMPLE_BIN)
	$(EXAMPLE_BIN)

# ---- install -----------------------------------------------------------------
install: lib
	install -d $(DESTDIR)$(PREFIX)/include $(DESTDIR)$(PREFIX)/lib/pkgconfig
	install -m 644 include/strata.h $(DESTDIR)$(PREFIX)/include/
	install -m 644 $(BUILD)/libstrata.a $(DESTDIR)$(PREFIX)/lib/
	install -m 755 $(BUILD)/libstrata.so $(DESTDIR)$(PREFIX)/lib/libstrata.so.$(VERSION)
	ln -sf libstrata.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/libstrata.so.$(SOVERSION)
	ln -sf libstrata.so.$(SOVERSION) $(DESTDIR)$(PREFIX)/lib/libstrata.so
	install -m 644 $(BUILD)/strata.pc $(DESTDIR)$(PREFIX)/lib/pkgconfig/

uninstall:
	rm -f $(DESTDIR)$(PREFIX)/include/strata.h $(DESTDIR)$(PREFIX)/lib/libstrata.a \
	  $(DESTDIR)$(PREFIX)/lib/libstrata.so $(DESTDIR)$(PREFIX)/lib/libstrata.so.$(SOVERSION) \
	  $(DESTDIR)$(PREFIX)/lib/libstrata.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/pkgconfig/strata.pc

clean:
	rm -rf build

FORCE:

-include $(LIB_OBJS:.o=.d) $(TEST_OBJS:.o=.d)
