package netslow

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
)

// A minimal NFQUEUE client over a raw netlink socket
// (linux/netfilter/nfnetlink_queue.h): bind a queue, copy each packet's
// IPv4 header, answer verdicts. Only what this package needs.
const (
	nfnlSubsysQueue = 3
	nfqnlMsgPacket  = 0
	nfqnlMsgVerdict = 1
	nfqnlMsgConfig  = 2

	nfqaPacketHdr  = 1
	nfqaVerdictHdr = 2
	nfqaPayload    = 10

	nfqaCfgCmd      = 1
	nfqaCfgParams   = 2
	nfqaCfgQueueMax = 3
	nfqaCfgMask     = 4
	nfqaCfgFlags    = 5

	nfqnlCfgCmdBind   = 1
	nfqnlCfgCmdUnbind = 2
	nfqnlCopyPacket   = 2
	nfqaCfgFFailOpen  = 1

	// Verdicts.
	nfDrop   = 0
	nfAccept = 1

	netlinkNetfilter = 12
	nlmsgHdrLen      = 16
	nfgenHdrLen      = 4
)

// queue is a bound NFQUEUE.
type queue struct {
	fd       int
	num      uint16
	mu       sync.Mutex // serializes sends, and guards fdClosed
	seq      uint32
	fdClosed bool
	closed   atomic.Bool // read returns at its next wake-up
}

// packet is what the queue tells of one packet.
type packet struct {
	id       uint32
	src, dst netip.Addr
}

func openQueue(num uint16) (*queue, error) {
	fd, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, netlinkNetfilter)
	if err != nil {
		return nil, fmt.Errorf("netlink socket: %w", err)
	}
	if err := syscall.Bind(fd, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		syscall.Close(fd)
		return nil, fmt.Errorf("netlink bind: %w", err)
	}
	_ = syscall.SetsockoptInt(fd, syscall.SOL_SOCKET, syscall.SO_RCVBUF, 8<<20)
	// read wakes up now and then to see whether the queue was closed.
	_ = syscall.SetsockoptTimeval(fd, syscall.SOL_SOCKET, syscall.SO_RCVTIMEO, &syscall.Timeval{Usec: 200_000})
	q := &queue{fd: fd, num: num}
	cmd := []byte{nfqnlCfgCmdBind, 0, 0, 0} // command, pad, pf (unspec)
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, 20) // the IPv4 header is all we read
	params[4] = nfqnlCopyPacket
	maxLen := binary.BigEndian.AppendUint32(nil, 20_000)
	flags := binary.BigEndian.AppendUint32(nil, nfqaCfgFFailOpen) // a full queue lets packets through
	for _, attrs := range [][]attr{{{nfqaCfgCmd, cmd}}, {{nfqaCfgParams, params}, {nfqaCfgQueueMax, maxLen}, {nfqaCfgFlags, flags}, {nfqaCfgMask, flags}}} {
		if err := q.request(nfqnlMsgConfig, attrs, true); err != nil {
			_ = q.Close()
			return nil, fmt.Errorf("cannot bind NFQUEUE %d: %w", num, err)
		}
	}
	return q, nil
}

type attr struct {
	typ  uint16
	data []byte
}

// request sends one nfnetlink queue message; with ack, it waits for the
// kernel's answer to it.
func (q *queue) request(msg uint16, attrs []attr, ack bool) error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fdClosed {
		return syscall.EBADF // a late verdict: never write to a reused descriptor
	}
	q.seq++
	b := make([]byte, nlmsgHdrLen+nfgenHdrLen, 64)
	flags := uint16(syscall.NLM_F_REQUEST)
	if ack {
		flags |= syscall.NLM_F_ACK
	}
	binary.NativeEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|msg)
	binary.NativeEndian.PutUint16(b[6:], flags)
	binary.NativeEndian.PutUint32(b[8:], q.seq)
	b[16] = syscall.AF_UNSPEC
	binary.BigEndian.PutUint16(b[18:], q.num)
	for _, a := range attrs {
		l := 4 + len(a.data)
		b = binary.NativeEndian.AppendUint16(b, uint16(l))
		b = binary.NativeEndian.AppendUint16(b, a.typ)
		b = append(b, a.data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	binary.NativeEndian.PutUint32(b[0:], uint32(len(b)))
	if err := syscall.Sendto(q.fd, b, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return err
	}
	if !ack {
		return nil
	}
	buf := make([]byte, 8192)
	for {
		n, _, err := syscall.Recvfrom(q.fd, buf, 0)
		if err != nil {
			return err
		}
		for off := 0; off+nlmsgHdrLen <= n; {
			l := int(binary.NativeEndian.Uint32(buf[off:]))
			typ := binary.NativeEndian.Uint16(buf[off+4:])
			seq := binary.NativeEndian.Uint32(buf[off+8:])
			if l < nlmsgHdrLen || off+l > n {
				break
			}
			if typ == syscall.NLMSG_ERROR && seq == q.seq {
				if code := int32(binary.NativeEndian.Uint32(buf[off+16:])); code != 0 {
					return syscall.Errno(-code)
				}
				return nil
			}
			off += (l + 3) &^ 3
		}
	}
}

// verdict lets packet id through (accept) or drops it.
func (q *queue) verdict(id uint32, accept bool) error {
	v := uint32(nfDrop)
	if accept {
		v = nfAccept
	}
	data := binary.BigEndian.AppendUint32(nil, v)
	data = binary.BigEndian.AppendUint32(data, id)
	return q.request(nfqnlMsgVerdict, []attr{{nfqaVerdictHdr, data}}, false)
}

// read calls f for each packet until the socket is closed.
func (q *queue) read(f func(packet)) error {
	buf := make([]byte, 1<<16)
	for {
		if q.closed.Load() {
			return nil
		}
		n, _, err := syscall.Recvfrom(q.fd, buf, 0)
		if err != nil {
			if errors.Is(err, syscall.EAGAIN) || errors.Is(err, syscall.EWOULDBLOCK) {
				continue
			}
			if errors.Is(err, syscall.ENOBUFS) {
				continue // the kernel dropped messages; fail-open let the packets through
			}
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return err
		}
		for off := 0; off+nlmsgHdrLen+nfgenHdrLen <= n; {
			l := int(binary.NativeEndian.Uint32(buf[off:]))
			typ := binary.NativeEndian.Uint16(buf[off+4:])
			if l < nlmsgHdrLen || off+l > n {
				break
			}
			if typ == nfnlSubsysQueue<<8|nfqnlMsgPacket {
				if p, ok := parsePacket(buf[off+nlmsgHdrLen+nfgenHdrLen : off+l]); ok {
					f(p)
				}
			}
			off += (l + 3) &^ 3
		}
	}
}

func parsePacket(b []byte) (packet, bool) {
	var p packet
	var haveID bool
	for len(b) >= 4 {
		l := int(binary.NativeEndian.Uint16(b))
		typ := binary.NativeEndian.Uint16(b[2:]) & 0x3fff
		if l < 4 || l > len(b) {
			break
		}
		data := b[4:l]
		switch typ {
		case nfqaPacketHdr:
			if len(data) >= 4 {
				p.id, haveID = binary.BigEndian.Uint32(data), true
			}
		case nfqaPayload:
			if len(data) >= 20 && data[0]>>4 == 4 {
				p.src = netip.AddrFrom4([4]byte(data[12:16]))
				p.dst = netip.AddrFrom4([4]byte(data[16:20]))
			}
		}
		b = b[min((l+3)&^3, len(b)):]
	}
	return p, haveID
}

// stop unbinds the queue (the kernel drops what it still holds) and makes
// read return within its receive timeout.
func (q *queue) stop() {
	q.closed.Store(true)
	_ = q.request(nfqnlMsgConfig, []attr{{nfqaCfgCmd, []byte{nfqnlCfgCmdUnbind, 0, 0, 0}}}, false)
}

// Close closes the socket; call it once read has returned (after stop), so
// that no receive or late verdict uses the descriptor after it is reused.
func (q *queue) Close() error {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.fdClosed {
		return nil
	}
	q.fdClosed = true
	return syscall.Close(q.fd)
}
