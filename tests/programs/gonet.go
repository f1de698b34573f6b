// Socket calls by Go's runtime (never through libc, with cgo or without), one operation per
// run, for tests/seccomp.rs, which builds it with CGO_ENABLED=0 and with CGO_ENABLED=1 -tags
// netcgo. The same operations and output as tests/programs/netops.c:
//
//	gonet connect HOST PORT     "connect: OK" or "connect: ERRNO"
//	gonet listen HOST PORT      "listen: OK" or "listen: ERRNO"
//	gonet accept HOST PORT N    "listening: OK", then N of "accept: IP:PORT" (it writes
//	                            "hello\n" and closes) or "accept: ERRNO"
//	gonet udp HOST PORT         "sendto: 4" or "sendto: ERRNO"
//	gonet udprecv HOST PORT N   "bound: OK", then N of "datagram: IP:PORT DATA" or
//	                            "datagram: ERRNO"
//	gonet udpread HOST PORT N   the same with Read (the read system call, no sender):
//	                            "datagram: DATA"
//	gonet resolve NAME          IPv4 addresses of NAME by Go's resolver (its own DNS code with
//	                            CGO_ENABLED=0, glibc's getaddrinfo with -tags netcgo):
//	                            "resolve: IP" or "resolve: failed"
//	gonet http HOST PORT        an HTTP server answering "hello from go\n" on every path;
//	                            "listening: OK", and on SIGTERM a clean shutdown, "shutdown: OK",
//	                            exit 0
//
// Each run prints "pid: PID" first (the process an event must name).
package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
)

var names = map[syscall.Errno]string{
	syscall.EACCES: "EACCES", syscall.EPERM: "EPERM", syscall.ECONNREFUSED: "ECONNREFUSED",
	syscall.ECONNRESET: "ECONNRESET", syscall.ECONNABORTED: "ECONNABORTED",
	syscall.ENOSYS: "ENOSYS", syscall.EAGAIN: "EAGAIN", syscall.EINPROGRESS: "EINPROGRESS",
	syscall.ETIMEDOUT: "ETIMEDOUT", syscall.EADDRINUSE: "EADDRINUSE", syscall.EINVAL: "EINVAL",
}

// The errno's name (as errname.h writes it), or the error's text.
func name(err error) string {
	var errno syscall.Errno
	if errors.As(err, &errno) {
		if n, ok := names[errno]; ok {
			return n
		}
		return fmt.Sprintf("errno %d", int(errno))
	}
	return err.Error()
}

func report(what string, err error) {
	if err != nil {
		fmt.Printf("%s: %s\n", what, name(err))
	} else {
		fmt.Printf("%s: OK\n", what)
	}
}

func main() {
	if len(os.Args) == 3 && os.Args[1] == "resolve" {
		fmt.Printf("pid: %d\n", os.Getpid())
		ips, err := net.DefaultResolver.LookupIP(context.Background(), "ip4", os.Args[2])
		if err != nil || len(ips) == 0 {
			fmt.Println("resolve: failed")
			fmt.Fprintln(os.Stderr, err)
			return
		}
		fmt.Printf("resolve: %s\n", ips[0])
		return
	}
	if len(os.Args) < 4 {
		fmt.Fprintln(os.Stderr, "usage: gonet connect|listen|accept|udp|http HOST PORT [N]")
		os.Exit(2)
	}
	fmt.Printf("pid: %d\n", os.Getpid())
	address := net.JoinHostPort(os.Args[2], os.Args[3])
	switch os.Args[1] {
	case "connect":
		c, err := net.Dial("tcp4", address)
		report("connect", err)
		if err == nil {
			c.Close()
		}
	case "listen":
		l, err := net.Listen("tcp4", address)
		report("listen", err)
		if err == nil {
			l.Close()
		}
	case "accept":
		l, err := net.Listen("tcp4", address)
		report("listening", err)
		if err != nil {
			return
		}
		n := 1
		if len(os.Args) > 4 {
			fmt.Sscan(os.Args[4], &n)
		}
		for i := 0; i < n; i++ {
			c, err := l.Accept()
			if err != nil {
				report("accept", err)
				continue
			}
			fmt.Printf("accept: %s\n", c.RemoteAddr())
			c.Write([]byte("hello\n"))
			c.Close()
		}
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			report("socket", err)
			return
		}
		to, _ := net.ResolveUDPAddr("udp4", address)
		n, err := c.WriteTo([]byte("ping"), to)
		if err != nil {
			report("sendto", err)
		} else {
			fmt.Printf("sendto: %d\n", n)
		}
	case "udprecv", "udpread":
		c, err := net.ListenPacket("udp4", address)
		report("bound", err)
		if err != nil {
			return
		}
		n := 1
		if len(os.Args) > 4 {
			fmt.Sscan(os.Args[4], &n)
		}
		buf := make([]byte, 64)
		for i := 0; i < n; i++ {
			if os.Args[1] == "udpread" {
				// Read: the read system call, no sender.
				got, err := c.(*net.UDPConn).Read(buf)
				if err != nil {
					report("datagram", err)
					continue
				}
				fmt.Printf("datagram: %s\n", buf[:got])
				continue
			}
			got, from, err := c.ReadFrom(buf)
			if err != nil {
				report("datagram", err)
				continue
			}
			fmt.Printf("datagram: %s %s\n", from, buf[:got])
		}
	case "http":
		l, err := net.Listen("tcp4", address)
		report("listening", err)
		if err != nil {
			return
		}
		server := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte("hello from go\n"))
		})}
		stop := make(chan os.Signal, 1)
		signal.Notify(stop, syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- server.Serve(l) }()
		select {
		case <-stop:
			report("shutdown", server.Shutdown(context.Background()))
		case err := <-done:
			report("serve", err)
			os.Exit(1)
		}
	default:
		fmt.Fprintln(os.Stderr, "gonet: unknown operation", os.Args[1])
		os.Exit(2)
	}
}
