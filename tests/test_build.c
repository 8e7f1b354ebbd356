/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/test_build.c: facts about the built preload library that no run
 * of a program shows: it exports exactly the calls it interposes, and
 * none of its objects calls one of those names through the PLT (where
 * the call would meet our own wrapper instead of libc's; shim/real.h).
 * The same for the i386 library (build/i386/), when it was built.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

static const char *const interposed[] = {
	"_Fork", "clone",
	"close", "close_range", "closedir", "closefrom", "dlopen", "dup",
	"dup2", "dup3", "execl", "execle", "execlp", "execv", "execve",
	"execveat", "execvp", "execvpe", "fclose", "fcloseall", "fcntl",
	"fcntl64", "fexecve", "freopen", "freopen64", "lockf", "lockf64",
	"pidfd_getfd", "recvmsg", "recvmmsg",
	"seteuid", "setresuid", "setreuid", "setuid", "vfork",
};
#define N_INTERPOSED (sizeof(interposed) / sizeof(interposed[0]))
/* i386 only: what glibc gives programs built with _TIME_BITS=64. */
static const char *const interposed32[] = {
	"__fcntl_time64", "__recvmsg64", "__recvmmsg64",
};
#define N_INTERPOSED32 (sizeof(interposed32) / sizeof(interposed32[0]))
static int checking32;

static int is_interposed(const char *name)
{
	for (size_t i = 0; i < N_INTERPOSED; i++)
		if (!strcmp(name, interposed[i]))
			return 1;
	for (size_t i = 0; checking32 && i < N_INTERPOSED32; i++)
		if (!strcmp(name, interposed32[i]))
			return 1;
	return 0;
}

/* Each line of a command's output, through fn. */
static void each_line(const char *cmd, void (*fn)(const char *line))
{
	char line[1024];
	FILE *p = popen(cmd, "r");

	cr_assert_not_null(p, "%s", cmd);
	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = 0;
		fn(line);
	}
	cr_assert_eq(pclose(p), 0, "%s failed", cmd);
}

static size_t nexported;

static void exported(const char *line)
{
	char name[256];
	const char *p = strrchr(line, ' ');

	/* "fcntl@@GLIBC_2.28": the name; "A GLIBC_2.0": a version */
	snprintf(name, sizeof(name), "%s", p ? p + 1 : line);
	name[strcspn(name, "@")] = 0;
	if (strstr(line, " A "))
		return;
	if (!strcmp(name, "_init") || !strcmp(name, "_fini"))
		return;
	cr_expect(is_interposed(name), "exported but not interposed: %s",
		  name);
	nexported++;
}

Test(build, the_preload_library_exports_only_what_it_interposes)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd),
		 "nm -D --defined-only %s/liblockspace-preload.so",
		 BUILD_DIR);
	each_line(cmd, exported);
	cr_expect_eq(nexported, N_INTERPOSED);
}

static void undefined(const char *line)
{
	char obj[512], name[256];

	/* "build/shim/x.o: U name" from nm -A -u */
	if (sscanf(line, "%511[^:]: U %255s", obj, name) != 2)
		return;
	cr_expect(!is_interposed(name), "%s calls %s through the PLT", obj,
		  name);
}

Test(build, no_object_calls_an_interposed_name_through_the_plt)
{
	char cmd[4096];

	snprintf(cmd, sizeof(cmd), "nm -A -u %s/shim/*.o %s/common/*.o",
		 BUILD_DIR, BUILD_DIR);
	each_line(cmd, undefined);
}

/* build/i386/, or skip the test. */
static void need_i386(void)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/i386/liblockspace-preload.so",
		 BUILD_DIR);
	if (access(path, R_OK) != 0)
		cr_skip_test("no %s (gcc-multilib)", path);
	checking32 = 1;
}

Test(build, the_i386_library_exports_only_what_it_interposes)
{
	char cmd[4096];

	need_i386();
	snprintf(cmd, sizeof(cmd),
		 "nm -D --defined-only %s/i386/liblockspace-preload.so",
		 BUILD_DIR);
	each_line(cmd, exported);
	/* fcntl twice: fcntl@GLIBC_2.0 and fcntl@@GLIBC_2.28; no dlopen
	 * (its frameless wrapper is x86_64's only: README, Limits) */
	cr_expect_eq(nexported, N_INTERPOSED + N_INTERPOSED32 + 1 - 1);
}

Test(build, no_i386_object_calls_an_interposed_name_through_the_plt)
{
	char cmd[4096];

	need_i386();
	snprintf(cmd, sizeof(cmd),
		 "nm -A -u %s/i386/shim/*.o %s/i386/common/*.o", BUILD_DIR,
		 BUILD_DIR);
	each_line(cmd, undefined);
}
