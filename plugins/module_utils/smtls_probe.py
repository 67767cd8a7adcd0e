# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A TLS handshake the way an SM client makes it, with that client's own material.

Connects to an SM server's HTTPS port, trusting only the CAs of a given
truststore and presenting the key entry of a given keystore, completes the
handshake and one HTTP request (with TLS 1.3 a refused client certificate only
shows on the first read), and explains a failure as one of a few reasons.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import secrets
import shutil
import socket
import ssl
import tempfile
import time

try:
    from urllib.parse import urlsplit
except ImportError:  # Python 2 (ansible-test's older targets)
    from urlparse import urlsplit

from cryptography import x509

from ansible.module_utils import smtls_x509 as pki

REASONS = {
    "ok": "handshake and request succeeded",
    "nothing_listening": "nothing listens on that port (service down or SSL connector off)",
    "unknown_host": "the host name does not resolve",
    "timeout": "no answer in time",
    "untrusted_ca": "the server's certificate is not from a CA in the truststore",
    "name_mismatch": "the server's certificate does not carry the name connected to",
    "certificate_expired": "the server's certificate has expired",
    "certificate_refused": "the server refused the client certificate (or its absence)",
    "protocol_mismatch": "no TLS protocol version or cipher in common",
    "not_tls": "the port answers, but not with TLS",
    "connection_closed": "the server closed the connection without an answer or an alert (stopping or "
                         "starting)",
    "error": "other TLS failure",
}

_REFUSED_ALERTS = ("CERTIFICATE_REQUIRED", "BAD_CERTIFICATE", "CERTIFICATE_UNKNOWN",
                   "UNKNOWN_CA", "ACCESS_DENIED", "CERTIFICATE_REVOKED", "UNSUPPORTED_CERTIFICATE",
                   "HANDSHAKE_FAILURE")


class ProbeMaterial:
    """CA certificates to trust and an optional client key with its chain."""

    def __init__(self, ca_certs, client_key=None, client_chain=None):
        self.ca_certs = list(ca_certs)
        self.client_key = client_key
        self.client_chain = list(client_chain or [])


def _classify(exc):
    text = str(exc).upper()
    if isinstance(exc, ssl.SSLCertVerificationError):
        code = getattr(exc, "verify_code", None)
        if code == 62 or "HOSTNAME MISMATCH" in text or "IP ADDRESS MISMATCH" in text:
            return "name_mismatch"
        if code == 10 or "EXPIRED" in text:
            return "certificate_expired"
        return "untrusted_ca"
    if isinstance(exc, ConnectionRefusedError):
        return "nothing_listening"
    if isinstance(exc, socket.gaierror):
        return "unknown_host"
    if isinstance(exc, (socket.timeout, TimeoutError)):
        return "timeout"
    if isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectionAbortedError)):
        return "connection_closed"
    if isinstance(exc, ssl.SSLError):
        if any(m in text for m in ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE",
                                   "PACKET_LENGTH_TOO_LONG")):
            return "not_tls"
        if "PROTOCOL_VERSION" in text or "UNSUPPORTED_PROTOCOL" in text or "NO_SHARED_CIPHER" in text:
            return "protocol_mismatch"
        if any(alert in text for alert in _REFUSED_ALERTS):
            return "certificate_refused"
        return "error"
    if isinstance(exc, (ConnectionResetError, BrokenPipeError)):
        return "certificate_refused"
    return "error"


def _context(material, verify_hostname, workdir):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = verify_hostname
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata="".join(pki.cert_pem(c) for c in material.ca_certs))
    if material.client_key is not None:
        # ssl wants files: the key goes to a private directory, encrypted with a one-time
        # password, and is deleted as soon as the context has loaded it.
        one_time = secrets.token_urlsafe(24)
        key_path = os.path.join(workdir, "key.pem")
        cert_path = os.path.join(workdir, "chain.pem")
        with open(os.open(key_path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as handle:
            handle.write(pki.key_pem(material.client_key, one_time))
        with open(cert_path, "w") as handle:
            handle.write(pki.chain_pem(material.client_chain))
        try:
            context.load_cert_chain(cert_path, key_path, password=one_time)
        finally:
            os.unlink(key_path)
            os.unlink(cert_path)
    return context


def probe(host, port, material, server_name=None, verify_hostname=True, timeout=10.0,
          wait=0.0, path="/", plain=False):
    """Returns a dict: ok, reason, reason_text, message, protocol, cipher, peer, http_status.

    plain: an HTTP request without TLS (a server in the mode without SSL).
    """
    result = {"ok": False, "host": host, "port": port, "protocol": None, "cipher": None,
              "peer": None, "http_status": None,
              "client_certificate": material is not None and material.client_key is not None}
    workdir = tempfile.mkdtemp(prefix="smtls-probe-")
    deadline = time.time() + max(wait, 0)
    try:
        context = None if plain else _context(material, verify_hostname, workdir)
        while True:
            try:
                _exchange(context, host, port, server_name or host, timeout, path, result)
                result.update(ok=True, reason="ok")
                break
            except Exception as exc:  # every failure is classified and reported
                reason = _classify(exc)
                result.update(reason=reason, message="%s: %s" % (type(exc).__name__, exc))
                # a service still stopping or starting: try again until the wait is over
                if (reason not in ("nothing_listening", "timeout", "connection_closed")
                        or time.time() >= deadline):
                    break
                time.sleep(1)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    result["reason_text"] = REASONS[result["reason"]]
    return result


def _exchange(context, host, port, server_name, timeout, path, result):
    with socket.create_connection((host, port), timeout=timeout) as raw:
        if context is None:
            _request(raw, path, server_name, result)
            return
        with context.wrap_socket(raw, server_hostname=server_name) as tls:
            der = tls.getpeercert(binary_form=True)
            if der:
                result["peer"] = pki.describe(x509.load_der_x509_certificate(der))
            result["protocol"] = tls.version()
            result["cipher"] = tls.cipher()[0] if tls.cipher() else None
            _request(tls, path, server_name, result)


def _request(channel, path, server_name, result):
    request = "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: smtls-probe\r\n\r\n" % (path, server_name)
    channel.sendall(request.encode("ascii"))
    response = b""
    while len(response) < 65536:
        chunk = channel.recv(4096)
        if not chunk:
            break
        response += chunk
    if not response:  # closed after the handshake, before any answer (and with no alert)
        raise ConnectionAbortedError("the server closed the connection without an answer")
    status_line = response.split(b"\r\n", 1)[0].decode("latin-1")
    parts = status_line.split()
    if len(parts) < 2 or not parts[1].isdigit():
        raise ssl.SSLError("no HTTP response (%r)" % status_line[:60])
    result["http_status"] = int(parts[1])
    head, _sep, body = response.partition(b"\r\n\r\n")
    result["body"] = body[:2048].decode("utf-8", "replace")
    for header in head.split(b"\r\n")[1:]:
        name, _colon, value = header.decode("latin-1").partition(":")
        if name.strip().lower() == "location":  # where a load balancer sends the client
            result["location"] = value.strip()



def served(host, port, server_name=None, timeout=10.0):
    """The certificate a TLS port serves, whoever asks: nothing verified and no client certificate
    offered, so a server that insists on a client certificate still shows its own (TLS 1.3: the
    handshake completes before the server judges the client; TLS 1.2: read off the Certificate
    message, sent in the clear before the server refuses). For the liveness check, which compares
    it with the keystore's, not for trust (probe() is the proof with a client's material).

    Returns a dict: port, answered, reason, reason_text, message, sha256, subject, not_after,
    protocol."""
    result = {"port": port, "answered": False, "reason": "ok", "message": None, "sha256": None,
              "subject": None, "not_after": None, "protocol": None}
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    received = bytearray()
    der, failure = None, None
    try:
        with socket.create_connection((host, port), timeout=timeout) as raw:
            incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
            tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name or host)
            try:
                while True:
                    try:
                        tls.do_handshake()
                        break
                    except ssl.SSLWantReadError:
                        _send(raw, outgoing)
                        data = raw.recv(65536)
                        if not data:
                            raise ConnectionAbortedError("the server closed the connection in the handshake")
                        received += data
                        incoming.write(data)
                _send(raw, outgoing)
                der = tls.getpeercert(binary_form=True)
                result["protocol"] = tls.version()
            except (ssl.SSLError, OSError) as exc:
                failure = exc
                der = _tls12_certificate(bytes(received))
                if der:
                    result["protocol"] = "TLSv1.2"
    except Exception as exc:  # every failure is classified and reported
        failure = exc
    if der:
        cert = x509.load_der_x509_certificate(der)
        result.update(answered=True, sha256=pki.sha256_hex(cert), subject=cert.subject.rfc4514_string(),
                      not_after=pki.not_after(cert).isoformat())
    else:
        reason = _classify(failure) if failure is not None else "error"
        # nothing came back at all: no client certificate was refused, the port just closed
        result.update(reason="connection_closed" if reason == "certificate_refused" else reason,
                      message="%s: %s" % (type(failure).__name__, failure) if failure else "no certificate")
    result["reason_text"] = REASONS[result["reason"]]
    return result


def _send(raw, outgoing):
    data = outgoing.read()
    if data:
        raw.sendall(data)


def _tls12_certificate(data):
    """The server's certificate (DER) from the handshake records of a TLS 1.2 (or older) server,
    or None: the records before ChangeCipherSpec are in the clear (TLS 1.3 encrypts it)."""
    handshake, offset = bytearray(), 0
    while offset + 5 <= len(data):
        kind, length = data[offset], int.from_bytes(data[offset + 3:offset + 5], "big")
        body = data[offset + 5:offset + 5 + length]
        offset += 5 + length
        if kind == 22:
            handshake += body
        elif kind != 21:  # change_cipher_spec or application data: encrypted from here
            break
    offset = 0
    while offset + 4 <= len(handshake):
        kind, length = handshake[offset], int.from_bytes(handshake[offset + 1:offset + 4], "big")
        body = handshake[offset + 4:offset + 4 + length]
        if len(body) < length:
            return None
        if kind == 11 and len(body) >= 6:  # Certificate: list length, then the first's length
            first = int.from_bytes(body[3:6], "big")
            return bytes(body[6:6 + first]) or None
        offset += 4 + length
    return None


def redirect_problem(result, names):
    """Why a load balancer's answer does not send clients to a name the servers' certificates carry,
    or '' (no redirect, or no names to check). The vendor documents that the load balancer
    redirects clients to a servlet; scheme and port are the servlet's."""
    location = result.get("location")
    if not location or not names:
        return ""
    try:
        target = urlsplit(location).hostname or ""
    except ValueError:
        target = ""
    if target.lower() in [str(n).lower() for n in names]:
        return ""
    shown = ", ".join(list(names)[:3]) + (", ..." if len(names) > 3 else "")
    return ("the load balancer at %s:%s sends clients to %s, a host no server certificate carries (%s), "
            "so their handshake fails. Fix: add that host to sm_server_dns_names"
            % (result.get("host"), result.get("port"), location, shown))
