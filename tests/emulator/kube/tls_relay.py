"""TLS in front of the Kubernetes emulator (stdlib only).

Terminates TLS with the emulator's test certificate and relays each
connection, byte for byte, to the emulator's plain HTTP port, so upgraded
connections (exec, port-forward) pass through too.

Usage: python3 tls_relay.py EMULATOR_PORT CERT KEY. Prints the port it
listens on, then serves until its standard input closes (its parent is
gone).
"""
import os
import select
import socket
import ssl
import sys
import threading

EMULATOR = ("127.0.0.1", int(sys.argv[1]))
TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
TLS.load_cert_chain(sys.argv[2], sys.argv[3])


def relay(a, b):
    socks = [a, b]
    try:
        while True:
            pending = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
            readable = pending or select.select(socks, [], [], 300)[0]
            if not readable:
                return
            for s in readable:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        pass
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass


def serve(client):
    try:
        tls = TLS.wrap_socket(client, server_side=True)
        upstream = socket.create_connection(EMULATOR)
    except (OSError, ssl.SSLError):
        client.close()
        return
    relay(tls, upstream)


def main():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    print(listener.getsockname()[1], flush=True)
    # Exit with the parent: it holds our standard input open.
    threading.Thread(target=lambda: (sys.stdin.read(), os._exit(0)), daemon=True).start()
    while True:
        client, _ = listener.accept()
        threading.Thread(target=serve, args=(client,), daemon=True).start()


main()
