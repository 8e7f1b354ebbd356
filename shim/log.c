/*
 * shim/log.c: notes to stderr, formatted into a stack buffer and written
 * with one write(2), so that a note never allocates and lines of two
 * threads or processes never interleave.
 */
#include "shim.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

void log_note(const char *fmt, ...)
{
	char buf[512];
	int saved = errno, n, m;
	va_list ap;

	n = snprintf(buf, sizeof(buf), "lockspace-preload[%d]: ",
		     (int)getpid());
	va_start(ap, fmt);
	m = vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	if (m < 0)
		m = 0;
	n += m;
	if ((size_t)n > sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(2, buf, (size_t)n) < 0)
		errno = saved;
	errno = saved;
}
