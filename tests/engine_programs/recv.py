"""Binds a UDP socket to 127.0.0.1:PORT, prints "ready", then receives three datagrams with
recvfrom, recvmsg and recv (each printed), and a fourth that does not come ("timed out")."""
import socket
import sys

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
print("ready", flush=True)
s.settimeout(1)
print(s.recvfrom(100)[0].decode())
print(s.recvmsg(100)[0].decode())
print(s.recv(100).decode())
try:
    s.recvfrom(100)
except socket.timeout:
    print("timed out")
