// SPDX-License-Identifier: GPL-2.0
/*
 * save-state and load-state: the VM's CPU, interrupt controller and clock
 * state, and optionally its memory, in the format of state_format.h.
 *
 * Saving collects every vCPU's state with the KVM_GET_* ioctls (the vCPUs
 * are parked), then writes the file in one go through a mapping of it.
 * Loading maps the file and checks all of it (size, digest, every section's
 * size, the VM's layout) before changing anything, so a bad file leaves the
 * VM exactly as it was; the KVM_SET_* calls follow in the order QEMU uses
 * (registers, FPU, XCRs, special registers, MSRs, MP state, LAPIC, events).
 */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include "lmvm.h"
#include "state_format.h"

#define NR_IRQCHIPS	3	/* PIC master, PIC slave, IOAPIC */
#define MAX_MSRS	32

_Static_assert(sizeof(struct lmvm_state_header) == 64, "header size");
_Static_assert(sizeof(struct lmvm_state_section) == 16, "section size");
_Static_assert(sizeof(struct lmvm_state_config) == 56 + 8 * 24,
	       "config size");

/* MSRs a 64-bit guest's state may live in (when KVM knows them). */
static const uint32_t candidate_msrs[] = {
	0x00000010,	/* IA32_TSC */
	0x00000174,	/* IA32_SYSENTER_CS */
	0x00000175,	/* IA32_SYSENTER_ESP */
	0x00000176,	/* IA32_SYSENTER_EIP */
	0x000001a0,	/* IA32_MISC_ENABLE */
	0x00000277,	/* IA32_PAT */
	0x000006e0,	/* IA32_TSC_DEADLINE */
	0xc0000081,	/* STAR */
	0xc0000082,	/* LSTAR */
	0xc0000083,	/* CSTAR */
	0xc0000084,	/* SFMASK */
	0xc0000102,	/* KERNEL_GS_BASE */
	0xc0000103,	/* TSC_AUX */
};

struct vcpu_snapshot {
	struct kvm_regs regs;
	struct kvm_sregs sregs;
	struct kvm_xsave xsave;
	struct kvm_xcrs xcrs;
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry entries[MAX_MSRS];
	} msrs;
	struct kvm_lapic_state lapic;
	struct kvm_vcpu_events events;
	struct kvm_mp_state mp_state;
	struct kvm_debugregs debugregs;
};

struct vm_snapshot {
	struct lmvm_state_config config;
	struct kvm_clock_data clock;
	struct kvm_irqchip irqchip[NR_IRQCHIPS];
	struct vcpu_snapshot *vcpus;
};

/* A writer that only counts when buf is NULL. */
struct writer {
	uint8_t *buf;
	uint64_t off;
	uint32_t nr_sections;
};

static void *put_section(struct writer *w, uint32_t type, uint32_t index,
			 const void *payload, uint64_t size)
{
	uint64_t padded = (size + 7) & ~7ULL;
	void *dst = NULL;

	if (w->buf) {
		struct lmvm_state_section sec = {
			.type = htole32(type), .index = htole32(index),
			.size = htole64(size),
		};

		memcpy(w->buf + w->off, &sec, sizeof(sec));
		dst = w->buf + w->off + sizeof(sec);
		if (payload)
			memcpy(dst, payload, size);
		memset((uint8_t *)dst + size, 0, padded - size);
	}
	w->off += sizeof(struct lmvm_state_section) + padded;
	w->nr_sections++;
	return dst;
}

static int msr_supported(struct kvm_vm *vm, uint32_t index)
{
	static struct kvm_msr_list *list;
	uint32_t i;

	if (!list) {
		struct kvm_msr_list probe = { .nmsrs = 0 };

		ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, &probe);
		list = calloc(1, sizeof(*list) + probe.nmsrs * sizeof(uint32_t));
		if (!list)
			return 0;
		list->nmsrs = probe.nmsrs;
		if (ioctl(vm->kvm_fd, KVM_GET_MSR_INDEX_LIST, list))
			list->nmsrs = 0;
	}
	for (i = 0; i < list->nmsrs; i++)
		if (list->indices[i] == index)
			return 1;
	return 0;
}

#define GET(fd, cmd, arg, what)						\
do {									\
	if (ioctl(fd, cmd, arg) < 0) {					\
		snprintf(err, len, "error: save-state: %s: %s: %s",	\
			 what, #cmd, strerror(errno));			\
		return -1;						\
	}								\
} while (0)

static int snapshot_vcpu(struct lmvm *lm, struct kvm_vcpu *vcpu,
			 struct vcpu_snapshot *s, char *err, size_t len)
{
	unsigned int i, n = 0;
	int fd = vcpu->fd;
	char what[16];

	snprintf(what, sizeof(what), "vCPU %u", vcpu->id);
	GET(fd, KVM_GET_REGS, &s->regs, what);
	GET(fd, KVM_GET_SREGS, &s->sregs, what);
	GET(fd, KVM_GET_XSAVE, &s->xsave, what);
	GET(fd, KVM_GET_XCRS, &s->xcrs, what);
	GET(fd, KVM_GET_LAPIC, &s->lapic, what);
	GET(fd, KVM_GET_VCPU_EVENTS, &s->events, what);
	GET(fd, KVM_GET_MP_STATE, &s->mp_state, what);
	GET(fd, KVM_GET_DEBUGREGS, &s->debugregs, what);

	for (i = 0; i < sizeof(candidate_msrs) / sizeof(candidate_msrs[0]); i++)
		if (msr_supported(lm->vm, candidate_msrs[i]))
			s->msrs.entries[n++].index = candidate_msrs[i];
	s->msrs.hdr.nmsrs = n;
	if (ioctl(fd, KVM_GET_MSRS, &s->msrs) != (int)n) {
		snprintf(err, len, "error: save-state: %s: KVM_GET_MSRS read fewer MSRs than listed",
			 what);
		return -1;
	}
	return 0;
}

static int snapshot_vm(struct lmvm *lm, struct vm_snapshot *snap, char *err,
		       size_t len)
{
	struct lmvm_state_config *c = &snap->config;
	struct kvm_vm *vm = lm->vm;
	unsigned int i;

	c->mem_size = htole64(lm->cfg.mem_size);
	c->nr_vcpus = htole32(lm->cfg.nr_vcpus);
	c->workload = htole32(lm->cfg.workload);
	c->rate_mib = htole64(lm->cfg.rate_mib);
	c->seed = htole64(lm->cfg.seed);
	c->hotset_size = htole64(lm->cfg.hotset_size);
	c->tsc_khz = htole64(vm_tsc_khz(vm));
	c->nr_memslots = htole32(vm->nr_memslots);
	for (i = 0; i < vm->nr_memslots; i++) {
		c->memslots[i].slot = htole32(vm->memslots[i].slot);
		c->memslots[i].flags = htole32(vm->memslots[i].flags);
		c->memslots[i].gpa = htole64(vm->memslots[i].gpa);
		c->memslots[i].size = htole64(vm->memslots[i].size);
	}

	GET(vm->fd, KVM_GET_CLOCK, &snap->clock, "VM");
	for (i = 0; i < NR_IRQCHIPS; i++) {
		snap->irqchip[i].chip_id = i;
		GET(vm->fd, KVM_GET_IRQCHIP, &snap->irqchip[i], "VM");
	}
	for (i = 0; i < lm->cfg.nr_vcpus; i++)
		if (snapshot_vcpu(lm, lm->vcpus[i].vcpu, &snap->vcpus[i],
				  err, len))
			return -1;
	return 0;
}

static void emit_state(struct lmvm *lm, struct vm_snapshot *snap,
		       struct writer *w, bool memory)
{
	struct kvm_vm *vm = lm->vm;
	unsigned int i;

	w->off = sizeof(struct lmvm_state_header);
	w->nr_sections = 0;
	put_section(w, LMVM_SEC_CONFIG, 0, &snap->config, sizeof(snap->config));
	put_section(w, LMVM_SEC_CLOCK, 0, &snap->clock, sizeof(snap->clock));
	for (i = 0; i < NR_IRQCHIPS; i++)
		put_section(w, LMVM_SEC_IRQCHIP, i, &snap->irqchip[i],
			    sizeof(snap->irqchip[i]));
	for (i = 0; i < lm->cfg.nr_vcpus; i++) {
		struct vcpu_snapshot *s = &snap->vcpus[i];

		put_section(w, LMVM_SEC_REGS, i, &s->regs, sizeof(s->regs));
		put_section(w, LMVM_SEC_SREGS, i, &s->sregs, sizeof(s->sregs));
		put_section(w, LMVM_SEC_XSAVE, i, &s->xsave, sizeof(s->xsave));
		put_section(w, LMVM_SEC_XCRS, i, &s->xcrs, sizeof(s->xcrs));
		put_section(w, LMVM_SEC_MSRS, i, &s->msrs,
			    sizeof(s->msrs.hdr) +
			    s->msrs.hdr.nmsrs * sizeof(s->msrs.entries[0]));
		put_section(w, LMVM_SEC_LAPIC, i, &s->lapic, sizeof(s->lapic));
		put_section(w, LMVM_SEC_EVENTS, i, &s->events,
			    sizeof(s->events));
		put_section(w, LMVM_SEC_MP_STATE, i, &s->mp_state,
			    sizeof(s->mp_state));
		put_section(w, LMVM_SEC_DEBUGREGS, i, &s->debugregs,
			    sizeof(s->debugregs));
	}
	for (i = 0; memory && i < vm->nr_memslots; i++) {
		struct kvm_memslot *ms = &vm->memslots[i];
		uint64_t *p = put_section(w, LMVM_SEC_MEMORY, ms->slot, NULL,
					  16 + ms->size);

		if (p) {
			p[0] = htole64(ms->gpa);
			p[1] = htole64(ms->size);
			memcpy(p + 2, ms->hva, ms->size);
		}
	}
}

int state_save(struct lmvm *lm, const char *path, bool memory, char *err,
	       size_t len)
{
	struct lmvm_state_header *hdr;
	struct vm_snapshot snap = { 0 };
	struct writer w = { 0 };
	int fd, ret = -1;
	uint8_t *map;

	snap.vcpus = calloc(lm->cfg.nr_vcpus, sizeof(*snap.vcpus));
	if (!snap.vcpus) {
		snprintf(err, len, "error: save-state: out of memory");
		return -1;
	}
	if (snapshot_vm(lm, &snap, err, len))
		goto out_free;
	emit_state(lm, &snap, &w, memory);	/* count */

	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, len, "error: save-state: %s: %s", path,
			 strerror(errno));
		goto out_free;
	}
	if (ftruncate(fd, w.off)) {
		snprintf(err, len, "error: save-state: %s: %s", path,
			 strerror(errno));
		goto out_unlink;
	}
	map = mmap(NULL, w.off, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED) {
		snprintf(err, len, "error: save-state: %s: %s", path,
			 strerror(errno));
		goto out_unlink;
	}
	w.buf = map;
	emit_state(lm, &snap, &w, memory);

	hdr = (struct lmvm_state_header *)map;
	memset(hdr, 0, sizeof(*hdr));
	memcpy(hdr->magic, LMVM_STATE_MAGIC, sizeof(hdr->magic));
	hdr->version = htole32(LMVM_STATE_VERSION);
	hdr->header_size = htole32(sizeof(*hdr));
	hdr->file_size = htole64(w.off);
	hdr->nr_sections = htole32(w.nr_sections);
	hdr->flags = htole32(memory ? LMVM_STATE_F_MEMORY : 0);
	hdr->body_digest = htole64(hash64(map + sizeof(*hdr),
					  w.off - sizeof(*hdr), 0));
	if (msync(map, w.off, MS_SYNC)) {
		snprintf(err, len, "error: save-state: %s: %s", path,
			 strerror(errno));
		munmap(map, w.off);
		goto out_unlink;
	}
	munmap(map, w.off);
	close(fd);
	snprintf(err, len, "ok saved %llu bytes, %u sections%s",
		 (unsigned long long)w.off, w.nr_sections,
		 memory ? ", with memory" : "");
	ret = 0;
	goto out_free;

out_unlink:
	unlink(path);
	close(fd);
out_free:
	free(snap.vcpus);
	return ret;
}

/* Sections of a parsed file, by type and index. */
struct parsed_state {
	const struct lmvm_state_config *config;
	const struct kvm_clock_data *clock;
	const struct kvm_irqchip *irqchip[NR_IRQCHIPS];
	const void *vcpu[LMVM_MAX_VCPUS][LMVM_SEC_DEBUGREGS - LMVM_SEC_REGS + 1];
	const uint64_t *memory[LMVM_STATE_MAX_MEMSLOTS];	/* by position */
	uint32_t memory_slot[LMVM_STATE_MAX_MEMSLOTS];
	unsigned int nr_memory;
};

static const char *section_name(uint32_t type)
{
	static const char *const names[] = {
		[LMVM_SEC_CONFIG] = "config", [LMVM_SEC_CLOCK] = "clock",
		[LMVM_SEC_IRQCHIP] = "irqchip", [LMVM_SEC_REGS] = "regs",
		[LMVM_SEC_SREGS] = "sregs", [LMVM_SEC_XSAVE] = "xsave",
		[LMVM_SEC_XCRS] = "xcrs", [LMVM_SEC_MSRS] = "msrs",
		[LMVM_SEC_LAPIC] = "lapic", [LMVM_SEC_EVENTS] = "vcpu events",
		[LMVM_SEC_MP_STATE] = "mp state",
		[LMVM_SEC_DEBUGREGS] = "debug registers",
		[LMVM_SEC_MEMORY] = "memory",
	};

	if (type < sizeof(names) / sizeof(names[0]) && names[type])
		return names[type];
	return "unknown";
}

/* The payload size a fixed-size section must have; 0: variable. */
static uint64_t section_size(uint32_t type)
{
	switch (type) {
	case LMVM_SEC_CONFIG: return sizeof(struct lmvm_state_config);
	case LMVM_SEC_CLOCK: return sizeof(struct kvm_clock_data);
	case LMVM_SEC_IRQCHIP: return sizeof(struct kvm_irqchip);
	case LMVM_SEC_REGS: return sizeof(struct kvm_regs);
	case LMVM_SEC_SREGS: return sizeof(struct kvm_sregs);
	case LMVM_SEC_XSAVE: return sizeof(struct kvm_xsave);
	case LMVM_SEC_XCRS: return sizeof(struct kvm_xcrs);
	case LMVM_SEC_LAPIC: return sizeof(struct kvm_lapic_state);
	case LMVM_SEC_EVENTS: return sizeof(struct kvm_vcpu_events);
	case LMVM_SEC_MP_STATE: return sizeof(struct kvm_mp_state);
	case LMVM_SEC_DEBUGREGS: return sizeof(struct kvm_debugregs);
	}
	return 0;
}

#define BAD(fmt, ...)							\
({									\
	snprintf(err, len, "error: load-state: %s: " fmt, path,	\
		 ##__VA_ARGS__);					\
	-1;								\
})

static int parse_sections(const uint8_t *map, uint64_t size,
			  struct parsed_state *ps, const char *path, char *err,
			  size_t len)
{
	const struct lmvm_state_header *hdr = (const void *)map;
	uint64_t off = sizeof(*hdr);
	uint32_t i, nr = le32toh(hdr->nr_sections);

	for (i = 0; i < nr; i++) {
		struct lmvm_state_section sec;
		uint64_t psize, expect;
		const void *payload;

		if (size - off < sizeof(sec))
			return BAD("section %u is cut short", i);
		memcpy(&sec, map + off, sizeof(sec));
		sec.type = le32toh(sec.type);
		sec.index = le32toh(sec.index);
		sec.size = le64toh(sec.size);
		off += sizeof(sec);
		psize = (sec.size + 7) & ~7ULL;
		if (sec.size > size || psize > size - off)
			return BAD("%s section %u is larger than the file",
				   section_name(sec.type), i);
		payload = map + off;
		off += psize;

		expect = section_size(sec.type);
		if (expect && sec.size != expect)
			return BAD("%s section has %llu bytes, expected %llu",
				   section_name(sec.type),
				   (unsigned long long)sec.size,
				   (unsigned long long)expect);
		switch (sec.type) {
		case LMVM_SEC_CONFIG:
			ps->config = payload;
			break;
		case LMVM_SEC_CLOCK:
			ps->clock = payload;
			break;
		case LMVM_SEC_IRQCHIP:
			if (sec.index >= NR_IRQCHIPS)
				return BAD("irqchip %u does not exist",
					   sec.index);
			ps->irqchip[sec.index] = payload;
			break;
		case LMVM_SEC_REGS ... LMVM_SEC_DEBUGREGS:
			if (sec.index >= LMVM_MAX_VCPUS)
				return BAD("%s section for vCPU %u, lmvm has at most %u",
					   section_name(sec.type), sec.index,
					   LMVM_MAX_VCPUS);
			if (sec.type == LMVM_SEC_MSRS) {
				const struct kvm_msrs *m = payload;

				if (sec.size < sizeof(*m) ||
				    m->nmsrs > MAX_MSRS ||
				    sec.size != sizeof(*m) + m->nmsrs *
				    sizeof(struct kvm_msr_entry))
					return BAD("msrs section of vCPU %u is malformed",
						   sec.index);
			}
			ps->vcpu[sec.index][sec.type - LMVM_SEC_REGS] = payload;
			break;
		case LMVM_SEC_MEMORY:
			if (ps->nr_memory == LMVM_STATE_MAX_MEMSLOTS ||
			    sec.size < 16)
				return BAD("malformed memory section %u", i);
			ps->memory_slot[ps->nr_memory] = sec.index;
			ps->memory[ps->nr_memory++] = payload;
			if (le64toh(ps->memory[ps->nr_memory - 1][1]) !=
			    sec.size - 16)
				return BAD("memory section of slot %u has a wrong size",
					   sec.index);
			break;
		default:
			return BAD("unknown section type %u", sec.type);
		}
	}
	if (off != size)
		return BAD("%llu bytes after the last section",
			   (unsigned long long)(size - off));

	if (!ps->config || !ps->clock)
		return BAD("no %s section", ps->config ? "clock" : "config");
	for (i = 0; i < NR_IRQCHIPS; i++)
		if (!ps->irqchip[i])
			return BAD("no irqchip section %u", i);
	return 0;
}

/* Every vCPU of the config has all its sections, and no other has any. */
static int check_vcpu_sections(const struct parsed_state *ps,
			       const char *path, char *err, size_t len)
{
	uint32_t nr_vcpus = le32toh(ps->config->nr_vcpus), v, t;

	for (v = 0; v < LMVM_MAX_VCPUS; v++) {
		for (t = LMVM_SEC_REGS; t <= LMVM_SEC_DEBUGREGS; t++) {
			bool present = ps->vcpu[v][t - LMVM_SEC_REGS];

			if (v < nr_vcpus && !present)
				return BAD("no %s section for vCPU %u",
					   section_name(t), v);
			if (v >= nr_vcpus && present)
				return BAD("%s section for vCPU %u of %u",
					   section_name(t), v, nr_vcpus);
		}
	}
	return 0;
}

/* The state must come from a VM of the same shape as ours. */
static int check_layout(struct lmvm *lm, const struct parsed_state *ps,
			const char *path, char *err, size_t len)
{
	const struct lmvm_state_config *c = ps->config;
	struct kvm_vm *vm = lm->vm;
	unsigned int i, j;

	if (le32toh(c->nr_vcpus) != lm->cfg.nr_vcpus)
		return BAD("the state is of a VM with %u vCPUs, this one has %u",
			   le32toh(c->nr_vcpus), lm->cfg.nr_vcpus);
	if (le64toh(c->mem_size) != lm->cfg.mem_size)
		return BAD("the state is of a VM with %llu MiB of memory, this one has %llu MiB",
			   (unsigned long long)(le64toh(c->mem_size) / MiB),
			   (unsigned long long)(lm->cfg.mem_size / MiB));
	if (le32toh(c->workload) >= LMVM_NR_WORKLOADS)
		return BAD("unknown workload %u", le32toh(c->workload));
	if (le32toh(c->nr_memslots) != vm->nr_memslots)
		return BAD("the state has %u memslots, this VM has %u",
			   le32toh(c->nr_memslots), vm->nr_memslots);
	for (i = 0; i < vm->nr_memslots; i++) {
		struct kvm_memslot *ms = &vm->memslots[i];

		if (le32toh(c->memslots[i].slot) != ms->slot ||
		    le64toh(c->memslots[i].gpa) != ms->gpa ||
		    le64toh(c->memslots[i].size) != ms->size)
			return BAD("memslot %u differs: the state has [%#llx, +%#llx), this VM [%#llx, +%#llx)",
				   ms->slot,
				   (unsigned long long)le64toh(c->memslots[i].gpa),
				   (unsigned long long)le64toh(c->memslots[i].size),
				   (unsigned long long)ms->gpa,
				   (unsigned long long)ms->size);
	}
	for (j = 0; j < ps->nr_memory; j++) {
		struct kvm_memslot *ms = vm_memslot(vm, ps->memory_slot[j]);

		if (!ms || le64toh(ps->memory[j][0]) != ms->gpa ||
		    le64toh(ps->memory[j][1]) != ms->size)
			return BAD("memory section of slot %u does not match the VM's memslot",
				   ps->memory_slot[j]);
	}
	return 0;
}

#define SET(fd, cmd, arg, what)						\
do {									\
	if (ioctl(fd, cmd, arg) < 0) {					\
		snprintf(err, len, "error: load-state: %s: %s: %s",	\
			 what, #cmd, strerror(errno));			\
		return -1;						\
	}								\
} while (0)

static int apply_vcpu(struct kvm_vcpu *vcpu, const void *const *sec,
		      char *err, size_t len)
{
	struct kvm_vcpu_events events;
	const struct kvm_msrs *msrs = sec[LMVM_SEC_MSRS - LMVM_SEC_REGS];
	int fd = vcpu->fd;
	char what[16];

#define S(type)	((void *)sec[(type) - LMVM_SEC_REGS])
	snprintf(what, sizeof(what), "vCPU %u", vcpu->id);
	SET(fd, KVM_SET_REGS, S(LMVM_SEC_REGS), what);
	SET(fd, KVM_SET_XSAVE, S(LMVM_SEC_XSAVE), what);
	SET(fd, KVM_SET_XCRS, S(LMVM_SEC_XCRS), what);
	SET(fd, KVM_SET_SREGS, S(LMVM_SEC_SREGS), what);
	if (ioctl(fd, KVM_SET_MSRS, msrs) != (int)msrs->nmsrs) {
		snprintf(err, len, "error: load-state: %s: KVM_SET_MSRS rejected an MSR",
			 what);
		return -1;
	}
	SET(fd, KVM_SET_MP_STATE, S(LMVM_SEC_MP_STATE), what);
	SET(fd, KVM_SET_LAPIC, S(LMVM_SEC_LAPIC), what);
	memcpy(&events, S(LMVM_SEC_EVENTS), sizeof(events));
	events.flags |= KVM_VCPUEVENT_VALID_NMI_PENDING |
			KVM_VCPUEVENT_VALID_SIPI_VECTOR |
			KVM_VCPUEVENT_VALID_SHADOW;
	SET(fd, KVM_SET_VCPU_EVENTS, &events, what);
	SET(fd, KVM_SET_DEBUGREGS, S(LMVM_SEC_DEBUGREGS), what);
#undef S
	return 0;
}

static int apply_state(struct lmvm *lm, const struct parsed_state *ps,
		       char *err, size_t len)
{
	const struct lmvm_state_config *c = ps->config;
	struct kvm_vm *vm = lm->vm;
	struct kvm_clock_data clock;
	unsigned int i;

	for (i = 0; i < ps->nr_memory; i++) {
		struct kvm_memslot *ms = vm_memslot(vm, ps->memory_slot[i]);

		memcpy(ms->hva, ps->memory[i] + 2, ms->size);
	}
	memcpy(&clock, ps->clock, sizeof(clock));
	clock.flags = 0;	/* the saved value as is */
	SET(vm->fd, KVM_SET_CLOCK, &clock, "VM");
	for (i = 0; i < NR_IRQCHIPS; i++)
		SET(vm->fd, KVM_SET_IRQCHIP, (void *)ps->irqchip[i], "VM");
	for (i = 0; i < lm->cfg.nr_vcpus; i++)
		if (apply_vcpu(lm->vcpus[i].vcpu, ps->vcpu[i], err, len))
			return -1;

	lm->cfg.workload = le32toh(c->workload);
	lm->cfg.rate_mib = le64toh(c->rate_mib);
	lm->cfg.seed = le64toh(c->seed);
	lm->cfg.hotset_size = le64toh(c->hotset_size);
	return 0;
}

int state_load(struct lmvm *lm, const char *path, char *err, size_t len)
{
	const struct lmvm_state_header *hdr;
	struct parsed_state *ps;
	struct stat st;
	uint8_t *map;
	int fd, ret = -1;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return BAD("%s", strerror(errno));
	if (fstat(fd, &st) || !S_ISREG(st.st_mode)) {
		close(fd);
		return BAD("not a regular file");
	}
	if ((uint64_t)st.st_size < sizeof(*hdr)) {
		close(fd);
		return BAD("truncated: %llu bytes, less than a header",
			   (unsigned long long)st.st_size);
	}
	map = mmap(NULL, st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (map == MAP_FAILED)
		return BAD("%s", strerror(errno));
	ps = calloc(1, sizeof(*ps));
	if (!ps) {
		BAD("out of memory");
		goto out_unmap;
	}

	hdr = (const void *)map;
	if (memcmp(hdr->magic, LMVM_STATE_MAGIC, sizeof(hdr->magic))) {
		BAD("not an lmvm state file");
		goto out_free;
	}
	if (le32toh(hdr->version) != LMVM_STATE_VERSION ||
	    le32toh(hdr->header_size) != sizeof(*hdr)) {
		BAD("unsupported format version %u (this lmvm reads version %u)",
		    le32toh(hdr->version), LMVM_STATE_VERSION);
		goto out_free;
	}
	if (le64toh(hdr->file_size) != (uint64_t)st.st_size) {
		BAD("truncated or extended: the header says %llu bytes, the file has %llu",
		    (unsigned long long)le64toh(hdr->file_size),
		    (unsigned long long)st.st_size);
		goto out_free;
	}
	if (le64toh(hdr->body_digest) !=
	    hash64(map + sizeof(*hdr), st.st_size - sizeof(*hdr), 0)) {
		BAD("corrupt: the digest of the contents does not match");
		goto out_free;
	}
	if (parse_sections(map, st.st_size, ps, path, err, len) ||
	    check_layout(lm, ps, path, err, len) ||
	    check_vcpu_sections(ps, path, err, len))
		goto out_free;

	ret = apply_state(lm, ps, err, len);
	if (!ret)
		snprintf(err, len, "ok loaded %s%s", path,
			 ps->nr_memory ? " with memory" : "");
out_free:
	free(ps);
out_unmap:
	munmap(map, st.st_size);
	return ret;
}
