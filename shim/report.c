/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/report.c: the start and exit lines of the tree's report file
 * (report.h). One write(2) of one short line to a descriptor opened
 * with O_APPEND: lines of different processes never interleave.
 */
#include "report.h"
#include "log.h"
#include "real.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Set by the constructor, read-only after (a fork child inherits it). */
static char rp_path[PATH_MAX];

/* The program's name as one word of the line. */
static void name_word(char *out, size_t len)
{
	extern char *program_invocation_short_name;
	const char *n = program_invocation_short_name;
	size_t i = 0;

	for (; n && n[i] && i + 1 < len; i++) {
		char c = n[i];

		out[i] = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			 (c >= '0' && c <= '9') || strchr("._-+@", c) ? c
								      : '_';
	}
	out[i] = 0;
	if (!i)
		snprintf(out, len, "?");
}

static void append(const char *what, const char *counts)
{
	char line[512], name[64];
	int saved = errno, fd, n;

	if (!rp_path[0])
		return;
	name_word(name, sizeof(name));
	n = snprintf(line, sizeof(line), "%s pid=%d ppid=%d name=%s%s\n", what,
		     (int)getpid(), (int)getppid(), name, counts);
	fd = open(rp_path, O_WRONLY | O_APPEND | O_CLOEXEC | O_NOFOLLOW |
			   O_NOCTTY | O_NONBLOCK);
	if (fd >= 0) {
		if (write(fd, line, (size_t)n) < 0)
			(void)0; /* nothing to be done about it */
		raw_close(fd);
	}
	errno = saved;
}

void report_start(void)
{
	const char *p = secure_getenv("LOCKSPACE_PRELOAD_REPORT");

	if (!p || p[0] != '/' || strlen(p) >= sizeof(rp_path))
		return;
	memcpy(rp_path, p, strlen(p) + 1);
	append("start", "");
}

__attribute__((destructor)) static void report_exit(void)
{
	char counts[160];

	if (!rp_path[0])
		return;
	snprintf(counts, sizeof(counts),
		 " locks=%ld files=%ld fallbacks=%ld prevented=%ld",
		 log_counter(LOGC_LOCKS), log_counter(LOGC_FILES),
		 log_counter(LOGC_FALLBACKS), log_counter(LOGC_PREVENTED));
	append("exit", counts);
}
