# lockspace-preload: plain GNU make, outputs in $(B)/ (build/ by default).
#
#   make            the libraries, the wrapper and the examples
#   make check      build and run every test
#   make check-cluster  the lock tests on a local GlusterFS volume (root)
#   make demo       the lock-loss example, plain and under the shim
#   make bench      what the shim costs (QUICK=1 for a short run)
#   make asan|ubsan|tsan   the test suite under a sanitizer
#   make install    honours PREFIX, DESTDIR, bindir, libdir, ... ; V=1 verbose
#   RELEASE=1       builds without the debug assertions

VERSION    := 0.1.0
PREFIX     ?= /usr/local
DESTDIR    ?=
bindir     ?= $(PREFIX)/bin
libdir     ?= $(PREFIX)/lib
includedir ?= $(PREFIX)/include
sysconfdir ?= $(PREFIX)/etc
mandir     ?= $(PREFIX)/share/man
pkgconfigdir ?= $(libdir)/pkgconfig

B          ?= build
CC         ?= cc
CFLAGS     ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -pthread -fPIC \
	      -fvisibility=hidden -MMD -MP
override CPPFLAGS += -D_GNU_SOURCE -DLOCKSPACE_VERSION='"$(VERSION)"' \
	      -DLOCKSPACE_SYSCONFDIR='"$(sysconfdir)"'
LDFLAGS    ?=
SAN        ?=
# RELEASE=1: without the debug assertions of the invariants (shim/README).
ifneq ($(RELEASE),)
override CPPFLAGS += -DNDEBUG
endif
ifneq ($(SAN),)
override CFLAGS += -fsanitize=$(SAN) -fno-omit-frame-pointer
override LDFLAGS += -fsanitize=$(SAN)
endif

ifeq ($(V),1)
Q :=
else
Q := @
endif

# ---- Debian packages the build and the tests need -----------------------
DEB_BUILD := gcc make libc6-dev uthash-dev libdw-dev libsmartcols-dev
DEB_CHECK := libcriterion-dev pkg-config strace sqlite3 python3 perl \
	     stress-ng tdb-tools
DEB_ALL   := $(DEB_BUILD) $(DEB_CHECK)

# Installs what is missing when run as root, else prints the line to run.
define need_debs
	@missing=""; \
	for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
			grep -q ' installed$$' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
		if ! command -v apt-get >/dev/null; then \
			echo "missing packages:$$missing (not a Debian system)"; \
			exit 1; \
		elif [ "$$(id -u)" = 0 ]; then \
			echo "installing:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
			apt-get install -y -qq --no-install-recommends \
				$$missing >/dev/null || exit 1; \
		else \
			echo "missing packages; run as root:"; \
			echo "  apt-get install -y$$missing"; \
			exit 1; \
		fi; \
	fi
endef

# ---- sources ------------------------------------------------------------
CORE_SRC  := $(wildcard core/*.c)
COMMON_SRC := $(wildcard common/*.c)
SHIM_SRC  := $(wildcard shim/*.c)
TEST_SRC  := $(wildcard tests/test_*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
TESTU_SRC := $(filter-out $(TEST_SRC),$(wildcard tests/*.c))
PROG_SRC  := $(wildcard tests/progs/*.c)
BENCH_SRC := $(wildcard bench/*.c)
TOOL_SRC  := $(wildcard tools/*.c)
EX_SRC    := $(wildcard examples/*.c)

CORE_OBJ  := $(CORE_SRC:%.c=$(B)/%.o)
COMMON_OBJ := $(COMMON_SRC:%.c=$(B)/%.o)
SHIM_OBJ  := $(SHIM_SRC:%.c=$(B)/%.o)
TEST_OBJ  := $(TEST_SRC:%.c=$(B)/%.o) $(TESTU_SRC:%.c=$(B)/%.o)
PROGS     := $(PROG_SRC:tests/progs/%.c=$(B)/progs/%)
BENCHES   := $(BENCH_SRC:bench/%.c=$(B)/bench/%)
TOOLS     := $(TOOL_SRC:tools/%.c=$(B)/%)
EXAMPLES  := $(EX_SRC:examples/%.c=$(B)/examples/%)

LIB_A     := $(B)/liblockspace.a
LIB_SO    := $(B)/liblockspace.so
SHIM_SO   := $(B)/liblockspace-preload.so
TESTS     := $(B)/lockspace-tests
UNIT_OBJ  := $(UNIT_SRC:%.c=$(B)/%.o)
# The shim's own rooms under test: its objects without the exports.
UNIT_TESTS := $(B)/shim-unit-tests
# before the rules that name it: a prerequisite is expanded when read
TORTURE   := $(B)/torture/torture

.PHONY: all deps check-deps check demo bench install uninstall clean \
	asan ubsan tsan fuzz torture valgrind check-cluster screenshot
.DEFAULT_GOAL := all

all: $(LIB_A) $(LIB_SO) $(SHIM_SO) $(EXAMPLES) $(TOOLS)

deps:
	$(call need_debs,$(DEB_BUILD))
check-deps:
	$(call need_debs,$(DEB_ALL))

$(B)/%.o: %.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

$(LIB_A): $(CORE_OBJ)
	@$(if $(Q),echo "  AR      $@")
	$(Q)rm -f $@ && ar rcs $@ $^

$(LIB_SO): $(CORE_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(CFLAGS) $(LDFLAGS) -Wl,-soname,liblockspace.so.0 \
		-o $@ $^ -pthread

# The shim needs the lock table only, and exports only what it interposes.
SHIM_CORE := $(filter-out $(B)/core/lockspace.o,$(CORE_OBJ))
$(SHIM_SO): $(SHIM_OBJ) $(SHIM_CORE) $(COMMON_OBJ)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(CFLAGS) $(LDFLAGS) -Wl,-z,defs \
		-Wl,-z,noseparate-code -o $@ $^ -ldl -pthread

# Test programs play "an unmodified program": no header or library of ours.
$(B)/progs/%: tests/progs/%.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread \
		-D_GNU_SOURCE -o $@ $< -ldl

# The test hook that fails the shim's allocations (tests/test_faults.c): a
# preload library, plain like the programs it is loaded into; no loop of
# it may become a call of memcpy or strlen (a sanitizer intercepts those).
FAILALLOC := $(B)/progs/libfailalloc.so
$(FAILALLOC): tests/progs/lib/failalloc.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread \
		-D_GNU_SOURCE -fno-tree-loop-distribute-patterns \
		-fno-omit-frame-pointer -fPIC -shared -o $@ $< -ldl

# Command-line tools (lockspace-locks): the /proc readers from common/;
# TOOL_OBJ and TOOL_LIBS: what one tool needs beyond them.
$(B)/lockspace-check-config: TOOL_OBJ := $(B)/shim/config_parse.o
$(B)/lockspace-check-config: $(B)/shim/config_parse.o
$(B)/lockspace-symbolize: TOOL_LIBS := -ldw -lelf
$(B)/lockspace-locks: TOOL_LIBS := -lsmartcols
$(B)/lockspace-trace: tools/trace-view.html
$(B)/%: tools/%.c $(COMMON_OBJ) | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) -Icommon -Ishim $(CFLAGS) -fPIE -pie $(LDFLAGS) \
		-o $@ $< $(COMMON_OBJ) $(TOOL_OBJ) $(TOOL_LIBS)

# The benchmark plays an unmodified program too; it runs itself plain and
# under the shim, round after round.
$(B)/bench/%: bench/%.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -pthread \
		-D_GNU_SOURCE -o $@ $< -ldl

$(B)/examples/%: examples/%.c $(LIB_A) | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) $(CPPFLAGS) -std=gnu11 -O1 -g -Wall -Wextra -Werror \
		-pthread -Icore $(LDFLAGS) -o $@ $< $(LIB_A)

$(TESTS): $(TEST_OBJ) $(LIB_A) $(COMMON_OBJ) | check-deps
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $(TEST_OBJ) $(LIB_A) \
		$(COMMON_OBJ) -lcriterion -pthread -ldl

$(UNIT_TESTS): $(UNIT_OBJ) $(filter-out $(B)/shim/interpose.o,$(SHIM_OBJ)) \
		$(SHIM_CORE) $(COMMON_OBJ) | check-deps
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcriterion -pthread -ldl

$(SHIM_OBJ): override CPPFLAGS += -Icore -Icommon
$(UNIT_OBJ): override CPPFLAGS += -Icore -Icommon -Ishim
$(UNIT_OBJ): | check-deps
$(TEST_OBJ): override CPPFLAGS += -Icore -Icommon -Ishim \
	-DBUILD_DIR='"$(abspath $(B))"'
$(TEST_OBJ): | check-deps

# ---- running --------------------------------------------------------------
# The preload line the integration tests use. A sanitized shim needs the
# sanitizer's runtime loaded first in a program that was not built with it.
SAN_RT = $(if $(SAN),$(shell $(CC) -print-file-name=lib$(SAN_LIB).so))
SAN_LIB = $(if $(filter address,$(SAN)),asan,$(if $(filter thread,$(SAN)),tsan,ubsan))
TEST_PRELOAD = $(strip $(SAN_RT) $(abspath $(SHIM_SO)))
CRITERION_FLAGS ?= --jobs=2

# The programs' stderr and the tests' notes go to TEST_LOG (tests/util.c):
# a passing run prints the runner's lines only.
TEST_LOG = $(abspath $(B))/test.log
check: check-deps all $(TESTS) $(UNIT_TESTS) $(PROGS) $(FAILALLOC) $(BENCHES) \
		$(TORTURE)
	@: > $(TEST_LOG)
	@echo "  TEST    output of the programs under test: $(TEST_LOG)"
	$(Q)LOCKSPACE_TEST_LOG=$(TEST_LOG) $(UNIT_TESTS) $(CRITERION_FLAGS)
	$(Q)LOCKSPACE_TEST_PRELOAD="$(TEST_PRELOAD)" \
		LOCKSPACE_TEST_PROGS="$(abspath $(B))/progs" \
		LOCKSPACE_TEST_LOG=$(TEST_LOG) $(TESTS) $(CRITERION_FLAGS)
ifeq ($(SAN),)
	@echo "  BENCH   quick run (no thresholds: make bench measures)"
	$(Q)$(MAKE) --no-print-directory bench QUICK=1 >/dev/null
endif

bench: all $(BENCHES)
	$(Q)$(B)/bench/lsbench --shim "$(abspath $(SHIM_SO))" $(if $(QUICK),--quick)

demo: deps all
	$(Q)sh examples/demo.sh $(B)

asan:
	$(MAKE) B=build/asan SAN=address \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
		LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp) check
ubsan:
	$(MAKE) B=build/ubsan SAN=undefined \
		CFLAGS="-O1 -g -fno-sanitize-recover=undefined" check
# Criterion cannot start under ThreadSanitizer ("Could not initialize
# inheritable arena"): the test binary stays plain, and the integration
# tests preload the ThreadSanitizer build of the shim (runtime first).
# report_signal_unsafe=0: a signal handler's fcntl() that takes the first
# lock of a descriptor allocates (a documented limit, see README).
TSAN_RT = $(shell $(CC) -print-file-name=libtsan.so)
tsan:
	$(MAKE) B=build/tsan SAN=thread CFLAGS="-O1 -g" \
		build/tsan/liblockspace-preload.so
	$(MAKE) check \
		TSAN_OPTIONS=halt_on_error=0:exitcode=66:report_signal_unsafe=0 \
		TEST_PRELOAD="$(TSAN_RT) $(abspath build/tsan)/liblockspace-preload.so"

# ---- torture: random programs, a model of the contract, the kernel as judge
$(TORTURE): tests/torture/torture.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread \
		-D_GNU_SOURCE -o $@ $< -ldl
SECONDS ?= 600
torture: all $(TORTURE)
	$(Q)$(TORTURE) --seconds 10 --expect-loss
	$(Q)LD_PRELOAD="$(TEST_PRELOAD)" LOCKSPACE_PRELOAD_MODE=protect \
		$(TORTURE) --seconds $(SECONDS) $(if $(SEED),--seed $(SEED))

# ---- check-cluster: the lock tests on GlusterFS, two FUSE mounts as two
# hosts (root; not part of check: it installs and runs a glusterd). The
# driver and its scripts are in tests/cluster/ (run.sh says what it sets up).
DEB_CLUSTER   := glusterfs-server glusterfs-client sqlite3
CLUSTER_OBJ   := $(B)/tests/cluster/test_cluster.o
CLUSTER_TESTS := $(B)/cluster/cluster-tests
$(CLUSTER_OBJ): override CPPFLAGS += -Itests -DBUILD_DIR='"$(abspath $(B))"'
$(CLUSTER_OBJ): | check-deps
$(CLUSTER_TESTS): $(CLUSTER_OBJ) $(TESTU_SRC:%.c=$(B)/%.o) | check-deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ -lcriterion -pthread -ldl
# One test at a time, each named as it runs: a failure's output stays
# next to its name.
CLUSTER_CRITERION_FLAGS ?= --jobs=1 --verbose
check-cluster: check-deps all $(PROGS) $(CLUSTER_TESTS)
	$(call need_debs,$(DEB_CLUSTER))
	$(Q)LOCKSPACE_TEST_PRELOAD="$(TEST_PRELOAD)" \
		LOCKSPACE_TEST_PROGS="$(abspath $(B))/progs" \
		LOCKSPACE_CLUSTER_LOGS="$(abspath $(B))/cluster/logs" \
		sh tests/cluster/run.sh $(CLUSTER_TESTS) $(CLUSTER_CRITERION_FLAGS)

# ---- fuzzing (clang's libFuzzer) -------------------------------------------
FUZZ_CC ?= clang
FUZZTIME ?= 60
$(B)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c shim/config_parse.c shim/config.h
	@mkdir -p $(@D)
	$(FUZZ_CC) -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE \
		-Ishim -o $@ $<
FUZZ_FLAGS = -g -O1 -fsanitize=fuzzer,address,undefined -D_GNU_SOURCE
$(B)/fuzz/fuzz_handoff: tests/fuzz/fuzz_handoff.c shim/handoff.c \
		shim/handoff.h core/range.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Ishim -Icore -o $@ $<
$(B)/fuzz/fuzz_import: tests/fuzz/fuzz_import.c $(CORE_SRC) $(wildcard core/*.h)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -Icore -o $@ $< $(CORE_SRC) -pthread
# Each target runs FUZZTIME seconds; new inputs go to $(B)/fuzz/corpus_*,
# crashers to $(B)/fuzz/ (copy them to tests/fuzz/crash_*/: the
# fuzzregress suite replays them).
fuzz: $(B)/fuzz/fuzz_config $(B)/fuzz/fuzz_handoff $(B)/fuzz/fuzz_import
	@mkdir -p $(B)/fuzz/corpus_config $(B)/fuzz/corpus_handoff \
		$(B)/fuzz/corpus_import
	$(B)/fuzz/fuzz_config -max_total_time=$(FUZZTIME) -max_len=9000 \
		-artifact_prefix=$(B)/fuzz/config- -dict=tests/fuzz/config.dict \
		$(B)/fuzz/corpus_config tests/fuzz/corpus_config
	$(B)/fuzz/fuzz_handoff -max_total_time=$(FUZZTIME) -max_len=4096 \
		-artifact_prefix=$(B)/fuzz/handoff- -dict=tests/fuzz/handoff.dict \
		$(B)/fuzz/corpus_handoff tests/fuzz/corpus_handoff
	$(B)/fuzz/fuzz_import -max_total_time=$(FUZZTIME) -max_len=2048 \
		-artifact_prefix=$(B)/fuzz/import- -dict=tests/fuzz/import.dict \
		$(B)/fuzz/corpus_import tests/fuzz/corpus_import

# ---- the README's picture of a trace (docs/trace-demo.png): the demo
# under lockspace-run --trace-html, drawn by headless Chromium. Not part of
# check: Chromium is needed for nothing else.
DEB_SCREENSHOT := chromium
screenshot: all
	$(call need_debs,$(DEB_SCREENSHOT))
	$(Q)sh examples/trace-demo.sh $(B) docs/trace-demo.png

# valgrind memcheck over the unit suites (tests/valgrind.sh says how).
valgrind: $(TESTS)
	$(Q)sh tests/valgrind.sh $(B)

# ---- install ------------------------------------------------------------
install: all
	install -d $(DESTDIR)$(libdir) $(DESTDIR)$(includedir) \
		$(DESTDIR)$(bindir) $(DESTDIR)$(sysconfdir) \
		$(DESTDIR)$(pkgconfigdir) $(DESTDIR)$(mandir)/man1 \
		$(DESTDIR)$(mandir)/man5 $(DESTDIR)$(mandir)/man8
	sed -e 's|@libdir@|$(libdir)|g' -e 's|@VERSION@|$(VERSION)|g' \
		shim/lockspace-run > $(DESTDIR)$(bindir)/lockspace-run
	chmod 0755 $(DESTDIR)$(bindir)/lockspace-run
	$(if $(TOOLS),install -m 0755 $(TOOLS) $(DESTDIR)$(bindir)/)
	for m in lockspace-run.1:1 lockspace-locks.1:1 lockspace-preload.conf.5:5 \
		 lockspace-preload.8:8; do \
		sed -e 's|@libdir@|$(libdir)|g' \
		    -e 's|@sysconfdir@|$(sysconfdir)|g' \
		    -e 's|@VERSION@|$(VERSION)|g' man/$${m%:*} \
		    > $(DESTDIR)$(mandir)/man$${m#*:}/$${m%:*} || exit 1; \
	done
	install -m 0644 $(LIB_A) $(DESTDIR)$(libdir)/liblockspace.a
	install -m 0755 $(LIB_SO) $(DESTDIR)$(libdir)/liblockspace.so.0
	ln -sf liblockspace.so.0 $(DESTDIR)$(libdir)/liblockspace.so
	install -m 0755 $(SHIM_SO) $(DESTDIR)$(libdir)/liblockspace-preload.so
	install -m 0644 core/lockspace.h $(DESTDIR)$(includedir)/lockspace.h
	install -m 0644 lockspace-preload.conf \
		$(DESTDIR)$(sysconfdir)/lockspace-preload.conf
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@libdir@|$(libdir)|' \
		-e 's|@includedir@|$(includedir)|' -e 's|@VERSION@|$(VERSION)|' \
		core/lockspace.pc.in > $(DESTDIR)$(pkgconfigdir)/lockspace.pc

uninstall:
	rm -f $(DESTDIR)$(libdir)/liblockspace.a \
		$(DESTDIR)$(libdir)/liblockspace.so \
		$(DESTDIR)$(libdir)/liblockspace.so.0 \
		$(DESTDIR)$(libdir)/liblockspace-preload.so \
		$(DESTDIR)$(includedir)/lockspace.h \
		$(DESTDIR)$(sysconfdir)/lockspace-preload.conf \
		$(DESTDIR)$(pkgconfigdir)/lockspace.pc \
		$(DESTDIR)$(bindir)/lockspace-run \
		$(DESTDIR)$(mandir)/man1/lockspace-run.1 \
		$(DESTDIR)$(mandir)/man1/lockspace-locks.1 \
		$(DESTDIR)$(bindir)/lockspace-locks \
		$(DESTDIR)$(mandir)/man5/lockspace-preload.conf.5 \
		$(DESTDIR)$(mandir)/man8/lockspace-preload.8

clean:
	rm -rf build

-include $(shell find $(B) -name '*.d' 2>/dev/null)
