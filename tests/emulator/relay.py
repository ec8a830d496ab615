"""The emulators' TLS relay (stdlib only).

front: TLS in front of a plain HTTP server (the Kubernetes emulator, as a
GKE cluster's endpoint names it): every connection is TLS from the first
byte and relayed, byte for byte, to the server's port, so upgraded
connections (exec, port-forward) pass through too.

proxy: gcloud's HTTP proxy for the GCP emulator. gcloud sends requests
through its proxy properties. Plain requests (absolute-form, to the
emulator's own http://127.0.0.1 endpoints) are relayed unchanged;
`CONNECT host:443` (Google's fixed revoke URL, which no property
overrides) is answered, TLS is terminated with a certificate from the test
CA (gcloud trusts it through core/custom_ca_certs_file) and the decrypted
stream is relayed to the emulator.

Usage: python3 relay.py front|proxy PORT CERT KEY. Prints the port it
listens on, then serves until its standard input closes: its parent is
gone. If that parent was killed rather than stopped, nobody else removes
the emulator's throwaway folder (where this script lives), so it does.
"""
import os
import select
import shutil
import socket
import ssl
import sys
import threading

MODE = sys.argv[1]
TARGET = ("127.0.0.1", int(sys.argv[2]))
TLS = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
TLS.load_cert_chain(sys.argv[3], sys.argv[4])


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


def front(client):
    client = TLS.wrap_socket(client, server_side=True)
    relay(client, socket.create_connection(TARGET))


def proxy(client):
    head = b""
    while b"\r\n" not in head:
        chunk = client.recv(4096)
        if not chunk:
            return
        head += chunk
    upstream = socket.create_connection(TARGET)
    if head.startswith(b"CONNECT "):
        while b"\r\n\r\n" not in head:
            head += client.recv(4096)
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        client = TLS.wrap_socket(client, server_side=True)
    else:
        upstream.sendall(head)
    relay(client, upstream)


def serve(client):
    try:
        (front if MODE == "front" else proxy)(client)
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
