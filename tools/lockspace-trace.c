/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tools/lockspace-trace.c: what lockspace-run --trace and --trace-html do
 * with the trace file once the command has run.
 *
 *   lockspace-trace finish FILE     close the JSON array (the shim leaves
 *                                   it open: trace.c says why); make an
 *                                   empty trace when no process wrote one
 *   lockspace-trace html FILE       the page that draws it, on stdout:
 *                                   tools/trace-view.html with the events
 *                                   inside, nothing fetched from anywhere
 *                                   (Perfetto's UI is not there offline)
 *
 * The page's text is linked in (.incbin), so the tool needs no data file.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef LOCKSPACE_VERSION
#define LOCKSPACE_VERSION "0.1.0"
#endif

__asm__(".section .rodata\n"
	".global trace_view_html\n"
	"trace_view_html:\n"
	".incbin \"tools/trace-view.html\"\n"
	".byte 0\n"
	".previous\n");
extern const char trace_view_html[];

static const char *me = "lockspace-trace";
#define MARK ">TRACE_EVENTS<"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "r");
	char *buf = NULL;
	size_t cap = 0;

	*len = 0;
	if (!f)
		return NULL;
	for (;;) {
		size_t n;

		if (*len + 65536 > cap) {
			char *nb = realloc(buf, cap = cap * 2 + 65536);

			if (!nb) {
				free(buf);
				fclose(f);
				errno = ENOMEM;
				return NULL;
			}
			buf = nb;
		}
		n = fread(buf + *len, 1, cap - *len - 1, f);
		*len += n;
		if (!n)
			break;
	}
	buf[*len] = 0;
	fclose(f);
	return buf;
}

/* The array closed: "]" after the last event, unless it is there. */
static int finish(const char *path)
{
	size_t len, end;
	char *t = slurp(path, &len);
	FILE *f;

	if (!t && errno == ENOENT) {
		f = fopen(path, "w");
		if (!f || fputs("[]\n", f) < 0 || fclose(f)) {
			fprintf(stderr, "%s: %s: %s\n", me, path,
				strerror(errno));
			return 1;
		}
		return 0;
	}
	if (!t) {
		fprintf(stderr, "%s: %s: %s\n", me, path, strerror(errno));
		return 1;
	}
	for (end = len; end && strchr(" \t\r\n", t[end - 1]); end--)
		;
	if (end && t[end - 1] == ']') {
		free(t);
		return 0;
	}
	free(t);
	f = fopen(path, "a");
	if (!f || fputs("\n]\n", f) < 0 || fclose(f)) {
		fprintf(stderr, "%s: %s: %s\n", me, path, strerror(errno));
		return 1;
	}
	return 0;
}

static int html(const char *path)
{
	const char *mark = strstr(trace_view_html, MARK);
	size_t len;
	char *t = slurp(path, &len);

	if (!t) {
		fprintf(stderr, "%s: %s: %s\n", me, path, strerror(errno));
		return 1;
	}
	if (!mark) {
		fprintf(stderr, "%s: the page has no place for the events\n",
			me);
		return 1;
	}
	fwrite(trace_view_html, 1, (size_t)(mark - trace_view_html) + 1,
	       stdout);
	/* Inside a <script>: no "</" may end it early (the shim writes '<'
	 * as \u003c, another writer may not). */
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '<' && t[i + 1] == '/')
			fputs("<\\", stdout);
		else
			putchar(t[i]);
	}
	fputs(mark + strlen(MARK) - 1, stdout);
	free(t);
	return fflush(stdout) || ferror(stdout) ? 1 : 0;
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--version")) {
		printf("%s %s\n", me, LOCKSPACE_VERSION);
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "finish"))
		return finish(argv[2]);
	if (argc == 3 && !strcmp(argv[1], "html"))
		return html(argv[2]);
	fprintf(argc == 2 && !strcmp(argv[1], "--help") ? stdout : stderr,
		"Usage: %s finish FILE | html FILE > PAGE.html\n"
		"Close a trace that lockspace-preload wrote (trace = FILE), or\n"
		"write the page that draws it. lockspace-run --trace and\n"
		"--trace-html run it.\n", me);
	return argc == 2 && !strcmp(argv[1], "--help") ? 0 : 2;
}
