/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_testlog.c: make check's output is the runner's (issue 19,
 * item 6): what the programs under test write to stderr goes to
 * $LOCKSPACE_TEST_LOG, and so do the tests' notes (tests/util.c). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

/* With the variable set (as make check sets it), a child's stderr and a
 * note land in the log, and nothing of them on the test's stderr. */
Test(testlog, child_stderr_and_notes_go_to_the_log)
{
	char log[64], buf[4096], out[256];
	const char *argv[] = {"/bin/sh", "-c",
			      "echo to-stdout; echo to-stderr >&2", NULL};
	const char *old = getenv("LOCKSPACE_TEST_LOG");
	char *saved = old ? strdup(old) : NULL;
	int fd;
	ssize_t n;

	snprintf(log, sizeof(log), "/tmp/lockspace-testlog-XXXXXX");
	fd = mkstemp(log);
	cr_assert(fd >= 0);
	setenv("LOCKSPACE_TEST_LOG", log, 1);
	cr_assert_eq(tu_run(0, argv, NULL, out, sizeof(out)), 0);
	tu_note("a note %d\n", 42);
	if (saved)
		setenv("LOCKSPACE_TEST_LOG", saved, 1);
	else
		unsetenv("LOCKSPACE_TEST_LOG");
	free(saved);
	cr_expect_str_eq(out, "to-stdout\n");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	unlink(log);
	buf[n > 0 ? n : 0] = 0;
	cr_expect_str_eq(buf, "to-stderr\na note 42\n");
}
