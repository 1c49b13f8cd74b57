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

# A leak found at a test process's exit is printed but fails no Criterion
# test: the reports go to files instead, and any file fails the target.
ASAN_REPORTS := build/asan/sanitizer-reports
asan:
	@rm -rf $(ASAN_REPORTS) && mkdir -p $(ASAN_REPORTS)
	ASAN_OPTIONS=log_path=$(CURDIR)/$(ASAN_REPORTS)/report $(MAKE) BUILD=build/asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" test
	@if ls $(ASAN_REPORTS)/report.* >/dev/null 2>&1; then cat $(ASAN_REPORTS)/report.*; \
	  echo "asan: sanitizer reports above" >&2; exit 1; fi
	@echo "asan: no sanitizer report"

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
# ---- benchmarks (bench/) ----
# make bench          build/db_bench (strata only) and the default suite:
#                     LevelDB's workloads at --num=1000000.  BENCH_ARGS adds flags.
# make bench-compare  build/db_bench_compare (strata, LevelDB, RocksDB) and the
#                     side-by-side table.  COMPARE_ARGS adds flags (e.g. --num=100000).
# make bench-plot     fillrandom with an interval report, drawn by bench/plot.gp
#                     into build/fillrandom.png.  PLOT_ARGS adds flags.
# make bench-smoke    every workload on a tiny --num, output checked (CI runs it);
#                     bench-compare-smoke does the same for the three-engine table.
# make bench-build    build/db_bench only.
# db_bench links jemalloc (BENCH_MALLOC); the library never does.
BENCH_MALLOC ?= -ljemalloc
BENCH_SRCS := bench/db_bench.c bench/compare.c bench/output.c bench/flags.c bench/runner.c \
  bench/workloads.c bench/histogram.c bench/report.c bench/gen.c bench/sysinfo.c \
  bench/engine_strata.c
BENCH_OBJS := $(BENCH_SRCS:%.c=$(BUILD)/obj/%.o)
BENCH_BIN := $(BUILD)/db_bench
BENCH_CMP_BIN := $(BUILD)/db_bench_compare
BENCH_CMP_OBJS := $(BUILD)/obj/bench/engines_compare.o $(BUILD)/obj/bench/engine_leveldb.o \
  $(BUILD)/obj/bench/engine_rocksdb.o
BENCH_CMP_PKGS := libleveldb-dev librocksdb-dev
BENCH_PLOT_PKGS := gnuplot-nox
BENCH_LIBS := $(BENCH_MALLOC) -lm $(LIBS)
# The RocksDB C API has no version call: the Debian package's, at build time.
BENCH_ROCKSDB_VERSION = $(shell dpkg-query -W -f='$${Version}' librocksdb-dev 2>/dev/null)

BENCH_SUITE := fillseq,fillsync,fillrandom,overwrite,readrandom,readseq,readreverse,readmissing,readhot,seekrandom,deleterandom,fill100K,stats
BENCH_ALL := fillseq,fillrandom,overwrite,fillsync,fill100K,fillbatch,readrandom,readseq,readreverse,readmissing,readhot,seekrandom,readwhilewriting,deleteseq,fillrandom,deleterandom,waitforcompaction,compact,stats
BENCH_ARGS ?=
COMPARE_ARGS ?=
PLOT_ARGS ?=

.PHONY: bench bench-build bench-compare bench-plot bench-smoke bench-compare-smoke \
  bench-compare-deps bench-plot-deps

# Installs the Debian packages in $(1) that are missing, as `deps` does.
define bench_install
	@missing=""; \
	for p in $(1); do \
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
endef

# After deps: two apt-gets at once (make -j) would fight over dpkg's lock.
bench-compare-deps: | deps
	$(call bench_install,$(BENCH_CMP_PKGS))

bench-plot-deps: | deps
	$(call bench_install,$(BENCH_PLOT_PKGS))

$(BENCH_BIN): $(BENCH_OBJS) $(BUILD)/obj/bench/engines.o $(BUILD)/libstrata.a
	$(CC) $(SAN) -o $@ $(BENCH_OBJS) $(BUILD)/obj/bench/engines.o $(BUILD)/libstrata.a $(BENCH_LIBS)

$(BENCH_CMP_BIN): $(BENCH_OBJS) $(BENCH_CMP_OBJS) $(BUILD)/libstrata.a
	$(CC) $(SAN) -o $@ $(BENCH_OBJS) $(BENCH_CMP_OBJS) $(BUILD)/libstrata.a -lleveldb -lrocksdb $(BENCH_LIBS)

# The registry, with the LevelDB and RocksDB adapters (bench/engines.c).
$(BUILD)/obj/bench/engines_compare.o: bench/engines.c | deps bench-compare-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DBENCH_COMPARE -c $< -o $@

$(BUILD)/obj/bench/engine_leveldb.o: bench/engine_leveldb.c | deps bench-compare-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/obj/bench/engine_rocksdb.o: bench/engine_rocksdb.c | deps bench-compare-deps
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DBENCH_ROCKSDB_VERSION='"$(BENCH_ROCKSDB_VERSION)"' -c $< -o $@

bench-build: $(BENCH_BIN)

bench: $(BENCH_BIN)
	$(BENCH_BIN) --num=1000000 --benchmarks=$(BENCH_SUITE) $(BENCH_ARGS)

bench-compare: $(BENCH_CMP_BIN)
	$(BENCH_CMP_BIN) --engine=all --num=1000000 $(COMPARE_ARGS)

# PLOT_BIN=$(BUILD)/db_bench_compare PLOT_ARGS=--engine=leveldb draws another engine.
PLOT_BIN ?= $(BENCH_BIN)
bench-plot: $(PLOT_BIN) | bench-plot-deps
	$(PLOT_BIN) --benchmarks=fillrandom --num=2000000 --report_interval=0.5 \
	  --report_file=$(BUILD)/fillrandom.csv --histogram $(PLOT_ARGS)
	gnuplot -e "csv='$(BUILD)/fillrandom.csv'; png='$(BUILD)/fillrandom.png'; \
	  title='db_bench fillrandom $(PLOT_ARGS)'" bench/plot.gp
	@echo "bench-plot: wrote $(BUILD)/fillrandom.png"

# Every workload on a tiny database, then a check that each printed a
# well-formed result line (bench/smoke_check.sh); then --rate, threads and
# readwhilewriting; then write workloads with a 64 KiB memtable, so that
# they flush and compact, each of which must print its write amplification.
# Not a timed test.
bench-smoke: $(BENCH_BIN)
	@mkdir -p $(BUILD)/bench-smoke
	$(BENCH_BIN) --num=2000 --reads=200 --histogram --benchmarks=$(BENCH_ALL) \
	  --report_interval=0.05 --report_file=$(BUILD)/bench-smoke/all.csv > $(BUILD)/bench-smoke/all.txt
	sh bench/smoke_check.sh $(BENCH_ALL) < $(BUILD)/bench-smoke/all.txt
	sh bench/smoke_check.sh --csv < $(BUILD)/bench-smoke/all.csv
	$(BENCH_BIN) --num=2000 --reads=500 --threads=2 --rate=20000 \
	  --benchmarks=fillrandom,readrandom,readwhilewriting > $(BUILD)/bench-smoke/rate.txt
	sh bench/smoke_check.sh --rate fillrandom,readrandom,readwhilewriting < $(BUILD)/bench-smoke/rate.txt
	$(BENCH_BIN) --num=20000 --write_buffer_size=65536 \
	  --benchmarks=fillseq,fillrandom,overwrite,deleterandom > $(BUILD)/bench-smoke/wamp.txt
	sh bench/smoke_check.sh --wamp fillseq,fillrandom,overwrite,deleterandom < $(BUILD)/bench-smoke/wamp.txt
	! $(BENCH_BIN) --no_such_flag=1 2>/dev/null
	$(BENCH_BIN) --help 2>&1 | grep -q -e '--sync=0|1 ' && $(BENCH_BIN) --help 2>&1 | grep -q -e '--db=S '
	@echo "bench-smoke: ok"

# The three engines on a tiny database: the tables and the differences print;
# then two write workloads with a 64 KiB memtable, whose write amplification
# strata and LevelDB must give (RocksDB's rounding may leave it n/a).
bench-compare-smoke: $(BENCH_CMP_BIN)
	@mkdir -p $(BUILD)/bench-smoke
	$(BENCH_CMP_BIN) --engine=all --num=2000 --reads=200 > $(BUILD)/bench-smoke/compare.txt
	grep -q '^workload  *strata  *leveldb  *rocksdb  *strata/best$$' $(BUILD)/bench-smoke/compare.txt
	test $$(grep -cE '^[a-z]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+$$' $(BUILD)/bench-smoke/compare.txt) -eq 10
	grep -q '^write amp, lower is better' $(BUILD)/bench-smoke/compare.txt
	grep -q '^Settings that differ between the engines, and why:$$' $(BUILD)/bench-smoke/compare.txt
	$(BENCH_CMP_BIN) --engine=all --num=20000 --write_buffer_size=65536 \
	  --benchmarks=fillrandom,overwrite > $(BUILD)/bench-smoke/compare-wamp.txt
	grep -q '^workload  *strata  *leveldb  *rocksdb$$' $(BUILD)/bench-smoke/compare-wamp.txt
	test $$(grep -cE '^(fillrandom|overwrite) +[0-9]+\.[0-9]+ +[0-9]+\.[0-9]+ +([0-9]+\.[0-9]+(\+-[0-9.e+-]+)?|n/a)$$' \
	  $(BUILD)/bench-smoke/compare-wamp.txt) -eq 2
	@echo "bench-compare-smoke: ok"

-include $(BENCH_OBJS:.o=.d) $(BENCH_CMP_OBJS:.o=.d) $(BUILD)/obj/bench/engines.d
# ---- end of benchmarks ----
# ---- tools (tools/) ----
# make tools      build/sst-dump, which prints and checks tables, write-ahead
#                 logs, MANIFESTs and database directories (docs/sst_dump.md).
# `make` (all) builds it too.  Its logic is in TOOLS_LIB_SRCS, which the test
# suite links (tests/test_sst_dump.c); one test runs the binary, so `make test`
# builds it first.  Linked like db_bench, with jemalloc (TOOLS_MALLOC; under
# the sanitizers their runtime's allocator comes first and jemalloc idles).
TOOLS_MALLOC ?= -ljemalloc
TOOLS_LIB_SRCS := tools/sst_dump_lib.c tools/dump_out.c tools/dump_table.c tools/dump_log.c
TOOLS_LIB_OBJS := $(TOOLS_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SST_DUMP_BIN := $(BUILD)/sst-dump

.PHONY: tools
all: tools
tools: $(SST_DUMP_BIN)

$(SST_DUMP_BIN): $(BUILD)/obj/tools/sst_dump.o $(TOOLS_LIB_OBJS) $(BUILD)/libstrata.a
	$(CC) $(SAN) -o $@ $(BUILD)/obj/tools/sst_dump.o $(TOOLS_LIB_OBJS) $(BUILD)/libstrata.a \
	  $(TOOLS_MALLOC) $(LIBS)

# The suite links the tool's functions (the test binary's recipe reads
# TEST_OBJS when it runs, after this line).
TEST_OBJS += $(TOOLS_LIB_OBJS)
$(TEST_BIN): $(TOOLS_LIB_OBJS)
test: $(SST_DUMP_BIN)

-include $(TOOLS_LIB_OBJS:.o=.d) $(BUILD)/obj/tools/sst_dump.d
# ---- end of tools ----
# ---- crash test and model test (tests/crash/, tests/test_model.c) ----
# make crash-test CYCLES=N SYNC=0|1|both SEED=S
#                 build/crash_test, the SIGKILL crash-test driver with an
#                 expected state (tests/crash/crash_test.c), run for N cycles
#                 in all (default 20; SYNC=both, the default, alternates
#                 sync on and off cycle by cycle).  CI: CYCLES=120, ~1 min.
#                 CRASH_ARGS adds flags (--keys, --threads, --max-delay-ms,
#                 --dir, --verbose, --inject=lost-write to see it fail).
# make model-test SEED=S OPS=N
#                 only the model-based randomized test (tests/test_model.c):
#                 seed S (or S1,S2,...) for N operations each (default
#                 200000); without SEED, the fixed seeds of `make test`
#                 (20000 operations each, or OPS).
CYCLES ?= 20
SYNC ?= both
SEED ?=
OPS ?=
CRASH_ARGS ?=
CRASH_SRCS := tests/crash/crash_test.c tests/crash/expected_state.c tests/testutil.c
CRASH_OBJS := $(CRASH_SRCS:%.c=$(BUILD)/obj/%.o)
CRASH_BIN := $(BUILD)/crash_test

.PHONY: crash-test crash-build model-test
crash-build: $(CRASH_BIN)

$(CRASH_BIN): $(CRASH_OBJS) $(BUILD)/libstrata.a
	$(CC) $(SAN) -o $@ $(CRASH_OBJS) $(BUILD)/libstrata.a $(LIBS)

crash-test: $(CRASH_BIN)
	$(CRASH_BIN) --cycles=$(CYCLES) --sync=$(SYNC) $(if $(SEED),--seed=$(SEED)) $(CRASH_ARGS)

model-test: $(TEST_BIN)
	STRATA_MODEL_SEED=$(SEED) STRATA_MODEL_OPS=$(OPS) $(TEST_BIN) --filter='model/*' $(TEST_ARGS)

-include $(CRASH_OBJS:.o=.d)
# ---- end of crash test and model test ----
# ---- I/O faults and damaged files (tests/test_fault.c, tests/test_damage.c) ----
# `make test` runs both in a short form: about 35 fault points per fault kind
# (EIO on any operation, ENOSPC on writes and syncs, half-done writes), every
# stride-th I/O operation of the workload from a printed offset; and 6 rounds
# of every damage (flip, zero, cut) to every kind of file (log, table,
# MANIFEST, CURRENT) from a printed seed (STRATA_DAMAGE_SEED repeats it).
# make fault-all     every I/O operation of the workload failed in turn, for
#                    each fault kind (~2900 cases, ~10 minutes on two cores).
# make damage-long   DAMAGE_ROUNDS rounds (default 100) of damaged files.
DAMAGE_ROUNDS ?= 100
.PHONY: fault-all damage-long
fault-all: $(TEST_BIN) $(SST_DUMP_BIN)
	STRATA_FAULT_ALL=1 $(TEST_BIN) --jobs=2 --filter='fault/*' $(TEST_ARGS)

damage-long: $(TEST_BIN) $(SST_DUMP_BIN)
	STRATA_DAMAGE_ROUNDS=$(DAMAGE_ROUNDS) $(TEST_BIN) --jobs=2 --filter='damage/*' $(TEST_ARGS)
# ---- end of I/O faults and damaged files ----
# ---- coverage (make coverage) ----
# make coverage   the library, the tools' functions and the Criterion suite
#                 built again with gcc --coverage -O0 in $(BUILD)/coverage
#                 (COV_BUILD), the suite run once (TEST_ARGS as for `make
#                 test`) from zeroed counters, then gcovr's line and branch
#                 coverage of the engine only (LIB_DIRS: not tests/, bench/,
#                 tools/): a per-file table and the totals on stdout, an HTML
#                 report in $(COV_BUILD)/html/index.html.  The report is
#                 printed even when a test fails; the target then fails too.
# Criterion runs each test in a child process.  gcov writes a process's
# counters when it exits normally (merged into the .gcda files under a file
# lock, so two children at once are fine); the children that tests fork
# themselves end with _exit(), which is wrapped to write them too.  Only a
# process killed by a signal (the crash tests' victims) loses its counts.
# -fprofile-update=atomic keeps the counters of concurrent threads exact.
# Branches are gcc's at -O0, each side of each condition.  Takes ~2.5 min
# on two cores.
COV_BUILD ?= $(BUILD)/coverage
COV_CC ?= gcc
COV_FLAGS := --coverage -fprofile-update=atomic
COV_PKGS := gcovr
COV_FILTERS := $(foreach d,$(LIB_DIRS),--filter '$(d)/')

# In a build with --coverage (the recursive make below): the test binary's
# _exit() calls write the counters first (tests/coverage/exit_dump.c says
# why).
ifneq ($(filter --coverage,$(SAN)),)
COV_EXIT_OBJ := $(BUILD)/obj/tests/coverage/exit_dump.o
TEST_OBJS += $(COV_EXIT_OBJ)
TEST_LIBS += -Wl,--wrap=_exit
$(TEST_BIN): $(COV_EXIT_OBJ)
endif

.PHONY: coverage coverage-deps
coverage-deps: | deps
	$(call bench_install,$(COV_PKGS))

coverage: | coverage-deps
	$(MAKE) --no-print-directory BUILD=$(COV_BUILD) CC=$(COV_CC) OPT=-O0 SAN='$(COV_FLAGS)' \
	  $(COV_BUILD)/strata_tests $(COV_BUILD)/sst-dump
	find $(COV_BUILD) -name '*.gcda' -delete
	@rm -rf $(COV_BUILD)/html && mkdir -p $(COV_BUILD)/html
	@st=0; $(COV_BUILD)/strata_tests --jobs=2 $(TEST_ARGS) || st=$$?; \
	gcovr --root . $(COV_FILTERS) -j 2 --csv $(COV_BUILD)/coverage.csv \
	  --html-details $(COV_BUILD)/html/index.html $(COV_BUILD) || exit 1; \
	sh tests/coverage/table.sh < $(COV_BUILD)/coverage.csv || exit 1; \
	echo "coverage: HTML report in $(COV_BUILD)/html/index.html"; \
	if [ $$st -ne 0 ]; then echo "coverage: the suite failed (exit $$st)" >&2; fi; \
	exit $$st
# ---- end of coverage ----
# ---- fuzzing (tests/fuzz/) ----
# make fuzz FUZZ_SECONDS=N   builds the libFuzzer targets (block decoder,
#                 table reader, log reader, version-edit and batch decoders)
#                 with clang and -fsanitize=fuzzer,address,undefined, writes
#                 their seed corpus with make_corpus (the engine's own
#                 builders), then runs each target for N seconds (default
#                 10), one after the other, single job; prints executions,
#                 coverage and the seed per target (tests/fuzz/run.sh) and
#                 fails when any target finds a crash, a leak or a hang.
# make fuzz-build  the binaries and make_corpus only.
# Everything lives under $(BUILD)/fuzz: objects (the engine again, built with
# clang and -fsanitize=fuzzer-no-link,address,undefined), binaries, corpus/
# (seeds, rewritten each run), work/ (inputs the runs found, kept),
# artifacts/ (crashes), logs/.  Replay a crash: $(BUILD)/fuzz/fuzz_T FILE.
# clang and its libFuzzer runtime (Debian: libclang-rt-<major>-dev) are
# installed when missing.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 10
FUZZ_TARGETS := block table wal version_edit batch
FUZZ_DIR := $(BUILD)/fuzz
FUZZ_SAN := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS := $(CPPFLAGS_ALL) $(WARN) -O1 -g $(FUZZ_SAN) -pthread -MMD -MP
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=$(FUZZ_DIR)/obj/%.o)
FUZZ_COMMON_OBJ := $(FUZZ_DIR)/obj/tests/fuzz/fuzz_common.o
FUZZ_BINS := $(FUZZ_TARGETS:%=$(FUZZ_DIR)/fuzz_%)
FUZZ_CORPUS_BIN := $(FUZZ_DIR)/make_corpus

.PHONY: fuzz fuzz-build fuzz-deps
fuzz-build: $(FUZZ_BINS) $(FUZZ_CORPUS_BIN)

# After deps (dpkg's lock).  The runtime check links an empty target:
# Debian's clang ships libFuzzer in libclang-rt-<major>-dev (bookworm's
# clang 14 included), in libclang-common-<major>-dev before that.
FUZZ_PROBE = echo 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return d && n; }' | \
  $(FUZZ_CC) -fsanitize=fuzzer -x c - -o /dev/null 2>/dev/null
# bench_install: the benchmarks section's installer of missing packages.
fuzz-deps: | deps
	$(call bench_install,clang)
	@$(FUZZ_PROBE) || { \
	  v=$$($(FUZZ_CC) -dumpversion | cut -d. -f1); \
	  echo "strata: $(FUZZ_CC) has no libFuzzer runtime"; \
	  $(MAKE) --no-print-directory fuzz-install-rt FUZZ_RT_PKG=libclang-rt-$$v-dev || \
	    $(MAKE) --no-print-directory fuzz-install-rt FUZZ_RT_PKG=libclang-common-$$v-dev; \
	  $(FUZZ_PROBE) || { echo "strata: still no libFuzzer runtime for $(FUZZ_CC)" >&2; exit 1; }; }

.PHONY: fuzz-install-rt
fuzz-install-rt:
	$(call bench_install,$(FUZZ_RT_PKG))

# Engine and helper objects: instrumented for coverage, not linked with
# libFuzzer's main (make_corpus has its own).
$(FUZZ_DIR)/obj/%.o: %.c | fuzz-deps
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

# Kept after the link (make would delete them as intermediates).
.SECONDARY: $(FUZZ_LIB_OBJS) $(FUZZ_COMMON_OBJ) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o)

$(FUZZ_BINS): $(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.o $(FUZZ_COMMON_OBJ) $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer -o $@ $^ $(LIBS)

$(FUZZ_CORPUS_BIN): $(FUZZ_DIR)/obj/tests/fuzz/make_corpus.o $(FUZZ_LIB_OBJS)
	$(FUZZ_CC) $(FUZZ_SAN) -fsanitize=fuzzer-no-link -o $@ $^ $(LIBS)

fuzz: $(FUZZ_BINS) $(FUZZ_CORPUS_BIN)
	@rm -rf $(FUZZ_DIR)/corpus
	$(FUZZ_CORPUS_BIN) $(FUZZ_DIR)/corpus
	sh tests/fuzz/run.sh $(FUZZ_DIR) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

-include $(FUZZ_LIB_OBJS:.o=.d) $(FUZZ_TARGETS:%=$(FUZZ_DIR)/obj/tests/fuzz/fuzz_%.d) \
  $(FUZZ_COMMON_OBJ:.o=.d) $(FUZZ_DIR)/obj/tests/fuzz/make_corpus.d
# ---- end of fuzzing ----
# ---- machine crash (tests/test_machine_crash.c) ----
# `make test` runs the suite machine_crash once: 2 tests x 10 cycles (3 under
# the sanitizers), each a child killed at a random moment, then every log
# byte no fdatasync made durable zeroed, then reopened and checked (~5 s).
# make machine-crash-test   MCRASH_RUNS runs of it (default 20), new seeds
#                           each run (STRATA_MCRASH_SEED=n repeats one).
MCRASH_RUNS ?= 20
.PHONY: machine-crash-test
machine-crash-test: $(TEST_BIN)
	@for i in $$(seq $(MCRASH_RUNS)); do \
	  $(TEST_BIN) --jobs=2 --filter='machine_crash/*' $(TEST_ARGS) || exit 1; done
# ---- end of machine crash ----
