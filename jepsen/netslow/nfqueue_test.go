package netslow

import (
	"encoding/binary"
	"net/netip"
	"testing"
)

// packetMsg builds the attributes of an NFQUEUE packet message: the header
// with id, and a payload starting with an IPv4 header from src to dst.
func packetMsg(id uint32, src, dst netip.Addr) []byte {
	var b []byte
	put := func(typ uint16, data []byte) {
		b = binary.NativeEndian.AppendUint16(b, uint16(4+len(data)))
		b = binary.NativeEndian.AppendUint16(b, typ)
		b = append(b, data...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
	}
	hdr := binary.BigEndian.AppendUint32(nil, id)
	hdr = append(hdr, 0x08, 0x00, 3) // hw protocol, hook
	put(nfqaPacketHdr, hdr)
	ip := make([]byte, 20)
	ip[0] = 0x45
	s, d := src.As4(), dst.As4()
	copy(ip[12:], s[:])
	copy(ip[16:], d[:])
	put(nfqaPayload, ip)
	return b
}

func TestParsePacket(t *testing.T) {
	src, dst := netip.MustParseAddr("10.77.0.11"), netip.MustParseAddr("10.77.0.12")
	p, ok := parsePacket(packetMsg(77, src, dst))
	if !ok || p.id != 77 || p.src != src || p.dst != dst {
		t.Fatalf("parsed %+v %v, want id 77 from %s to %s", p, ok, src, dst)
	}
	if _, ok := parsePacket(nil); ok {
		t.Error("an empty message parsed as a packet")
	}
}

// FuzzParsePacket: whatever the kernel (or a corrupt buffer) sends, the
// parser neither panics nor reads past the message.
func FuzzParsePacket(f *testing.F) {
	f.Add(packetMsg(1, netip.MustParseAddr("10.77.0.11"), netip.MustParseAddr("10.77.0.15")))
	f.Add([]byte{4, 0, 1, 0})
	f.Add([]byte{0xff, 0xff, 1, 0, 1, 2, 3})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, ok := parsePacket(b)
		if !ok && p.id != 0 {
			t.Fatalf("no header, yet id %d", p.id)
		}
	})
}
