/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * tests/progs/lib/failalloc.c: a test hook that makes the shim's memory
 * allocations fail (issue 8, part 4: ENOMEM in the table), from outside
 * the shim: shim/ and core/ are not changed for it.
 *
 * A preload library placed before the shim in LD_PRELOAD. It interposes
 * the malloc family, and opendir/fdopendir (glibc allocates the DIR with
 * malloc from inside libc, past this interposer, so a DIR the shim opens
 * is failed here as ENOMEM, as libc would fail it). A call counts when its
 * return address lies in the shim's mapping, found in /proc/self/maps.
 * Allocations libc makes on the shim's behalf inside other functions
 * (pthread_getattr_np, qsort, backtrace) are not seen.
 *
 *   FAILALLOC_NTH=N     fail only the Nth allocation of the shim (from 1)
 *   FAILALLOC_FROM=N    fail every allocation of the shim from the Nth on
 *   FAILALLOC_COUNT=1   at exit, "failalloc: pid=P allocs=N failed=K" on
 *                       stderr
 *   FAILALLOC_LOG=PATH  append one line per allocation of the shim:
 *                       "PID N KIND SIZE +OFFSET ok|FAIL" (OFFSET from the
 *                       shim's load base: addr2line -e the .so OFFSET)
 *   FAILALLOC_LIB=NAME  the library whose calls count (default
 *                       liblockspace-preload.so)
 *
 * Numbering is per process. An exec keeps the pid and starts a new image:
 * with FAILALLOC_LOG the new image goes on from the last number its pid
 * logged, so N counts across exec; without it, each image counts from 1.
 * A forked child neither counts nor fails (it is not the process under
 * test); a program it execs counts on its own, from 1.
 *
 * The real functions come from dlsym(RTLD_NEXT): glibc's, or a sanitizer
 * runtime's when one is preloaded after this library (ASan wants to be
 * first: ASAN_OPTIONS=verify_asan_link_order=0). dlsym may allocate; those
 * calls, made while resolving, get memory from a static buffer that free()
 * recognises. Nothing here allocates: /proc/self/maps and the log are read
 * and written with raw syscalls and a fixed buffer. Under valgrind the
 * hook is inert: memcheck replaces malloc in every object, this one too.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))
#define TLS __thread __attribute__((tls_model("initial-exec")))

extern char **environ;

/* ---- the real functions ------------------------------------------------- */

static void *(*r_malloc)(size_t);
static void *(*r_calloc)(size_t, size_t);
static void *(*r_realloc)(void *, size_t);
static void *(*r_reallocarray)(void *, size_t, size_t);
static void (*r_free)(void *);
static int (*r_posix_memalign)(void **, size_t, size_t);
static void *(*r_aligned_alloc)(size_t, size_t);
static void *(*r_memalign)(size_t, size_t);
static void *(*r_valloc)(size_t);
static void *(*r_pvalloc)(size_t);
static DIR *(*r_opendir)(const char *);
static DIR *(*r_fdopendir)(int);
static atomic_int resolved;
static TLS int resolving;

/* What dlsym allocates while it resolves: 16-byte header with the size. */
static _Alignas(16) char boot[64 << 10];
static atomic_size_t boot_used;

static void *boot_alloc(size_t n)
{
	size_t need = (n + 15) / 16 * 16 + 16;
	size_t off = atomic_fetch_add(&boot_used, need);

	if (off + need > sizeof(boot))
		return NULL;
	*(size_t *)(boot + off) = n;
	return boot + off + 16;
}

static int boot_owns(const void *p)
{
	return (const char *)p >= boot && (const char *)p < boot + sizeof(boot);
}

#define RESOLVE(name) (r_##name = dlsym(RTLD_NEXT, #name))

static void resolve(void)
{
	if (atomic_load(&resolved))
		return;
	resolving = 1;
	RESOLVE(malloc);
	RESOLVE(calloc);
	RESOLVE(realloc);
	RESOLVE(reallocarray);
	RESOLVE(free);
	RESOLVE(posix_memalign);
	RESOLVE(aligned_alloc);
	RESOLVE(memalign);
	RESOLVE(valloc);
	RESOLVE(pvalloc);
	RESOLVE(opendir);
	RESOLVE(fdopendir);
	resolving = 0;
	atomic_store(&resolved, 1);
}

/* ---- configuration, once libc runs ------------------------------------ */

static atomic_int state; /* 0 not yet, 1 being read, 2 ready */
static uintptr_t lo, hi, base; /* the shim's mapping; base: offset 0 */
static unsigned long nth, from;
static int want_count;
static char logpath[512];
static pid_t owner;
static atomic_ulong count, failed;

/*
 * No libc string function is called here: a sanitizer runtime preloaded
 * after this library intercepts them, and its interceptors are not set up
 * yet when its own initialisation (dlsym) allocates through us.
 */
static size_t s_len(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return n;
}

static int s_eq(const char *a, const char *b)
{
	while (*a && *a == *b)
		a++, b++;
	return *a == *b;
}

static unsigned long s_num(const char *s, const char **end)
{
	unsigned long v = 0;

	while (*s >= '0' && *s <= '9')
		v = v * 10 + (unsigned long)(*s++ - '0');
	if (end)
		*end = s;
	return v;
}

static const char *env(const char *name)
{
	size_t n = s_len(name);

	for (char **e = environ; e && *e; e++) {
		size_t i = 0;

		while (i < n && (*e)[i] == name[i])
			i++;
		if (i == n && (*e)[n] == '=')
			return *e + n + 1;
	}
	return NULL;
}

static unsigned long env_num(const char *name)
{
	const char *v = env(name);

	return v ? s_num(v, NULL) : 0;
}

static int raw_open(const char *path, int flags)
{
	return (int)syscall(SYS_openat, AT_FDCWD, path, flags | O_CLOEXEC,
			    0600);
}

static void raw_close(int fd)
{
	syscall(SYS_close, fd);
}

/* Each line of a file, without allocating (lines past 511 bytes are cut). */
static void each_line(const char *path, void (*fn)(char *line, void *arg),
		      void *arg)
{
	static char buf[8192];
	char line[512];
	size_t len = 0;
	int fd = raw_open(path, O_RDONLY);
	long n;

	if (fd < 0)
		return;
	while ((n = syscall(SYS_read, fd, buf, sizeof(buf))) > 0)
		for (long i = 0; i < n; i++) {
			if (buf[i] != '\n') {
				if (len < sizeof(line) - 1)
					line[len++] = buf[i];
				continue;
			}
			line[len] = 0;
			fn(line, arg);
			len = 0;
		}
	raw_close(fd);
}

static uintptr_t hex(const char **s)
{
	uintptr_t v = 0;

	for (;; (*s)++) {
		char c = **s;

		if (c >= '0' && c <= '9')
			v = v * 16 + (uintptr_t)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = v * 16 + (uintptr_t)(c - 'a' + 10);
		else
			return v;
	}
}

/* "start-end perms offset dev inode path" of the library named arg. */
static void maps_line(char *line, void *arg)
{
	const char *name = arg, *s = line, *path = line;
	size_t nl = s_len(name), pl;
	uintptr_t start, end, off;

	while (*path && *path != '/')
		path++;
	if (!*path)
		return;
	pl = s_len(path);
	if (pl < nl || !s_eq(path + pl - nl, name) ||
	    (pl > nl && path[pl - nl - 1] != '/'))
		return;
	start = hex(&s);
	s++;
	end = hex(&s);
	s += 6; /* " rwxp " */
	off = hex(&s);
	if (!lo || start < lo)
		lo = start;
	if (end > hi)
		hi = end;
	if (off == 0 && (!base || start < base))
		base = start;
}

/* "PID N ..." lines of the log: the last N of our pid. */
static void log_line_seen(char *line, void *arg)
{
	const char *end;
	unsigned long pid = s_num(line, &end), n;

	(void)arg;
	if (pid != (unsigned long)owner || *end != ' ')
		return;
	n = s_num(end + 1, NULL);
	if (n > atomic_load(&count))
		atomic_store(&count, n);
}

/* Before libc set environ up, nothing of the shim has run yet: those calls
 * pass through uncounted. */
static int ready(void)
{
	int s = atomic_load(&state);
	const char *v;

	if (s == 2)
		return 1;
	if (!environ)
		return 0;
	if (s == 1 || !atomic_compare_exchange_strong(&state, &s, 1)) {
		while (atomic_load(&state) != 2)
			syscall(SYS_sched_yield);
		return 1;
	}
	nth = env_num("FAILALLOC_NTH");
	from = env_num("FAILALLOC_FROM");
	want_count = env_num("FAILALLOC_COUNT") != 0;
	v = env("FAILALLOC_LOG");
	for (size_t i = 0; v && s_len(v) < sizeof(logpath) && v[i]; i++)
		logpath[i] = v[i];
	owner = (pid_t)syscall(SYS_getpid);
	v = env("FAILALLOC_LIB");
	each_line("/proc/self/maps", maps_line,
		  (void *)(v && *v ? v : "liblockspace-preload.so"));
	if (logpath[0])
		each_line(logpath, log_line_seen, NULL);
	atomic_store(&state, 2);
	return 1;
}

__attribute__((constructor)) static void failalloc_init(void)
{
	resolve();
	ready();
}

/* ---- the decision ------------------------------------------------------- */

static char *put_num(char *p, unsigned long v)
{
	char tmp[24];
	int n = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while (v /= 10);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *put_str(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

static void log_alloc(unsigned long n, const char *kind, size_t size,
		      uintptr_t off, int fail)
{
	char line[160], *p = line;
	int fd, saved = errno;

	if (!logpath[0])
		return;
	p = put_num(p, (unsigned long)owner);
	*p++ = ' ';
	p = put_num(p, n);
	*p++ = ' ';
	p = put_str(p, kind);
	*p++ = ' ';
	p = put_num(p, size);
	p = put_str(p, " +0x");
	{
		char tmp[20];
		int k = 0;

		do
			tmp[k++] = "0123456789abcdef"[off % 16];
		while (off /= 16);
		while (k)
			*p++ = tmp[--k];
	}
	p = put_str(p, fail ? " FAIL\n" : " ok\n");
	fd = raw_open(logpath, O_WRONLY | O_APPEND | O_CREAT);
	if (fd >= 0) {
		if (syscall(SYS_write, fd, line, (size_t)(p - line)) < 0)
			(void)0;
		raw_close(fd);
	}
	errno = saved;
}

/* Whether the call from ra (an allocation of kind and size) must fail. */
static int must_fail(const void *ra, const char *kind, size_t size)
{
	uintptr_t a = (uintptr_t)ra;
	unsigned long n;
	int fail;

	if (!ready() || a < lo || a >= hi)
		return 0;
	if ((pid_t)syscall(SYS_getpid) != owner)
		return 0; /* a forked child */
	n = atomic_fetch_add(&count, 1) + 1;
	fail = (nth && n == nth) || (from && n >= from);
	if (fail)
		atomic_fetch_add(&failed, 1);
	log_alloc(n, kind, size, a - base, fail);
	if (fail)
		errno = ENOMEM;
	return fail;
}

__attribute__((destructor)) static void failalloc_fini(void)
{
	char line[128], *p = line;

	if (!want_count || (pid_t)syscall(SYS_getpid) != owner)
		return;
	p = put_str(p, "failalloc: pid=");
	p = put_num(p, (unsigned long)owner);
	p = put_str(p, " allocs=");
	p = put_num(p, atomic_load(&count));
	p = put_str(p, " failed=");
	p = put_num(p, atomic_load(&failed));
	*p++ = '\n';
	if (syscall(SYS_write, 2, line, (size_t)(p - line)) < 0)
		(void)0;
}

/* ---- the interposed functions ------------------------------------------- */

#define RA __builtin_return_address(0)

EXPORT void *malloc(size_t n)
{
	if (!r_malloc) {
		if (resolving)
			return boot_alloc(n);
		resolve();
	}
	if (must_fail(RA, "malloc", n))
		return NULL;
	return r_malloc(n);
}

EXPORT void *calloc(size_t n, size_t size)
{
	if (!r_calloc) {
		void *p;

		if (!resolving)
			resolve();
		if (!r_calloc) {
			if (size && n > (size_t)-1 / size)
				return NULL;
			p = boot_alloc(n * size);
			return p; /* the buffer is zero: never reused */
		}
	}
	if (must_fail(RA, "calloc", n * size))
		return NULL;
	return r_calloc(n, size);
}

EXPORT void *realloc(void *p, size_t n)
{
	if (boot_owns(p)) {
		size_t old = *(size_t *)((char *)p - 16);
		void *q = malloc(n);

		for (size_t i = 0; q && i < old && i < n; i++)
			((char *)q)[i] = ((char *)p)[i];
		return q;
	}
	if (!r_realloc) {
		if (resolving)
			return p ? NULL : boot_alloc(n);
		resolve();
	}
	if (must_fail(RA, "realloc", n))
		return NULL;
	return r_realloc(p, n);
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	if (size && n > (size_t)-1 / size) {
		errno = ENOMEM;
		return NULL;
	}
	if (must_fail(RA, "reallocarray", n * size))
		return NULL;
	if (boot_owns(p) || !r_reallocarray)
		return realloc(p, n * size); /* not counted again */
	return r_reallocarray(p, n, size);
}

EXPORT void free(void *p)
{
	if (!p || boot_owns(p))
		return;
	if (!r_free) {
		if (resolving)
			return; /* cannot be ours or libc's yet: leak it */
		resolve();
	}
	r_free(p);
}

EXPORT int posix_memalign(void **out, size_t align, size_t n)
{
	resolve();
	if (!r_posix_memalign)
		return ENOMEM;
	if (must_fail(RA, "posix_memalign", n))
		return ENOMEM;
	return r_posix_memalign(out, align, n);
}

EXPORT void *aligned_alloc(size_t align, size_t n)
{
	resolve();
	if (!r_aligned_alloc)
		return NULL;
	if (must_fail(RA, "aligned_alloc", n))
		return NULL;
	return r_aligned_alloc(align, n);
}

EXPORT void *memalign(size_t align, size_t n)
{
	resolve();
	if (!r_memalign)
		return NULL;
	if (must_fail(RA, "memalign", n))
		return NULL;
	return r_memalign(align, n);
}

EXPORT void *valloc(size_t n)
{
	resolve();
	if (!r_valloc)
		return NULL;
	if (must_fail(RA, "valloc", n))
		return NULL;
	return r_valloc(n);
}

EXPORT void *pvalloc(size_t n)
{
	resolve();
	if (!r_pvalloc)
		return NULL;
	if (must_fail(RA, "pvalloc", n))
		return NULL;
	return r_pvalloc(n);
}

/* glibc's opendir allocates the DIR with malloc inside libc; ENOMEM is
 * what it returns when that fails. */
EXPORT DIR *opendir(const char *name)
{
	resolve();
	if (!r_opendir)
		return NULL;
	if (must_fail(RA, "opendir", 0))
		return NULL;
	return r_opendir(name);
}

EXPORT DIR *fdopendir(int fd)
{
	resolve();
	if (!r_fdopendir)
		return NULL;
	if (must_fail(RA, "fdopendir", 0))
		return NULL;
	return r_fdopendir(fd);
}
