# SPDX-License-Identifier: GPL-2.0
#
# make               build evq.ko for the running kernel (KDIR=... for another)
# make run           boot a VM (KVER=6.12 default, or another lane of
#                    scripts/lanes), load evq, run the demo
# make check         lint, then every test on every lane of scripts/lanes:
#                    Debian's 6.1, 6.12 and 6.12 PREEMPT_RT kernels, its
#                    7.3 from trixie-backports, Debian 13 and 12 systems
#                    booted with systemd and evq installed by apt (the
#                    system lanes), the debug kernel (lockdep, KASAN,
#                    kmemleak, failslab) and the rt-kcsan kernel
#                    (PREEMPT_RT, lockdep, KCSAN, evq built in):
#                    "N passed, N failed". LANES="6.12 debug" picks lanes
#                    by name
# make check-fast    lint and the Debian kernels only (no kernel build, no
#                    system lanes)
# make check-debug   the built kernels only
# make lint          checkpatch, W=1 + sparse on the Debian kernels, the
#                    in-tree patch, userspace linters, man pages, doc links
# make shell         the same VM with evq loaded and a shell on the console
# make bench         benchmarks, native eventfd vs evq in one VM boot (KVER=)
# make fuzz          the random differential tester in one VM boot (KVER=,
#                    FUZZ_OPS=, FUZZ_SEEDS=, FUZZ_SEED=, FUZZ_THREADS=)
# make vmtest        a developer's shortcut: one VM (KVER=), evq loaded, only
#                    the test programs EVQ_ONLY="evq_lib_test ..." names
# make selftests     build the selftests for running on this machine
# make testmod       build selftests/kmod/evq_testmod.ko (the evq_kapi_* tests need it)
# make install       install evq.ko for the running kernel (then: modprobe evq)
#                    and the man pages (install-man)
# make install-man   docs/*.3 and docs/*.4 into $(DESTDIR)$(MANDIR)/man3, man4
#                    (MANDIR=$(PREFIX)/share/man, PREFIX=/usr/local)
# make dkms-install  register with DKMS so evq is rebuilt for new kernels
# make lib           libevq.so.1, libevq.a and evq.pc in $(BUILD)/libevq
# make install-lib   install them and the headers (PREFIX=/usr/local,
#                    LIBDIR, INCLUDEDIR, DESTDIR; see libevq/Makefile)
# make deb           Debian packages evq-dkms, libevq1, libevq-dev in
#                    $(BUILD)/deb (dpkg-buildpackage, then lintian)
# make clean         remove what `make` built; `make distclean` also ./build

KDIR ?= /lib/modules/$(shell uname -r)/build
BUILD ?= $(CURDIR)/build
VERSION := 0.2
DKMS_DIR := /usr/src/evq-$(VERSION)
PREFIX ?= /usr/local
MANDIR ?= $(PREFIX)/share/man

export BUILD

all: module

module:
	$(MAKE) -C $(KDIR) M=$(CURDIR) EVQ_VERSION=$(VERSION) modules

install: module install-man
	$(MAKE) -C $(KDIR) M=$(CURDIR) EVQ_VERSION=$(VERSION) modules_install
	depmod -a $(notdir $(patsubst %/build,%,$(KDIR)))

install-man:
	install -d $(DESTDIR)$(MANDIR)/man3 $(DESTDIR)$(MANDIR)/man4
	install -m 0644 docs/*.3 $(DESTDIR)$(MANDIR)/man3/
	install -m 0644 docs/*.4 $(DESTDIR)$(MANDIR)/man4/

dkms-install:
	rm -rf $(DKMS_DIR)
	mkdir -p $(DKMS_DIR)
	cp -r Kbuild module uapi $(DKMS_DIR)/
	sed 's/#MODULE_VERSION#/$(VERSION)/' scripts/dkms.conf.in > $(DKMS_DIR)/dkms.conf
	dkms add evq/$(VERSION)
	dkms build evq/$(VERSION)
	dkms install evq/$(VERSION)

dkms-uninstall:
	dkms remove evq/$(VERSION) --all
	rm -rf $(DKMS_DIR)

lib:
	$(MAKE) -C libevq OUT=$(BUILD)/libevq

install-lib:
	$(MAKE) -C libevq OUT=$(BUILD)/libevq install

deb:
	scripts/mkdeb.sh $(BUILD)

selftests:
	$(MAKE) -C selftests OUT=$(BUILD)/selftests \
		KSFT_DIR=$$(scripts/kernel-source.sh $(BUILD))/tools/testing/selftests

testmod: module
	$(MAKE) -C $(KDIR) M=$(CURDIR)/selftests/kmod \
		KBUILD_EXTRA_SYMBOLS=$(CURDIR)/Module.symvers modules

run:
	scripts/evq-vm.sh run

shell:
	scripts/evq-vm.sh shell

check:
	scripts/evq-vm.sh check

check-fast:
	scripts/evq-vm.sh check-fast

check-debug:
	scripts/evq-vm.sh check-debug

lint:
	scripts/evq-vm.sh lint

bench:
	scripts/evq-vm.sh bench

fuzz:
	scripts/evq-vm.sh fuzz

vmtest:
	scripts/evq-vm.sh vmtest

clean:
	rm -f evq.ko evq.mod evq.mod.c evq.mod.o evq.o module/*.o \
		modules.order Module.symvers .*.cmd module/.*.cmd \
		module/.*.o.d .module-common.o
	rm -rf .tmp_versions
	cd selftests/kmod && rm -f *.o *.ko *.mod *.mod.c .*.cmd \
		modules.order Module.symvers .module-common.o

distclean: clean
	rm -rf $(BUILD)

.PHONY: all module install install-man dkms-install dkms-uninstall lib install-lib \
	deb selftests testmod run shell \
	check check-fast check-debug lint bench fuzz vmtest clean distclean
