# SPDX-License-Identifier: GPL-2.0
#
# lm: live migration of KVM virtual machines, done in the kernel.
#
#   make              build lm.ko, the tools, the selftests and benchmarks
#   make check        run the selftests in the lab VMs (TESTS="a b" for some)
#   make check-full   the same with the figure-producing matrices too
#   make lab          interactive shell in the lab VM
#   make demo         the demo, in the lab VM
#   make bench        run the benchmarks in the lab VM (TESTS="a b" for some)
#   make checkpatch   kernel coding style of kmod/ and uapi/
#   make deps         install the Debian packages all of this needs
#   make install      lm.ko, lmctl, its man page and the uapi headers
#   make uninstall    remove exactly what 'make install' installed
#   make install-dkms the module's source, for DKMS, in /usr/src/lm-VERSION
#   make check-packaging  build, lint, install and remove the Debian packages
#
# The module is built against the lab kernel's headers (KDIR, found under
# /usr/src; never the running kernel's), userspace into build/. See
# Documentation/development.rst and, for installing, Documentation/install.rst.

LAB		:= $(CURDIR)/selftests/lab
BUILD		:= $(CURDIR)/build

# Evaluated once, on first use: after 'make deps' has run.
KDIR		?= $(eval KDIR := $$(shell $(LAB)/kver.sh --kdir))$(KDIR)
# Debian's headers directory names the release (kernel.release in it does
# not); a kernel build tree names it in include/config/kernel.release.
KVER		?= $(eval KVER := $$(if $$(filter linux-headers-%,$$(notdir $$(KDIR))),$$(patsubst \
		   linux-headers-%,%,$$(notdir $$(KDIR))),$$(shell cat $$(KDIR)/include/config/kernel.release)))$(KVER)

# kselftest's harness and checkpatch come from the kernel source tarball.
LINUX_SRC_TAR	?= $(firstword $(wildcard /usr/src/linux-source-6.1.tar.xz /usr/src/linux-source-*.tar.xz))
LINUX_SRC	:= $(BUILD)/linux-src
KSFT_INC	:= $(LINUX_SRC)/tools/testing/selftests
CHECKPATCH	:= $(LINUX_SRC)/scripts/checkpatch.pl
LINUX_SRC_FILES	:= tools/testing/selftests/kselftest.h \
		   tools/testing/selftests/kselftest_harness.h \
		   scripts/checkpatch.pl scripts/spelling.txt \
		   scripts/const_structs.checkpatch

# Userspace directories in dependency order; those without a Makefile yet
# are skipped.
SUBDIRS		:= $(patsubst %/Makefile,%,$(wildcard $(addsuffix /Makefile, \
		   userspace/lib userspace/lmctl userspace/lmvm selftests bench)))
SUBMAKE		= $(MAKE) --no-print-directory BUILD=$(BUILD) KSFT_INC=$(KSFT_INC)

# Builds run in parallel unless the caller chose a -j of their own.
JOBS		:= $(if $(filter -j%,$(MAKEFLAGS)),,-j$(shell nproc))

.PHONY: all module userspace l2-guest check check-full bench lab demo lab-run checkpatch deps clean \
	lmctl install install-lmctl install-headers install-module uninstall \
	install-dkms uninstall-dkms check-packaging

all: module userspace

module:
	@test -d "$(KDIR)" || { echo "no kernel headers (KDIR='$(KDIR)'); run 'make deps'" >&2; exit 1; }
	$(MAKE) $(JOBS) -C $(KDIR) M=$(CURDIR) modules

userspace: $(LINUX_SRC)/.stamp
	@set -e; for dir in $(SUBDIRS); do $(SUBMAKE) -C $$dir; done

$(LINUX_SRC)/.stamp: $(LINUX_SRC_TAR)
	@test -f "$(LINUX_SRC_TAR)" || { echo "no linux-source tarball under /usr/src; run 'make deps'" >&2; exit 1; }
	rm -rf $(LINUX_SRC)
	mkdir -p $(LINUX_SRC)
	tar -xJf $(LINUX_SRC_TAR) -C $(LINUX_SRC) --strip-components=1 \
		--wildcards $(addprefix '*/,$(addsuffix ',$(LINUX_SRC_FILES)))
	touch $@

# The lab targets install what they need first, then build, then boot the
# lab: each step in its own make so that 'make -j' keeps the order and KDIR
# is looked up after the packages are there.
check check-full bench lab demo:
	@$(MAKE) --no-print-directory deps
	@$(MAKE) --no-print-directory $(JOBS) all
	@$(MAKE) --no-print-directory lab-run LAB_MODE=$(if $(filter lab,$@),shell,$@)

lab-run:
	@BUILD=$(BUILD) LM_KO=$(CURDIR)/lm.ko KVER=$(KVER) TESTS="$(TESTS)" \
		$(LAB)/run.sh $(LAB_MODE)

deps:
	@$(LAB)/deps.sh

# The L2 Linux guest of the lab's own QEMU (selftests/l2_boot_test.sh): a
# minimal kernel and a busybox initramfs, kept in build/l2 and rebuilt
# only when selftests/lab/l2-kernel.config or the kernel source changes.
l2-guest:
	@$(LAB)/deps.sh flex bison bc libelf-dev
	@$(LAB)/l2-guest.sh $(BUILD)/l2

# kmod/compat.h is the one place allowed to test LINUX_VERSION_CODE: it is
# where version-dependent calls are kept away from the rest of the module.
CHECKPATCH_FLAGS := --no-tree --terse --show-types
checkpatch: $(LINUX_SRC)/.stamp
	@files=$$(find kmod uapi -name '*.[ch]' ! -path kmod/compat.h | LC_ALL=C sort); \
	$(CHECKPATCH) $(CHECKPATCH_FLAGS) -f $$files && \
	{ ! test -f kmod/compat.h || \
	  $(CHECKPATCH) $(CHECKPATCH_FLAGS) --ignore LINUX_VERSION_CODE -f kmod/compat.h; } && \
	echo "checkpatch: kmod/ and uapi/ clean"

clean:
	@if [ -d "$(KDIR)" ]; then $(MAKE) -C $(KDIR) M=$(CURDIR) clean; fi
	rm -rf $(BUILD)

# --- Installing. kmod/version.h holds the one version (scripts/version.sh).
VERSION		= $(shell $(CURDIR)/scripts/version.sh)
PREFIX		?= /usr/local
SBINDIR		?= $(PREFIX)/sbin
MANDIR		?= $(PREFIX)/share/man
INCLUDEDIR	?= $(PREFIX)/include
# Where modules not shipped with the kernel go; depmod ranks it above the
# kernel's own directory.
MODDIR		= /lib/modules/$(KVER)/updates
DKMS_SRCDIR	= /usr/src/lm-$(VERSION)
# What DKMS needs to build the module, no more (not the objects of an
# in-tree build, nor this Makefile, which the lab needs).
DKMS_FILES	:= Kbuild dkms.conf $(shell cd $(CURDIR) && find kmod uapi -name '*.[ch]' | LC_ALL=C sort)

INSTALLED	= $(SBINDIR)/lmctl $(MANDIR)/man8/lmctl.8 \
		  $(INCLUDEDIR)/linux/lm.h $(INCLUDEDIR)/linux/lm_wire.h \
		  $(MODDIR)/lm.ko

# Running depmod in a staging directory (DESTDIR) would index the wrong tree.
DEPMOD		= $(if $(DESTDIR),,depmod -a $(KVER))

lmctl:
	@$(SUBMAKE) -C userspace/lmctl

install: install-lmctl install-headers install-module

install-lmctl: lmctl
	install -D -m 0755 $(BUILD)/bin/lmctl $(DESTDIR)$(SBINDIR)/lmctl
	install -D -m 0644 Documentation/lmctl.8 $(DESTDIR)$(MANDIR)/man8/lmctl.8

install-headers:
	install -D -m 0644 uapi/linux/lm.h $(DESTDIR)$(INCLUDEDIR)/linux/lm.h
	install -D -m 0644 uapi/linux/lm_wire.h $(DESTDIR)$(INCLUDEDIR)/linux/lm_wire.h

# lm.ko goes to the kernel it was built for: KVER must be the release of
# KDIR, which a module built for another kernel does not match. (modinfo
# is in /usr/sbin, which a user's PATH may lack for a DESTDIR install.)
install-module: module
	@built=$$(PATH=$$PATH:/usr/sbin:/sbin modinfo -F vermagic lm.ko | cut -d' ' -f1); \
	test "$$built" = "$(KVER)" || { echo "lm.ko is built for '$$built', not KVER=$(KVER)" >&2; exit 1; }
	install -D -m 0644 lm.ko $(DESTDIR)$(MODDIR)/lm.ko
	$(DEPMOD)

# include/linux and the kernel's updates/ go too when lm's were their last files.
uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	@for d in $(DESTDIR)$(INCLUDEDIR)/linux $(DESTDIR)$(MODDIR); do \
		[ ! -d $$d ] || rmdir --ignore-fail-on-non-empty $$d; done
	$(DEPMOD)

# For 'dkms install lm/VERSION' from a checkout: 'dkms add .' would copy
# the whole tree, build/ and objects included.
install-dkms:
	@$(CURDIR)/scripts/version.sh --check >/dev/null
	@set -e; for f in $(DKMS_FILES); do \
		echo "install $$f $(DESTDIR)$(DKMS_SRCDIR)/$$f"; \
		install -D -m 0644 $$f $(DESTDIR)$(DKMS_SRCDIR)/$$f; \
	done

# DKMS first forgets the module (and removes what it built and installed),
# then its source goes.
uninstall-dkms:
	@if [ -z "$(DESTDIR)" ] && command -v dkms >/dev/null && \
	    [ -n "$$(dkms status -m lm -v $(VERSION))" ]; then \
		echo "dkms remove -m lm -v $(VERSION) --all"; \
		dkms remove -m lm -v $(VERSION) --all; \
	fi
	rm -f $(addprefix $(DESTDIR)$(DKMS_SRCDIR)/,$(DKMS_FILES))
	@if [ -d $(DESTDIR)$(DKMS_SRCDIR) ]; then \
		find $(DESTDIR)$(DKMS_SRCDIR) -depth -type d -empty -delete; fi

check-packaging:
	@$(CURDIR)/selftests/packaging/check.sh
