// SPDX-License-Identifier: GPL-2.0
/*
 * lm-guest's network: a polled driver for QEMU's virtio-net-pci through
 * its legacy (virtio 0.9.5) I/O-port interface, and a responder that
 * answers ARP requests and ICMP echo requests for one IPv4 address. It
 * makes lm-guest a guest that a client on the network can ping while it
 * migrates, and a guest whose RAM QEMU's device emulation writes: every
 * received frame is written by QEMU (or vhost-net) into a receive buffer
 * and the used ring, where KVM's dirty log does not see it.
 *
 * No interrupts: the caller polls (net_poll()) while it paces itself. The
 * rings and buffers live at fixed guest physical addresses (paging is off)
 * below LM_GUEST_INFO_GPA, outside the pages lm-guest sweeps.
 */
#include <stdint.h>

#include "lm_guest_abi.h"
#include "lm_guest_net.h"

/* PCI configuration mechanism #1. */
#define PCI_ADDR		0xcf8
#define PCI_DATA		0xcfc
#define PCI_VENDOR_VIRTIO	0x1af4
#define PCI_DEVICE_NET_LEGACY	0x1000
#define PCI_COMMAND_IO		0x1
#define PCI_COMMAND_MASTER	0x4

/* The legacy virtio PCI registers, from BAR0 (no MSI-X). */
#define VIO_HOST_FEATURES	0x00
#define VIO_GUEST_FEATURES	0x04
#define VIO_QUEUE_PFN		0x08
#define VIO_QUEUE_SIZE		0x0c
#define VIO_QUEUE_SEL		0x0e
#define VIO_QUEUE_NOTIFY	0x10
#define VIO_STATUS		0x12
#define VIO_CONFIG		0x14	/* virtio-net: the MAC first */

#define VIO_S_ACKNOWLEDGE	1
#define VIO_S_DRIVER		2
#define VIO_S_DRIVER_OK		4
#define VIRTIO_NET_F_MAC	(1U << 5)
#define VRING_DESC_F_WRITE	2

#define RXQ			0
#define TXQ			1
#define QUEUE_MAX		256
#define BUF_SIZE		2048
#define TX_BUFS			16
/* Without VIRTIO_NET_F_MRG_RXBUF every frame has this header first. */
#define NET_HDR_LEN		10

/* Where the queues live: each vring is 3 pages for 256 entries. */
#define RXQ_GPA			0x200000U
#define TXQ_GPA			0x204000U
#define TX_BUF_GPA		0x208000U
#define RX_BUF_GPA		0x210000U	/* 256 x 2 KiB, to 0x290000 */

#define ETH_P_IP		0x0800
#define ETH_P_ARP		0x0806
#define IPPROTO_ICMP		1
#define ICMP_ECHO		8
#define ICMP_ECHOREPLY		0

struct vring_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags, next;
};

struct vring_avail {
	uint16_t flags, idx;
	uint16_t ring[QUEUE_MAX];
};

struct vring_used {
	uint16_t flags, idx;
	struct {
		uint32_t id, len;
	} ring[QUEUE_MAX];
};

struct queue {
	uint16_t index, size, last_used;
	volatile struct vring_desc *desc;
	volatile struct vring_avail *avail;
	volatile struct vring_used *used;
};

static struct {
	uint16_t io;			/* BAR0, 0 without a device */
	uint8_t mac[6];
	uint8_t ip[4];
	struct queue rx, tx;
	uint16_t tx_next;
} net;

static inline void outb(uint16_t port, uint8_t v)
{
	asm volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
	asm volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
	asm volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
	uint8_t v;

	asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint16_t inw(uint16_t port)
{
	uint16_t v;

	asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

static inline uint32_t inl(uint16_t port)
{
	uint32_t v;

	asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
	return v;
}

/* x86 orders stores with stores and loads with loads: the compiler must. */
#define barrier()	asm volatile("" : : : "memory")

static uint32_t pci_read(uint32_t dev, uint32_t reg)
{
	outl(PCI_ADDR, 0x80000000U | dev << 11 | reg);
	return inl(PCI_DATA);
}

static void pci_write(uint32_t dev, uint32_t reg, uint32_t v)
{
	outl(PCI_ADDR, 0x80000000U | dev << 11 | reg);
	outl(PCI_DATA, v);
}

static void *copy(void *dst, const void *src, uint32_t n)
{
	uint8_t *d = dst;
	const uint8_t *s = src;

	while (n--)
		*d++ = *s++;
	return dst;
}

static void memzero(volatile void *p, uint32_t n)
{
	volatile uint8_t *b = p;

	while (n--)
		*b++ = 0;
}

static int equal(const uint8_t *a, const uint8_t *b, uint32_t n)
{
	while (n--)
		if (*a++ != *b++)
			return 0;
	return 1;
}

static uint16_t be16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

/* "ip=A.B.C.D" from the command line; 0 if absent. */
static int parse_ip(const char *p, uint8_t ip[4])
{
	int i;

	while (*p) {
		if (p[0] == 'i' && p[1] == 'p' && p[2] == '=') {
			p += 3;
			for (i = 0; i < 4; i++) {
				uint32_t v = 0;

				if (*p < '0' || *p > '9')
					return 0;
				while (*p >= '0' && *p <= '9')
					v = v * 10 + (*p++ - '0');
				if (v > 255 || (i < 3 && *p++ != '.'))
					return 0;
				ip[i] = v;
			}
			return 1;
		}
		while (*p && *p != ' ')
			p++;
		while (*p == ' ')
			p++;
	}
	return 0;
}

/* Tell the device where queue @q lives; its size is the device's. */
static int queue_setup(struct queue *q, uint16_t index, uint32_t gpa)
{
	outw(net.io + VIO_QUEUE_SEL, index);
	q->size = inw(net.io + VIO_QUEUE_SIZE);
	if (!q->size || q->size > QUEUE_MAX)
		return 0;
	q->index = index;
	q->last_used = 0;
	q->desc = (void *)gpa;
	q->avail = (void *)(gpa + 16U * q->size);
	/* The used ring starts on the next 4 KiB boundary (legacy layout). */
	q->used = (void *)((gpa + 16U * q->size + 6 + 2U * q->size + 4095) &
			   ~4095U);
	memzero((void *)gpa, 3 * 4096);
	outl(net.io + VIO_QUEUE_PFN, gpa >> 12);
	return 1;
}

static uint16_t checksum(const uint8_t *p, uint32_t len)
{
	uint32_t sum = 0;

	for (; len > 1; p += 2, len -= 2)
		sum += be16(p);
	if (len)
		sum += p[0] << 8;
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum;
}

/* Queue @len bytes of frame at @frame for sending; dropped if TX is full. */
static void send_frame(const uint8_t *frame, uint32_t len)
{
	struct queue *q = &net.tx;
	uint16_t slot = net.tx_next % TX_BUFS;
	uint8_t *buf = (void *)(TX_BUF_GPA + slot * BUF_SIZE);

	/* A buffer is free again once the device has used it. */
	if ((uint16_t)(q->avail->idx - q->used->idx) >= TX_BUFS)
		return;
	memzero(buf, NET_HDR_LEN);
	copy(buf + NET_HDR_LEN, frame, len);
	q->desc[slot].addr = (uint32_t)buf;
	q->desc[slot].len = NET_HDR_LEN + len;
	q->desc[slot].flags = 0;
	q->avail->ring[q->avail->idx % q->size] = slot;
	barrier();
	q->avail->idx++;
	barrier();
	outw(net.io + VIO_QUEUE_NOTIFY, TXQ);
	net.tx_next++;
}

/* An ARP request for our address: answer it. */
static void arp(const uint8_t *f, uint32_t len)
{
	uint8_t r[42];

	if (len < 42 || be16(f + 14) != 1 || be16(f + 16) != ETH_P_IP ||
	    f[18] != 6 || f[19] != 4 || be16(f + 20) != 1 ||
	    !equal(f + 38, net.ip, 4))
		return;
	copy(r, f + 6, 6);			/* to the asker */
	copy(r + 6, net.mac, 6);
	copy(r + 12, f + 12, 8);		/* type, htype .. plen */
	r[20] = 0;
	r[21] = 2;				/* reply */
	copy(r + 22, net.mac, 6);
	copy(r + 28, net.ip, 4);
	copy(r + 32, f + 22, 10);		/* its MAC and address */
	send_frame(r, sizeof(r));
}

/* An ICMP echo request to our address: send it back as a reply. */
static void icmp(const uint8_t *f, uint32_t len)
{
	static uint8_t r[BUF_SIZE];
	uint32_t ihl = (f[14] & 0xf) * 4, total = be16(f + 16);
	uint16_t sum;

	if (len < 34 || (f[14] >> 4) != 4 || ihl < 20 || total < ihl + 8 ||
	    14 + total > len || f[23] != IPPROTO_ICMP ||
	    !equal(f + 30, net.ip, 4) || f[14 + ihl] != ICMP_ECHO)
		return;
	copy(r, f + 6, 6);
	copy(r + 6, net.mac, 6);
	copy(r + 12, f + 12, 14 + total - 12);
	/* Swapping the addresses leaves the IP header's checksum as it is. */
	copy(r + 26, f + 30, 4);
	copy(r + 30, f + 26, 4);
	r[14 + ihl] = ICMP_ECHOREPLY;
	r[14 + ihl + 2] = 0;
	r[14 + ihl + 3] = 0;
	sum = checksum(r + 14 + ihl, total - ihl);
	r[14 + ihl + 2] = sum >> 8;
	r[14 + ihl + 3] = sum;
	send_frame(r, 14 + total);
}

void net_poll(volatile struct lm_guest_info *info)
{
	struct queue *q = &net.rx;
	int reposted = 0;

	if (!net.io)
		return;
	while (q->last_used != q->used->idx) {
		uint16_t i = q->last_used % q->size;
		uint32_t id = q->used->ring[i].id, len = q->used->ring[i].len;
		const uint8_t *f = (void *)(RX_BUF_GPA + id * BUF_SIZE +
					    NET_HDR_LEN);

		barrier();
		if (id < q->size && len > NET_HDR_LEN + 14 &&
		    len <= BUF_SIZE) {
			len -= NET_HDR_LEN;
			info->net_rx++;
			if (be16(f + 12) == ETH_P_ARP)
				arp(f, len);
			else if (be16(f + 12) == ETH_P_IP)
				icmp(f, len);
		}
		if (id < q->size) {
			q->avail->ring[q->avail->idx % q->size] = id;
			barrier();
			q->avail->idx++;
			reposted = 1;
		}
		q->last_used++;
	}
	if (reposted) {
		barrier();
		outw(net.io + VIO_QUEUE_NOTIFY, RXQ);
	}
	info->net_tx = net.tx_next;
}

int net_init(const char *cmdline, volatile struct lm_guest_info *info)
{
	uint32_t dev, id, bar, features;
	uint16_t i;

	if (!parse_ip(cmdline, net.ip))
		return 0;
	for (dev = 0; dev < 32; dev++) {
		id = pci_read(dev, 0);
		if ((id & 0xffff) == PCI_VENDOR_VIRTIO &&
		    id >> 16 == PCI_DEVICE_NET_LEGACY)
			break;
	}
	if (dev == 32)
		return -1;
	bar = pci_read(dev, 0x10);
	if (!(bar & 1))
		return -1;
	/* Decode its I/O ports and let it write our memory (DMA). */
	pci_write(dev, 0x04, (pci_read(dev, 0x04) & 0xffff) |
		  PCI_COMMAND_IO | PCI_COMMAND_MASTER);
	net.io = bar & 0xfffc;

	outb(net.io + VIO_STATUS, 0);
	outb(net.io + VIO_STATUS, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	features = inl(net.io + VIO_HOST_FEATURES);
	outl(net.io + VIO_GUEST_FEATURES, features & VIRTIO_NET_F_MAC);
	for (i = 0; i < 6; i++)
		net.mac[i] = inb(net.io + VIO_CONFIG + i);
	if (!queue_setup(&net.rx, RXQ, RXQ_GPA) ||
	    !queue_setup(&net.tx, TXQ, TXQ_GPA)) {
		net.io = 0;
		return -1;
	}
	for (i = 0; i < net.rx.size; i++) {
		net.rx.desc[i].addr = RX_BUF_GPA + i * BUF_SIZE;
		net.rx.desc[i].len = BUF_SIZE;
		net.rx.desc[i].flags = VRING_DESC_F_WRITE;
		net.rx.avail->ring[i] = i;
	}
	barrier();
	net.rx.avail->idx = net.rx.size;
	outb(net.io + VIO_STATUS, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER |
	     VIO_S_DRIVER_OK);
	outw(net.io + VIO_QUEUE_NOTIFY, RXQ);
	info->net_ip = net.ip[0] << 24 | net.ip[1] << 16 | net.ip[2] << 8 |
		       net.ip[3];
	return 1;
}
