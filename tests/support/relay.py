"""A TCP relay in front of a test server, for the network a real mailbox sits behind:
TLS on the client's side (126.com's port 993 is implicit TLS) and lines split wherever
TCP may split them. The server behind it is a real one (pymap); only the path changes."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import socket
import ssl
import threading
from pathlib import Path
from typing import Self

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from formbot.demo.imap_server import LOOPBACK


def self_signed(folder: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key: (cert.pem, key.pem).
    A client trusts it with SSL_CERT_FILE=cert.pem (OpenSSL reads it per context)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "formbot test server")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([
            x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(LOOPBACK))]),
            critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


class Relay:
    """Relays each client connection to (host, port), in a thread of its own running an
    event loop. `tls`: the client speaks TLS to the relay. `trickle`: the server's bytes
    reach the client one TCP segment each (TCP_NODELAY), so its lines arrive in pieces."""

    def __init__(self, host: str, port: int, *, tls: ssl.SSLContext | None = None,
                 trickle: bool = False) -> None:
        self._target = (host, port)
        self._tls, self._trickle = tls, trickle
        self.host, self.port = LOOPBACK, 0
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("relay did not start")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(10)

    async def _serve(self) -> None:
        server = await asyncio.start_server(self._handle, LOOPBACK, 0, ssl=self._tls)
        self.port = server.sockets[0].getsockname()[1]
        self._loop, self._stop = asyncio.get_running_loop(), asyncio.Event()
        self._ready.set()
        async with server:
            await self._stop.wait()
            current = asyncio.current_task()
            for task in asyncio.all_tasks():
                if task is not current:
                    task.cancel()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(*self._target)
        if self._trickle:
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.gather(self._pump(reader, up_writer, trickle=False),
                                 self._pump(up_reader, writer, trickle=self._trickle),
                                 return_exceptions=True)
        except asyncio.CancelledError:
            pass  # the relay is closing: asyncio's stream callback would log a cancelled task
        finally:
            writer.close()
            up_writer.close()

    @staticmethod
    async def _pump(source: asyncio.StreamReader, sink: asyncio.StreamWriter, *,
                    trickle: bool) -> None:
        try:
            while chunk := await source.read(65536):
                for at in range(0, len(chunk), 1 if trickle else len(chunk)):
                    sink.write(chunk[at:at + 1] if trickle else chunk)
                    await sink.drain()
        finally:
            sink.close()
