/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/callsite.c: where an event happened, as the user can follow it:
 * the program's call site of a close or a lock call, a backtrace in the
 * same form, and a CPython program's own frames (callsite.h). dladdr,
 * dl_iterate_phdr and the unwinder take the loader's lock: nothing here
 * runs with a lock of ours held or on a path a signal handler may reach.
 */
#include "callsite.h"
#include "defs.h"
#include "log.h"
#include "real.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <link.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- call sites ------------------------------------------------------------
 * A frame is written as the sanitizers write an unsymbolized one:
 *
 *     /usr/bin/python3.11+0x649170 (BuildId: 571d98e0...)
 *
 * the object's full path (the main program's from /proc/self/exe), the
 * address minus the object's load bias (the ELF virtual address, what
 * addr2line -e and libdw take, also for a non-PIE program), and the
 * object's GNU build-id. The address is a return address minus one: the
 * call instruction, so that the line is the call's, not the next one's.
 * dl_iterate_phdr() takes the loader's (recursive) lock: never called
 * with a lock of ours held. */
struct obj_hit {
	uintptr_t addr;
	const char *name;
	uintptr_t bias;
	unsigned char id[64];
	size_t idlen;
	int found, is_main;
};

static void note_build_id(struct obj_hit *o, const char *p, size_t len,
			  size_t align)
{
	while (len >= sizeof(ElfW(Nhdr))) {
		const ElfW(Nhdr) *n = (const void *)p;
		size_t nsz = (n->n_namesz + align - 1) & ~(align - 1);
		size_t dsz = (n->n_descsz + align - 1) & ~(align - 1);
		size_t all = sizeof(*n) + nsz + dsz;

		if (all > len)
			return;
		if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
		    !memcmp(p + sizeof(*n), "GNU", 4) &&
		    n->n_descsz <= sizeof(o->id)) {
			memcpy(o->id, p + sizeof(*n) + nsz, n->n_descsz);
			o->idlen = n->n_descsz;
			return;
		}
		p += all;
		len -= all;
	}
}

static int find_obj(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct obj_hit *o = arg;
	int hit = 0;

	(void)size;
	for (int i = 0; i < info->dlpi_phnum && !hit; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr;

		hit = ph->p_type == PT_LOAD && o->addr >= lo &&
		      o->addr - lo < ph->p_memsz;
	}
	if (!hit)
		return 0;
	o->found = 1;
	o->name = info->dlpi_name;
	o->bias = info->dlpi_addr;
	o->is_main = !info->dlpi_name || !info->dlpi_name[0];
	for (int i = 0; i < info->dlpi_phnum && !o->idlen; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type == PT_NOTE)
			note_build_id(o, (const char *)(info->dlpi_addr +
							ph->p_vaddr),
				      ph->p_memsz, ph->p_align == 8 ? 8 : 4);
	}
	return 1;
}

static int lookup(struct obj_hit *o, uintptr_t addr)
{
	memset(o, 0, sizeof(*o));
	o->addr = addr;
	dl_iterate_phdr(find_obj, o);
	return o->found;
}

/* One frame (pc: the address of an instruction), unquoted. */
static int fmt_frame(char *buf, size_t len, uintptr_t pc)
{
	char cb[64], eb[1024], hex[2 * sizeof(((struct obj_hit *)0)->id) + 1];
	const char *path;
	struct obj_hit o;

	if (!pc || !lookup(&o, pc))
		return snprintf(buf, len, "0x%lx", (unsigned long)pc);
	path = o.name;
	if (o.is_main) {
		log_program(cb, sizeof(cb), eb, sizeof(eb));
		path = *eb ? eb : "?";
	}
	if (!o.idlen)
		return snprintf(buf, len, "%s+0x%lx", path,
				(unsigned long)(pc - o.bias));
	for (size_t i = 0; i < o.idlen; i++)
		snprintf(hex + 2 * i, 3, "%02x", o.id[i]);
	return snprintf(buf, len, "%s+0x%lx (BuildId: %s)", path,
			(unsigned long)(pc - o.bias), hex);
}

void log_caller(char *buf, size_t len, void *ret_addr)
{
	char tmp[1400];

	if (!ret_addr) {
		log_quote(buf, len, "-");
		return;
	}
	fmt_frame(tmp, sizeof(tmp), (uintptr_t)ret_addr - 1);
	log_quote(buf, len, tmp);
}

int log_backtrace(char *buf, size_t len)
{
	void *frames[32];
	char tmp[LOG_BT_MAX];
	struct obj_hit self, o;
	size_t off = 0;
	int n, shown = 0;

	if (!len)
		return 0;
	if (!log_backtrace_enabled()) {
		log_quote(buf, len, "-");
		return 0;
	}
	n = backtrace(frames, 32);
	if (!lookup(&self, (uintptr_t)log_backtrace))
		self.bias = 0;
	tmp[0] = 0;
	for (int i = 0; i < n && shown < 8; i++) {
		/* frames[0] is ours; the others are return addresses. */
		uintptr_t pc = (uintptr_t)frames[i] - (i > 0);
		int m;

		/* The shim's own frames say nothing to the user. */
		if (self.found && lookup(&o, pc) && o.bias == self.bias &&
		    o.name == self.name)
			continue;
		if (shown && off + 4 < sizeof(tmp)) {
			memcpy(tmp + off, " < ", 3);
			off += 3;
		}
		m = fmt_frame(tmp + off, sizeof(tmp) - off, pc);
		if (m < 0 || off + (size_t)m >= sizeof(tmp)) {
			tmp[off] = 0;
			break;
		}
		off += (size_t)m;
		shown++;
	}
	log_quote(buf, len, tmp);
	return shown;
}

/* ---- an interpreter's frames: CPython ----------------------------------------
 * A close() that Python code makes is called from the interpreter's C
 * code: its native caller names python3.11, not the script. CPython
 * exports the function behind faulthandler, _Py_DumpTraceback(fd,
 * tstate), made to be called where nothing may be allocated or locked
 * (from a fatal signal, or a watchdog thread for another thread): it
 * writes the thread's Python frames, innermost first, as
 *   File "/srv/app.py", line 12 in save
 * The calling thread is inside a C call, so its frames stand still. */
typedef int (*py_init_fn)(void);
typedef void *(*py_tstate_fn)(void);
typedef void (*py_dump_fn)(int fd, void *tstate);

int log_py_stack(char *buf, size_t len, int max)
{
	py_init_fn init = (py_init_fn)dlsym(RTLD_DEFAULT, "Py_IsInitialized");
	py_tstate_fn get = (py_tstate_fn)dlsym(RTLD_DEFAULT,
					       "PyGILState_GetThisThreadState");
	py_dump_fn dump = (py_dump_fn)dlsym(RTLD_DEFAULT, "_Py_DumpTraceback");
	char text[8192], tmp[LOG_BT_MAX];
	size_t off = 0;
	ssize_t got = 0, r;
	void *ts;
	int p[2], shown = 0;

	if (!init || !get || !dump || !init() || !(ts = get()))
		return 0;
	if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
		return 0;
	dump(p[1], ts);
	raw_close(p[1]);
	while (got < (ssize_t)sizeof(text) - 1 &&
	       ((r = read(p[0], text + got, sizeof(text) - 1 - (size_t)got)) >
		0 || (r < 0 && errno == EINTR)))
		got += r > 0 ? r : 0;
	raw_close(p[0]);
	text[got] = 0;
	tmp[0] = 0;
	for (char *l = text, *nl; *l && shown < max; l = nl) {
		char *file, *q, *fn;
		long line;
		int m;

		nl = strchr(l, '\n');
		if (!nl)
			break; /* a line cut short */
		*nl++ = 0;
		if (strncmp(l, "  File \"", 8))
			continue;
		file = l + 8;
		q = strstr(file, "\", line ");
		if (!q)
			continue;
		*q = 0;
		line = strtol(q + 8, &fn, 10);
		fn = strstr(fn, " in ");
		m = snprintf(tmp + off, sizeof(tmp) - off, "%s%s:%ld (%s)",
			     shown ? " < " : "", file, line,
			     fn ? fn + 4 : "?");
		if (m < 0 || off + (size_t)m >= sizeof(tmp)) {
			tmp[off] = 0;
			break;
		}
		off += (size_t)m;
		shown++;
	}
	if (shown)
		log_quote(buf, len, tmp);
	return shown;
}

