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
    result["body"] = response.split(b"\r\n\r\n", 1)[-1][:2048].decode("utf-8", "replace")

