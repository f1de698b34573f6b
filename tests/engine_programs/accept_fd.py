"""Accepts once on the listening socket it inherited as descriptor FD; prints the peer's address,
or the error."""
import socket
import sys

s = socket.socket(fileno=int(sys.argv[1]))
try:
    conn, peer = s.accept()
    print("accepted", peer[0])
except OSError as e:
    print("accept:", e.strerror)
