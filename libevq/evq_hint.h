/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * What to tell someone whose open of the evq device failed. Shared by the
 * demo and the LD_PRELOAD interposer; not part of the installed library.
 */
#ifndef EVQ_HINT_H
#define EVQ_HINT_H

#include <errno.h>
#include <stddef.h>

/**
 * evq_open_hint() - advice for an errno from opening the evq device
 * @err: the errno of the failed open(2)
 *
 * Returns a sentence that says what to do, or NULL when there is none.
 */
static inline const char *evq_open_hint(int err)
{
	switch (err) {
	case ENOENT:		/* no device node */
	case ENODEV:		/* a stale node, no driver behind it */
	case ENXIO:
		return "the evq kernel module is not loaded: load it with "
		       "'sudo modprobe evq' (after make install, or with the "
		       "evq-dkms package) or 'sudo insmod evq.ko' (in the "
		       "source tree, after make)";
	case EACCES:
	case EPERM:
		return "check the permissions of the device node "
		       "(evq creates /dev/evq with mode 0666)";
	default:
		return NULL;
	}
}

#endif /* EVQ_HINT_H */
