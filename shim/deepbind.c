/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/deepbind.c: what a dlopen(RTLD_DEEPBIND) brought in, rebound to
 * the shim for the names it exports (deepbind.h).
 *
 * With RTLD_DEEPBIND an object's lookup scope is its own search list (it
 * and its dependencies) first, the global scope second; the preloaded
 * shim is only in the second, so the object's fcntl() reaches libc. The
 * shim cannot change the scope; it rewrites the result instead: each
 * JUMP_SLOT and GLOB_DAT entry of the new objects for an exported name,
 * where the deep lookup of that name (dlsym on the handle: the same
 * search list) gives the definition the shim itself forwards to
 * (dlsym(RTLD_NEXT)), is set to what the global scope gives, the shim's.
 * That is the binding the object would have had without the flag, for
 * those names only. Constructors of the new objects ran inside the
 * dlopen, before this: a lock one of them took and keeps is a POSIX
 * lock the shim did not see (lockcmd.c falls back to plain POSIX locks
 * for its file when it meets one).
 *
 * Which objects are new: those after the last object of the base
 * namespace before the call (read under dl_iterate_phdr's lock, which
 * the loader takes to change the list) that are the opened object or in
 * its DT_NEEDED closure. Another thread's dlopen after ours may be
 * relocating its objects while we look; they are never in our closure
 * (a dependency is loaded once), and objects in the closure are held by
 * the handle we are about to return.
 */
#include "deepbind.h"
#include "config.h"
#include "defs.h"
#include "log.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <link.h>
#include <stdint.h>
#include <string.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#if defined(__x86_64__) /* the wrapper's jump, the relocation types */

void *(*deepbind_real)(const char *, int);

void *(*deepbind_resolve(void))(const char *, int)
{
	void *(*f)(const char *, int);

	f = __atomic_load_n(&deepbind_real, __ATOMIC_ACQUIRE);
	if (!f) {
		f = (void *(*)(const char *, int))dlsym(RTLD_NEXT, "dlopen");
		assert(f);
		__atomic_store_n(&deepbind_real, f, __ATOMIC_RELEASE);
	}
	return f;
}

/* ---- reporting a name once ----------------------------------------------- */

static _Atomic unsigned long reported[32];

static int first_report(const char *name)
{
	unsigned long h = 5381;

	for (const char *p = name; *p; p++)
		h = h * 33 + (unsigned char)*p;
	h |= 1;
	for (unsigned i = 0; i < 32; i++) {
		unsigned long v = atomic_load(&reported[i]);

		if (v == h)
			return 0;
		if (!v && atomic_compare_exchange_strong(&reported[i], &v, h))
			return 1;
		if (v == h)
			return 0;
	}
	return 0; /* 32 names said already: enough */
}

int deepbind_route(const char *file, int mode)
{
	if (!file || (mode & RTLD_NOLOAD) || config_mode() == MODE_OFF)
		return 0;
	if (strchr(file, '/') && !strchr(file, '$'))
		return 1;
	if (first_report(file))
		log_note("deep-bound library %s: its locks are not protected "
			 "(dlopen with RTLD_DEEPBIND of a name %s)", file,
			 strchr(file, '$') ? "with $ORIGIN or another token"
					   : "searched along its caller's path");
	return 0;
}

/* ---- the objects a load brought in ----------------------------------------- */

#define MAX_NEW 128

struct obj {
	struct link_map *lm;
	const ElfW(Phdr) *phdr;
	ElfW(Half) phnum;
	uint8_t ours;
};

struct newset {
	struct link_map *tail; /* the last object before the call */
	int listed, tail_found, overflow, n;
	struct obj o[MAX_NEW];
};

static int find_tail(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct link_map *l = _r_debug.r_map;

	(void)info;
	(void)size;
	while (l && l->l_next)
		l = l->l_next;
	*(struct link_map **)arg = l;
	return 1;
}

/* The first call lists the objects after the tail; every call finds the
 * program headers of one of them. The loader's lock is held. */
static int collect(struct dl_phdr_info *info, size_t size, void *arg)
{
	struct newset *s = arg;

	(void)size;
	if (!s->listed) {
		s->listed = 1;
		for (struct link_map *l = _r_debug.r_map; l; l = l->l_next) {
			if (!s->tail_found) {
				s->tail_found = l == s->tail;
				continue;
			}
			if (s->n == MAX_NEW) {
				s->overflow = 1;
				break;
			}
			s->o[s->n++].lm = l;
		}
	}
	for (int i = 0; i < s->n; i++)
		if (!s->o[i].phdr && s->o[i].lm->l_addr == info->dlpi_addr) {
			s->o[i].phdr = info->dlpi_phdr;
			s->o[i].phnum = info->dlpi_phnum;
			break;
		}
	return 0;
}

/* An object's dynamic section, as the loader left it: on x86-64 glibc
 * adds the load address to the pointers in place, unless the section is
 * read-only; an unrelocated one is smaller than the address. */
struct dyn {
	const ElfW(Sym) *sym;
	const char *str;
	const ElfW(Rela) *rel[2];
	size_t relsz[2];
	const char *soname;
};

static const void *dptr(const struct link_map *l, ElfW(Addr) p)
{
	return (const void *)(p < l->l_addr ? p + l->l_addr : p);
}

static int dyn_read(const struct link_map *l, struct dyn *d)
{
	ElfW(Addr) soname = 0;
	int have_soname = 0;

	memset(d, 0, sizeof(*d));
	for (const ElfW(Dyn) *e = l->l_ld; e && e->d_tag != DT_NULL; e++) {
		switch (e->d_tag) {
		case DT_SYMTAB:
			d->sym = dptr(l, e->d_un.d_ptr);
			break;
		case DT_STRTAB:
			d->str = dptr(l, e->d_un.d_ptr);
			break;
		case DT_JMPREL:
			d->rel[0] = dptr(l, e->d_un.d_ptr);
			break;
		case DT_PLTRELSZ:
			d->relsz[0] = e->d_un.d_val;
			break;
		case DT_PLTREL:
			if (e->d_un.d_val != DT_RELA)
				return -1;
			break;
		case DT_RELA:
			d->rel[1] = dptr(l, e->d_un.d_ptr);
			break;
		case DT_RELASZ:
			d->relsz[1] = e->d_un.d_val;
			break;
		case DT_RELAENT:
			if (e->d_un.d_val != sizeof(ElfW(Rela)))
				return -1;
			break;
		case DT_SONAME:
			soname = e->d_un.d_val;
			have_soname = 1;
			break;
		}
	}
	if (!d->sym || !d->str)
		return -1;
	if (have_soname)
		d->soname = d->str + soname;
	return 0;
}

static int names_object(const struct link_map *l, const char *needed)
{
	const char *base;
	struct dyn d;

	if (strchr(needed, '/'))
		return !strcmp(l->l_name, needed);
	base = strrchr(l->l_name, '/');
	base = base ? base + 1 : l->l_name;
	if (!strcmp(base, needed))
		return 1;
	return dyn_read(l, &d) == 0 && d.soname && !strcmp(d.soname, needed);
}

/* Mark the objects of root's DT_NEEDED closure among the new ones. */
static void mark_closure(struct newset *s, const struct link_map *root)
{
	int changed = 0;

	for (int i = 0; i < s->n; i++)
		if (s->o[i].lm == root)
			changed = s->o[i].ours = 1;
	while (changed) {
		changed = 0;
		for (int i = 0; i < s->n; i++) {
			struct dyn d;

			if (s->o[i].ours != 1 || dyn_read(s->o[i].lm, &d) < 0)
				continue;
			s->o[i].ours = 2; /* its needs are looked at */
			for (const ElfW(Dyn) *e = s->o[i].lm->l_ld;
			     e->d_tag != DT_NULL; e++) {
				if (e->d_tag != DT_NEEDED)
					continue;
				for (int j = 0; j < s->n; j++)
					if (!s->o[j].ours &&
					    names_object(s->o[j].lm,
							 d.str + e->d_un.d_val))
						changed = s->o[j].ours = 1;
			}
		}
	}
}

/* ---- rebinding ------------------------------------------------------------- */

/* Per export: the definition the shim forwards to, once per process. */
static void *_Atomic next_def[64];
static _Atomic uint8_t next_known[64];

static void *forwarded_to(unsigned k)
{
	assert(k < 64);
	if (!atomic_load(&next_known[k])) {
		atomic_store(&next_def[k],
			     dlsym(RTLD_NEXT, shim_exports[k].name));
		atomic_store(&next_known[k], 1);
	}
	return atomic_load(&next_def[k]);
}

/* Weak: the unit tests link the rooms without interpose.c. */
extern const struct shim_export shim_exports[] __attribute__((weak));
extern const unsigned shim_nexports __attribute__((weak));

static int export_index(const char *name)
{
	if (!&shim_nexports)
		return -1;
	for (unsigned k = 0; k < shim_nexports; k++)
		if (name[0] == shim_exports[k].name[0] &&
		    !strcmp(name, shim_exports[k].name))
			return (int)k;
	return -1;
}

struct rebind {
	void *handle;
	uint8_t want[64]; /* 0 not asked yet, 1 rebind, 2 leave */
	int slots, err;
	char names[256];
};

static int wanted(struct rebind *rb, unsigned k)
{
	if (!rb->want[k]) {
		void *deep = dlsym(rb->handle, shim_exports[k].name);
		void *next = forwarded_to(k);

		rb->want[k] = deep && deep == next ? 1 : 2;
	}
	return rb->want[k] == 1;
}

static void note_name(struct rebind *rb, const char *name)
{
	size_t n = strlen(rb->names), m = strlen(name);
	char pat[64];

	snprintf(pat, sizeof(pat), ",%s,", name);
	if (n && strstr(rb->names, pat))
		return;
	if (n + m + 2 >= sizeof(rb->names))
		return;
	if (!n)
		rb->names[n++] = ',';
	memcpy(rb->names + n, name, m);
	rb->names[n + m] = ',';
	rb->names[n + m + 1] = 0;
}

static void rebind_object(struct rebind *rb, const struct obj *o)
{
	uintptr_t rs = 0, re = 0, page = (uintptr_t)sysconf(_SC_PAGESIZE);
	const struct link_map *l = o->lm;
	struct dyn d;

	if (dyn_read(l, &d) < 0)
		return;
	/* The range the loader made read-only after relocating
	 * (_dl_protect_relro: both ends rounded down to a page). */
	for (int i = 0; i < o->phnum; i++)
		if (o->phdr[i].p_type == PT_GNU_RELRO) {
			rs = (l->l_addr + o->phdr[i].p_vaddr) & ~(page - 1);
			re = (l->l_addr + o->phdr[i].p_vaddr +
			      o->phdr[i].p_memsz) & ~(page - 1);
		}
	for (int t = 0; t < 2; t++) {
		size_t n = d.rel[t] ? d.relsz[t] / sizeof(ElfW(Rela)) : 0;

		for (size_t i = 0; i < n; i++) {
			const ElfW(Rela) *r = &d.rel[t][i];
			unsigned long type = ELF64_R_TYPE(r->r_info);
			void **slot;
			uintptr_t a;
			int k;

			if (type != R_X86_64_JUMP_SLOT &&
			    type != R_X86_64_GLOB_DAT)
				continue;
			k = export_index(d.str +
					 d.sym[ELF64_R_SYM(r->r_info)].st_name);
			if (k < 0 || !wanted(rb, (unsigned)k))
				continue;
			a = l->l_addr + r->r_offset;
			slot = (void **)a;
			if (*slot == shim_exports[k].fn)
				continue;
			if (a >= rs && a < re) {
				void *pg = (void *)(a & ~(page - 1));

				if (mprotect(pg, page, PROT_READ | PROT_WRITE)) {
					rb->err = errno;
					continue;
				}
				__atomic_store_n(slot, shim_exports[k].fn,
						 __ATOMIC_RELAXED);
				mprotect(pg, page, PROT_READ);
			} else {
				__atomic_store_n(slot, shim_exports[k].fn,
						 __ATOMIC_RELAXED);
			}
			rb->slots++;
			note_name(rb, shim_exports[k].name);
		}
	}
}

/* The rebinding done, said at level info (a Samba process loads some
 * fifty ldb modules so). */
static void note_rebound(const char *file, const struct rebind *rb)
{
	char msg[512], q[600];
	size_t n = strlen(rb->names);

	if (!log_enabled(LOGL_INFO))
		return;
	snprintf(msg, sizeof(msg), "deep-bound library %s: %d GOT entries "
		 "of %.*s rebound to the shim", file, rb->slots,
		 n > 2 ? (int)n - 2 : 0, rb->names + 1);
	log_quote(q, sizeof(q), msg);
	log_event(LOGL_INFO, "note", "msg=%s", q);
}

void *deepbind_open(const char *file, int mode)
{
	void *(*real)(const char *, int) = deepbind_resolve();
	struct link_map *tail = NULL, *root = NULL;
	struct rebind rb;
	struct newset s;
	void *h;
	int saved;

	dl_iterate_phdr(find_tail, &tail);
	h = real(file, mode);
	if (!h)
		return NULL;
	saved = errno;
	memset(&rb, 0, sizeof(rb));
	memset(&s, 0, sizeof(s));
	rb.handle = h;
	s.tail = tail;
	dl_iterate_phdr(collect, &s);
	if (dlinfo(h, RTLD_DI_LINKMAP, &root) == 0 && root) {
		mark_closure(&s, root);
		for (int i = 0; i < s.n; i++)
			if (s.o[i].ours && s.o[i].phdr)
				rebind_object(&rb, &s.o[i]);
	}
	if (rb.err || s.overflow)
		log_note("deep-bound library %s: its locks are not protected "
			 "(%s)", file, rb.err ? strerror(rb.err)
					     : "too many objects to look at");
	else if (rb.slots)
		note_rebound(file, &rb);
	/* A failed dlsym above left an error for dlerror(); a successful
	 * call clears it (glibc >= 2.34), as the successful dlopen did. */
	dlinfo(h, RTLD_DI_LINKMAP, &root);
	errno = saved;
	return h;
}

#endif
