"""For tests/receive.rs: a UDP socket bound to port 0 on 127.0.0.1 (a `bind(client:)` rule refuses
it) and then on 127.0.0.2 (allowed)."""

import socket

from armrtest import emit, outcome

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
emit('bind_refused_client', outcome(s.bind, ('127.0.0.1', 0)))
emit('bind_allowed_client', outcome(s.bind, ('127.0.0.2', 0)))
emit('done', 'yes')
