/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/exec.h: locks survive exec (exec.c says how); the new image's
 * side is adopt.h.
 */
#ifndef LOCKSPACE_SHIM_EXEC_H
#define LOCKSPACE_SHIM_EXEC_H

#define HANDOFF_VAR "LOCKSPACE_PRELOAD_HANDOFF"
#define HANDOFF_ENV_MAX (120 * 1024) /* larger texts go in a memfd */
#define HANDOFF_MAX (64 << 20)
#define HANDOFF_MEMFD_NAME "lockspace-handoff"

/* One exec call, whichever function of the family the program called. */
enum exec_kind { X_EXECVE, X_EXECVPE, X_FEXECVE, X_EXECVEAT };

struct exec_call {
	enum exec_kind kind;
	int dirfd;        /* fexecve, execveat */
	const char *path; /* execve, execvpe, execveat */
	char *const *argv;
	int flags;        /* execveat */
};

/* Hand the table over, exec, and put everything back if exec returns
 * (its -1 and errno are returned unchanged). */
int exec_run(const struct exec_call *c, char *const envp[]);

#endif
