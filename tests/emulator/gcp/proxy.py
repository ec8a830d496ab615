"""The kas-emulator's HTTP proxy for gcloud (stdlib only).

gcloud sends requests through its proxy properties. Plain requests
(absolute-form, to the emulator's own http://127.0.0.1 endpoints) are
relayed unchanged; `CONNECT host:443` (Google's fixed revoke URL, which no
property overrides) is answered, TLS is terminated with a certificate from
the test CA (gcloud trusts it through core/custom_ca_certs_file) and the
decrypted stream is relayed to the emulator.

With --tls-front it is instead an HTTPS front for a plain HTTP server
(a Kubernetes emulator behind an emulated GKE cluster's endpoint): every
connection is TLS from the first byte and relayed to that port.

Usage: python3 proxy.py PORT CERT KEY [--tls-front]. Prints the port it listens
on, then serves until its standard input closes: its parent is gone. If
that parent was killed rather than stopped, nobody else removes the
emulator's throwaway folder (where this script lives), so it does.
"""
import os
import select
import shutil
import socket
import ssl
import sys
import threading

EMULATOR = ("127.0.0.1", int(sys.argv[1]))
TLS_FRONT = "--tls-front" in sys.argv[4:]
TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
TLS.load_cert_chain(sys.argv[2], sys.argv[3])


def relay(a, b):
    socks = [a, b]
    try:
        while True:
            pending = [s for s in socks if isinstance(s, ssl.SSLSocket) and s.pending()]
            readable = pending or select.select(socks, [], [], 60)[0]
            if not readable:
                return
            for s in readable:
                data = s.recv(65536)
                if not data:
                    return
                (b if s is a else a).sendall(data)
    except OSError:
        return


def serve(client):
    if TLS_FRONT:
        try:
            client = TLS.wrap_socket(client, server_side=True)
            relay(client, socket.create_connection(EMULATOR))
        except (OSError, ssl.SSLError):
            pass
        finally:
            client.close()
        return
    try:
        head = b""
        while b"\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                return
            head += chunk
        upstream = socket.create_connection(EMULATOR)
        if head.startswith(b"CONNECT "):
            while b"\r\n\r\n" not in head:
                head += client.recv(4096)
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
            client = TLS.wrap_socket(client, server_side=True)
        else:
            upstream.sendall(head)
        relay(client, upstream)
    except (OSError, ssl.SSLError):
        pass
    finally:
        client.close()


def watch_parent():
    sys.stdin.read()
    shutil.rmtree(os.path.dirname(os.path.abspath(__file__)), ignore_errors=True)
    os._exit(0)


listener = socket.socket()
listener.bind(("127.0.0.1", 0))
listener.listen(64)
print(listener.getsockname()[1], flush=True)
threading.Thread(target=watch_parent, daemon=True).start()
while True:
    conn, _ = listener.accept()
    threading.Thread(target=serve, args=(conn,), daemon=True).start()
