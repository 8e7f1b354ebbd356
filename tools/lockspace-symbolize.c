/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tools/lockspace-symbolize.c: a filter that names the call sites of a
 * lockspace-preload log, as the sanitizers' asan_symbolize does for
 * theirs: lockspace-symbolize < locks.log (or FILE...).
 *
 * The shim writes a frame unsymbolized, from where no symbolizer may run
 * (a close() that a signal handler may make):
 *
 *     /srv/app/bin/appd+0x1a2b (BuildId: 3f9c...)
 *
 * the object's full path, the ELF virtual address of the call (a return
 * address minus one, minus the load bias) and the object's GNU build-id.
 * Each such frame is replaced with
 *
 *     save_record /src/app/db.c:212 (appd+0x1a2b)
 *
 * the function and the source line, from the object's DWARF (or its
 * separate debug file, found by build-id under /usr/lib/debug, as
 * elfutils' dwfl_standard_find_debuginfo looks), read with libdw, offline:
 * nothing of the process is needed, only its objects. A frame whose
 * object is gone, or whose build-id is no longer the object's (it was
 * rebuilt since), is left as it is with " [object changed]" or
 * " [no object]" after it: a line from another build would mislead. A
 * frame with no line information keeps its symbol (function+0xoff).
 * Everything else passes through unchanged.
 */
#include <elfutils/libdwfl.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef LOCKSPACE_VERSION
#define LOCKSPACE_VERSION "0.1.0"
#endif

static const char *me = "lockspace-symbolize";

/* One object, looked at once. */
struct obj {
	char *path;
	Dwfl *dwfl;       /* NULL: no such object */
	Dwfl_Module *mod;
	char id[129];     /* its build-id in hex, "" if none */
	struct obj *next;
};

static struct obj *objs;

static const Dwfl_Callbacks callbacks = {
	.find_elf = dwfl_build_id_find_elf,
	.find_debuginfo = dwfl_standard_find_debuginfo,
	.section_address = dwfl_offline_section_address,
};

static void hex_of(char *out, const unsigned char *b, int n)
{
	out[0] = 0;
	for (int i = 0; i < n && i < 64; i++)
		snprintf(out + 2 * i, 3, "%02x", b[i]);
}

/* Report path at its own virtual addresses (base 0 relative to p_vaddr):
 * the address in the log is then the address in the Dwfl. One Dwfl per
 * object, so that no two overlap. */
static struct obj *obj_get(const char *path)
{
	struct obj *o;

	for (o = objs; o; o = o->next)
		if (!strcmp(o->path, path))
			return o;
	o = calloc(1, sizeof(*o));
	if (!o || !(o->path = strdup(path))) {
		fprintf(stderr, "%s: out of memory\n", me);
		exit(2);
	}
	o->next = objs;
	objs = o;
	o->dwfl = dwfl_begin(&callbacks);
	if (!o->dwfl)
		return o;
	dwfl_report_begin(o->dwfl);
	o->mod = dwfl_report_elf(o->dwfl, path, path, -1, 0, true);
	dwfl_report_end(o->dwfl, NULL, NULL);
	if (!o->mod) {
		dwfl_end(o->dwfl);
		o->dwfl = NULL;
		return o;
	}
	{
		const unsigned char *bits;
		GElf_Addr vaddr;
		int n = dwfl_module_build_id(o->mod, &bits, &vaddr);

		if (n > 0)
			hex_of(o->id, bits, n);
	}
	return o;
}

/* The frame's text for (path, off), or NULL to leave it. */
static int symbolize(char *out, size_t len, const char *path,
		     unsigned long off, const char *id, const char **why)
{
	struct obj *o = obj_get(path);
	const char *base = strrchr(path, '/'), *name, *src;
	GElf_Off soff = 0;
	GElf_Sym sym;
	Dwfl_Line *line;
	int lineno = 0;

	base = base ? base + 1 : path;
	*why = NULL;
	if (!o->dwfl) {
		*why = "no object";
		return 0;
	}
	if (id && *id && strcmp(id, o->id)) {
		*why = "object changed";
		return 0;
	}
	name = dwfl_module_addrinfo(o->mod, off, &soff, &sym, NULL, NULL,
				    NULL);
	line = dwfl_module_getsrc(o->mod, off);
	src = line ? dwfl_lineinfo(line, NULL, &lineno, NULL, NULL, NULL)
		   : NULL;
	if (src && lineno > 0) {
		/* A name relative to the compilation's directory. */
		const char *dir = src[0] != '/' ? dwfl_line_comp_dir(line)
						: NULL;

		snprintf(out, len, "%s %s%s%s:%d (%s+0x%lx)",
			 name ? name : "??", dir ? dir : "", dir ? "/" : "",
			 src, lineno, base, off);
	}
	else if (name)
		snprintf(out, len, "%s+0x%lx (%s+0x%lx)", name,
			 (unsigned long)soff, base, off);
	else
		return 0;
	return 1;
}

static int is_hex(int c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

/* One line: each "/path+0xOFF[ (BuildId: HEX)]" replaced. */
static void filter_line(const char *l, FILE *out)
{
	const char *p = l;

	for (;;) {
		const char *plus = strstr(p, "+0x"), *start, *e, *q;
		char path[4096], id[130] = "", sym[8192];
		const char *why;
		unsigned long off;
		size_t n;

		if (!plus) {
			fputs(p, out);
			return;
		}
		/* The path: back from "+0x" to a '/' that starts a word. */
		for (start = plus; start > p && start[-1] != ' ' &&
				   start[-1] != '"' && start[-1] != '=' &&
				   start[-1] != '(';
		     start--)
			;
		e = plus + 3;
		while (is_hex(*e))
			e++;
		n = (size_t)(plus - start);
		if (*start != '/' || e == plus + 3 || n >= sizeof(path)) {
			fwrite(p, 1, (size_t)(e - p), out);
			p = e;
			continue;
		}
		memcpy(path, start, n);
		path[n] = 0;
		off = strtoul(plus + 3, NULL, 16);
		q = e;
		if (!strncmp(q, " (BuildId: ", 11)) {
			const char *h = q + 11;
			size_t k = 0;

			while (is_hex(h[k]) && k < sizeof(id) - 1)
				k++;
			if (h[k] == ')') {
				memcpy(id, h, k);
				id[k] = 0;
				q = h + k + 1;
			}
		}
		fwrite(p, 1, (size_t)(start - p), out);
		if (symbolize(sym, sizeof(sym), path, off, id, &why)) {
			fputs(sym, out);
		} else {
			fwrite(start, 1, (size_t)(q - start), out);
			if (why)
				fprintf(out, " [%s]", why);
		}
		p = q;
	}
}

static int filter(FILE *in, FILE *out)
{
	char *line = NULL;
	size_t cap = 0;

	while (getline(&line, &cap, in) > 0)
		filter_line(line, out);
	free(line);
	return ferror(in) ? -1 : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: %s [FILE]...\n"
		"Copy a lockspace-preload log (FILEs, or standard input) to standard\n"
		"output with each frame \"/path/obj+0xOFF (BuildId: HEX)\" replaced by\n"
		"\"function source.c:LINE (obj+0xOFF)\", read offline from the object's\n"
		"DWARF (or its debug file under /usr/lib/debug) with libdw.\n"
		"\n"
		"  -h, --help      this text\n"
		"  -V, --version   the version\n",
		me);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	int c, rc = 0;

	while ((c = getopt_long(argc, argv, "hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("%s %s\n", me, LOCKSPACE_VERSION);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind == argc)
		rc = filter(stdin, stdout) < 0;
	for (int i = optind; i < argc; i++) {
		FILE *f = strcmp(argv[i], "-") ? fopen(argv[i], "r") : stdin;

		if (!f) {
			fprintf(stderr, "%s: %s: %s\n", me, argv[i],
				strerror(errno));
			rc = 1;
			continue;
		}
		if (filter(f, stdout) < 0)
			rc = 1;
		if (f != stdin)
			fclose(f);
	}
	if (fflush(stdout) || ferror(stdout))
		rc = 1;
	return rc;
}
