"""Connects from SOURCE (an address of this host) to 127.0.0.1:PORT and prints what it reads."""
import socket
import sys

s = socket.socket()
s.bind((sys.argv[1], 0))
s.connect(("127.0.0.1", int(sys.argv[2])))
print(s.recv(8).decode())
