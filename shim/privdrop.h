/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * shim/privdrop.h: anchors opened before a process gives up the right to
 * open its files again.
 *
 * An anchor is a reopen of the program's file (anchor.h). A daemon that
 * opens a file as root and locks it after setuid() to an unprivileged
 * user (Apache's children lock the accept mutex APR made as root, 0600,
 * through the descriptor they inherited) can no longer reopen it: the
 * file fell back to plain POSIX locks. An anchor that shares the
 * program's own open file description (a dup) needs no reopen, but an
 * inherited description is shared with the parent and the siblings: OFD
 * locks on it would not exclude the siblings from each other, and would
 * outlive the process that took them while the others keep the
 * description open. So the reopen is done while it still can be: just
 * before a call that takes root's effective uid away (setuid, seteuid,
 * setreuid, setresuid to a nonzero uid), each regular file the process
 * holds a descriptor of that the new uid could not open again with the
 * descriptor's access (its mode bits against the new uid, the current
 * gid and groups), and that is neither open for appending (a log) nor
 * a standard stream, gets its anchor now, read-only or for writing as
 * the descriptor allows, and the descriptor becomes its holder: the
 * state of a file locked and unlocked through that descriptor (at most
 * 64 files at one call: each anchor takes a descriptor of the program's). The anchor lives as such an anchor does: it
 * closes with the holder's last descriptor, at exec, and in a fork child.
 * A held file's read-only anchor is reopened for writing then, for a
 * write lock to come.
 */
#ifndef LOCKSPACE_SHIM_PRIVDROP_H
#define LOCKSPACE_SHIM_PRIVDROP_H

#include <sys/types.h>

enum privdrop_call {
	PD_SETUID,
	PD_SETEUID,
	PD_SETREUID,
	PD_SETRESUID,
};

/* The call (arguments as the libc function takes them; -1 unused), with
 * the anchors opened first when it takes root's effective uid away. */
int privdrop(enum privdrop_call call, uid_t a, uid_t b, uid_t c);

#endif
