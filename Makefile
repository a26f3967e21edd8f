# SPDX-License-Identifier: GPL-2.0
#
# lm: live migration of KVM virtual machines, done in the kernel.
#
#   make              build lm.ko, the tools, the selftests and benchmarks
#   make check        run the selftests in the lab VMs (TESTS="a b" for some)
#   make check-full   the same with the figure-producing matrices too
#   make lab          interactive shell in the lab VM
#   make demo         the demo, in the lab VM
#   make bench        run every benchmark in the lab VM
#   make checkpatch   kernel coding style of kmod/ and uapi/
#   make deps         install the Debian packages all of this needs
#
# The module is built against the lab kernel's headers (KDIR, found under
# /usr/src; never the running kernel's), userspace into build/. See
# Documentation/development.rst.

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

.PHONY: all module userspace check check-full bench lab demo lab-run checkpatch deps clean

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
