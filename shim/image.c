/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/image.c: whether the image an exec will load runs this library
 * (image.h).
 *
 * What the exec will load is read before it, the way the kernel and the
 * dynamic loader will see it:
 *   - the file: execve's path, execvp's PATH search as glibc makes it (a
 *     file that is not an executable ELF or #! script runs under
 *     /bin/sh), fexecve's and execveat's descriptor;
 *   - a "#!" script runs its interpreter (up to 4 levels, as the kernel
 *     allows), with the same environment;
 *   - an ELF image loads the shim only if it is of our class and machine
 *     and asks for our dynamic loader (PT_INTERP, the same file as ours):
 *     a static binary, a musl one, a 32-bit one never do;
 *   - in secure execution (the image is set-user-ID or set-group-ID to
 *     other ids, or has file capabilities, or our ids differ already)
 *     the loader ignores LD_PRELOAD entries with a '/', and ours has one
 *     or is no set-user-ID library: only /etc/ld.so.preload counts;
 *   - otherwise LD_PRELOAD in the new environment, or /etc/ld.so.preload,
 *     must name this library (the same file; a name without '/' by its
 *     name).
 * Not seen: a security module's transition that makes the exec secure,
 * a loader that is not the one it names, and whatever changes on disk
 * between this look and the exec. Reading the file opens it: a POSIX
 * lock the process holds on the image itself, taken past the shim, is
 * dropped by that close (one in our table that fell back is not read).
 */
#include "image.h"
#include "files.h"
#include "real.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/xattr.h>
#include <unistd.h>

#define IMAGE_DEPTH 4 /* #! interpreters the kernel follows */

#define IMAGE_CLASS (__ELF_NATIVE_CLASS == 64 ? ELFCLASS64 : ELFCLASS32)
#if defined(__x86_64__)
#define IMAGE_MACHINE EM_X86_64
#elif defined(__i386__)
#define IMAGE_MACHINE EM_386
#elif defined(__aarch64__)
#define IMAGE_MACHINE EM_AARCH64
#else
#define IMAGE_MACHINE EM_NONE /* unknown: never "yes" by ELF */
#endif

/* This library's file and our program's dynamic loader, found once. */
static struct {
	dev_t dev;
	ino_t ino;
	char base[NAME_MAX + 1];
	char interp[PATH_MAX];
	struct stat interp_st;
	int have_lib, have_interp;
} self;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static int interp_step(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	/* The first object is the program. */
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];

		if (ph->p_type != PT_INTERP || ph->p_filesz >= PATH_MAX)
			continue;
		memcpy(self.interp, (const char *)(info->dlpi_addr + ph->p_vaddr),
		       ph->p_filesz);
		self.interp[ph->p_filesz] = 0;
		self.have_interp = stat(self.interp, &self.interp_st) == 0;
	}
	return 1;
}

static void self_init(void)
{
	Dl_info di;
	struct stat st;

	if (dladdr((void *)image_runs_shim, &di) && di.dli_fname &&
	    stat(di.dli_fname, &st) == 0) {
		const char *b = strrchr(di.dli_fname, '/');

		self.dev = st.st_dev;
		self.ino = st.st_ino;
		snprintf(self.base, sizeof(self.base), "%s",
			 b ? b + 1 : di.dli_fname);
		self.have_lib = 1;
	}
	dl_iterate_phdr(interp_step, NULL);
}

/* ---- does a list of preloads name us ---------------------------------------- */

static int names_us(const char *list)
{
	char tok[PATH_MAX];

	while (list && *list) {
		size_t n = strcspn(list, " :\t\n");
		struct stat st;

		if (n && n < sizeof(tok)) {
			const char *b;

			memcpy(tok, list, n);
			tok[n] = 0;
			b = strrchr(tok, '/');
			if (b && !strchr(tok, '$')) {
				if (stat(tok, &st) == 0 && st.st_dev == self.dev &&
				    st.st_ino == self.ino)
					return 1;
			} else if (!strcmp(b ? b + 1 : tok, self.base)) {
				return 1;
			}
		}
		list += n;
		list += strspn(list, " :\t\n");
	}
	return 0;
}

/* /etc/ld.so.preload, which the loader reads in secure execution too. */
static int system_preload_names_us(void)
{
	char buf[4096];
	int fd = open("/etc/ld.so.preload", O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	raw_close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	return names_us(buf);
}

/* The loader takes the last LD_PRELOAD of the environment. */
static int env_preload_names_us(char *const envp[])
{
	const char *v = NULL;

	for (size_t i = 0; envp && envp[i]; i++)
		if (!strncmp(envp[i], "LD_PRELOAD=", 11))
			v = envp[i] + 11;
	return names_us(v);
}

/* ---- the image ------------------------------------------------------------------ */

/* Will the exec of the file fd (stat st) be secure (AT_SECURE)? */
static int secure_exec(int fd, const struct stat *st)
{
	struct statvfs vfs;

	if (geteuid() != getuid() || getegid() != getgid())
		return 1;
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1)
		return 0; /* set-user-ID bits and capabilities are ignored */
	if (fstatvfs(fd, &vfs) == 0 && (vfs.f_flag & ST_NOSUID))
		return 0;
	if ((st->st_mode & S_ISUID) && st->st_uid != geteuid())
		return 1;
	if ((st->st_mode & S_ISGID) && (st->st_mode & S_IXGRP) &&
	    st->st_gid != getegid())
		return 1;
	return fgetxattr(fd, "security.capability", NULL, 0) > 0;
}

static int same_interp(const char *interp)
{
	struct stat st;

	if (!self.have_interp)
		return 0;
	if (!strcmp(interp, self.interp))
		return 1;
	return stat(interp, &st) == 0 && st.st_dev == self.interp_st.st_dev &&
	       st.st_ino == self.interp_st.st_ino;
}

/* An ELF image in fd (its first bytes in head): 1 when it loads us. */
static int elf_runs_shim(int fd, const unsigned char *head, size_t n,
			 const struct stat *st, char *const envp[])
{
	const ElfW(Ehdr) *eh = (const ElfW(Ehdr) *)head;
	char interp[PATH_MAX];
	int found = 0;

	if (n < sizeof(*eh) || eh->e_ident[EI_CLASS] != IMAGE_CLASS ||
	    eh->e_machine != IMAGE_MACHINE ||
	    (eh->e_type != ET_EXEC && eh->e_type != ET_DYN) ||
	    eh->e_phentsize != sizeof(ElfW(Phdr)))
		return 0;
	for (unsigned i = 0; i < eh->e_phnum && !found; i++) {
		ElfW(Phdr) ph;

		if (pread(fd, &ph, sizeof(ph),
			  (off_t)(eh->e_phoff + i * sizeof(ph))) != sizeof(ph))
			return 0;
		if (ph.p_type != PT_INTERP)
			continue;
		if (ph.p_filesz == 0 || ph.p_filesz >= sizeof(interp) ||
		    pread(fd, interp, ph.p_filesz, (off_t)ph.p_offset) !=
			    (ssize_t)ph.p_filesz)
			return 0;
		interp[ph.p_filesz] = 0;
		found = 1;
	}
	if (!found || !same_interp(interp))
		return 0; /* static, or another loader (musl's) */
	if (secure_exec(fd, st))
		return system_preload_names_us();
	return env_preload_names_us(envp) || system_preload_names_us();
}

static int file_runs_shim(int fd, int depth, int sh_fallback,
			  char *const envp[]);

/* A file by path: 1 or 0, or -1 when it cannot be read: the exec will
 * fail (and then nothing must change), or the file is one whose locks
 * fell back to POSIX locks (our close of it would drop them); 0 for one
 * that runs but cannot be read (mode --x): in doubt. */
static int path_runs_shim(int dirfd, const char *path, int flags, int depth,
			  int sh_fallback, char *const envp[])
{
	struct stat st;
	struct ls_file *f = NULL;
	struct crit c;
	int fd, r;

	if (fstatat(dirfd, path, &st, flags & AT_SYMLINK_NOFOLLOW) < 0)
		return -1;
	if (atomic_load(&files_active)) {
		crit_enter(&c, 0);
		f = file_find(st.st_dev, st.st_ino);
		r = f && f->fallback;
		crit_leave(&c);
		if (r)
			return -1;
	}
	fd = openat(dirfd, path,
		    O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK |
			    (flags & AT_SYMLINK_NOFOLLOW ? O_NOFOLLOW : 0));
	if (fd < 0)
		return errno == EACCES && S_ISREG(st.st_mode) ? 0 : -1;
	r = file_runs_shim(fd, depth, sh_fallback, envp);
	raw_close(fd);
	return r;
}

/* The file open at fd: 1, 0, or -1 as path_runs_shim() says. */
static int file_runs_shim(int fd, int depth, int sh_fallback,
			  char *const envp[])
{
	unsigned char head[256];
	struct stat st;
	ssize_t n;

	if (fstat(fd, &st) < 0)
		return -1;
	n = pread(fd, head, sizeof(head) - 1, 0);
	if (n < 0)
		return -1;
	if (n >= 4 && !memcmp(head, ELFMAG, SELFMAG))
		return elf_runs_shim(fd, head, (size_t)n, &st, envp);
	if (n >= 2 && head[0] == '#' && head[1] == '!') {
		char *p = (char *)head + 2, *e;

		if (depth >= IMAGE_DEPTH)
			return -1; /* the exec fails: ELOOP */
		head[n] = 0;
		p += strspn(p, " \t");
		e = p + strcspn(p, " \t\n");
		if (e == p || !*e)
			return -1; /* no interpreter, or a line cut short */
		*e = 0;
		return path_runs_shim(AT_FDCWD, p, 0, depth + 1, 0, envp);
	}
	/* Neither: execvp runs it with /bin/sh; execve fails (ENOEXEC),
	 * or binfmt_misc runs something we cannot see. */
	if (sh_fallback)
		return path_runs_shim(AT_FDCWD, "/bin/sh", 0, depth + 1, 0, envp);
	return 0;
}

/* execvp's search, as glibc makes it: the first entry of PATH (of our
 * environment: glibc reads getenv) where the file is an executable
 * regular file. */
static int search_path(const char *file, char *out, size_t len)
{
	const char *path = getenv("PATH"), *p, *q;

	if (strchr(file, '/')) {
		snprintf(out, len, "%s", file);
		return 0;
	}
	if (!*file)
		return -1;
	if (!path)
		path = "/bin:/usr/bin";
	for (p = path;; p = q + 1) {
		struct stat st;

		q = strchrnul(p, ':');
		if ((size_t)(q - p) + strlen(file) + 2 <= len) {
			if (q == p)
				snprintf(out, len, "%s", file);
			else
				snprintf(out, len, "%.*s/%s", (int)(q - p), p,
					 file);
			if (access(out, X_OK) == 0 && stat(out, &st) == 0 &&
			    S_ISREG(st.st_mode))
				return 0;
		}
		if (!*q)
			return -1;
	}
}

int image_runs_shim(const struct exec_call *c, char *const envp[])
{
	char buf[PATH_MAX], link[40];
	int saved = errno, r;

	pthread_once(&self_once, self_init);
	if (!self.have_lib) {
		errno = saved;
		return 0;
	}
	switch (c->kind) {
	case X_EXECVE:
		r = path_runs_shim(AT_FDCWD, c->path, 0, 0, 0, envp);
		break;
	case X_EXECVPE:
		r = search_path(c->path, buf, sizeof(buf)) < 0
			    ? -1
			    : path_runs_shim(AT_FDCWD, buf, 0, 0, 1, envp);
		break;
	case X_FEXECVE:
		/* Read through the program's own descriptor when it can be
		 * (no close of ours), else through /proc (O_PATH). */
		r = file_runs_shim(c->dirfd, 0, 0, envp);
		if (r < 0) {
			snprintf(link, sizeof(link), "/proc/self/fd/%d",
				 c->dirfd);
			r = path_runs_shim(AT_FDCWD, link, 0, 0, 0, envp);
		}
		break;
	default:
		if ((c->flags & AT_EMPTY_PATH) && c->path && !*c->path) {
			struct exec_call fc = *c;

			fc.kind = X_FEXECVE;
			errno = saved;
			return image_runs_shim(&fc, envp);
		}
		r = path_runs_shim(c->dirfd, c->path, c->flags, 0, 0, envp);
		break;
	}
	errno = saved;
	/* -1: the exec will fail (or the file is not read): handed over
	 * as before, which a failed exec puts back. */
	return r != 0;
}
