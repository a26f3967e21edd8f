// SPDX-License-Identifier: GPL-2.0
/*
 * The lab is what the other tests assume: nested KVM works, lm.ko is
 * loaded and its generic netlink family answers, the tools for two-host
 * tests are there. Runs first (lexical order), so a broken lab shows up
 * here rather than as a puzzling failure elsewhere.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/kvm.h>
#include <linux/lm.h>
#include <netlink/genl/ctrl.h>
#include <netlink/genl/genl.h>

#include "kselftest_harness.h"

FIXTURE(kvm) {
	int kvm_fd;
};

FIXTURE_SETUP(kvm)
{
	self->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	ASSERT_LE(0, self->kvm_fd) {
		TH_LOG("open /dev/kvm: %s (is kvm-amd loaded?)", strerror(errno));
	}
}

FIXTURE_TEARDOWN(kvm)
{
	close(self->kvm_fd);
}

TEST_F(kvm, api_version)
{
	ASSERT_EQ(KVM_API_VERSION, ioctl(self->kvm_fd, KVM_GET_API_VERSION, 0));
}

TEST_F(kvm, create_vm)
{
	int vm_fd;

	ASSERT_LT(0, ioctl(self->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));

	vm_fd = ioctl(self->kvm_fd, KVM_CREATE_VM, 0);
	ASSERT_LE(0, vm_fd) {
		TH_LOG("KVM_CREATE_VM: %s", strerror(errno));
	}
	EXPECT_LT(0, ioctl(vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY));
	close(vm_fd);
}

TEST(lm_module_loaded)
{
	struct stat st;
	const char *ko = getenv("LM_KO");

	ASSERT_EQ(0, stat("/sys/module/lm", &st)) {
		TH_LOG("lm.ko is not loaded");
	}
	ASSERT_TRUE(S_ISDIR(st.st_mode));

	/* Tests that reload the module find it here. */
	ASSERT_NE(NULL, ko) {
		TH_LOG("LM_KO is not set");
	}
	ASSERT_EQ(0, access(ko, R_OK)) {
		TH_LOG("%s: %s", ko, strerror(errno));
	}
}

TEST(lm_genl_family_resolves)
{
	struct nl_sock *sk;
	int family;

	sk = nl_socket_alloc();
	ASSERT_NE(NULL, sk);
	ASSERT_EQ(0, genl_connect(sk));

	family = genl_ctrl_resolve(sk, LM_GENL_NAME);
	EXPECT_LT(0, family) {
		TH_LOG("genl family \"%s\": %s", LM_GENL_NAME, nl_geterror(family));
	}
	nl_socket_free(sk);
}

TEST(iproute2_runs)
{
	int status;

	/* The real ip (netns, veth), not busybox's applet. */
	status = system("/usr/sbin/ip -V >/dev/null");
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	ASSERT_EQ(0, access("/sys/module/veth", F_OK));
}

TEST_HARNESS_MAIN
