/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* tests/test_lockspace.c: the named-resource API of core/lockspace.c:
 * lifecycle, exclusive and shared holds, owners, busy in and out of the
 * process, autocreate, name checks, symlinks and FIFOs planted in the
 * directory, the exec handover and its all-or-nothing import, fork.
 * Other processes look at the kernel locks with the raw syscall
 * (tu_probe); a process's own locks are read from its fdinfo
 * (proc_locks_str). */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lockspace.h"
#include "util.h"

static char dir[64];

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/lockspace-ls-XXXXXX");
	cr_assert_not_null(tu_mkdtemp(dir));
}

/* tu_mkdtemp() removes dir when the test's process exits. */
TestSuite(lockspace, .init = setup);

static const char *at(const char *name)
{
	static __thread char buf[PATH_MAX];

	snprintf(buf, sizeof(buf), "%s/%s", dir, name);
	return buf;
}

static int exists(const char *name)
{
	struct stat st;

	return stat(at(name), &st) == 0;
}

/* The lock another process sees on the whole file (F_UNLCK, F_RDLCK,
 * F_WRLCK), and which pid holds it. */
static int seen(const char *path, pid_t *pid)
{
	return tu_probe(path, 0, 0, pid);
}

static void assert_held_by_me(const char *path, int type)
{
	pid_t pid = 0;

	cr_assert_eq(seen(path, &pid), type, "%s: lock %d, expected %d", path,
		     seen(path, NULL), type);
	cr_assert_eq(pid, getpid());
}

static void assert_free(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 && errno == ENOENT)
		return;
	cr_assert_eq(seen(path, NULL), F_UNLCK, "%s is still locked", path);
}

static int fd_count(void)
{
	DIR *dp = opendir("/proc/self/fd");
	int n = 0;

	cr_assert_not_null(dp);
	while (readdir(dp))
		n++;
	closedir(dp);
	return n;
}

static void touch(const char *path)
{
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);

	cr_assert_geq(fd, 0);
	close(fd);
}

/* The kernel's own account of the POSIX locks pid holds on path, sorted:
 * "W0-9 R20-EOF", "" for none. From the "lock:" lines of
 * /proc/PID/fdinfo/FD for each descriptor of pid open on path (each read
 * whole in one read(2), so consistent; /proc/locks is read in pages,
 * and other processes' locks changing meanwhile skip or repeat lines).
 * Opens only /proc. The string is static. */
struct plock {
	long long start;
	char line[48];
};

static int plock_cmp(const void *a, const void *b)
{
	const struct plock *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

static int plock_add(struct plock *pl, int n, long long start, const char *type,
		     const char *end)
{
	char line[48];
	int i;

	snprintf(line, sizeof(line), "%c%lld-%s",
		 strcmp(type, "WRITE") ? 'R' : 'W', start, end);
	for (i = 0; i < n; i++)
		if (!strcmp(pl[i].line, line))
			return n; /* a dup of the descriptor */
	cr_assert_lt(n, 32);
	pl[n].start = start;
	strcpy(pl[n].line, line);
	return n + 1;
}

static const char *proc_locks_str(const char *path, pid_t pid)
{
	static char out[1024], buf[65536];
	char p[PATH_MAX], kind[16], type[16], end[32], *line, *save;
	struct plock pl[32];
	struct stat st, fst;
	struct dirent *e;
	long long start;
	int n = 0, i, fd;
	ssize_t len;
	DIR *d;

	cr_assert_eq(lstat(path, &st), 0);
	snprintf(p, sizeof(p), "/proc/%d/fd", (int)pid);
	d = opendir(p);
	cr_assert_not_null(d);
	while ((e = readdir(d))) {
		snprintf(p, sizeof(p), "/proc/%d/fd/%s", (int)pid, e->d_name);
		if (e->d_name[0] == '.' || stat(p, &fst) < 0 ||
		    fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
			continue;
		snprintf(p, sizeof(p), "/proc/%d/fdinfo/%s", (int)pid,
			 e->d_name);
		fd = open(p, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		buf[len > 0 ? len : 0] = 0;
		for (line = strtok_r(buf, "\n", &save); line;
		     line = strtok_r(NULL, "\n", &save))
			if (sscanf(line,
				   "lock:\t%*d: %15s %*s %15s %*d %*s %lld "
				   "%31s",
				   kind, type, &start, end) == 4 &&
			    !strcmp(kind, "POSIX"))
				n = plock_add(pl, n, start, type, end);
	}
	closedir(d);
	qsort(pl, (size_t)n, sizeof(pl[0]), plock_cmp);
	out[0] = 0;
	for (i = 0; i < n; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, pl[i].line);
	}
	return out;
}

/* The type of the POSIX lock pid holds on the whole of path per
 * /proc/locks, F_UNLCK for none (and for anything else: a part). */
static int proc_lock_of(const char *path, pid_t pid)
{
	const char *l = proc_locks_str(path, pid);

	if (!strcmp(l, "W0-EOF"))
		return F_WRLCK;
	if (!strcmp(l, "R0-EOF"))
		return F_RDLCK;
	cr_assert_str_empty(l, "%s: unexpected locks %s", path, l);
	return F_UNLCK;
}

/* Another process holding a lock on path, taken with the raw syscall. */
struct holder {
	pid_t pid;
	int ctl;
};

static int holder_start(struct holder *h, const char *path, int type)
{
	int ready[2], ctl[2];
	char ok = 0;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(ctl), 0);
	h->pid = fork();
	cr_assert_geq(h->pid, 0);
	if (h->pid == 0) {
		struct flock fl = {.l_type = (short)type, .l_whence = SEEK_SET};
		int fd = (int)syscall(SYS_openat, AT_FDCWD, path,
				      type == F_WRLCK ? O_RDWR : O_RDONLY);

		close(ready[0]);
		close(ctl[1]);
		ok = fd >= 0 && syscall(SYS_fcntl, fd, F_SETLK, &fl) == 0;
		if (write(ready[1], &ok, 1) != 1 || read(ctl[0], &ok, 1) < 0)
			_exit(1);
		_exit(0);
	}
	close(ready[1]);
	close(ctl[0]);
	if (read(ready[0], &ok, 1) != 1)
		ok = 0;
	close(ready[0]);
	h->ctl = ctl[1];
	return ok ? 0 : -1;
}

static void holder_stop(struct holder *h)
{
	close(h->ctl);
	waitpid(h->pid, NULL, 0);
}

/* ---- new and free --------------------------------------------------- */

Test(lockspace, new_with_directory_creates_it_0700_and_names_it)
{
	char sub[PATH_MAX], *real;
	struct lockspace *ls;
	struct stat st;

	snprintf(sub, sizeof(sub), "%s/sub", dir);
	ls = lockspace_new(sub);
	cr_assert_not_null(ls);
	cr_assert_eq(stat(sub, &st), 0);
	cr_assert(S_ISDIR(st.st_mode));
	cr_assert_eq(st.st_mode & 07777, 0700);
	real = realpath(sub, NULL);
	cr_assert_str_eq(lockspace_dir(ls), real);
	free(real);
	lockspace_free(ls);
	ls = lockspace_new(sub); /* an existing directory is fine */
	cr_assert_not_null(ls);
	lockspace_free(ls);
}

Test(lockspace, new_without_directory_has_none)
{
	struct lockspace *ls = lockspace_new(NULL);

	cr_assert_not_null(ls);
	cr_assert_null(lockspace_dir(ls));
	lockspace_free(ls);
	lockspace_free(NULL);
}

Test(lockspace, new_refuses_empty_and_non_directory)
{
	touch(at("file"));
	errno = 0;
	cr_assert_null(lockspace_new(""));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(lockspace_new(at("file")));
	cr_assert_eq(errno, ENOTDIR);
}

/* ---- create and delete -------------------------------------------- */

Test(lockspace, create_delete_lifecycle_exists_missing)
{
	struct lockspace *ls = lockspace_new(dir);
	struct stat st;

	cr_assert_eq(lockspace_create_resource(ls, "r"), 0);
	cr_assert_eq(stat(at("r"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_eq(lockspace_create_resource(ls, "r"), -EEXIST);
	cr_assert_eq(lockspace_delete_resource(ls, "r"), 0);
	cr_assert(!exists("r"));
	cr_assert_eq(lockspace_delete_resource(ls, "r"), -ENOENT);
	lockspace_free(ls);
}

Test(lockspace, delete_held_here_is_busy_and_keeps_the_lock)
{
	struct lockspace *ls = lockspace_new(dir);
	struct lockspace *other = lockspace_new(dir);

	cr_assert_eq(lockspace_create_resource(ls, "r"), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), 0);
	cr_assert_eq(lockspace_delete_resource(ls, "r"), -EBUSY);
	/* Another lockspace must not open and close the file to find out. */
	cr_assert_eq(lockspace_delete_resource(other, "r"), -EBUSY);
	assert_held_by_me(at("r"), F_WRLCK);
	cr_assert(exists("r"));
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	cr_assert_eq(lockspace_delete_resource(other, "r"), 0);
	lockspace_free(other);
	lockspace_free(ls);
}

Test(lockspace, delete_held_by_another_process_is_busy)
{
	struct lockspace *ls = lockspace_new(dir);
	struct holder h;

	cr_assert_eq(lockspace_create_resource(ls, "r"), 0);
	cr_assert_eq(holder_start(&h, at("r"), F_RDLCK), 0);
	cr_assert_eq(lockspace_delete_resource(ls, "r"), -EBUSY);
	cr_assert(exists("r"));
	holder_stop(&h);
	cr_assert_eq(lockspace_delete_resource(ls, "r"), 0);
	lockspace_free(ls);
}

/* ---- exclusive ------------------------------------------------------ */

Test(lockspace, exclusive_is_busy_in_process_without_touching_the_kernel)
{
	struct lockspace *ls = lockspace_new(dir);
	struct lockspace *other = lockspace_new(dir);
	int n;

	touch(at("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), 0);
	n = fd_count();
	cr_assert_eq(lockspace_acquire(ls, "r", 2, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "r", 2, LOCKSPACE_SHARED), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(other, "r", 3, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(other, "r", 3, LOCKSPACE_SHARED),
		     -EBUSY);
	cr_assert_eq(lockspace_acquire(other, "r", 3, LOCKSPACE_AUTOCREATE),
		     -EBUSY);
	cr_assert_eq(fd_count(), n);
	/* Had any of them opened and closed the file, the lock would be
	 * gone. */
	assert_held_by_me(at("r"), F_WRLCK);
	lockspace_free(other);
	lockspace_free(ls);
}

Test(lockspace, exclusive_is_busy_when_another_process_holds_it)
{
	struct lockspace *ls = lockspace_new(dir);
	struct holder h;

	touch(at("r"));
	cr_assert_eq(holder_start(&h, at("r"), F_RDLCK), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	holder_stop(&h);
	cr_assert_eq(holder_start(&h, at("r"), F_WRLCK), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), -EBUSY);
	holder_stop(&h);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), 0);
	lockspace_free(ls);
}

Test(lockspace, exclusive_is_seen_by_others_and_released_on_free)
{
	struct lockspace *ls = lockspace_new(dir);
	struct holder h;

	touch(at("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), 0);
	assert_held_by_me(at("r"), F_WRLCK);
	cr_assert_eq(holder_start(&h, at("r"), F_RDLCK), -1);
	holder_stop(&h);
	lockspace_free(ls);
	assert_free(at("r"));
	cr_assert(exists("r")); /* not autocreated: kept */
}

Test(lockspace, acquire_of_missing_resource_without_autocreate_is_enoent)
{
	struct lockspace *ls = lockspace_new(dir);

	cr_assert_eq(lockspace_acquire(ls, "r", 1, 0), -ENOENT);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), -ENOENT);
	cr_assert(!exists("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, 1u << 7), -EINVAL);
	cr_assert_eq(lockspace_acquire(ls, "r", -1, 0), -EINVAL);
	lockspace_free(ls);
}

/* ---- exclusive autocreate ----------------------------------------- */

Test(lockspace, exclusive_autocreate_creates_and_deletes_on_release)
{
	struct lockspace *ls = lockspace_new(dir);
	struct stat st;

	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(stat(at("r"), &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	assert_held_by_me(at("r"), F_WRLCK);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	cr_assert(!exists("r"));
	/* also by release_owner and by free */
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_release_owner(ls, 1), 1);
	cr_assert(!exists("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	lockspace_free(ls);
	cr_assert(!exists("r"));
}

/* One process of the race: acquire and release "race" in a loop; each
 * time it wins, the file at the path must be the one it locked. */
static int race_loop(int rounds)
{
	struct lockspace *ls = lockspace_new(dir);
	int i, won = 0;

	for (i = 0; i < rounds; i++) {
		pid_t pid = 0;
		int rc = lockspace_acquire(ls, "race", getpid(),
					   LOCKSPACE_AUTOCREATE);

		if (rc == -EBUSY)
			continue;
		if (rc)
			return -1;
		won++;
		if (i % 8 == 0 &&
		    (seen(at("race"), &pid) != F_WRLCK || pid != getpid()))
			return -2;
		if (lockspace_release(ls, "race", getpid()))
			return -3;
	}
	lockspace_free(ls);
	return won;
}

Test(lockspace, exclusive_autocreate_survives_the_delete_recreate_race)
{
	pid_t child[2];
	int i, status, won;

	for (i = 0; i < 2; i++) {
		child[i] = fork();
		cr_assert_geq(child[i], 0);
		if (child[i] == 0)
			_exit(race_loop(2000) < 0 ? 1 : 0);
	}
	won = race_loop(2000);
	cr_assert_geq(won, 0, "race_loop failed: %d", won);
	for (i = 0; i < 2; i++) {
		cr_assert_eq(waitpid(child[i], &status, 0), child[i]);
		cr_assert(WIFEXITED(status) && !WEXITSTATUS(status));
	}
	cr_assert(!exists("race"));
}

/* ---- shared --------------------------------------------------------- */

Test(lockspace, shared_admits_several_owners_and_is_busy_for_exclusive)
{
	struct lockspace *ls = lockspace_new(dir);
	struct holder h;

	touch(at("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 2, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 3, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 2, LOCKSPACE_SHARED), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "r", 4, 0), -EBUSY);
	assert_held_by_me(at("r"), F_RDLCK);
	cr_assert_eq(holder_start(&h, at("r"), F_RDLCK), 0);
	holder_stop(&h);
	cr_assert_eq(holder_start(&h, at("r"), F_WRLCK), -1);
	holder_stop(&h);
	lockspace_free(ls);
	assert_free(at("r"));
}

Test(lockspace, shared_is_released_only_after_the_last_owner)
{
	struct lockspace *ls = lockspace_new(dir);

	touch(at("r"));
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 2, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	assert_held_by_me(at("r"), F_RDLCK);
	cr_assert_eq(lockspace_release(ls, "r", 1), -EPERM);
	cr_assert_eq(lockspace_release(ls, "r", 2), 0);
	assert_free(at("r"));
	cr_assert_eq(lockspace_release(ls, "r", 2), -ENOENT);
	lockspace_free(ls);
}

Test(lockspace, shared_autocreate_keeps_the_file)
{
	struct lockspace *ls = lockspace_new(dir);
	unsigned fl = LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE;

	cr_assert_eq(lockspace_acquire(ls, "r", 1, fl), 0);
	cr_assert(exists("r"));
	assert_held_by_me(at("r"), F_RDLCK);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	cr_assert(exists("r"));
	assert_free(at("r"));
	lockspace_free(ls);
}

/* ---- without a directory, owners, names ----------------------------- */

Test(lockspace, lock_by_absolute_path_without_directory)
{
	struct lockspace *ls = lockspace_new(NULL);
	struct lockspace *other = lockspace_new(NULL);
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s", at("abs"));
	cr_assert_eq(lockspace_acquire(ls, path, 1, LOCKSPACE_AUTOCREATE), 0);
	assert_held_by_me(path, F_WRLCK);
	cr_assert_eq(lockspace_acquire(other, path, 2, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "abs", 1, 0), -EINVAL);
	cr_assert_eq(lockspace_acquire(ls, "", 1, 0), -EINVAL);
	cr_assert_eq(lockspace_release(ls, path, 1), 0);
	assert_free(path);
	cr_assert(!exists("abs"));
	lockspace_free(other);
	lockspace_free(ls);
}

Test(lockspace, release_owner_releases_mixed_resources)
{
	struct lockspace *ls = lockspace_new(dir);
	unsigned sh = LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE;

	cr_assert_eq(lockspace_acquire(ls, "x", 7, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_acquire(ls, "both", 7, sh), 0);
	cr_assert_eq(lockspace_acquire(ls, "both", 8, sh), 0);
	cr_assert_eq(lockspace_acquire(ls, "mine", 7, sh), 0);
	cr_assert_eq(lockspace_acquire(ls, "theirs", 8, LOCKSPACE_AUTOCREATE),
		     0);
	cr_assert_eq(lockspace_release_owner(ls, 7), 3);
	assert_free(at("x"));
	cr_assert(!exists("x"));
	assert_held_by_me(at("both"), F_RDLCK);
	assert_free(at("mine"));
	assert_held_by_me(at("theirs"), F_WRLCK);
	cr_assert_eq(lockspace_release_owner(ls, 7), 0);
	cr_assert_eq(lockspace_release(ls, "both", 7), -EPERM);
	cr_assert_eq(lockspace_release_owner(ls, 8), 2);
	assert_free(at("both"));
	assert_free(at("theirs"));
	lockspace_free(ls);
}

Test(lockspace, bad_names_are_einval)
{
	struct lockspace *ls = lockspace_new(dir);
	char longname[NAME_MAX + 2];
	const char *bad[] = {"", ".", "..", "a/b", "/abs", "a/", longname,
			     NULL};
	int i;

	memset(longname, 'n', NAME_MAX + 1);
	longname[NAME_MAX + 1] = 0;
	for (i = 0; bad[i] || i == 0; i++) {
		const char *n = bad[i];

		cr_assert_eq(lockspace_create_resource(ls, n), -EINVAL, "%s", n);
		cr_assert_eq(lockspace_delete_resource(ls, n), -EINVAL, "%s", n);
		cr_assert_eq(lockspace_acquire(ls, n, 1, LOCKSPACE_AUTOCREATE),
			     -EINVAL, "%s", n);
		cr_assert_eq(lockspace_release(ls, n, 1), -EINVAL, "%s", n);
	}
	cr_assert_eq(lockspace_acquire(ls, NULL, 1, 0), -EINVAL);
	cr_assert_eq(lockspace_release(ls, NULL, 1), -EINVAL);
	/* NAME_MAX itself is a fine name */
	longname[NAME_MAX] = 0;
	cr_assert_eq(lockspace_acquire(ls, longname, 1, LOCKSPACE_AUTOCREATE),
		     0);
	lockspace_free(ls);
	ls = lockspace_new(NULL);
	cr_assert_eq(lockspace_acquire(ls, "relative", 1, 0), -EINVAL);
	cr_assert_eq(lockspace_create_resource(ls, "./x"), -EINVAL);
	lockspace_free(ls);
}

Test(lockspace, resource_that_is_not_a_regular_file_is_einval)
{
	struct lockspace *ls = lockspace_new(dir);

	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert_eq(mkdir(at("d"), 0700), 0);
	cr_assert_eq(lockspace_acquire(ls, "fifo", 1, LOCKSPACE_SHARED),
		     -EINVAL);
	cr_assert_eq(lockspace_acquire(ls, "d", 1, LOCKSPACE_SHARED), -EINVAL);
	lockspace_free(ls);
}

/* ---- symlinks and files that are not regular -------------------------
 * A lockspace directory may be shared with other users: a name must
 * never lead the resource API to another file (issue 17). */

static int is_symlink(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0 && S_ISLNK(st.st_mode);
}

/* rename(2) or link(2) of two names of the directory (at() has one
 * buffer). */
static int two_names(int (*fn)(const char *, const char *), const char *from,
		     const char *to)
{
	char a[PATH_MAX];

	snprintf(a, sizeof(a), "%s", at(from));
	return fn(a, at(to));
}

Test(lockspace, autocreate_does_not_follow_a_dangling_symlink)
{
	struct lockspace *ls = lockspace_new(dir);
	unsigned sh = LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE;

	/* B plants "r" -> "victim": an autocreate that followed it would
	 * create (and lock) the victim's path. */
	cr_assert_eq(two_names(symlink, "victim", "r"), 0);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE),
		     -ELOOP);
	cr_assert_eq(lockspace_acquire(ls, "r", 1, sh), -ELOOP);
	cr_assert(!exists("victim"));
	cr_assert_eq(lockspace_create_resource(ls, "r"), -EEXIST);
	cr_assert(!exists("victim"));
	cr_assert(is_symlink(at("r")));
	lockspace_free(ls);
}

Test(lockspace, acquire_does_not_lock_another_file_through_a_symlink)
{
	struct lockspace *ls = lockspace_new(dir);
	struct lockspace *abs = lockspace_new(NULL);
	char path[PATH_MAX];
	unsigned fl[] = {0, LOCKSPACE_SHARED, LOCKSPACE_AUTOCREATE,
			 LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE};
	size_t i;

	touch(at("a")); /* A's resource */
	cr_assert_eq(symlink("a", at("b")), 0);
	cr_assert_eq(symlink("..", at("up")), 0);
	cr_assert_eq(symlink("/etc", at("etc")), 0);
	for (i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		cr_assert_eq(lockspace_acquire(ls, "b", 1, fl[i]), -ELOOP,
			     "flags %u", fl[i]);
		cr_assert_eq(lockspace_acquire(ls, "up", 1, fl[i]), -ELOOP);
		cr_assert_eq(lockspace_acquire(ls, "etc", 1, fl[i]), -ELOOP);
		assert_free(at("a"));
	}
	/* nor delete through it: neither the link nor A's file */
	cr_assert_eq(lockspace_delete_resource(ls, "b"), -ELOOP);
	cr_assert(is_symlink(at("b")));
	cr_assert(exists("a"));
	/* without a directory, the last component of the path */
	snprintf(path, sizeof(path), "%s", at("b"));
	cr_assert_eq(lockspace_acquire(abs, path, 1, LOCKSPACE_AUTOCREATE),
		     -ELOOP);
	assert_free(at("a"));
	/* A can still take its own file */
	cr_assert_eq(lockspace_acquire(ls, "a", 1, 0), 0);
	assert_held_by_me(at("a"), F_WRLCK);
	lockspace_free(abs);
	lockspace_free(ls);
}

/* inotify tells whether anyone opened path while fn ran. */
static int opened_during(const char *path, void (*fn)(void *), void *arg)
{
	char buf[4096];
	int in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	ssize_t n;

	cr_assert_geq(in, 0);
	cr_assert_geq(inotify_add_watch(in, path, IN_OPEN), 0);
	fn(arg);
	n = read(in, buf, sizeof(buf));
	close(in);
	return n > 0;
}

static void try_fifo(void *arg)
{
	struct lockspace *ls = arg;
	unsigned sh = LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE;

	cr_assert_eq(lockspace_acquire(ls, "fifo", 1, LOCKSPACE_SHARED),
		     -EINVAL);
	cr_assert_eq(lockspace_acquire(ls, "fifo", 1, 0), -EINVAL);
	cr_assert_eq(lockspace_acquire(ls, "fifo", 1, sh), -EINVAL);
	cr_assert_eq(lockspace_delete_resource(ls, "fifo"), -EINVAL);
}

Test(lockspace, fifo_is_refused_without_being_opened)
{
	struct lockspace *ls = lockspace_new(dir);

	/* Opening a FIFO can block, or wake a writer that waits for a
	 * reader: the API must not open what is not a regular file. */
	cr_assert_eq(mkfifo(at("fifo"), 0600), 0);
	cr_assert(!opened_during(at("fifo"), try_fifo, ls));
	lockspace_free(ls);
}

Test(lockspace, release_does_not_unlink_what_replaced_the_file)
{
	struct lockspace *ls = lockspace_new(dir);

	/* Another file renamed over an exclusive autocreated resource: the
	 * release must not delete it. */
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	touch(at("other"));
	cr_assert_eq(two_names(rename, "other", "r"), 0);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	cr_assert(exists("r"));
	cr_assert_eq(unlink(at("r")), 0);
	/* Nor a symlink to our own file (through a hard link "keep"): the
	 * path no longer names the file we locked, only leads to it. */
	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(two_names(link, "r", "keep"), 0);
	cr_assert_eq(symlink("keep", at("tmp")), 0);
	cr_assert_eq(two_names(rename, "tmp", "r"), 0);
	cr_assert_eq(lockspace_release(ls, "r", 1), 0);
	cr_assert(is_symlink(at("r")));
	cr_assert(exists("keep"));
	lockspace_free(ls);
}

/* ---- threads, fork, descriptors ------------------------------------- */

static int inside;

static void *thread_loop(void *arg)
{
	struct lockspace *ls = arg;
	intptr_t bad = 0;
	int i, rc;

	for (i = 0; i < 3000; i++) {
		rc = lockspace_acquire(ls, "t", 1, LOCKSPACE_AUTOCREATE);
		if (rc == -EBUSY)
			continue;
		if (rc || __atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST) != 1)
			bad++;
		__atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
		if (lockspace_release(ls, "t", 1))
			bad++;
	}
	return (void *)bad;
}

Test(lockspace, threads_of_two_lockspaces_never_hold_together)
{
	struct lockspace *ls[3] = {lockspace_new(dir), lockspace_new(dir),
				   lockspace_new(dir)};
	pthread_t t[3];
	void *bad;
	int i;

	for (i = 0; i < 3; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, thread_loop, ls[i]),
			     0);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(pthread_join(t[i], &bad), 0);
		cr_assert_null(bad);
		lockspace_free(ls[i]);
	}
	cr_assert(!exists("t"));
}

Test(lockspace, fork_child_holds_none_of_the_locks)
{
	struct lockspace *ls = lockspace_new(dir);
	pid_t child, parent = getpid();
	int status;

	cr_assert_eq(lockspace_acquire(ls, "r", 1, LOCKSPACE_AUTOCREATE), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET};
		int fd = open(at("r"), O_RDWR);

		/* The kernel reports the parent's lock to the child. */
		if (fd < 0 || fcntl(fd, F_GETLK, &fl) < 0 ||
		    fl.l_type != F_WRLCK || fl.l_pid != parent)
			_exit(1);
		if (fcntl(fd, F_SETLK, &fl) == 0)
			_exit(2);
		close(fd);
		/* Freeing the inherited copy must not delete the parent's
		 * autocreated file. */
		lockspace_free(ls);
		if (!exists("r"))
			_exit(3);
		_exit(0);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	assert_held_by_me(at("r"), F_WRLCK);
	lockspace_free(ls);
	cr_assert(!exists("r"));
}

/* The child's half of fork_child_owns_none_of_the_parents_holds. */
static int fork_child(struct lockspace *ls, int fds_before, int ready[2],
		      int go[2])
{
	struct lockspace *mine;
	char c = 'R';

	close(ready[0]);
	close(go[1]);
	/* The copies of the parent's descriptors are gone (2, besides the
	 * two pipe ends): the child holds no lock for them to keep, and
	 * keeping them would be a trap (a later close, or exec's
	 * close-on-exec, would drop the child's own locks on those files). */
	if (fd_count() != fds_before - 4)
		return 1;
	/* The parent's holds are not the child's: nothing to release. */
	if (lockspace_release(ls, "x", 1) != -ENOENT ||
	    lockspace_release(ls, "s", 1) != -ENOENT ||
	    lockspace_release_owner(ls, 1) != 0)
		return 2;
	/* A lockspace of its own meets the parent as another process. */
	mine = lockspace_new(dir);
	if (!mine || lockspace_acquire(mine, "s", 2, LOCKSPACE_SHARED) != 0)
		return 3;
	if (lockspace_acquire(mine, "x", 2, 0) != -EBUSY ||
	    lockspace_acquire(mine, "x", 2, LOCKSPACE_SHARED) != -EBUSY)
		return 4;
	/* So does the parent's copy, now an empty lockspace of the child. */
	if (lockspace_acquire(ls, "x", 3, 0) != -EBUSY ||
	    lockspace_acquire(ls, "t", 3, LOCKSPACE_AUTOCREATE) != 0)
		return 5;
	if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0)
		return 6;
	lockspace_free(mine);
	lockspace_free(ls); /* deletes its own "t", nothing of the parent's */
	if (exists("t") || !exists("x"))
		return 7;
	return 0;
}

Test(lockspace, fork_child_owns_none_of_the_parents_holds)
{
	struct lockspace *ls = lockspace_new(dir);
	unsigned sh = LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE;
	int ready[2], go[2], status, before;
	pid_t child;
	char c;

	cr_assert_eq(lockspace_acquire(ls, "s", 1, sh), 0);
	cr_assert_eq(lockspace_acquire(ls, "x", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(pipe2(ready, O_CLOEXEC), 0);
	cr_assert_eq(pipe2(go, O_CLOEXEC), 0);
	before = fd_count();
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0)
		_exit(fork_child(ls, before, ready, go));
	close(ready[1]);
	close(go[0]);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(child, &status, 0);
		cr_assert_fail("child failed: %d", WEXITSTATUS(status));
	}
	/* The kernel: both hold "s" shared, "x" is the parent's alone. */
	cr_assert_eq(proc_lock_of(at("s"), child), F_RDLCK);
	cr_assert_eq(proc_lock_of(at("s"), getpid()), F_RDLCK);
	cr_assert_eq(proc_lock_of(at("x"), child), F_UNLCK);
	cr_assert_eq(proc_lock_of(at("t"), child), F_WRLCK);
	assert_held_by_me(at("x"), F_WRLCK);
	close(go[1]);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "child step %d failed",
		     WEXITSTATUS(status));
	/* and the parent's holds are as they were */
	assert_held_by_me(at("x"), F_WRLCK);
	cr_assert_eq(proc_lock_of(at("s"), getpid()), F_RDLCK);
	cr_assert_eq(lockspace_release(ls, "x", 1), 0);
	cr_assert(!exists("x"));
	lockspace_free(ls);
	assert_free(at("s"));
	close(ready[0]);
}

static int busy_stop;

static void *busy_loop(void *arg)
{
	struct lockspace *ls = arg;

	while (!__atomic_load_n(&busy_stop, __ATOMIC_RELAXED)) {
		if (lockspace_acquire(ls, "b", 1, LOCKSPACE_AUTOCREATE) == 0)
			lockspace_release(ls, "b", 1);
	}
	return NULL;
}

Test(lockspace, fork_while_another_thread_is_inside_the_lockspace)
{
	struct lockspace *ls = lockspace_new(dir);
	pthread_t t;
	int i, status;
	pid_t child;

	/* Whatever the other thread was doing when the process forked, the
	 * child finds the lockspace whole and unlocked, and empty. */
	cr_assert_eq(pthread_create(&t, NULL, busy_loop, ls), 0);
	for (i = 0; i < 200; i++) {
		child = fork();
		cr_assert_geq(child, 0);
		if (child == 0) {
			alarm(10); /* a mutex left locked would hang here */
			if (lockspace_acquire(ls, "c", 1,
					      LOCKSPACE_AUTOCREATE) != 0 ||
			    lockspace_release(ls, "b", 1) != -ENOENT)
				_exit(1);
			lockspace_free(ls);
			_exit(0);
		}
		cr_assert_eq(waitpid(child, &status, 0), child);
		cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			  "round %d: status %#x", i, status);
		cr_assert(!exists("c"));
	}
	__atomic_store_n(&busy_stop, 1, __ATOMIC_RELAXED);
	cr_assert_eq(pthread_join(t, NULL), 0);
	lockspace_free(ls);
	cr_assert(!exists("b"));
}

Test(lockspace, no_descriptor_is_leaked)
{
	int before = fd_count();
	struct lockspace *ls = lockspace_new(dir);
	struct lockspace *other = lockspace_new(dir);

	cr_assert_eq(lockspace_create_resource(ls, "c"), 0);
	cr_assert_eq(lockspace_acquire(ls, "a", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_acquire(other, "a", 1, 0), -EBUSY);
	cr_assert_eq(lockspace_acquire(ls, "c", 1, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "c", 2, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "nope", 1, 0), -ENOENT);
	cr_assert_eq(fd_count(), before + 2);
	cr_assert_eq(lockspace_release_owner(ls, 1), 2);
	cr_assert_eq(lockspace_delete_resource(other, "c"), -EBUSY);
	lockspace_free(ls);
	cr_assert_eq(lockspace_delete_resource(other, "c"), 0);
	lockspace_free(other);
	cr_assert_eq(fd_count(), before);
}

/* ---- export and import ---------------------------------------------- */

/* The exec'd half of export_exec_import_keeps_the_locks: runs before
 * Criterion's main when the state variable is set, and exits. */
static int import_side(const char *state)
{
	const char *d = getenv("LSTEST_DIR");
	int ready = atoi(getenv("LSTEST_READY") ?: "-1");
	int wait = atoi(getenv("LSTEST_WAIT") ?: "-1");
	struct lockspace *ls;
	char path[PATH_MAX], c = 'R';
	pid_t pid = 0;

	snprintf(path, sizeof(path), "%s/x", d ? d : "");
	/* The locks survived exec on their own, before any import. */
	if (tu_probe(path, 0, 0, &pid) != F_WRLCK || pid != getpid())
		return 10;
	ls = lockspace_import(state);
	if (!ls)
		return 11;
	if (!d || !lockspace_dir(ls) || strcmp(lockspace_dir(ls), d))
		return 12;
	if (lockspace_acquire(ls, "x", 5, 0) != -EBUSY ||
	    lockspace_acquire(ls, "s", 202, LOCKSPACE_SHARED) != 0)
		return 13;
	if (write(ready, &c, 1) != 1)
		return 14;
	while (read(wait, &c, 1) > 0)
		;
	if (lockspace_release(ls, "x", 100) != 0 ||
	    lockspace_release_owner(ls, 200) != 1 ||
	    lockspace_release(ls, "s", 201) != 0)
		return 15;
	lockspace_free(ls);
	return 0;
}

__attribute__((constructor)) static void import_side_main(void)
{
	const char *state = getenv("LSTEST_STATE");

	if (state)
		_exit(import_side(state));
}

static void export_and_exec(int ready, int wait)
{
	struct lockspace *ls = lockspace_new(dir);
	unsigned sh = LOCKSPACE_SHARED | LOCKSPACE_AUTOCREATE;
	char num[16], *state;

	if (!ls || lockspace_acquire(ls, "x", 100, LOCKSPACE_AUTOCREATE) ||
	    lockspace_acquire(ls, "s", 200, sh) ||
	    lockspace_acquire(ls, "s", 201, sh))
		_exit(20);
	state = lockspace_export(ls);
	if (!state)
		_exit(21);
	setenv("LSTEST_STATE", state, 1);
	setenv("LSTEST_DIR", lockspace_dir(ls), 1);
	snprintf(num, sizeof(num), "%d", ready);
	setenv("LSTEST_READY", num, 1);
	snprintf(num, sizeof(num), "%d", wait);
	setenv("LSTEST_WAIT", num, 1);
	execl("/proc/self/exe", "lockspace-tests", (char *)NULL);
	_exit(22);
}

Test(lockspace, export_exec_import_keeps_the_locks)
{
	int ready[2], wait[2], status;
	pid_t child, pid = 0;
	char c;

	cr_assert_eq(pipe(ready), 0);
	cr_assert_eq(pipe(wait), 0);
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		close(ready[0]);
		close(wait[1]);
		export_and_exec(ready[1], wait[0]);
	}
	close(ready[1]);
	close(wait[0]);
	if (read(ready[0], &c, 1) != 1) {
		waitpid(child, &status, 0);
		cr_assert_fail("import side failed: status %d",
			       WEXITSTATUS(status));
	}
	cr_assert_eq(seen(at("x"), &pid), F_WRLCK);
	cr_assert_eq(pid, child);
	cr_assert_eq(seen(at("s"), &pid), F_RDLCK);
	cr_assert_eq(pid, child);
	close(wait[1]);
	cr_assert_eq(waitpid(child, &status, 0), child);
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0);
	assert_free(at("x"));
	assert_free(at("s"));
	cr_assert(!exists("x"));
	cr_assert(exists("s"));
	close(ready[0]);
}

Test(lockspace, export_clears_close_on_exec_and_round_trips_names)
{
	struct lockspace *ls = lockspace_new(dir);
	char *state, *p;
	int fd;

	cr_assert_eq(lockspace_acquire(ls, "a b%\xc3\xa9", 3,
				       LOCKSPACE_AUTOCREATE),
		     0);
	state = lockspace_export(ls);
	cr_assert_not_null(state);
	cr_assert_not_null(strstr(state, "/a%20b%25%C3%A9\n"), "%s", state);
	p = strstr(state, "fd=");
	cr_assert_not_null(p);
	fd = atoi(p + 3);
	cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, 0);
	free(state);
	lockspace_free(ls);
}

static char *state_for(int fd, const char *shared, const char *owners,
		       const char *path)
{
	char *s;

	cr_assert_geq(asprintf(&s,
			       "lockspace/1\ndir %s\nresource fd=%d shared=%s "
			       "autocreate=0 owners=%s spares= path=%s\nend\n",
			       dir, fd, shared, owners, path),
		      0);
	return s;
}

static void assert_refused(const char *state)
{
	struct lockspace *ls;

	errno = 0;
	ls = lockspace_import(state);
	cr_assert_null(ls, "imported: %s", state);
	cr_assert_eq(errno, EINVAL, "errno %d for: %s", errno, state);
}

Test(lockspace, import_adopts_a_valid_state_and_restores_close_on_exec)
{
	struct lockspace *ls;
	char *s;
	int fd;

	touch(at("r"));
	fd = open(at("r"), O_RDWR);
	cr_assert_geq(fd, 0);
	s = state_for(fd, "0", "9", at("r"));
	ls = lockspace_import(s);
	cr_assert_not_null(ls, "errno %d", errno);
	cr_assert_str_eq(lockspace_dir(ls), dir);
	assert_held_by_me(at("r"), F_WRLCK);
	cr_assert_eq(fcntl(fd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	cr_assert_eq(lockspace_acquire(ls, "r", 9, 0), -EBUSY);
	/* the same state again: the file is held in this process */
	assert_refused(s);
	cr_assert_eq(lockspace_release(ls, "r", 9), 0);
	assert_free(at("r"));
	cr_assert_eq(fcntl(fd, F_GETFD), -1); /* released means closed */
	lockspace_free(ls);
	free(s);
}

Test(lockspace, import_refuses_states_that_do_not_match_the_system)
{
	char *s, other[PATH_MAX];
	int fd, ro, fd2, q2;

	touch(at("r"));
	touch(at("q"));
	fd = open(at("r"), O_RDWR | O_CLOEXEC);
	ro = open(at("r"), O_RDONLY | O_CLOEXEC);
	fd2 = open(at("q"), O_RDWR | O_CLOEXEC);
	cr_assert(fd >= 0 && ro >= 0 && fd2 >= 0);
	snprintf(other, sizeof(other), "%s", at("q"));
	/* fd of another file, closed fd, read-only fd for exclusive */
	assert_refused(s = state_for(fd, "0", "1", other));
	free(s);
	assert_refused(s = state_for(999, "0", "1", at("r")));
	free(s);
	assert_refused(s = state_for(ro, "0", "1", at("r")));
	free(s);
	/* an exclusive resource with two owners, duplicated owners */
	assert_refused(s = state_for(fd, "0", "1,2", at("r")));
	free(s);
	assert_refused(s = state_for(fd, "1", "1,2,1", at("r")));
	free(s);
	/* a path outside the directory, missing file */
	assert_refused(s = state_for(fd, "0", "1", "/etc/passwd"));
	free(s);
	assert_refused(s = state_for(fd, "0", "1", at("missing")));
	free(s);
	/* duplicated names, duplicated fds, the same file twice */
	cr_assert_geq(asprintf(&s, "lockspace/1\ndir %s\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares= path=%s/r\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares= path=%s/r\nend\n",
			       dir, fd, dir, ro, dir), 0);
	assert_refused(s);
	free(s);
	cr_assert_geq(asprintf(&s, "lockspace/1\ndir %s\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares=%d path=%s/r\nend\n",
			       dir, fd, fd, dir), 0);
	assert_refused(s);
	free(s);
	cr_assert_eq(link(other, at("r2")), 0); /* q and r2: one file */
	q2 = open(at("r2"), O_RDONLY | O_CLOEXEC);
	cr_assert_geq(q2, 0);
	cr_assert_geq(asprintf(&s, "lockspace/1\ndir %s\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares= path=%s/q\n"
			       "resource fd=%d shared=1 autocreate=0 owners=1 "
			       "spares= path=%s/r2\nend\n",
			       dir, fd2, dir, q2, dir), 0);
	assert_refused(s);
	free(s);
	/* nothing was adopted, nothing closed */
	assert_free(at("r"));
	cr_assert_geq(fcntl(fd, F_GETFD), 0);
	cr_assert_geq(fcntl(ro, F_GETFD), 0);
	close(fd);
	close(ro);
	close(fd2);
	close(q2);
}

/* ---- import is all or nothing (issue 16) ---------------------------- */

static char *state2(int fd1, const char *sh1, int fd2, const char *sh2)
{
	char *s;

	cr_assert_geq(asprintf(&s,
			       "lockspace/1\ndir %s\n"
			       "resource fd=%d shared=%s autocreate=0 owners=1 "
			       "spares= path=%s/a\n"
			       "resource fd=%d shared=%s autocreate=0 owners=1 "
			       "spares= path=%s/b\nend\n",
			       dir, fd1, sh1, dir, fd2, sh2, dir),
		      0);
	return s;
}

static void lock_range(int fd, short type, off_t start, off_t len)
{
	struct flock fl = {.l_type = type,
			   .l_whence = SEEK_SET,
			   .l_start = start,
			   .l_len = len};

	cr_assert_eq(fcntl(fd, F_SETLK, &fl), 0, "%m");
}

/* Refused with errno err, and the descriptors' flags are as before. */
static void assert_refused_with(const char *state, int err, int fa, int fb)
{
	int fla = fcntl(fa, F_GETFD), flb = fcntl(fb, F_GETFD);

	errno = 0;
	cr_assert_null(lockspace_import(state), "imported: %s", state);
	cr_assert_eq(errno, err, "errno %d, expected %d", errno, err);
	cr_assert_eq(fcntl(fa, F_GETFD), fla);
	cr_assert_eq(fcntl(fb, F_GETFD), flb);
}

/* Nothing of a or b in the registry: another lockspace takes both. */
static void assert_not_registered(void)
{
	struct lockspace *ls = lockspace_new(dir);

	cr_assert_eq(lockspace_acquire(ls, "a", 1, LOCKSPACE_SHARED), 0);
	cr_assert_eq(lockspace_acquire(ls, "b", 1, LOCKSPACE_SHARED), 0);
	/* no release: its close would drop the test's own locks on a */
	lockspace_free(ls);
}

/* Files a and b, each open for writing; another process reads b, so
 * that a write lock on b is refused by the kernel. */
static void two_files(int *fa, int *fb, struct holder *h)
{
	touch(at("a"));
	touch(at("b"));
	*fa = open(at("a"), O_RDWR);
	*fb = open(at("b"), O_RDWR);
	cr_assert(*fa >= 0 && *fb >= 0);
	cr_assert_eq(holder_start(h, at("b"), F_RDLCK), 0);
}

Test(lockspace, import_refused_by_the_kernel_on_the_second_file_takes_nothing)
{
	struct lockspace *ls;
	struct holder h;
	const char *sh[] = {"0", "1"};
	char *s;
	int fa, fb, i;

	two_files(&fa, &fb, &h);
	for (i = 0; i < 2; i++) {
		/* a (exclusive, then shared) is new to the process: a lock
		 * taken on it must be given back when b is refused */
		s = state2(fa, sh[i], fb, "0");
		assert_refused_with(s, EBUSY, fa, fb);
		free(s);
		cr_assert_eq(proc_lock_of(at("a"), getpid()), F_UNLCK);
		assert_free(at("a"));
		cr_assert_eq(proc_lock_of(at("b"), getpid()), F_UNLCK);
		assert_not_registered();
	}
	holder_stop(&h);
	/* the same state goes through once nobody is in the way */
	s = state2(fa, "0", fb, "0");
	ls = lockspace_import(s);
	cr_assert_not_null(ls, "%m");
	assert_held_by_me(at("a"), F_WRLCK);
	assert_held_by_me(at("b"), F_WRLCK);
	lockspace_free(ls);
	free(s);
}

Test(lockspace, import_that_fails_keeps_a_write_lock_it_would_have_downgraded)
{
	struct lockspace *ls;
	struct holder h;
	char *s;
	int fa, fb;

	two_files(&fa, &fb, &h);
	lock_range(fa, F_WRLCK, 0, 0);
	s = state2(fa, "1", fb, "0");
	assert_refused_with(s, EBUSY, fa, fb);
	cr_assert_eq(proc_lock_of(at("a"), getpid()), F_WRLCK);
	assert_held_by_me(at("a"), F_WRLCK);
	holder_stop(&h);
	/* and when it succeeds, the state's word goes: shared */
	ls = lockspace_import(s);
	cr_assert_not_null(ls, "%m");
	cr_assert_eq(proc_lock_of(at("a"), getpid()), F_RDLCK);
	cr_assert_eq(proc_lock_of(at("b"), getpid()), F_WRLCK);
	lockspace_free(ls);
	free(s);
}

Test(lockspace, import_that_fails_keeps_a_read_lock_it_would_have_upgraded)
{
	struct holder h;
	char *s;
	int fa, fb;

	two_files(&fa, &fb, &h);
	lock_range(fa, F_RDLCK, 0, 0);
	s = state2(fa, "0", fb, "0");
	assert_refused_with(s, EBUSY, fa, fb);
	cr_assert_eq(proc_lock_of(at("a"), getpid()), F_RDLCK);
	/* another process can still read a: it was not upgraded */
	holder_stop(&h);
	cr_assert_eq(holder_start(&h, at("a"), F_RDLCK), 0);
	holder_stop(&h);
	free(s);
	close(fa);
	close(fb);
}

Test(lockspace, import_that_fails_restores_ranges_exactly)
{
	const char *sh[] = {"0", "1"};
	struct holder h;
	char *s;
	int fa, fb, i;

	/* What the process held on a by other means, in pieces: a failed
	 * import must give back exactly that, not "nothing", not all. */
	two_files(&fa, &fb, &h);
	lock_range(fa, F_WRLCK, 0, 10);
	lock_range(fa, F_RDLCK, 20, 10);
	lock_range(fa, F_WRLCK, 100, 0);
	for (i = 0; i < 2; i++) {
		s = state2(fa, sh[i], fb, "0");
		assert_refused_with(s, EBUSY, fa, fb);
		free(s);
		cr_assert_str_eq(proc_locks_str(at("a"), getpid()),
				 "W0-9 R20-29 W100-EOF");
	}
	holder_stop(&h);
	close(fa);
	close(fb);
}

Test(lockspace, import_refused_for_a_file_held_here_takes_nothing)
{
	struct lockspace *other = lockspace_new(dir);
	char *s;
	int fa, fb;

	/* b is held by another lockspace of the process: refused before any
	 * lock is taken */
	touch(at("a"));
	touch(at("b"));
	cr_assert_eq(lockspace_acquire(other, "b", 1, 0), 0);
	fa = open(at("a"), O_RDWR);
	fb = open(at("b"), O_RDWR);
	cr_assert(fa >= 0 && fb >= 0);
	s = state2(fa, "0", fb, "0");
	assert_refused_with(s, EINVAL, fa, fb);
	free(s);
	cr_assert_eq(proc_lock_of(at("a"), getpid()), F_UNLCK);
	assert_held_by_me(at("b"), F_WRLCK);
	close(fa);
	lockspace_free(other); /* fb's close would drop b: free first */
	close(fb);
	assert_not_registered();
}

Test(lockspace, import_refused_on_a_shared_file_gives_back_the_exclusive_one)
{
	struct holder h;
	char *s;
	int fa, fb;

	/* The refusal comes while adding a read lock to b (another process
	 * writes it), after a's write lock was taken. */
	touch(at("a"));
	touch(at("b"));
	fa = open(at("a"), O_RDWR);
	fb = open(at("b"), O_RDONLY);
	cr_assert(fa >= 0 && fb >= 0);
	cr_assert_eq(holder_start(&h, at("b"), F_WRLCK), 0);
	s = state2(fa, "0", fb, "1");
	assert_refused_with(s, EBUSY, fa, fb);
	free(s);
	cr_assert_eq(proc_lock_of(at("a"), getpid()), F_UNLCK);
	assert_free(at("a"));
	holder_stop(&h);
	assert_not_registered();
	close(fa);
	close(fb);
}

Test(lockspace, import_without_proc_fails_and_takes_nothing)
{
	int fa, fb, status;
	pid_t child;
	char *s;

	/* Without /proc the process cannot learn what it holds, so it could
	 * not give it back: import refuses before it changes anything. */
	if (geteuid() != 0)
		cr_skip_test("needs root: a mount namespace without /proc");
	touch(at("a"));
	touch(at("b"));
	fa = open(at("a"), O_RDWR);
	fb = open(at("b"), O_RDWR);
	cr_assert(fa >= 0 && fb >= 0);
	s = state2(fa, "0", fb, "0");
	child = fork();
	cr_assert_geq(child, 0);
	if (child == 0) {
		if (unshare(CLONE_NEWNS) < 0 ||
		    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
		    mount("none", "/proc", "tmpfs", 0, NULL) < 0)
			_exit(77);
		errno = 0;
		if (lockspace_import(s) || errno != ENOENT)
			_exit(1);
		if (seen(at("a"), NULL) != F_UNLCK ||
		    seen(at("b"), NULL) != F_UNLCK)
			_exit(2);
		if (fcntl(fa, F_GETFD) != 0 || fcntl(fb, F_GETFD) != 0)
			_exit(3);
		_exit(0);
	}
	cr_assert_eq(waitpid(child, &status, 0), child);
	free(s);
	close(fa);
	close(fb);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 77)
		cr_skip_test("no mount namespace here");
	cr_assert(WIFEXITED(status));
	cr_assert_eq(WEXITSTATUS(status), 0, "step %d", WEXITSTATUS(status));
}

Test(lockspace, import_refuses_a_path_that_is_a_symlink)
{
	char *s;
	int fd;

	/* The fd is of the file the link leads to, but the resource API
	 * never follows a link (acquire would refuse it: -ELOOP). */
	touch(at("a"));
	cr_assert_eq(symlink("a", at("l")), 0);
	fd = open(at("a"), O_RDWR | O_CLOEXEC);
	cr_assert_geq(fd, 0);
	assert_refused(s = state_for(fd, "0", "1", at("l")));
	free(s);
	assert_free(at("a"));
	cr_assert_geq(fcntl(fd, F_GETFD), 0);
	close(fd);
}

Test(lockspace, import_refuses_garbage_truncations_and_huge_numbers)
{
	static const char *const garbage[] = {
		"", "lockspace/1", "lockspace/1\n", "lockspace/2\ndir -\nend\n",
		"lockspace/1\ndir -\nend", "lockspace/1\ndir -\nend\nx",
		"lockspace/1\ndir \nend\n", "lockspace/1\ndir relative\nend\n",
		"lockspace/1\ndir /tmp/%\nend\n",
		"lockspace/1\ndir /tmp/%0\nend\n",
		"lockspace/1\ndir /tmp/%00\nend\n",
		"lockspace/1\ndir /tmp/%zz\nend\n",
		"lockspace/1\ndir /tmp\x01\nend\n",
		"lockspace/1\ndir -\nresource fd=99999999999999999999999 "
		"shared=0 autocreate=0 owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=2147483648 shared=0 "
		"autocreate=0 owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=-1 shared=0 autocreate=0 "
		"owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=01 shared=0 autocreate=0 "
		"owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=2 autocreate=0 "
		"owners=1 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=0 autocreate=0 "
		"owners= spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=0 autocreate=0 "
		"owners=4294967297 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=1 autocreate=0 "
		"owners=1,,2 spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=1 autocreate=0 "
		"owners=1, spares= path=/x\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=0 autocreate=0 "
		"owners=1 spares= path=relative\nend\n",
		"lockspace/1\ndir -\nresource fd=0 shared=0 autocreate=0 "
		"owners=1 spares= path=\nend\n",
		NULL,
	};
	static const char flips[] = "09 \n%,-=x\x01\xff";
	struct lockspace *ls = lockspace_new(dir);
	char *state, *copy, huge[3 * PATH_MAX];
	size_t i, j, len;

	for (i = 0; garbage[i]; i++)
		assert_refused(garbage[i]);
	memset(huge, 'a', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = 0;
	memcpy(huge, "lockspace/1\ndir /", 17);
	assert_refused(huge);
	errno = 0;
	cr_assert_null(lockspace_import(NULL));
	cr_assert_eq(errno, EINVAL);

	cr_assert_eq(lockspace_acquire(ls, "x", 1, LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_acquire(ls, "s", 1, LOCKSPACE_SHARED |
					   LOCKSPACE_AUTOCREATE), 0);
	cr_assert_eq(lockspace_acquire(ls, "s", 2, LOCKSPACE_SHARED), 0);
	state = lockspace_export(ls);
	cr_assert_not_null(state);
	len = strlen(state);
	copy = malloc(len + 1);
	/* every truncation, and every byte changed to a few others: all
	 * refused (the whole state too: its files are held here) */
	for (i = 0; i <= len; i++) {
		memcpy(copy, state, i);
		copy[i] = 0;
		assert_refused(copy);
	}
	for (i = 0; i < len; i++) {
		for (j = 0; j < sizeof(flips) - 1; j++) {
			memcpy(copy, state, len + 1);
			copy[i] = flips[j];
			assert_refused(copy);
		}
	}
	free(copy);
	free(state);
	/* and none of it touched our locks */
	assert_held_by_me(at("x"), F_WRLCK);
	assert_held_by_me(at("s"), F_RDLCK);
	lockspace_free(ls);
}
