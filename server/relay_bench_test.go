package server_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/switchboard-chat/switchboard/internal/teststore"
)

// BenchmarkRelay measures one visitor → operator relay over real
// WebSockets: send, store (group commit), ack, publish, receive. Each
// iteration is one message's send → receive latency; p50 and p99 are
// reported beside ns/op.
//
//	go test -run='^$' -bench=Relay -benchtime=2000x ./server/
func BenchmarkRelay(b *testing.B) {
	for _, backend := range teststore.Backends {
		b.Run("backend="+backend, func(b *testing.B) {
			n := newNode(b, teststore.Open(b, backend), nodeOptions{})
			p := newPair(b, n, "bench")
			var lat []time.Duration
			i := 0
			for b.Loop() {
				i++
				id := fmt.Sprint("m", i)
				start := time.Now()
				p.v.send(frame{"type": "message.send", "chat_id": p.chatID, "client_msg_id": id, "body": "hello", "ref": id})
				p.op.wait(10*time.Second, "relayed", func(f frame) bool { return f.str("type") == "message" && f.str("client_msg_id") == id })
				lat = append(lat, time.Since(start))
				p.v.wait(10*time.Second, "ack", func(f frame) bool { return f.str("ref") == id })
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
