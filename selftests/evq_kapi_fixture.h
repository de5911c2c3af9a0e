/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixture "kapi", shared by evq_kapi_test.c and evq_kapi_guard_test.c: a
 * session on the test module and a blocking /dev/evq counter at 0, made
 * by evq_eventfd(). It tests evq's own API and has no native variant; its
 * one variant is called "evq", so that `-v evq` runs every evq case, as
 * for the other suites. Setup fails, never skips, without
 * /dev/evq_testmod.
 */
#ifndef EVQ_KAPI_FIXTURE_H
#define EVQ_KAPI_FIXTURE_H

#include <fcntl.h>
#include <sys/eventfd.h>

#include "evq.h"
#include "evq_kapi_common.h"

FIXTURE(kapi) {
	int tm;		/* a /dev/evq_testmod session */
	int fd;		/* a /dev/evq counter, count 0, blocking */
};

FIXTURE_VARIANT(kapi) {
	int unused;
};

FIXTURE_VARIANT_ADD(kapi, evq) {
	.unused = 0,
};

FIXTURE_SETUP(kapi)
{
	(void)variant;
	self->fd = -1;
	self->tm = tm_open(_metadata);
	self->fd = evq_eventfd(0, EFD_CLOEXEC);
	ASSERT_LE(0, self->fd) TH_LOG("evq_eventfd: %s", strerror(errno));
}

FIXTURE_TEARDOWN(kapi)
{
	if (self->fd >= 0)
		close(self->fd);
	if (self->tm >= 0)
		close(self->tm);
}

#endif /* EVQ_KAPI_FIXTURE_H */
