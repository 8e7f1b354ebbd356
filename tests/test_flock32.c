/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/test_flock32.c: the lock calls through each struct flock layout
 * answer under the shim exactly as under plain glibc (issue 18):
 * tests/progs/flockprog.c, run plain and under the shim, while another
 * process (tu_hold) holds a lock that a 32-bit struct cannot tell.
 *
 * make check runs these three times: with the 64-bit programs, and in
 * its 32-bit pass with i386 ones built without _FILE_OFFSET_BITS=64
 * (32-bit struct flock: F_GETLK's answer beyond 2^31 is EOVERFLOW) and
 * with it. The steps that name the other layout print "skip" where there
 * is one layout (x86_64). Each run's output must be the same plain and
 * under the shim; the values that show the layout are checked too.
 */
#include <criterion/criterion.h>
#include <elf.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

#define G2 0x80000000LL /* 2^31 */

/* Every query of flockprog, after its own lock (so that the shim
 * answers from its table and its anchor, not by passing through). */
#define QUERIES                                                            \
	"own", "get:fcntl:native", "get:fcntl64:native", "get:fcntl:32",   \
		"get:fcntl:64", "get:fcntl64:32", "get:fcntl64:64",        \
		"get:fcntl:ofd", "get:fcntl64:ofd", "get:fcntl20:ofd",     \
		"get:fcntl20:32", "get:fcntl:32:100:0",                    \
		"lockf:lockf:test:0", "lockf:lockf64:test:0",              \
		"bad:5:null", "bad:5:badfd", "bad:6:null", "bad:12:null",  \
		"set:fcntl:32:9:set:0:1", "set:fcntl:32:w:set:-1:1",       \
		"set:fcntl:32:w:set:5:-10", "get:fcntl:32:-1:1"

/* What 32-bit programs (progs32/) see; the rest see the whole answer. */
static int off32(void)
{
	return tu_prog_off_bits() == 32;
}

/* The i386 programs run the steps of both layouts. */
static int two_layouts(void)
{
	return tu_elf_class(tu_prog("flockprog")) == ELFCLASS32;
}

/* flockprog with steps, plain and under the shim, while another process
 * holds a write lock over [start, start + len); the two outputs must be
 * the same. */
static void run(const char *path, off_t start, off_t len,
		const char *const *steps, const struct tu_expect *ex, int nex)
{
	int release;
	pid_t h = tu_hold(path, F_WRLCK, start, len, &release);

	cr_assert(h > 0, "tu_hold");
	tu_script_both_prog("flockprog", path, NULL, NULL, steps, ex, nex,
			    NULL, NULL);
	tu_unhold(h, release);
	cr_expect_str_eq(tu_out[1].buf, tu_out[0].buf,
			 "under the shim:\n%s\nplain:\n%s", tu_out[1].buf,
			 tu_out[0].buf);
}

/* The errors of a bad request are the kernel's, in its order, through
 * either struct. */
static void expect_errors(void)
{
	tu_expect_res("bad:5:null", "-1 EFAULT");
	tu_expect_res("bad:5:badfd", "-1 EBADF");
	tu_expect_res("bad:6:null", "-1 EFAULT");
	tu_expect_res("set:fcntl:32:9:set:0:1",
		      two_layouts() ? "-1 EINVAL" : "skip");
	tu_expect_res("set:fcntl:32:w:set:-1:1",
		      two_layouts() ? "-1 EINVAL" : "skip");
	tu_expect_res("set:fcntl:32:w:set:5:-10",
		      two_layouts() ? "-1 EINVAL" : "skip");
}

/* A lock that starts beyond 2^31: F_GETLK through the 32-bit struct
 * (command 5 through fcntl or fcntl64, the OFD query through fcntl,
 * lockf's F_TEST) is EOVERFLOW; through struct flock64 it is told. And
 * the program's own lock at 3 GiB (lseek64, then SEEK_CUR through the
 * 32-bit struct) is seen from another process. */
Test(flock32, lock_beyond_2g_is_eoverflow_through_the_32bit_struct,
     .timeout = 60)
{
	const char *whole = "0 type=w start=4294967396 len=16 pid=other";
	char *path = tu_mkfile(100);
	int two = two_layouts() ? W : U;

	run(path, 2 * G2 + 100, 16,
	    STEPS(QUERIES, "seek:0xc0000000", "set:fcntl:32:w:cur:0:10",
		  "set:fcntl:native:w:cur:20:10", "ready"),
	    EXPECT({ 0, 3 * (G2 / 2), 10, two, two },
		   { 0, 3 * (G2 / 2) + 20, 10, W, W },
		   { 1, 3 * (G2 / 2), 30, U, U }));
	tu_expect_res("get:fcntl:native", off32() ? "-1 EOVERFLOW" : whole);
	tu_expect_res("get:fcntl64:native",
		      off32() ? "-1 EOVERFLOW" : whole);
	tu_expect_res("get:fcntl:ofd", off32() ? "-1 EOVERFLOW" : whole);
	tu_expect_res("get:fcntl64:ofd", whole);
	tu_expect_res("lockf:lockf:test:0",
		      off32() ? "-1 EOVERFLOW" : "-1 EACCES");
	tu_expect_res("lockf:lockf64:test:0", "-1 EACCES");
	if (two_layouts()) {
		/* a program linked before glibc 2.28: fcntl is fcntl64 */
		tu_expect_res("get:fcntl20:ofd", whole);
		tu_expect_res("get:fcntl20:32", "-1 EOVERFLOW");
		tu_expect_res("get:fcntl:32", "-1 EOVERFLOW");
		tu_expect_res("get:fcntl64:32", "-1 EOVERFLOW");
		tu_expect_res("get:fcntl:64", whole);
		tu_expect_res("get:fcntl64:64", whole);
		tu_expect_res("set:fcntl:32:w:cur:0:10", "0");
	}
	expect_errors();
	unlink(path);
}

/* A lock that starts below 2^31 and is longer: the kernel cuts the
 * length to 2^31 - 1 for the 32-bit struct of F_GETLK; glibc's fcntl
 * says EOVERFLOW for its F_OFD_GETLK. */
Test(flock32, long_lock_is_cut_for_getlk_and_eoverflow_for_ofd,
     .timeout = 60)
{
	const char *whole = "0 type=w start=1000 len=2147483659 pid=other";
	const char *cut = "0 type=w start=1000 len=2147483647 pid=other";
	char *path = tu_mkfile(100);

	run(path, 1000, G2 + 11, STEPS(QUERIES), NULL, 0);
	tu_expect_res("get:fcntl:native", off32() ? cut : whole);
	tu_expect_res("get:fcntl:32:100:0",
		      two_layouts() ? cut : "skip");
	tu_expect_res("get:fcntl:ofd", off32() ? "-1 EOVERFLOW" : whole);
	tu_expect_res("get:fcntl64:ofd", whole);
	tu_expect_res("lockf:lockf:test:0", "-1 EACCES");
	if (two_layouts()) {
		tu_expect_res("get:fcntl64:32", cut);
		tu_expect_res("get:fcntl:64", whole);
	}
	expect_errors();
	unlink(path);
}

/* A lock that fits in the 32-bit struct but ends beyond 2^31 is told
 * through every layout (on a 64-bit kernel). */
Test(flock32, lock_across_2g_is_told_through_every_layout, .timeout = 60)
{
	const char *whole = "0 type=w start=2147483640 len=16 pid=other";
	char *path = tu_mkfile(100);

	run(path, G2 - 8, 16, STEPS(QUERIES), NULL, 0);
	tu_expect_res("get:fcntl:native", whole);
	tu_expect_res("get:fcntl:ofd", whole);
	tu_expect_res("get:fcntl64:ofd", whole);
	if (two_layouts()) {
		tu_expect_res("get:fcntl:32", whole);
		tu_expect_res("get:fcntl64:32", whole);
	}
	expect_errors();
	unlink(path);
}

/* A lock taken through each symbol and layout (fcntl, fcntl64, and on
 * i386 command 6 with the 32-bit struct, 13 with flock64, and the fcntl
 * of programs linked before glibc 2.28) survives the close of another
 * descriptor of the file under the shim, and is lost plain. */
Test(flock32, lock_through_each_symbol_and_layout_survives_a_close,
     .timeout = 60)
{
	char *path = tu_mkfile(100);
	int two = two_layouts() ? W : U;

	tu_script_both_prog("flockprog", path, NULL, NULL,
		STEPS("set:fcntl:native:w:set:0:10",
		      "set:fcntl64:native:w:set:10:10",
		      "set:fcntl:32:w:set:20:10", "set:fcntl64:64:w:set:30:10",
		      "set:fcntl20:32:w:set:40:10",
		      "set:fcntl20:64:w:set:50:10", "ready", "lose", "ready"),
		EXPECT({ 0, 0, 10, W, W }, { 0, 10, 10, W, W },
		       { 0, 20, 10, two, two }, { 0, 30, 10, two, two },
		       { 0, 40, 10, two, two }, { 0, 50, 10, two, two },
		       { 1, 0, 10, U, W }, { 1, 10, 10, U, W },
		       { 1, 20, 10, U, two }, { 1, 30, 10, U, two },
		       { 1, 40, 10, U, two }, { 1, 50, 10, U, two }),
		NULL, NULL);
	tu_expect_res("lose", "0");
	unlink(path);
}
