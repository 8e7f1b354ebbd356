/*
 * shim/config.c: the policy, from the environment (the configuration file
 * is the observe/config issue's).
 */
#include "config.h"
#include "shim.h"

#include <stdlib.h>
#include <string.h>

static struct policy global = {.mode = MODE_PROTECT};

void config_init(void)
{
	const char *v = secure_getenv("LOCKSPACE_PRELOAD_MODE");

	if (v && !strcmp(v, "off"))
		global.mode = MODE_OFF;
	else if (v && !strcmp(v, "observe"))
		global.mode = MODE_OBSERVE;
	v = secure_getenv("LOCKSPACE_PRELOAD_CONFLICTS");
	if (v && !strcmp(v, "fd"))
		global.conflicts_fd = 1;
}

int config_mode(void)
{
	return global.mode;
}

void config_policy(const char *path, struct policy *p)
{
	(void)path;
	*p = global;
}
