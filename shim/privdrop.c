/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/privdrop.c: the anchors opened before root's effective uid goes
 * (privdrop.h).
 *
 * Only a call that takes the effective uid from 0 to another one is
 * looked at: root may open any file, and nothing else lets a process
 * open what it could not before, so that is the one moment when a file
 * becomes one it cannot reopen. Capabilities dropped another way
 * (capset, a non-root uid that had CAP_DAC_OVERRIDE) are not seen. The
 * test of what the new uid may open reads the mode bits only: an ACL
 * that grants more makes an anchor opened early that was not needed,
 * which is harmless; one that grants less is not known of (the file then
 * falls back at its first lock, as before).
 */
#include "privdrop.h"
#include "anchor.h"
#include "config.h"
#include "defs.h"
#include "fdstate.h"
#include "files.h"
#include "guard.h"
#include "log.h"
#include "real.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

/* ---- the real calls: resolved at their first use ---------------------------
 * glibc's setuid() and friends change every thread of the process (they
 * signal the others to make the system call too): the raw system call,
 * used only while dlsym has not answered, would change one thread. */

static void *real_id[4];
static const char *const id_name[4] = {"setuid", "seteuid", "setreuid",
				       "setresuid"};

static int call_real(enum privdrop_call call, uid_t a, uid_t b, uid_t c)
{
	void *f = __atomic_load_n(&real_id[call], __ATOMIC_ACQUIRE);

	if (!f) {
		f = dlsym(RTLD_NEXT, id_name[call]);
		__atomic_store_n(&real_id[call], f, __ATOMIC_RELEASE);
	}
	switch (call) {
	case PD_SETUID:
		if (f)
			return ((int (*)(uid_t))f)(a);
		return (int)syscall(SYS_setuid, a);
	case PD_SETEUID:
		if (f)
			return ((int (*)(uid_t))f)(a);
		return (int)syscall(SYS_setresuid, -1, a, -1);
	case PD_SETREUID:
		if (f)
			return ((int (*)(uid_t, uid_t))f)(a, b);
		return (int)syscall(SYS_setreuid, a, b);
	case PD_SETRESUID:
		if (f)
			return ((int (*)(uid_t, uid_t, uid_t))f)(a, b, c);
		return (int)syscall(SYS_setresuid, a, b, c);
	}
	errno = EINVAL;
	return -1;
}

/* ---- what the new uid may open ----------------------------------------------- */

struct ident {
	uid_t uid;
	gid_t gid;
	int ngroups; /* -1: too many to read: in none (the anchor is then
		      * opened early, where it may not have been needed) */
	gid_t groups[256];
};

static int in_groups(const struct ident *id, gid_t g)
{
	if (g == id->gid)
		return 1;
	for (int i = 0; i < id->ngroups; i++)
		if (id->groups[i] == g)
			return 1;
	return 0;
}

/* The mode bits the new identity gets on st (r 4, w 2). */
static int bits_for(const struct ident *id, const struct stat *st)
{
	if (st->st_uid == id->uid)
		return (int)(st->st_mode >> 6) & 7;
	if (in_groups(id, st->st_gid))
		return (int)(st->st_mode >> 3) & 7;
	return (int)st->st_mode & 7;
}

/* ---- one descriptor ------------------------------------------------------------ */

/* If fd is a regular file the new identity could not reopen with fd's
 * access, give its file an anchor now, with fd as its holder. 1 when an
 * anchor was opened or made writable. */
static int prepare_fd(int fd, const struct ident *id)
{
	struct ls_holder *h;
	struct ls_file *f;
	struct stat st;
	struct crit c;
	int flags, acc, bits, rw, done = 0, ok, err;

	/* The standard streams are a daemon's terminal or log (">" in a
	 * shell opens without O_APPEND), never its lock files. */
	if (fd <= 2 || (unsigned)fd >= fd_state_size ||
	    fdstate_get(fd) == FD_OURS)
		return 0;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	flags = real_fcntl(fd, F_GETFL, NULL);
	if (flags < 0 || (flags & (O_PATH | O_APPEND)))
		return 0;
	acc = flags & O_ACCMODE;
	bits = bits_for(id, &st);
	if ((acc == O_WRONLY || (bits & 4)) && (acc == O_RDONLY || (bits & 2)))
		return 0; /* the reopen will work later */
	rw = acc != O_RDONLY;
	crit_enter(&c, 1);
	f = file_get(st.st_dev, st.st_ino, fd);
	if (!f)
		goto out;
	h = fdstate_get(fd) == FD_TRACKED ? fdstate_holder(fd) : NULL;
	fmu_lock(&f->mu);
	ok = f->pol.mode == MODE_PROTECT && !f->fallback && (!h || h->file == f);
	if (ok && f->anchor < 0) {
		/* As at a first lock: opening and closing a descriptor drops
		 * POSIX locks taken past us (the lock call will say so). */
		if (!anchor_own_posix(fd) && anchor_open(&f->anchor, fd, rw) == 0) {
			f->anchor_rw = (uint8_t)rw;
			done = 1;
		}
	} else if (ok && rw && !f->anchor_rw &&
		   anchor_upgrade(&f->anchor, &f->t.map, fd) == 0) {
		f->anchor_rw = 1;
		done = 1;
	}
	ok = ok && f->anchor >= 0;
	files_check_file(f);
	fmu_unlock(&f->mu);
	if (ok && !h && !holder_attach(fd, &st, acc, &err))
		done = 0;
	/* Without a holder, nothing keeps the new anchor (or the entry). */
	file_maybe_retire(f);
out:
	crit_leave(&c);
	return done;
}

/* Each anchor takes a descriptor from the program's RLIMIT_NOFILE, also
 * for a file it never locks: at most this many at one drop. */
#define MAX_EARLY 64

/* Every descriptor of the process, from /proc/self/fd (getdents64: no
 * allocation); the anchors opened meanwhile are ours and skipped. */
static int prepare_all(const struct ident *id)
{
	char buf[4096];
	int dfd, n = 0;
	long len;

	dfd = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return 0;
	while (n < MAX_EARLY &&
	       (len = syscall(SYS_getdents64, dfd, buf, sizeof(buf))) > 0) {
		for (long off = 0; off < len;) {
			struct dirent64 *e = (struct dirent64 *)(buf + off);
			char *end;
			long fd = strtol(e->d_name, &end, 10);

			off += e->d_reclen;
			if (*end || end == e->d_name || fd == dfd ||
			    n >= MAX_EARLY)
				continue;
			n += prepare_fd((int)fd, id);
		}
	}
	raw_close(dfd);
	return n;
}

/* ---- the call ---------------------------------------------------------------- */

int privdrop(enum privdrop_call call, uid_t a, uid_t b, uid_t c)
{
	uid_t to = call == PD_SETUID || call == PD_SETEUID ? a : b;
	struct ident id;
	int saved = errno, n;

	if (guard_passthrough() || to == (uid_t)-1 || to == 0 ||
	    geteuid() != 0 || config_mode() == MODE_OFF)
		return call_real(call, a, b, c);
	id.uid = to;
	id.gid = getegid();
	id.ngroups = getgroups(256, id.groups);
	n = prepare_all(&id);
	if (n && log_enabled(LOGL_INFO)) {
		char msg[200], q[260];

		snprintf(msg, sizeof(msg), "before %s to uid %u: anchors "
			 "opened for %d file%s it could not open again",
			 id_name[call], (unsigned)to, n, n == 1 ? "" : "s");
		log_quote(q, sizeof(q), msg);
		log_event(LOGL_INFO, "note", "msg=%s", q);
	}
	errno = saved;
	return call_real(call, a, b, c);
}
