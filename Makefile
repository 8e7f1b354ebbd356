# SPDX-License-Identifier: LGPL-2.1-or-later
# lockspace-preload: plain GNU make, outputs in $(B)/ (build/ by default).
#
#   make            the libraries, the wrapper and the examples
#   make check      build and run every test
#   make check-cluster  the lock tests on a local GlusterFS volume (root)
#   make demo       the lock-loss example, plain and under the shim
#   M32=no          no i386 shim (built by default on x86_64 when
#                   gcc-multilib is installed; see "the i386 library")
#   make bench      what the shim costs (QUICK=1 for a short run)
#   make asan|ubsan|tsan   the test suite under a sanitizer
#   make install    honours PREFIX, DESTDIR, bindir, libdir, ... ; V=1 verbose
#   RELEASE=1       builds without the debug assertions

VERSION    := 0.1.0
# prefix and PREFIX both work (prefix wins when both are given). The
# paths are compiled in (the shim's configuration file): a make install
# with other paths than the build's rebuilds what uses them.
PREFIX     ?= /usr/local
prefix     ?= $(PREFIX)
DESTDIR    ?=
bindir     ?= $(prefix)/bin
libdir     ?= $(prefix)/lib
includedir ?= $(prefix)/include
# the FHS: /usr's configuration is in /etc, the others' in PREFIX/etc
sysconfdir ?= $(if $(filter /usr /usr/,$(prefix)),/etc,$(prefix)/etc)
datadir    ?= $(prefix)/share
mandir     ?= $(datadir)/man
pkgconfigdir ?= $(libdir)/pkgconfig

B          ?= build
# the source tree's shim/lockspace-run finds the libraries and tools of
# this build, not build/'s, in the tests of make B=... check
export LOCKSPACE_RUN_BUILD := $(abspath $(B))
CC         ?= cc
CFLAGS     ?= -O2 -g
override CFLAGS += -std=gnu11 -Wall -Wextra -Werror -pthread -fPIC \
	      -fvisibility=hidden -MMD -MP
override CPPFLAGS += -D_GNU_SOURCE -DLOCKSPACE_VERSION='"$(VERSION)"' \
	      -DLOCKSPACE_SYSCONFDIR='"$(sysconfdir)"'
# What $(CC) builds for, from its predefined macros: x86_64 (LP64, not
# x32) or i386 (also as CC="gcc -m32", or an i386 package build).
cc_macros = $(shell printf '%s\n' '$(1)' | $(CC) -E -P -x c - 2>/dev/null)
CC_X86_64 := $(filter 1/__ILP32__,$(call cc_macros,__x86_64__/__ILP32__))
CC_I386 := $(filter 1,$(call cc_macros,__i386__))
# On i386 our own off_t is 64-bit (the shim converts a program's 32-bit
# struct flock at its entry: shim/uaccess.h).
override CPPFLAGS += $(if $(CC_I386),-D_FILE_OFFSET_BITS=64)
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
	     stress-ng tdb-tools musl-tools
DEB_ALL   := $(DEB_BUILD) $(DEB_CHECK)
# tests/run/: a musl program for lockspace-run to refuse
DEB_RUN_CHECK := $(if $(filter x86_64,$(shell uname -m)),musl-tools)
DEB_ALL   += $(DEB_RUN_CHECK)
# The i386 shim and the 32-bit pass of make check (and a 32-bit program
# for lockspace-run's tests): installed as root; without them a normal
# user's make check skips that part and says so.
DEB_CHECK32 := $(if $(filter x86_64,$(shell uname -m)),gcc-multilib libc6-dev-i386)

# $(call need_debs,PACKAGES[,OPTIONAL,WHAT]): installs what is missing
# when run as root, else prints the line to run and fails; missing
# OPTIONAL packages only say that WHAT is skipped.
define need_debs
	@missing=""; optional=""; \
	for p in $(1); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
			grep -q ' installed$$' || missing="$$missing $$p"; \
	done; \
	for p in $(2); do \
		dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
			grep -q ' installed$$' || optional="$$optional $$p"; \
	done; \
	if [ -n "$$missing$$optional" ] && [ "$$(id -u)" = 0 ] && \
	   command -v apt-get >/dev/null; then \
		echo "installing:$$missing$$optional"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
		apt-get install -y -qq --no-install-recommends \
			$$missing$$optional >/dev/null || exit 1; \
	elif [ -n "$$missing" ]; then \
		if ! command -v apt-get >/dev/null; then \
			echo "missing packages:$$missing (not a Debian system)"; \
		else \
			echo "missing packages; run as root:"; \
			echo "  apt-get install -y$$missing$$optional"; \
		fi; \
		exit 1; \
	elif [ -n "$$optional" ]; then \
		echo "  SKIP    $(3): missing$$optional (as root: apt-get" \
			"install -y$$optional)"; \
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
	asan ubsan tsan fuzz torture valgrind check-cluster deb screenshot
.DEFAULT_GOAL := all

all: $(LIB_A) $(LIB_SO) $(SHIM_SO) $(EXAMPLES) $(TOOLS)

# ---- the i386 library (issue 18) -------------------------------------------
# On x86_64, when $(CC) can build 32-bit programs (Debian: gcc-multilib),
# the shim is built for them too, as $(B)/i386/liblockspace-preload.so,
# from the same sources with -m32 and -D_FILE_OFFSET_BITS=64: its own
# off_t is 64-bit, and a program's 32-bit struct flock is converted at the
# entry (shim/uaccess.h). M32=no: never. Not in a sanitizer build.
M32 ?=
B32 := $(B)/i386
SHIM32_SO := $(B32)/liblockspace-preload.so
PRELOAD_FARM := $(B)/preload/stamp
m32_links = $(shell printf '#include <stdio.h>\nint main(void){return 0;}\n' \
	| $(CC) -m32 -x c -o /dev/null - >/dev/null 2>&1 && echo yes)
m32_target = $(CC_X86_64)
# (asked once, and only by the targets that use it)
HAVE_M32 ?= $(eval HAVE_M32 := $(if $(filter no,$(M32))$(SAN),, \
	$(if $(m32_target),$(m32_links))))$(HAVE_M32)
SHIM32_OBJ := $(patsubst %.c,$(B32)/%.o,$(SHIM_SRC) $(COMMON_SRC) \
	$(filter-out core/lockspace.c,$(CORE_SRC)))
$(B32)/%.o: %.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC32    $<")
	$(Q)$(CC) $(CPPFLAGS) -D_FILE_OFFSET_BITS=64 -Icore -Icommon \
		$(CFLAGS) -m32 -c -o $@ $<
$(SHIM32_SO): $(SHIM32_OBJ) shim/i386.map
	@$(if $(Q),echo "  LD32    $@")
	$(Q)$(CC) -m32 -shared $(CFLAGS) $(LDFLAGS) -Wl,-z,defs \
		-Wl,-z,noseparate-code $(SHIM_VERSIONS32) \
		-o $@ $(SHIM32_OBJ) -ldl -pthread
all: $(if $(HAVE_M32),$(SHIM32_SO) $(PRELOAD_FARM))

# The source tree's $LIB layout: $(B)/preload/$LIB/liblockspace-preload.so
# is the 64-bit library where ld.so expands $LIB for a 64-bit program,
# and the i386 one where it does for a 32-bit one (both names of the
# multilib and the multiarch loader), as in the installed layout. The
# source tree's lockspace-run preloads it once both are built: one value
# for both classes, also when a 64-bit script runs a 32-bit program.
# stamp lists each class (64, 32) with its directories.
$(PRELOAD_FARM): $(SHIM_SO) $(SHIM32_SO)
	@$(if $(Q),echo "  LN      $(B)/preload/\$$LIB/")
	$(Q)rm -rf $(B)/preload && mkdir -p $(B)/preload && \
	for d in $(LDSO_LIB); do \
		mkdir -p $(B)/preload/$$d && ln -sr $(SHIM_SO) \
			$(B)/preload/$$d/liblockspace-preload.so || exit 1; \
	done && \
	for d in $(LDSO_LIB32) $(LDSO_LIB32_ALSO); do \
		mkdir -p $(B)/preload/$$d && ln -sr $(SHIM32_SO) \
			$(B)/preload/$$d/liblockspace-preload.so || exit 1; \
	done && \
	printf '64 %s\n32 %s\n' '$(LDSO_LIB)' \
		'$(strip $(LDSO_LIB32) $(LDSO_LIB32_ALSO))' > $@

# The 32-bit lock-loss example of make demo.
$(B)/examples32/%: examples/%.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC32    $<")
	$(Q)$(CC) -m32 -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread \
		-D_GNU_SOURCE -o $@ $<

deps:
	$(call need_debs,$(DEB_BUILD))
check-deps:
	$(call need_debs,$(DEB_ALL),$(DEB_CHECK32),the 32-bit (i386) part)

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
# (an i386 build: the symbol versions of shim/i386.map)
SHIM_VERSIONS32 := -Wl,--version-script=shim/i386.map
$(SHIM_SO): $(SHIM_OBJ) $(SHIM_CORE) $(COMMON_OBJ) $(if $(CC_I386),shim/i386.map)
	@$(if $(Q),echo "  LD      $@")
	$(Q)$(CC) -shared $(CFLAGS) $(LDFLAGS) -Wl,-z,defs \
		-Wl,-z,noseparate-code $(if $(CC_I386),$(SHIM_VERSIONS32)) \
		-o $@ $(SHIM_OBJ) $(SHIM_CORE) $(COMMON_OBJ) -ldl -pthread

# Test programs play "an unmodified program": no header or library of ours.
$(B)/progs/%: tests/progs/%.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread \
		-D_GNU_SOURCE -o $@ $< -ldl

# The same programs as 32-bit ones (issue 18), for the 32-bit pass of
# make check: progs32/ as a program without _FILE_OFFSET_BITS=64 is
# built (32-bit off_t and struct flock), progs32lfs/ with it.
PROGS32 := $(PROG_SRC:tests/progs/%.c=$(B)/progs32/%) \
	$(B)/progs32/plainimg-static
PROGS32LFS := $(PROGS32:$(B)/progs32/%=$(B)/progs32lfs/%)
$(B)/progs32/%: tests/progs/%.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC32    $<")
	$(Q)$(CC) -m32 -std=gnu11 -O1 -g -Wall -Wextra -Werror -pthread \
		-D_GNU_SOURCE -o $@ $< -ldl
$(B)/progs32lfs/%: tests/progs/%.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC32    $< (LFS)")
	$(Q)$(CC) -m32 -D_FILE_OFFSET_BITS=64 -std=gnu11 -O1 -g -Wall \
		-Wextra -Werror -pthread -D_GNU_SOURCE -o $@ $< -ldl
$(B)/progs32/plainimg-static $(B)/progs32lfs/plainimg-static: \
		tests/progs/plainimg.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC32    $@")
	$(Q)$(CC) -m32 $(if $(findstring lfs,$@),-D_FILE_OFFSET_BITS=64) \
		-std=gnu11 -O1 -g -Wall -Wextra -Werror -static -D_GNU_SOURCE \
		-o $@ $<

# Images that never load the shim, whatever LD_PRELOAD says (issue 16):
# tests/progs/plainimg.c static, and with musl's libc and loader.
PLAINIMG := $(B)/progs/plainimg-static $(B)/progs/plainimg-musl
$(B)/progs/plainimg-static: tests/progs/plainimg.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -static \
		-D_GNU_SOURCE -o $@ $<
$(B)/progs/plainimg-musl: tests/progs/plainimg.c | check-deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $@")
	$(Q)musl-gcc -std=gnu11 -O1 -g -Wall -Wextra -Werror -D_GNU_SOURCE \
		-o $@ $<

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

# A library that deepprog loads with dlopen(RTLD_DEEPBIND) (test_daemons.c).
DEEPLOCK := $(B)/progs/libdeeplock.so
$(DEEPLOCK): tests/progs/lib/deeplock.c | deps
	@mkdir -p $(@D)
	@$(if $(Q),echo "  CC      $<")
	$(Q)$(CC) -std=gnu11 -O1 -g -Wall -Wextra -Werror -fPIC -shared \
		-D_GNU_SOURCE -o $@ $<

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

# initial-exec TLS (32 bytes of it): a preloaded library's thread
# variables are reached directly, without __tls_get_addr, which a fork
# child would otherwise bind anew (a lookup and a copied page a fork).
$(SHIM_OBJ): override CPPFLAGS += -Icore -Icommon
$(SHIM_OBJ): override CFLAGS += -ftls-model=initial-exec
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
check: check-deps all $(TESTS) $(UNIT_TESTS) $(PROGS) $(PLAINIMG) \
		$(FAILALLOC) $(DEEPLOCK) $(BENCHES) $(TORTURE)
	@: > $(TEST_LOG)
	@echo "  TEST    output of the programs under test: $(TEST_LOG)"
	$(Q)LOCKSPACE_TEST_LOG=$(TEST_LOG) $(UNIT_TESTS) $(CRITERION_FLAGS)
	$(Q)LOCKSPACE_TEST_PRELOAD="$(TEST_PRELOAD)" \
		LOCKSPACE_TEST_PROGS="$(abspath $(B))/progs" \
		LOCKSPACE_TEST_LOG=$(TEST_LOG) $(TESTS) $(CRITERION_FLAGS)
	$(Q)$(MAKE) --no-print-directory check32
ifeq ($(SAN),)
	@echo "  BENCH   quick run (no thresholds: make bench measures)"
	$(Q)$(MAKE) --no-print-directory bench QUICK=1 >/dev/null
endif

# The 32-bit pass (a make of its own, so that it sees what check-deps
# installed): the integration suites whose programs are tests/progs/,
# with those built -m32 (progs32/, and progs32lfs/ with
# -D_FILE_OFFSET_BITS=64), under the i386 shim. The test binary and its
# probes stay 64-bit: they judge from another process.
SUITES32 ?= @(protect|edges|exec|fdconflicts|contract|deadlock|observe|flock32)/*
.PHONY: check32
ifneq ($(HAVE_M32),)
# A kernel without IA32 emulation (CONFIG_IA32_EMULATION off, or
# ia32_emulation=0) builds -m32 programs and runs none: "Exec format
# error". The probe runs in the recipe, not when the Makefile is read.
check32: $(SHIM32_SO) $(PROGS32) $(PROGS32LFS) $(TESTS)
	$(Q)printf 'int main(void) { return 0; }\n' | \
		$(CC) -m32 -x c -o $(B)/m32-runs - && \
		why=$$( ($(B)/m32-runs) 2>&1) || { \
		echo "  SKIP    32-bit programs: this kernel cannot run them" \
			"(no IA32 emulation?): $$why"; \
		exit 0; }; \
	for p in progs32 progs32lfs; do \
		echo "  TEST    32-bit programs: $(B)/$$p, $(SHIM32_SO)"; \
		LOCKSPACE_TEST_PRELOAD="$(abspath $(SHIM32_SO))" \
		LOCKSPACE_TEST_PROGS="$(abspath $(B))/$$p" \
		LOCKSPACE_TEST_PROGS_OFF_BITS=$$([ $$p = progs32 ] && \
			echo 32 || echo 64) \
		LOCKSPACE_TEST_LOG=$(TEST_LOG) $(TESTS) $(CRITERION_FLAGS) \
			--filter '$(SUITES32)' || exit 1; \
	done
else
check32:
	@echo "  SKIP    32-bit programs:$(if $(SAN), not in a sanitizer build,$(if \
		$(filter no,$(M32)), M32=no, $(CC) cannot build them (Debian:\
		gcc-multilib)))"
endif

bench: all $(BENCHES)
	$(Q)$(B)/bench/lsbench --shim "$(abspath $(SHIM_SO))" $(if $(QUICK),--quick)

# (the 32-bit run needs gcc-multilib: installed as root, else skipped)
demo: deps all
	$(call need_debs,,$(DEB_CHECK32),the 32-bit run)
	$(Q)$(MAKE) --no-print-directory demo32
	$(Q)sh examples/demo.sh $(B)
.PHONY: demo32
demo32: $(if $(HAVE_M32),$(SHIM32_SO) $(PRELOAD_FARM) $(B)/examples32/lockloss)

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
# More options for the protect run, e.g. TORTURE_FLAGS="--fork-rate 20".
TORTURE_FLAGS ?=
torture: all $(TORTURE)
	$(Q)$(TORTURE) --seconds 10 --expect-loss
	$(Q)LD_PRELOAD="$(TEST_PRELOAD)" LOCKSPACE_PRELOAD_MODE=protect \
		$(TORTURE) --seconds $(SECONDS) $(if $(SEED),--seed $(SEED)) \
		$(TORTURE_FLAGS)

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

# ---- paths, the soname link, the exported API ------------------------------
# The paths compiled into the objects (the shim's configuration file): a
# make install with other paths than the build's (make, then make install
# PREFIX=/usr) rebuilds what uses them first.
PATHS_STAMP := $(B)/paths
$(PATHS_STAMP): FORCE
	@mkdir -p $(@D)
	@p='sysconfdir=$(sysconfdir)'; \
	[ "$$(cat $@ 2>/dev/null)" = "$$p" ] || printf '%s\n' "$$p" > $@
$(SHIM_OBJ) $(SHIM32_OBJ) $(TOOLS): $(PATHS_STAMP)
.PHONY: FORCE
FORCE:

# The soname link, so that a program linked against build/ runs with
# LD_LIBRARY_PATH=build.
LIB_SO0 := $(B)/liblockspace.so.0
all: $(LIB_SO0)
$(LIB_SO0): $(LIB_SO)
	$(Q)ln -sf liblockspace.so $@

# liblockspace exports the API of lockspace.h and nothing else, as version
# LOCKSPACE_0 (debian/liblockspace0.symbols lists it); the map is a linker
# script, one of the link's inputs (tests/run/exports.sh checks; the
# shim's exports, its interposers, are tests/test_build.c's).
$(LIB_SO): core/liblockspace.map

# ---- install ------------------------------------------------------------
# The shim goes into a directory of its own per class of program, named
# like ld.so's $LIB token, which expands to the library directory of the
# class of the program being loaded (Debian: lib/x86_64-linux-gnu, and
# lib/i386-linux-gnu or, with gcc-multilib's libc6-i386, lib32). So one
# LD_PRELOAD value, $(prefix)/$LIB/lockspace-preload/liblockspace-preload.so,
# reaches the 64-bit library in 64-bit programs and the 32-bit one
# (build/i386/, when built) in 32-bit programs, also when a 64-bit shell
# runs a 32-bit program. ld.so says what $LIB becomes: LD_DEBUG=libs shows
# the search path that LD_LIBRARY_PATH=/nonexistent/$LIB turned into.
ldso_probe = $(shell [ -n "$(1)" ] && LD_DEBUG=libs \
	LD_LIBRARY_PATH='/nonexistent/$$LIB' $(1) 2>&1 </dev/null | sed -n \
	's|.*[=:]/nonexistent/\([^:[:space:]]*\)[[:space:]]*(LD_LIBRARY_PATH).*|\1|p' \
	| head -n 1)
LDSO_PROBE32 = $(shell mkdir -p $(B) && printf 'int main(void){return 0;}\n' \
	| $(CC) -m32 -x c -o $(B)/ldso-probe32 - 2>/dev/null && \
	echo $(B)/ldso-probe32)
# (each is asked once, and only by the targets that use it)
LDSO_LIB ?= $(eval LDSO_LIB := $(or $(call ldso_probe,/bin/sh -c :),lib))$(LDSO_LIB)
LDSO_LIB32 ?= $(eval LDSO_LIB32 := $(or $(call ldso_probe,$(LDSO_PROBE32)),lib/i386-linux-gnu))$(LDSO_LIB32)
preloaddir   ?= $(prefix)/$(LDSO_LIB)/lockspace-preload
preloaddir32 ?= $(prefix)/$(LDSO_LIB32)/lockspace-preload
# what lockspace-run puts in LD_PRELOAD: $LIB while the two directories
# are where it leads, else the 64-bit library
PRELOAD_PATH = $(if $(and \
	$(filter $(prefix)/$(LDSO_LIB)/lockspace-preload,$(preloaddir)), \
	$(filter $(prefix)/$(LDSO_LIB32)/lockspace-preload,$(preloaddir32))), \
	$(prefix)/$$LIB/lockspace-preload/liblockspace-preload.so, \
	$(preloaddir)/liblockspace-preload.so)
# The 32-bit loader of amd64 Debian is gcc-multilib's (libc6-i386: $LIB is
# lib32) until libc6:i386 is installed (lib/i386-linux-gnu): the 32-bit
# library is reached from both, a link in the other.
LDSO_LIB32_ALSO ?= $(if $(filter lib/x86_64-linux-gnu,$(LDSO_LIB)), \
	$(filter-out $(LDSO_LIB32),lib32 lib/i386-linux-gnu))
PRELOAD32_ALSO = $(foreach d,$(LDSO_LIB32_ALSO),$(prefix)/$(d)/lockspace-preload)

# the i386 library, when built (M32=no: not installed even so)
INSTALL32 = $(if $(filter no,$(M32)),,$(wildcard $(SHIM32_SO)))

SUBST = sed -e 's|@libdir@|$(libdir)|g' -e 's|@sysconfdir@|$(sysconfdir)|g' \
	-e 's|@VERSION@|$(VERSION)|g' -e 's|@PREFIX@|$(prefix)|g' \
	-e 's|@includedir@|$(includedir)|g' \
	-e 's|@preload@|$(strip $(PRELOAD_PATH))|g' \
	-e 's|@preloadlib@|$(preloaddir)/liblockspace-preload.so|g' \
	-e 's|@preloadlib32@|$(preloaddir32)/liblockspace-preload.so|g'
MANS := man1/lockspace-run.1 man1/lockspace-locks.1 man3/lockspace.3 \
	man5/lockspace-preload.conf.5 man8/lockspace-preload.8 \
	man1/lockspace-symbolize.1 man1/lockspace-check-config.1 \
	man1/lockspace-trace.1
# lockspace(3) documents every function of lockspace.h
MAN3_LINKS := lockspace_new lockspace_free lockspace_dir \
	lockspace_create_resource lockspace_delete_resource lockspace_acquire \
	lockspace_release lockspace_release_owner lockspace_export \
	lockspace_import
CONF := $(sysconfdir)/lockspace-preload.conf
# run after installing to the system (no DESTDIR) as root
LDCONFIG ?= ldconfig
# What make install made, for make uninstall: the directories it created
# and the checksum of the configuration file it installed (an edited one
# stays).
PKGDATA := $(datadir)/lockspace-preload
INSTALL_DIRS = $(bindir) $(libdir) $(includedir) $(sysconfdir) \
	$(pkgconfigdir) $(preloaddir) $(PKGDATA) \
	$(addprefix $(mandir)/,man1 man3 man5 man8) \
	$(if $(INSTALL32),$(preloaddir32) $(PRELOAD32_ALSO))

install: all
	@set -e; made=; mkdir -p '$(DESTDIR)/'; \
	for dir in $(INSTALL_DIRS); do \
		sub=; for c in $$(echo "$$dir" | tr / ' '); do \
			sub=$$sub/$$c; [ -d "$(DESTDIR)$$sub" ] && continue; \
			mkdir "$(DESTDIR)$$sub"; made="$$made $$sub"; \
		done; \
	done; \
	{ cat '$(DESTDIR)$(PKGDATA)/dirs' 2>/dev/null || :; \
	  for m in $$made; do echo "$$m"; done; } | sort -u \
		> '$(DESTDIR)$(PKGDATA)/dirs.new'; \
	mv '$(DESTDIR)$(PKGDATA)/dirs.new' '$(DESTDIR)$(PKGDATA)/dirs'
	$(SUBST) shim/lockspace-run > $(DESTDIR)$(bindir)/lockspace-run
	chmod 0755 $(DESTDIR)$(bindir)/lockspace-run
	$(if $(TOOLS),install -m 0755 $(TOOLS) $(DESTDIR)$(bindir)/)
	for m in $(MANS); do \
		$(SUBST) man/$${m#*/} > $(DESTDIR)$(mandir)/$$m || exit 1; \
	done
	for f in $(MAN3_LINKS); do \
		ln -sf lockspace.3 $(DESTDIR)$(mandir)/man3/$$f.3 || exit 1; \
	done
	install -m 0644 $(LIB_A) $(DESTDIR)$(libdir)/liblockspace.a
	install -m 0644 $(LIB_SO) $(DESTDIR)$(libdir)/liblockspace.so.$(VERSION)
	ln -sf liblockspace.so.$(VERSION) $(DESTDIR)$(libdir)/liblockspace.so.0
	ln -sf liblockspace.so.0 $(DESTDIR)$(libdir)/liblockspace.so
	install -m 0644 $(SHIM_SO) $(DESTDIR)$(preloaddir)/liblockspace-preload.so
	$(if $(INSTALL32),install -m 0644 $(SHIM32_SO) \
		$(DESTDIR)$(preloaddir32)/liblockspace-preload.so)
	$(if $(INSTALL32),for d in $(PRELOAD32_ALSO); do \
		ln -sf $(preloaddir32)/liblockspace-preload.so \
			$(DESTDIR)$$d/liblockspace-preload.so || exit 1; \
	done)
	install -m 0644 core/lockspace.h $(DESTDIR)$(includedir)/lockspace.h
	$(SUBST) core/lockspace.pc.in > $(DESTDIR)$(pkgconfigdir)/lockspace.pc
	@c='$(DESTDIR)$(CONF)'; sum='$(DESTDIR)$(PKGDATA)/conf.cksum'; \
	if [ -f "$$c" ] && ! cmp -s lockspace-preload.conf "$$c" && \
	   ! { [ -f "$$sum" ] && cksum < "$$c" | cmp -s - "$$sum"; }; then \
		echo "keeping the edited $$c (the new one is lockspace-preload.conf)"; \
	else \
		echo "install -m 0644 lockspace-preload.conf $$c"; \
		install -m 0644 lockspace-preload.conf "$$c"; \
		cksum < "$$c" > "$$sum"; \
	fi
	@if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" = 0 ] && \
	    command -v $(LDCONFIG) >/dev/null; then \
		echo $(LDCONFIG); $(LDCONFIG); \
	fi

uninstall:
	rm -f $(DESTDIR)$(libdir)/liblockspace.a \
		$(DESTDIR)$(libdir)/liblockspace.so \
		$(DESTDIR)$(libdir)/liblockspace.so.0 \
		$(DESTDIR)$(libdir)/liblockspace.so.$(VERSION) \
		$(DESTDIR)$(libdir)/liblockspace-preload.so \
		$(DESTDIR)$(preloaddir)/liblockspace-preload.so \
		$(DESTDIR)$(preloaddir32)/liblockspace-preload.so \
		$(PRELOAD32_ALSO:%=$(DESTDIR)%/liblockspace-preload.so) \
		$(DESTDIR)$(includedir)/lockspace.h \
		$(DESTDIR)$(pkgconfigdir)/lockspace.pc \
		$(DESTDIR)$(bindir)/lockspace-run \
		$(TOOLS:$(B)/%=$(DESTDIR)$(bindir)/%) \
		$(addprefix $(DESTDIR)$(mandir)/,$(MANS)) \
		$(MAN3_LINKS:%=$(DESTDIR)$(mandir)/man3/%.3)
	@c='$(DESTDIR)$(CONF)'; sum='$(DESTDIR)$(PKGDATA)/conf.cksum'; \
	if [ -f "$$c" ]; then \
		if cmp -s lockspace-preload.conf "$$c" || \
		   { [ -f "$$sum" ] && cksum < "$$c" | cmp -s - "$$sum"; }; then \
			echo "rm -f $$c"; rm -f "$$c"; \
		else \
			echo "keeping the edited $$c"; \
		fi; \
	fi; \
	rm -f "$$sum"
	@dirs='$(DESTDIR)$(PKGDATA)/dirs'; \
	list=$$(cat "$$dirs" 2>/dev/null || \
		echo '$(preloaddir) $(preloaddir32) $(PRELOAD32_ALSO) $(PKGDATA)'); \
	rm -f "$$dirs"; \
	for d in $$(for d in $$list; do echo "$$d"; done | sort -r); do \
		rmdir "$(DESTDIR)$$d" 2>/dev/null && echo "rmdir $(DESTDIR)$$d"; \
	done; :
	@if [ -z '$(DESTDIR)' ] && [ "$$(id -u)" = 0 ] && \
	    command -v $(LDCONFIG) >/dev/null; then \
		echo $(LDCONFIG); $(LDCONFIG); \
	fi

# ---- Debian packages ------------------------------------------------------
# make deb: the .debs of debian/ in $(B)/deb/, built from a copy of the
# tree (dpkg-buildpackage writes next to the source), then lintian.
# DEB_BUILD_OPTIONS=nocheck skips the test suite in the package build.
DEB_PKG := debhelper devscripts lintian dpkg-dev fakeroot
deb:
	$(call need_debs,$(DEB_PKG) $(DEB_ALL))
	rm -rf $(B)/deb && mkdir -p $(B)/deb/src
	tar -cf - --exclude=./build --exclude=./.git . | \
		tar -C $(B)/deb/src -xf -
	cd $(B)/deb/src && dpkg-buildpackage -us -uc -b
	lintian --fail-on error,warning $(B)/deb/*.changes
	@ls -1 $(B)/deb/*.deb

clean:
	rm -rf build

-include $(shell find $(B) -path '$(B)/deb' -prune -o -type f -name '*.d' -print 2>/dev/null)
