/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * core/lockspace.c: named lock resources, libvirt's virLockSpace made
 * exact (see lockspace.h for the API).
 *
 * Why a registry: a POSIX record lock belongs to the process, and the
 * kernel drops every lock the process holds on a file when the process
 * closes *any* descriptor of it. So an acquire that opened a second
 * descriptor of a file some lockspace of this process holds, found the
 * kernel's F_SETLK "succeed" (a process never conflicts with itself) or
 * answered busy and closed it, would silently release the first holder.
 * Every file a lockspace of this process holds open and locked is
 * therefore recorded in one process-wide registry keyed by (st_dev,
 * st_ino), looked up after a stat(2) (which opens nothing) and before any
 * open(2): a file in it is answered busy without being opened.
 *
 * The kernel lock is a whole-file POSIX lock taken with fcntl(F_SETLK)
 * through the process's fcntl, so that our preloaded shim, when present,
 * sees it like any lock of the program.
 *
 * Why no symlinks: a lockspace directory may be shared with other users,
 * any of whom can plant a name. A symlink would lead an acquire to lock,
 * or an autocreate to create, a file outside the lockspace (or another
 * resource's file under a second name), and a FIFO or device would block
 * or act on open. So a name is looked at with lstat(2) before anything is
 * opened, opened with O_NOFOLLOW | O_NONBLOCK (a name swapped in between
 * cannot be followed or block), created with O_CREAT | O_EXCL (which
 * never follows a link), checked again with fstat(2), and compared with
 * lstat(2) wherever the code asks whether a path still names its file.
 */
#include "lockspace.h"
#include "table.h"
#include <uthash.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* How often an acquire or a delete starts over when the file it locked
 * was unlinked or replaced under it (another process releasing an
 * exclusive autocreated resource deletes it while still locked). */
#define LSP_RETRIES 32
#define LSP_RETRY 1 /* internal: start over */
#define LSP_MAGIC "lockspace/1\n"
#define LSP_MAX_OWNERS 65536

/*
 * A held resource: one descriptor, locked shared or exclusive, and the
 * owners holding it (one when exclusive, at least one always).
 * name, path, fd, shared, autocreate never change after insertion;
 * owners, nowners, cap and hh are guarded by the lockspace's mutex; reg
 * and spares by lsp_reg_lock.
 * spares: descriptors of this file opened by mistake (the path was
 * renamed to name this file between a stat and an open). Closing them
 * would drop our lock, so they live and die with fd.
 * before: only while lockspace_import() adopts r, what the process held
 * on the file before (sorted, disjoint); NULL otherwise.
 */
struct lsp_span {
	int64_t start, end; /* inclusive; end INT64_MAX: to the end */
	short type;	    /* F_RDLCK or F_WRLCK */
};

struct lsp_res {
	struct lst_file reg; /* in lsp_reg, key (st_dev, st_ino) of fd */
	UT_hash_handle hh;   /* in lockspace.res, key name */
	char *name;
	char *path;
	int fd;
	bool shared;
	bool autocreate;
	pid_t *owners;
	size_t nowners, cap;
	int *spares;
	size_t nspares;
	struct lsp_span *before;
	size_t nbefore;
};

/*
 * lock guards res and the owners of every resource in it. dir is the
 * canonical absolute directory (NULL: names are absolute paths); pid is
 * the process that holds the kernel locks: the fork handler makes it the
 * child's, but a child of _Fork(), clone() or vfork() runs no handler,
 * and must not delete its parent's files. prev, next and listed (in
 * lsp_all) are guarded by lsp_all_lock.
 *
 * Lock order: lsp_all_lock, then a lockspace's lock, then lsp_reg_lock.
 */
struct lockspace {
	pthread_mutex_t lock;
	char *dir;
	pid_t pid;
	struct lsp_res *res;
	struct lockspace *prev, *next;
	bool listed;
};

/* The registry of every file held by a lockspace of this process.
 * lsp_reg_lock is held from the stat of an acquire to the insertion of
 * what it locked, and from the unlink to the close of a release, so no
 * other lockspace of the process can open the file in between. */
static struct lst_table lsp_reg;
static pthread_mutex_t lsp_reg_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t lsp_once = PTHREAD_ONCE_INIT;

/* Every lockspace of the process that may hold something, for fork. */
static struct lockspace *lsp_all;
static pthread_mutex_t lsp_all_lock = PTHREAD_MUTEX_INITIALIZER;

/* lsp_all_lock held. */
static void lsp_list_add(struct lockspace *ls)
{
	ls->prev = NULL;
	ls->next = lsp_all;
	if (lsp_all)
		lsp_all->prev = ls;
	lsp_all = ls;
	ls->listed = true;
}

/* lsp_all_lock held. */
static void lsp_list_del(struct lockspace *ls)
{
	if (!ls->listed)
		return;
	if (ls->prev)
		ls->prev->next = ls->next;
	else
		lsp_all = ls->next;
	if (ls->next)
		ls->next->prev = ls->prev;
	ls->listed = false;
}

/* ---- fork ------------------------------------------------------------
 *
 * A forked child owns none of its parent's POSIX locks. Its copy of the
 * registry would answer busy for files only the parent holds (a shared
 * acquire of what the parent holds shared must succeed: the parent is
 * another process now), and its copies of the lockspaces would list holds
 * the child does not have. So the child starts with an empty registry
 * and every lockspace empty: the handler closes the copies of the
 * descriptors, which drops nothing, neither of the parent's (POSIX locks
 * belong to the process) nor of the child's (it has no lock yet; later,
 * any close of those copies, or exec's close-on-exec, would drop the
 * child's own locks on the files). Every lockspace and the registry are
 * locked across fork, so none is caught half-changed by another thread.
 */

static void lsp_fork_prepare(void)
{
	struct lockspace *ls;

	pthread_mutex_lock(&lsp_all_lock);
	for (ls = lsp_all; ls; ls = ls->next)
		pthread_mutex_lock(&ls->lock);
	pthread_mutex_lock(&lsp_reg_lock);
}

static void lsp_fork_parent(void)
{
	struct lockspace *ls;

	pthread_mutex_unlock(&lsp_reg_lock);
	for (ls = lsp_all; ls; ls = ls->next)
		pthread_mutex_unlock(&ls->lock);
	pthread_mutex_unlock(&lsp_all_lock);
}

static void lsp_res_free(struct lsp_res *r);
static void lsp_close_spares(struct lsp_res *r);

static void lsp_fork_child(void)
{
	struct lsp_res *r, *tmp;
	struct lockspace *ls;
	pid_t pid = getpid();

	for (ls = lsp_all; ls; ls = ls->next) {
		HASH_ITER(hh, ls->res, r, tmp) {
			HASH_DEL(ls->res, r);
			close(r->fd);
			lsp_close_spares(r);
			lsp_res_free(r);
		}
		ls->pid = pid;
	}
	lst_table_free(&lsp_reg);
	lst_table_init(&lsp_reg);
	lsp_fork_parent(); /* unlock as the parent does */
}

static void lsp_init(void)
{
	lst_table_init(&lsp_reg);
	pthread_atfork(lsp_fork_prepare, lsp_fork_parent, lsp_fork_child);
}

static struct lsp_res *lsp_res_of(struct lst_file *f)
{
	return (struct lsp_res *)((char *)f - offsetof(struct lsp_res, reg));
}

/* ---- names and paths ---------------------------------------------- */

/* A resource name must never escape its lockspace: with a directory it
 * is one path component, without one an absolute path. */
static int lsp_name_ok(const struct lockspace *ls, const char *name)
{
	size_t len;

	if (!name)
		return 0;
	len = strlen(name);
	if (!ls->dir)
		return name[0] == '/' && len < PATH_MAX;
	return len && len <= NAME_MAX && strcmp(name, ".") &&
	       strcmp(name, "..") && !strchr(name, '/');
}

static int lsp_path(const struct lockspace *ls, const char *name, char **path)
{
	const char *sep;

	if (!ls || !lsp_name_ok(ls, name))
		return -EINVAL;
	if (!ls->dir) {
		*path = strdup(name);
		return *path ? 0 : -ENOMEM;
	}
	sep = strcmp(ls->dir, "/") ? "/" : "";
	if (asprintf(path, "%s%s%s", ls->dir, sep, name) < 0)
		return -ENOMEM;
	return 0;
}

static int lsp_dir_canon(const char *dir, char **out)
{
	struct stat st;
	char *real;

	if (!*dir)
		return -EINVAL;
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return -errno;
	real = realpath(dir, NULL);
	if (!real)
		return -errno;
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		free(real);
		return -ENOTDIR;
	}
	*out = real;
	return 0;
}

/* ---- the kernel lock and the files -------------------------------- */

/* F_SETLK of type (F_UNLCK too) over [start, end]; -EBUSY when another
 * process holds a conflicting lock. */
static int lsp_setlk(int fd, short type, int64_t start, int64_t end)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)start;
	fl.l_len = end == INT64_MAX ? 0 : (off_t)(end - start + 1);
	if (fcntl(fd, F_SETLK, &fl) == 0)
		return 0;
	if (errno == EAGAIN || errno == EACCES)
		return -EBUSY;
	return -errno;
}

static int lsp_lock_fd(int fd, bool shared)
{
	return lsp_setlk(fd, shared ? F_RDLCK : F_WRLCK, 0, INT64_MAX);
}

/* 1 if path itself (not what a symlink there leads to) still names the
 * file st describes, 0 if not (or missing). */
static int lsp_same_file(const char *path, const struct stat *st)
{
	struct stat now;

	if (lstat(path, &now) < 0)
		return errno == ENOENT ? 0 : -errno;
	return now.st_dev == st->st_dev && now.st_ino == st->st_ino;
}

static void lsp_close_spares(struct lsp_res *r)
{
	size_t i;

	for (i = 0; i < r->nspares; i++)
		close(r->spares[i]);
	free(r->spares);
	r->spares = NULL;
	r->nspares = 0;
}

/* Keep fd, a descriptor of r's file, open as long as r's own. If even
 * that fails, fd is leaked on purpose: closing it would drop r's lock. */
static void lsp_park(struct lsp_res *r, int fd)
{
	int *s = realloc(r->spares, (r->nspares + 1) * sizeof(*s));

	if (!s)
		return;
	r->spares = s;
	r->spares[r->nspares++] = fd;
}

/* What lstat(2) said of a name, before anything opens it: 0 for a
 * regular file, -ELOOP for a symlink, -EINVAL for anything else. */
static int lsp_kind(const struct stat *st)
{
	if (S_ISLNK(st->st_mode))
		return -ELOOP;
	return S_ISREG(st->st_mode) ? 0 : -EINVAL;
}

/*
 * Open path (lsp_reg_lock held) and check that it is a regular file that
 * no lockspace of this process holds. The caller's lstat said so, but the
 * path may have been renamed since to name a held file, whose descriptor
 * must then not be closed, or a symlink, FIFO or device: O_NOFOLLOW fails
 * a symlink with ELOOP, O_NONBLOCK keeps a FIFO from blocking (and a
 * lease holder from stalling us), fstat finds the rest. Returns the fd or
 * a negative errno.
 */
static int lsp_open(const char *path, int oflags, struct stat *st)
{
	struct lst_file *f;
	int fd, rc;

	fd = open(path, oflags | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW,
		  0600);
	if (fd < 0) {
		if (errno == EISDIR || errno == ENXIO)
			return -EINVAL; /* a directory, socket or device */
		if (errno == EWOULDBLOCK)
			return -EBUSY; /* another process's lease */
		return -errno;
	}
	if (fstat(fd, st) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	f = lst_table_find(&lsp_reg, st->st_dev, st->st_ino);
	if (f) {
		lsp_park(lsp_res_of(f), fd);
		return -EBUSY;
	}
	if (!S_ISREG(st->st_mode)) {
		close(fd);
		return -EINVAL;
	}
	return fd;
}

/* One attempt to open and lock path (lsp_reg_lock held). Returns the fd,
 * a negative errno, or LSP_RETRY when the file was replaced under us. */
static int lsp_take_once(const char *path, unsigned flags, struct stat *st)
{
	bool shared = flags & LOCKSPACE_SHARED;
	int oflags = shared ? O_RDONLY : O_RDWR;
	int fd, rc;

	if (lstat(path, st) == 0) {
		rc = lsp_kind(st);
		if (rc)
			return rc;
		if (lst_table_find(&lsp_reg, st->st_dev, st->st_ino))
			return -EBUSY;
	} else if (errno == ENOENT && (flags & LOCKSPACE_AUTOCREATE)) {
		/* O_EXCL: never through a symlink planted meanwhile. */
		oflags |= O_CREAT | O_EXCL;
	} else {
		return -errno;
	}
	fd = lsp_open(path, oflags, st);
	if (fd == -ENOENT && (flags & LOCKSPACE_AUTOCREATE))
		return LSP_RETRY; /* deleted since the lstat */
	if (fd == -EEXIST && (oflags & O_EXCL))
		return LSP_RETRY; /* created since the lstat */
	if (fd < 0)
		return fd;
	rc = lsp_lock_fd(fd, shared);
	if (rc)
		goto fail;
	/* An exclusive autocreated resource is unlinked by its releaser
	 * while still locked: if we locked such a corpse, start over. */
	rc = lsp_same_file(path, st);
	if (rc == 1)
		return fd;
	if (rc == 0)
		rc = LSP_RETRY;
fail:
	close(fd);
	return rc;
}

static int lsp_take(const char *path, unsigned flags, struct stat *st)
{
	int i, rc = -EBUSY;

	for (i = 0; i < LSP_RETRIES; i++) {
		rc = lsp_take_once(path, flags, st);
		if (rc != LSP_RETRY)
			return rc;
	}
	return -EBUSY;
}

/* One attempt to delete path (lsp_reg_lock held): only while we hold an
 * exclusive lock on it, so that no other process holds it. */
static int lsp_delete_once(const char *path)
{
	struct stat st;
	int fd, rc;

	if (lstat(path, &st) < 0)
		return -errno;
	rc = lsp_kind(&st);
	if (rc)
		return rc;
	if (lst_table_find(&lsp_reg, st.st_dev, st.st_ino))
		return -EBUSY;
	fd = lsp_open(path, O_RDWR, &st);
	if (fd < 0)
		return fd;
	rc = lsp_lock_fd(fd, false);
	if (rc)
		goto out;
	rc = lsp_same_file(path, &st);
	if (rc == 1)
		rc = unlink(path) < 0 ? -errno : 0;
	else if (rc == 0)
		rc = LSP_RETRY;
out:
	close(fd);
	return rc;
}

/* ---- resources ---------------------------------------------------- */

static void lsp_res_free(struct lsp_res *r)
{
	if (!r)
		return;
	free(r->name);
	free(r->path);
	free(r->owners);
	free(r->spares);
	free(r->before);
	free(r);
}

static struct lsp_res *lsp_res_alloc(const char *name, const char *path)
{
	struct lsp_res *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->fd = -1;
	r->name = strdup(name);
	r->path = strdup(path);
	if (!r->name || !r->path) {
		lsp_res_free(r);
		return NULL;
	}
	return r;
}

static ssize_t lsp_owner_find(const struct lsp_res *r, pid_t owner)
{
	size_t i;

	for (i = 0; i < r->nowners; i++)
		if (r->owners[i] == owner)
			return (ssize_t)i;
	return -1;
}

static int lsp_owner_add(struct lsp_res *r, pid_t owner)
{
	if (r->nowners == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 4;
		pid_t *o = realloc(r->owners, cap * sizeof(*o));

		if (!o)
			return -ENOMEM;
		r->owners = o;
		r->cap = cap;
	}
	r->owners[r->nowners++] = owner;
	return 0;
}

static void lsp_owner_del(struct lsp_res *r, size_t i)
{
	r->owners[i] = r->owners[--r->nowners];
}

/* Release r entirely (ls->lock held). An exclusive autocreated file is
 * unlinked while still locked, so nobody can lock a file about to vanish;
 * the close comes under lsp_reg_lock so no other lockspace of the process
 * opens the file before our descriptor is gone. The unlink is by name:
 * only when lstat says the name is still our file, though a writer of
 * the directory who renames another file over it between the lstat and
 * the unlink loses that file (Linux has no unlink-if-this-inode; that
 * writer could have unlinked it anyway). */
static void lsp_res_drop(struct lockspace *ls, struct lsp_res *r)
{
	struct stat st;

	HASH_DEL(ls->res, r);
	pthread_mutex_lock(&lsp_reg_lock);
	lst_table_remove(&lsp_reg, &r->reg);
	if (r->autocreate && !r->shared && ls->pid == getpid()) {
		st.st_dev = r->reg.key.dev;
		st.st_ino = r->reg.key.ino;
		if (lsp_same_file(r->path, &st) == 1)
			unlink(r->path);
	}
	close(r->fd);
	lsp_close_spares(r);
	pthread_mutex_unlock(&lsp_reg_lock);
	lsp_res_free(r);
}

/* A resource this lockspace holds: only shared joins shared. */
static int lsp_res_join(struct lsp_res *r, pid_t owner, unsigned flags)
{
	if (!(flags & LOCKSPACE_SHARED) || !r->shared)
		return -EBUSY;
	if (lsp_owner_find(r, owner) >= 0)
		return -EBUSY;
	return lsp_owner_add(r, owner);
}

static int lsp_res_new(struct lockspace *ls, const char *name, const char *path,
		       pid_t owner, unsigned flags)
{
	struct lsp_res *r = lsp_res_alloc(name, path);
	struct stat st;
	int fd;

	if (!r || lsp_owner_add(r, owner) < 0) {
		lsp_res_free(r);
		return -ENOMEM;
	}
	r->shared = flags & LOCKSPACE_SHARED;
	r->autocreate = flags & LOCKSPACE_AUTOCREATE;
	pthread_mutex_lock(&lsp_reg_lock);
	fd = lsp_take(path, flags, &st);
	if (fd >= 0) {
		lst_file_init(&r->reg, st.st_dev, st.st_ino);
		if (lst_table_insert(&lsp_reg, &r->reg) < 0) {
			close(fd);
			fd = -ENOMEM;
		} else {
			r->fd = fd;
		}
	}
	pthread_mutex_unlock(&lsp_reg_lock);
	if (fd < 0) {
		lsp_res_free(r);
		return fd;
	}
	HASH_ADD_KEYPTR(hh, ls->res, r->name, strlen(r->name), r);
	return 0;
}

/* ---- the API ------------------------------------------------------ */

static struct lockspace *lsp_alloc(void)
{
	struct lockspace *ls;

	pthread_once(&lsp_once, lsp_init);
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return NULL;
	pthread_mutex_init(&ls->lock, NULL);
	ls->pid = getpid();
	return ls;
}

LOCKSPACE_API struct lockspace *lockspace_new(const char *dir)
{
	struct lockspace *ls = lsp_alloc();
	int rc;

	if (!ls)
		return NULL;
	if (dir) {
		rc = lsp_dir_canon(dir, &ls->dir);
		if (rc) {
			lockspace_free(ls);
			errno = -rc;
			return NULL;
		}
	}
	pthread_mutex_lock(&lsp_all_lock);
	lsp_list_add(ls);
	pthread_mutex_unlock(&lsp_all_lock);
	return ls;
}

LOCKSPACE_API void lockspace_free(struct lockspace *ls)
{
	struct lsp_res *r, *tmp;

	if (!ls)
		return;
	pthread_mutex_lock(&ls->lock);
	HASH_ITER(hh, ls->res, r, tmp)
		lsp_res_drop(ls, r);
	pthread_mutex_unlock(&ls->lock);
	/* Empty now: a fork before the next line finds nothing to close. */
	pthread_mutex_lock(&lsp_all_lock);
	lsp_list_del(ls);
	pthread_mutex_unlock(&lsp_all_lock);
	pthread_mutex_destroy(&ls->lock);
	free(ls->dir);
	free(ls);
}

LOCKSPACE_API const char *lockspace_dir(const struct lockspace *ls)
{
	return ls ? ls->dir : NULL;
}

LOCKSPACE_API int lockspace_create_resource(struct lockspace *ls,
					    const char *name)
{
	char *path;
	int fd, rc;

	rc = lsp_path(ls, name, &path);
	if (rc)
		return rc;
	/* O_EXCL: a new file, which nobody can hold, so closing is safe;
	 * and O_CREAT | O_EXCL fails on a symlink, even a dangling one. */
	fd = open(path,
		  O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW,
		  0600);
	rc = fd < 0 ? -errno : 0;
	if (fd >= 0)
		close(fd);
	free(path);
	return rc;
}

LOCKSPACE_API int lockspace_delete_resource(struct lockspace *ls,
					    const char *name)
{
	struct lsp_res *r;
	char *path;
	int i, rc;

	rc = lsp_path(ls, name, &path);
	if (rc)
		return rc;
	pthread_mutex_lock(&ls->lock);
	HASH_FIND_STR(ls->res, name, r);
	rc = -EBUSY;
	if (!r) {
		pthread_mutex_lock(&lsp_reg_lock);
		for (i = 0; i < LSP_RETRIES; i++) {
			rc = lsp_delete_once(path);
			if (rc != LSP_RETRY)
				break;
		}
		pthread_mutex_unlock(&lsp_reg_lock);
		if (rc == LSP_RETRY)
			rc = -EBUSY;
	}
	pthread_mutex_unlock(&ls->lock);
	free(path);
	return rc;
}

LOCKSPACE_API int lockspace_acquire(struct lockspace *ls, const char *name,
				    pid_t owner, unsigned flags)
{
	struct lsp_res *r;
	char *path;
	int rc;

	if (owner < 0 || (flags & ~(LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE)))
		return -EINVAL;
	rc = lsp_path(ls, name, &path);
	if (rc)
		return rc;
	pthread_mutex_lock(&ls->lock);
	HASH_FIND_STR(ls->res, name, r);
	if (r)
		rc = lsp_res_join(r, owner, flags);
	else
		rc = lsp_res_new(ls, name, path, owner, flags);
	pthread_mutex_unlock(&ls->lock);
	free(path);
	return rc;
}

LOCKSPACE_API int lockspace_release(struct lockspace *ls, const char *name,
				    pid_t owner)
{
	struct lsp_res *r;
	ssize_t i;
	int rc = 0;

	if (!ls || !lsp_name_ok(ls, name))
		return -EINVAL;
	pthread_mutex_lock(&ls->lock);
	HASH_FIND_STR(ls->res, name, r);
	if (!r) {
		rc = -ENOENT;
		goto out;
	}
	i = lsp_owner_find(r, owner);
	if (i < 0) {
		rc = -EPERM;
		goto out;
	}
	lsp_owner_del(r, (size_t)i);
	if (!r->nowners)
		lsp_res_drop(ls, r);
out:
	pthread_mutex_unlock(&ls->lock);
	return rc;
}

LOCKSPACE_API int lockspace_release_owner(struct lockspace *ls, pid_t owner)
{
	struct lsp_res *r, *tmp;
	int n = 0;

	if (!ls)
		return -EINVAL;
	pthread_mutex_lock(&ls->lock);
	HASH_ITER(hh, ls->res, r, tmp) {
		ssize_t i = lsp_owner_find(r, owner);

		if (i < 0)
			continue;
		lsp_owner_del(r, (size_t)i);
		if (!r->nowners)
			lsp_res_drop(ls, r);
		if (n < INT_MAX)
			n++;
	}
	pthread_mutex_unlock(&ls->lock);
	return n;
}

/* ---- handing over across exec --------------------------------------
 *
 * The state is text, one line each:
 *   lockspace/1
 *   dir DIR                  (or "dir -" for a lockspace over paths)
 *   resource fd=N shared=0|1 autocreate=0|1 owners=P,... spares=N,...
 *            path=PATH      (one line per resource)
 *   end
 * Strings are written byte by byte, with %XX for '%', space, control
 * and non-ASCII bytes, so no line holds a space or newline of its own.
 * Numbers are decimal without sign or leading zeros. Locks survive exec
 * on descriptors that stay open, which is why export clears FD_CLOEXEC.
 */

static void lsp_put_str(FILE *f, const char *s)
{
	const unsigned char *p;

	for (p = (const unsigned char *)s; *p; p++) {
		if (*p > ' ' && *p < 0x7f && *p != '%')
			fputc(*p, f);
		else
			fprintf(f, "%%%02X", *p);
	}
}

static int lsp_keep_on_exec(int fd)
{
	int fl = fcntl(fd, F_GETFD);

	if (fl < 0 || fcntl(fd, F_SETFD, fl & ~FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static int lsp_put_res(FILE *f, struct lsp_res *r)
{
	size_t i;
	int rc;

	rc = lsp_keep_on_exec(r->fd);
	fprintf(f, "resource fd=%d shared=%d autocreate=%d owners=", r->fd,
		r->shared, r->autocreate);
	for (i = 0; i < r->nowners; i++)
		fprintf(f, "%s%d", i ? "," : "", (int)r->owners[i]);
	fputs(" spares=", f);
	for (i = 0; i < r->nspares; i++) {
		fprintf(f, "%s%d", i ? "," : "", r->spares[i]);
		if (!rc)
			rc = lsp_keep_on_exec(r->spares[i]);
	}
	fputs(" path=", f);
	lsp_put_str(f, r->path);
	fputc('\n', f);
	return rc;
}

LOCKSPACE_API char *lockspace_export(struct lockspace *ls)
{
	struct lsp_res *r;
	char *buf = NULL;
	size_t len = 0;
	FILE *f;
	int rc = 0;

	if (!ls) {
		errno = EINVAL;
		return NULL;
	}
	f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	pthread_mutex_lock(&ls->lock);
	pthread_mutex_lock(&lsp_reg_lock); /* for the spares */
	fputs(LSP_MAGIC "dir ", f);
	if (ls->dir)
		lsp_put_str(f, ls->dir);
	else
		fputc('-', f);
	fputc('\n', f);
	for (r = ls->res; r; r = r->hh.next)
		if (!rc)
			rc = lsp_put_res(f, r);
	fputs("end\n", f);
	pthread_mutex_unlock(&lsp_reg_lock);
	pthread_mutex_unlock(&ls->lock);
	if (ferror(f) && !rc)
		rc = -ENOMEM;
	if (fclose(f) && !rc)
		rc = -ENOMEM;
	if (rc) {
		free(buf);
		errno = -rc;
		return NULL;
	}
	return buf;
}

/* The parser: a cursor that only moves forward over a NUL-terminated
 * string; every function fails with -EINVAL and never reads past the
 * NUL. */
struct lsp_cur {
	const char *p;
};

static int lsp_lit(struct lsp_cur *c, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(c->p, lit, n))
		return -EINVAL;
	c->p += n;
	return 0;
}

static int lsp_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

static int lsp_uint(struct lsp_cur *c, int max, int *out)
{
	long v = 0;

	if (!lsp_digit(*c->p) || (c->p[0] == '0' && lsp_digit(c->p[1])))
		return -EINVAL;
	while (lsp_digit(*c->p)) {
		v = v * 10 + (*c->p++ - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = (int)v;
	return 0;
}

static int lsp_hex(char ch)
{
	if (lsp_digit(ch))
		return ch - '0';
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A string up to the next space or newline, decoded; at most PATH_MAX-1
 * bytes, no NUL. */
static int lsp_str(struct lsp_cur *c, char **out)
{
	char buf[PATH_MAX];
	size_t n = 0;

	while (*c->p && *c->p != ' ' && *c->p != '\n') {
		unsigned char ch = (unsigned char)*c->p++;

		if (ch == '%') {
			int hi = lsp_hex(c->p[0]);
			int lo = hi < 0 ? -1 : lsp_hex(c->p[1]);

			if (lo < 0 || !(hi || lo))
				return -EINVAL;
			ch = (unsigned char)(hi << 4 | lo);
			c->p += 2;
		} else if (ch < ' ' || ch >= 0x7f) {
			return -EINVAL;
		}
		if (n + 1 >= sizeof(buf))
			return -EINVAL;
		buf[n++] = (char)ch;
	}
	if (!n)
		return -EINVAL;
	buf[n] = 0;
	*out = strdup(buf);
	return *out ? 0 : -ENOMEM;
}

/* A comma-separated list of numbers in [0, max]; empty when allowed. */
static int lsp_list(struct lsp_cur *c, int max, bool empty, int **out,
		    size_t *n)
{
	int v, *a;

	*out = NULL;
	*n = 0;
	if (empty && (*c->p == ' ' || *c->p == '\n'))
		return 0;
	do {
		if (*n && lsp_lit(c, ","))
			break;
		if (lsp_uint(c, max, &v) || *n >= LSP_MAX_OWNERS)
			return -EINVAL;
		a = realloc(*out, (*n + 1) * sizeof(*a));
		if (!a)
			return -ENOMEM;
		*out = a;
		a[(*n)++] = v;
	} while (*c->p == ',');
	return 0;
}

static int lsp_bool(struct lsp_cur *c, bool *out)
{
	int v;

	if (lsp_uint(c, 1, &v))
		return -EINVAL;
	*out = v;
	return 0;
}

static int lsp_cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/* Whether a holds a value twice (sorts a). */
static bool lsp_dups(int *a, size_t n)
{
	size_t i;

	qsort(a, n, sizeof(*a), lsp_cmp_int);
	for (i = 1; i < n; i++)
		if (a[i] == a[i - 1])
			return true;
	return false;
}

/* The name of path in ls, which path must be made of. */
static int lsp_path_name(const struct lockspace *ls, struct lsp_res *r)
{
	const char *name = r->path;
	size_t len;

	if (ls->dir) {
		len = strlen(ls->dir);
		if (strncmp(r->path, ls->dir, len))
			return -EINVAL;
		name += len;
		if (strcmp(ls->dir, "/") && *name++ != '/')
			return -EINVAL;
	}
	if (!lsp_name_ok(ls, name))
		return -EINVAL;
	r->name = strdup(name);
	return r->name ? 0 : -ENOMEM;
}

static int lsp_get_res(struct lsp_cur *c, const struct lockspace *ls,
		       struct lsp_res **out)
{
	struct lsp_res *r = calloc(1, sizeof(*r));
	int *owners = NULL, rc;

	if (!r)
		return -ENOMEM;
	rc = -EINVAL;
	if (lsp_lit(c, "resource fd=") || lsp_uint(c, INT_MAX, &r->fd) ||
	    lsp_lit(c, " shared=") || lsp_bool(c, &r->shared) ||
	    lsp_lit(c, " autocreate=") || lsp_bool(c, &r->autocreate) ||
	    lsp_lit(c, " owners="))
		goto fail;
	rc = lsp_list(c, INT_MAX, false, &owners, &r->nowners);
	r->owners = (pid_t *)owners;
	r->cap = r->nowners;
	if (rc || lsp_lit(c, " spares="))
		goto fail;
	rc = lsp_list(c, INT_MAX, true, &r->spares, &r->nspares);
	if (rc || lsp_lit(c, " path=") || lsp_str(c, &r->path) ||
	    lsp_lit(c, "\n") || lsp_path_name(ls, r))
		goto fail;
	rc = -EINVAL;
	if (!r->shared && r->nowners != 1)
		goto fail;
	owners = malloc(r->nowners * sizeof(*owners));
	if (!owners) {
		rc = -ENOMEM;
		goto fail;
	}
	memcpy(owners, r->owners, r->nowners * sizeof(*owners));
	rc = lsp_dups(owners, r->nowners) ? -EINVAL : 0;
	free(owners);
	if (rc)
		goto fail;
	*out = r;
	return 0;
fail:
	lsp_res_free(r);
	return rc ? rc : -EINVAL;
}

/* Whether fd is open on the file st describes. */
static bool lsp_fd_is(int fd, const struct stat *st)
{
	struct stat fst;

	return fstat(fd, &fst) == 0 && fst.st_dev == st->st_dev &&
	       fst.st_ino == st->st_ino;
}

/* Check r against the system: path names a regular file (not a
 * symlink: acquire would not follow one), every fd of r is open on it,
 * an exclusive one for writing. Fills r->reg's key. */
static int lsp_check_res(struct lsp_res *r)
{
	struct stat st;
	size_t i;
	int fl;

	if (lstat(r->path, &st) < 0 || !S_ISREG(st.st_mode) ||
	    !lsp_fd_is(r->fd, &st))
		return -EINVAL;
	fl = fcntl(r->fd, F_GETFL);
	if (fl < 0 || (!r->shared && (fl & O_ACCMODE) == O_RDONLY))
		return -EINVAL;
	for (i = 0; i < r->nspares; i++)
		if (!lsp_fd_is(r->spares[i], &st))
			return -EINVAL;
	lst_file_init(&r->reg, st.st_dev, st.st_ino);
	return 0;
}

static void lsp_free_list(struct lsp_res *list)
{
	struct lsp_res *r, *tmp;

	HASH_ITER(hh, list, r, tmp) {
		HASH_DEL(list, r);
		lsp_res_free(r);
	}
}

/* Parse state into ls->dir and ls->res, which are not yet registered. */
static int lsp_parse(struct lockspace *ls, const char *state)
{
	struct lsp_cur c = {.p = state};
	struct lsp_res *r, *dup;
	int rc;

	if (lsp_lit(&c, LSP_MAGIC "dir "))
		return -EINVAL;
	if (!lsp_lit(&c, "-\n")) {
		ls->dir = NULL;
	} else {
		rc = lsp_str(&c, &ls->dir);
		if (rc || lsp_lit(&c, "\n"))
			return rc ? rc : -EINVAL;
	}
	while (strncmp(c.p, "end\n", 4)) {
		rc = lsp_get_res(&c, ls, &r);
		if (rc)
			return rc;
		HASH_FIND_STR(ls->res, r->name, dup);
		if (dup) {
			lsp_res_free(r);
			return -EINVAL;
		}
		HASH_ADD_KEYPTR(hh, ls->res, r->name, strlen(r->name), r);
	}
	return c.p[4] ? -EINVAL : 0;
}

/* Check the parsed state against the system: the directory is the
 * canonical one, no fd or file appears twice. */
static int lsp_check(struct lockspace *ls)
{
	struct lst_table files;
	struct lsp_res *r;
	struct stat st;
	size_t n = 0, k = 0;
	char *real;
	int *fds, rc = -EINVAL;

	if (ls->dir) {
		real = realpath(ls->dir, NULL);
		rc = -EINVAL;
		if (real && !strcmp(real, ls->dir) && !stat(real, &st) &&
		    S_ISDIR(st.st_mode))
			rc = 0;
		free(real);
		if (rc)
			return rc;
	}
	for (r = ls->res; r; r = r->hh.next)
		n += 1 + r->nspares;
	fds = malloc((n ? n : 1) * sizeof(*fds));
	if (!fds)
		return -ENOMEM;
	lst_table_init(&files);
	for (r = ls->res; r; r = r->hh.next) {
		rc = lsp_check_res(r);
		if (rc ||
		    lst_table_find(&files, r->reg.key.dev, r->reg.key.ino))
			break;
		if (lst_table_insert(&files, &r->reg) < 0) {
			rc = -ENOMEM;
			break;
		}
		fds[k++] = r->fd;
		if (r->nspares)
			memcpy(fds + k, r->spares, r->nspares * sizeof(*fds));
		k += r->nspares;
	}
	if (!r)
		rc = lsp_dups(fds, k) ? -EINVAL : 0;
	else if (!rc)
		rc = -EINVAL;
	lst_table_free(&files); /* the slots, not the resources */
	free(fds);
	return rc;
}

/* ---- adopting: all or nothing -------------------------------------
 *
 * import takes each lock again, and any file can refuse (another process
 * took it in between, or the state was not this process's). A failure
 * must leave the process's locks exactly as they were: a new lock given
 * back, a write lock never downgraded, a read lock never upgraded, locks
 * the process held on part of a file by other means kept as they were.
 * That needs to know what the process holds, and F_GETLK never reports
 * the caller's own locks; the kernel says it in /proc/thread-self/fdinfo:
 * the "lock:" lines of each descriptor are the process's POSIX locks
 * taken through that open file description, and the description's OFD
 * locks (where the preloaded shim keeps a program's locks). Every POSIX
 * lock of the process was taken through a description still open in it
 * (a close of any descriptor of the file drops them all), so the lines of
 * the descriptors open on the file are all of it. So:
 *   0. read what the process holds on each file (the "before" spans);
 *   1. register every file (may fail; undone by removing them);
 *   2. take what can be refused, each step undone exactly from before:
 *      exclusive: F_WRLCK over the file (one call, all or nothing; undo:
 *      unlock where nothing was held, F_RDLCK where a read lock was);
 *      shared: F_RDLCK over each part where nothing was held (undo:
 *      unlock those parts);
 *   3. shared: F_RDLCK over the whole file, which only downgrades what
 *      the process holds for writing and confirms the rest: no other
 *      process can hold anything where we hold a write lock, nor a write
 *      lock where we hold a read lock, so it is never refused for a
 *      conflict (only ENOLCK, the kernel out of memory, could fail it;
 *      then the downgrades are undone as well as an upgrade can be).
 * Every file gets its F_SETLK through r->fd (a no-op where the lock is
 * held), so that a preloaded shim counts r->fd as a holder.
 */

static int lsp_span_cmp(const void *a, const void *b)
{
	const struct lsp_span *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* Sort r->before and merge what overlaps or touches (read locks of two
 * descriptions may overlap). A read and a write lock of the process
 * cannot overlap: if the kernel says so, trust none of it. */
static int lsp_spans_norm(struct lsp_res *r)
{
	struct lsp_span *v = r->before;
	size_t i, n = 0;

	if (!r->nbefore)
		return 0;
	qsort(v, r->nbefore, sizeof(*v), lsp_span_cmp);
	for (i = 1; i < r->nbefore; i++) {
		struct lsp_span *last = &v[n];
		bool touch =
		    last->end == INT64_MAX || v[i].start <= last->end + 1;

		if (touch && v[i].type == last->type) {
			if (v[i].end > last->end)
				last->end = v[i].end;
		} else if (last->end == INT64_MAX || v[i].start <= last->end) {
			return -EIO;
		} else {
			v[++n] = v[i];
		}
	}
	r->nbefore = n + 1;
	return 0;
}

static int lsp_span_add(struct lsp_res *r, int64_t start, int64_t end,
			short type)
{
	struct lsp_span *v;

	v = realloc(r->before, (r->nbefore + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	r->before = v;
	v[r->nbefore++] = (struct lsp_span){start, end, type};
	return 0;
}

/* The whole of a small /proc file; NULL and errno on failure. */
static char *lsp_slurp(const char *path)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap), *nb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0 || !buf)
		goto fail;
	while ((n = read(fd, buf + len, cap - 1 - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		len += (size_t)n;
		if (cap - 1 - len > 0)
			continue;
		nb = realloc(buf, cap * 2);
		if (!nb)
			goto fail;
		buf = nb;
		cap *= 2;
	}
	close(fd);
	buf[len] = 0;
	return buf;
fail:
	n = errno;
	if (fd >= 0)
		close(fd);
	free(buf);
	errno = (int)n;
	return NULL;
}

/* Add the POSIX and OFD lock lines of PROC/FD (PROC: an fdinfo
 * directory) to r->before:
 *   lock:	1: POSIX  ADVISORY  WRITE 1234 fe:00:5678 0 EOF */
static int lsp_fd_locks(const char *proc, int fd, struct lsp_res *r)
{
	char path[64], kind[16], type[16], end[32], *buf, *line, *save;
	long long start, e;
	int rc = 0;

	snprintf(path, sizeof(path), "%s/%d", proc, fd);
	buf = lsp_slurp(path);
	if (!buf)
		return errno == ENOENT ? 0 : -errno; /* closed meanwhile */
	for (line = strtok_r(buf, "\n", &save); line && !rc;
	     line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "lock:", 5) ||
		    sscanf(line + 5, "%*d: %15s", kind) != 1 ||
		    (strcmp(kind, "POSIX") && strcmp(kind, "OFDLCK")))
			continue; /* flock(2) locks and leases do not count */
		rc = -EIO;
		if (sscanf(line + 5, "%*d: %*s %*s %15s %*d %*s %lld %31s",
			   type, &start, end) != 3)
			break;
		e = strcmp(end, "EOF") ? strtoll(end, NULL, 10) : INT64_MAX;
		if (start < 0 || e < start ||
		    (strcmp(type, "READ") && strcmp(type, "WRITE")))
			break;
		rc = lsp_span_add(r, start, e,
				  strcmp(type, "READ") ? F_WRLCK : F_RDLCK);
	}
	free(buf);
	return rc;
}

/* Step 0: what the process holds on each file of ls, from every
 * descriptor of the process open on it. The lock owner is the calling
 * thread's descriptor table (another thread's, after unshare(CLONE_FILES)),
 * hence thread-self (Linux 3.17), or self before it. Opens only /proc. */
static int lsp_read_before(struct lockspace *ls)
{
	const char *proc = "/proc/thread-self/fdinfo";
	struct lst_table files;
	struct lst_file *f;
	struct lsp_res *r;
	struct dirent *e;
	struct stat st;
	DIR *d = NULL;
	int rc = 0;

	if (!ls->res)
		return 0;
	lst_table_init(&files);
	for (r = ls->res; r && !rc; r = r->hh.next)
		rc = lst_table_insert(&files, &r->reg);
	if (!rc) {
		d = opendir(proc);
		if (!d && errno == ENOENT) {
			proc = "/proc/self/fdinfo";
			d = opendir(proc);
		}
		if (!d)
			rc = -errno;
	}
	while (d && !rc) {
		char *endp;
		long fd;

		errno = 0;
		e = readdir(d);
		if (!e) {
			rc = -errno;
			break;
		}
		fd = strtol(e->d_name, &endp, 10);
		if (e->d_name[0] < '0' || e->d_name[0] > '9' || *endp ||
		    fd > INT_MAX || fd == dirfd(d) || fstat((int)fd, &st) < 0)
			continue;
		f = lst_table_find(&files, st.st_dev, st.st_ino);
		if (f)
			rc = lsp_fd_locks(proc, (int)fd, lsp_res_of(f));
	}
	if (d)
		closedir(d);
	lst_table_free(&files);
	for (r = ls->res; r && !rc; r = r->hh.next)
		rc = lsp_spans_norm(r);
	return rc;
}

/* The k-th part of the file that r->before leaves unlocked: 1 and
 * [*s, *e], or 0 when there are not that many. */
static int lsp_gap(const struct lsp_res *r, size_t k, int64_t *s, int64_t *e)
{
	int64_t pos = 0;
	size_t i;

	for (i = 0;; i++) {
		bool last = i == r->nbefore;

		if (last || r->before[i].start > pos) {
			if (!k--) {
				*s = pos;
				*e = last ? INT64_MAX : r->before[i].start - 1;
				return 1;
			}
		}
		if (last || r->before[i].end == INT64_MAX)
			return 0;
		pos = r->before[i].end + 1;
	}
}

/* Set type over every gap of r->before; on a refusal, unlock the gaps
 * set so far and return it. Never refused with F_UNLCK. */
static int lsp_gaps_set(struct lsp_res *r, short type)
{
	int64_t s, e;
	size_t k, j;
	int rc;

	for (k = 0; lsp_gap(r, k, &s, &e); k++) {
		rc = lsp_setlk(r->fd, type, s, e);
		if (rc && type != F_UNLCK) {
			for (j = 0; j < k && lsp_gap(r, j, &s, &e); j++)
				lsp_setlk(r->fd, F_UNLCK, s, e);
			return rc;
		}
	}
	return 0;
}

/* Set type again over each span of r->before that had it. */
static void lsp_spans_set(struct lsp_res *r, short type)
{
	size_t i;

	for (i = 0; i < r->nbefore; i++)
		if (r->before[i].type == type)
			lsp_setlk(r->fd, type, r->before[i].start,
				  r->before[i].end);
}

/* Step 2 for r: what can be refused, undone by lsp_undo(). */
static int lsp_redo(struct lsp_res *r)
{
	if (r->shared)
		return lsp_gaps_set(r, F_RDLCK);
	return lsp_lock_fd(r->fd, false);
}

/* Back to r->before after lsp_redo() (and, with downgraded, step 3). */
static void lsp_undo(struct lsp_res *r, bool downgraded)
{
	lsp_gaps_set(r, F_UNLCK);
	if (!r->shared)
		lsp_spans_set(r, F_RDLCK);
	else if (downgraded)
		lsp_spans_set(r, F_WRLCK); /* may be refused: best effort */
}

/* Adopt the checked resources (lsp_all_lock and lsp_reg_lock held): none
 * may be held by a lockspace of this process already. All or nothing, as
 * the section's comment says. */
static int lsp_adopt(struct lockspace *ls)
{
	struct lsp_res *r, *u;
	bool done;
	int rc = 0;
	size_t i;

	for (r = ls->res; r; r = r->hh.next)
		if (lst_table_find(&lsp_reg, r->reg.key.dev, r->reg.key.ino))
			return -EINVAL;
	rc = lsp_read_before(ls); /* step 0 */
	for (r = ls->res; r && !rc; r = r->hh.next)
		rc = lst_table_insert(&lsp_reg, &r->reg); /* step 1 */
	if (rc)
		goto out;
	for (r = ls->res; r; r = r->hh.next) { /* step 2 */
		rc = lsp_redo(r);
		if (rc)
			break;
	}
	if (rc) {
		for (u = ls->res; u != r; u = u->hh.next)
			lsp_undo(u, false);
		goto out;
	}
	for (r = ls->res; r; r = r->hh.next) { /* step 3 */
		rc = r->shared ? lsp_lock_fd(r->fd, true) : 0;
		if (rc)
			break;
	}
	if (rc) {
		done = true; /* step 3 done for those before r */
		for (u = ls->res; u; u = u->hh.next) {
			done = done && u != r;
			lsp_undo(u, done && u->shared);
		}
		goto out;
	}
	for (r = ls->res; r; r = r->hh.next) {
		fcntl(r->fd, F_SETFD, FD_CLOEXEC);
		for (i = 0; i < r->nspares; i++)
			fcntl(r->spares[i], F_SETFD, FD_CLOEXEC);
	}
out:
	for (r = ls->res; r; r = r->hh.next) {
		if (rc)
			lst_table_remove(&lsp_reg, &r->reg);
		free(r->before);
		r->before = NULL;
		r->nbefore = 0;
	}
	return rc;
}

LOCKSPACE_API struct lockspace *lockspace_import(const char *state)
{
	struct lockspace *ls;
	int rc = -EINVAL;

	if (!state) {
		errno = EINVAL;
		return NULL;
	}
	ls = lsp_alloc();
	if (!ls)
		return NULL;
	rc = lsp_parse(ls, state);
	if (!rc)
		rc = lsp_check(ls);
	if (!rc) {
		/* Listed in the same critical section as it adopts, so that
		 * a fork either comes before (the descriptors are still the
		 * caller's) or finds it listed (the child closes them). */
		pthread_mutex_lock(&lsp_all_lock);
		pthread_mutex_lock(&lsp_reg_lock);
		rc = lsp_adopt(ls);
		if (!rc)
			lsp_list_add(ls);
		pthread_mutex_unlock(&lsp_reg_lock);
		pthread_mutex_unlock(&lsp_all_lock);
	}
	if (rc) {
		/* Nothing was adopted: the descriptors stay the caller's. */
		lsp_free_list(ls->res);
		pthread_mutex_destroy(&ls->lock);
		free(ls->dir);
		free(ls);
		errno = -rc;
		return NULL;
	}
	return ls;
}
