# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Certificates from a corporate CA's ACME endpoint (RFC 8555), on the controller.

The protocol is the `acme` library's (Certbot's); this engine only strings its calls into the
steps a rollout needs, each one module run on the controller:

  check     the directory answers over TLS verified with the given CA, and the account exists
            (registered on first use, with External Account Binding when the CA asks for it);
  authorize open an order for an identity's names and return the http-01 tokens to serve
            (nothing when the CA still holds valid authorizations for them);
  validate  tell the CA the tokens are served, wait until it has checked every name;
  finalize  send the host's CSR, download the chain, and refuse it unless it is for that CSR's
            key and names and leads to the configured root.

The order travels between the steps as the library's own JSON (URLs and names: no secret). It
is opened before the host makes its key, so a name that cannot be proven stops the identity with
no file on the host changed. The library's new_order() reads the names from a CSR; the host's
CSR does not exist yet then, so the order is opened with one made here for a key that is dropped
at once (the names are what the CA authorizes; the host's CSR finalizes the order).

The account key stays on the controller, encrypted with its own passphrase.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime
import os
import time

from ansible.module_utils import smtls_x509 as pki

try:
    import josepy
    import requests
    from acme import client as acme_client
    from acme import challenges as acme_challenges
    from acme import errors as acme_errors
    from acme import messages as acme_messages

    IMPORT_ERROR = None
    # what the library raises besides a problem document it was sent: a network failure, a
    # nonce it could not get, an answer that is no ACME, an order gone invalid without a reason
    LIBRARY_ERRORS = (
        acme_errors.Error,
        acme_messages.Error,
        requests.exceptions.RequestException,
        ValueError,
    )
except ImportError as exc:  # reported by the module, with the fix
    IMPORT_ERROR = exc
    LIBRARY_ERRORS = ()


class AcmeError(Exception):
    pass


def problem_text(error):
    """An ACME problem document (RFC 7807) as one line: type, detail and the names it concerns."""
    if IMPORT_ERROR is None and isinstance(error, acme_messages.Error):
        text = "%s: %s" % (error.code or error.typ, error.detail or error.description or "")
        for sub in error.subproblems or ():
            name = sub.identifier.value if sub.identifier else ""
            text += "; %s %s: %s" % (name, sub.code or sub.typ, sub.detail or "")
        return text
    if IMPORT_ERROR is None and isinstance(error, acme_errors.ValidationError):
        parts = []
        for authzr in error.failed_authzrs:
            for chall in authzr.body.challenges:
                if chall.error is not None:
                    parts.append("%s: %s" % (authzr.body.identifier.value, problem_text(chall.error)))
        return "; ".join(parts) or str(error)
    return str(error) or error.__class__.__name__


class Session:
    """One ACME account at one directory, as one module run sees it.

    p: directory_url, server_ca (PEM bundle that verifies the directory's TLS; None: the system's),
    account_key (path), account_key_passphrase, contact (emails), eab_kid, eab_hmac_key, timeout."""

    def __init__(self, p, check_mode=False, create=False):
        if IMPORT_ERROR is not None:
            raise AcmeError(
                "the ACME support needs the Python libraries acme and josepy on the "
                "controller: pip install -r requirements.txt (%s)" % IMPORT_ERROR
            )
        self.p = p
        self.check_mode = check_mode
        self.create = create  # only the check step (the CA play) makes the key and registers
        self.directory_url = p["directory_url"]
        self.key_written = None  # PEM of a new account key, for the module to write
        self.account_created = False
        self.account_uri = None
        self._key = self._account_key()
        self.jwk = josepy.JWKEC(key=self._key)
        verify = p.get("server_ca") or True
        if verify is not True and not os.path.exists(verify):
            raise AcmeError(
                "the CA bundle for the ACME server's TLS, %s, does not exist: set "
                "smtls_ca_acme_server_ca to the PEM file of the CA that signed its HTTPS "
                "certificate" % verify
            )
        self.net = acme_client.ClientNetwork(
            self.jwk,
            alg=josepy.ES256,
            verify_ssl=verify,
            user_agent="smtls",
            timeout=int(p.get("timeout") or 30),
        )
        try:
            directory = acme_client.ClientV2.get_directory(self.directory_url, self.net)
        except requests.exceptions.SSLError as exc:
            raise AcmeError(
                "the ACME directory %s: its TLS certificate is not issued under %s (%s). "
                "Fix: if that file is the CA's root (ca.crt), it is not the root of this "
                "CA - put the right one there; if the server's HTTPS certificate comes "
                "from another CA, set smtls_ca_acme_server_ca to that CA's certificate"
                % (self.directory_url, verify if verify is not True else "the system's CAs", _short(exc))
            )
        except (
            requests.exceptions.RequestException,
            ValueError,
            acme_errors.Error,
            acme_messages.Error,
        ) as exc:
            raise AcmeError(
                "the ACME directory %s cannot be read: %s. Fix: check "
                "smtls_ca_acme_directory_url and that the controller reaches the CA"
                % (self.directory_url, _short(exc))
            )
        self.client = acme_client.ClientV2(directory, self.net)
        self.directory = directory

    # --- the account ------------------------------------------------------------------

    def _account_key(self):
        path = self.p["account_key"]
        passphrase = self.p.get("account_key_passphrase")
        if not passphrase or len(passphrase) < 8:
            raise AcmeError(
                "the ACME account key %s needs a passphrase of at least 8 characters "
                "(smtls_ca_acme_account_key_passphrase)" % path
            )
        if os.path.exists(path):
            key = pki.parse_pem_key(
                pki.read_file(path, "ACME account key"), passphrase, "ACME account key %s" % path
            )
            if not isinstance(key, pki.ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
                raise AcmeError(
                    "the ACME account key %s is not a P-256 EC key (the one smtls makes): "
                    "move it aside to have a new account made" % path
                )
            return key
        if not self.create:
            raise AcmeError(
                "there is no ACME account key at %s: the CA play of site.yml makes it and registers "
                "the account before any host is touched. Fix: run playbooks/site.yml whole" % path
            )
        key = pki.generate_key("ec")
        self.key_written = pki.key_pem(key, passphrase)
        return key

    def account(self):
        """Find the account of this key, or register it (not in check mode). Returns its URI."""
        try:
            self.client.new_account(acme_messages.NewRegistration(only_return_existing=True))
        except acme_errors.ConflictError as exists:  # the library's way of saying "found"
            self.account_uri = exists.location
        except acme_messages.Error as exc:
            if exc.code != "accountDoesNotExist":
                raise AcmeError(
                    "the ACME account at %s cannot be looked up: %s" % (self.directory_url, problem_text(exc))
                )
        if self.account_uri:
            self.net.account = acme_messages.RegistrationResource(
                uri=self.account_uri, body=acme_messages.Registration()
            )
            return self.account_uri
        if self.check_mode:
            return None
        if not self.create:
            raise AcmeError(
                "the ACME account of %s is not registered at %s: the CA play of site.yml registers it. "
                "Fix: run playbooks/site.yml whole" % (self.p["account_key"], self.directory_url)
            )
        self._register()
        return self.account_uri

    def _register(self):
        meta = self.directory.meta
        kid, hmac_key = self.p.get("eab_kid"), self.p.get("eab_hmac_key")
        if bool(kid) != bool(hmac_key):
            raise AcmeError(
                "External Account Binding needs both smtls_ca_acme_eab_kid and smtls_ca_acme_eab_hmac_key"
            )
        if getattr(meta, "external_account_required", False) and not kid:
            raise AcmeError(
                "the ACME CA at %s requires External Account Binding: set smtls_ca_acme_eab_kid "
                "and smtls_ca_acme_eab_hmac_key to the key id and HMAC key the CA gave you"
                % self.directory_url
            )
        binding = None
        if kid:
            try:
                binding = acme_messages.ExternalAccountBinding.from_data(
                    account_public_key=self.jwk.public_key(),
                    kid=kid,
                    hmac_key=hmac_key,
                    directory=self.directory,
                )
            except (ValueError, TypeError) as exc:
                raise AcmeError("smtls_ca_acme_eab_hmac_key is not a base64url HMAC key (%s)" % _short(exc))
        contact = tuple(
            "mailto:" + c if "@" in c and not c.startswith("mailto:") else c
            for c in self.p.get("contact") or []
        )
        registration = acme_messages.NewRegistration(
            contact=contact, terms_of_service_agreed=True, external_account_binding=binding
        )
        try:
            regr = self.client.new_account(registration)
        except acme_errors.ConflictError as exists:
            regr = acme_messages.RegistrationResource(uri=exists.location, body=acme_messages.Registration())
        except acme_messages.Error as exc:
            hint = (
                " Fix: check smtls_ca_acme_eab_kid and smtls_ca_acme_eab_hmac_key against the CA's"
                if kid
                else ""
            )
            raise AcmeError(
                "the ACME CA at %s refused to register the account: %s.%s"
                % (self.directory_url, problem_text(exc), hint)
            )
        self.net.account = regr
        self.account_uri = regr.uri
        self.account_created = True

    # --- orders -----------------------------------------------------------------------

    def authorize(self, common, dns, ips, challenge="http-01"):
        """Open an order for the names; return (order JSON, [challenge to answer]): for http-01
        the token and content the host serves, for dns-01 the TXT record and its value."""
        # the identifiers: these names, and the common name (which the library takes from the CSR)
        dns_names, ip_names = pki.normalise_names(dns, ips)
        if challenge == "dns-01" and ip_names:
            raise AcmeError(
                "dns-01 proves DNS names only, and %s asks for the IP addresses %s. Fix: the "
                "http-01 challenge, or no IP address in its names" % (common, ", ".join(ip_names))
            )
        throwaway = pki.generate_key("ec")
        # the CA takes the common name for a name too: as a name, lowercase (no duplicate)
        csr = pki.csr_pem(pki.make_csr(throwaway, common.lower(), dns_names, ip_names)).encode("ascii")
        try:
            orderr = self.client.new_order(csr)
        except acme_messages.Error as exc:
            raise AcmeError(
                "the ACME CA refused an order for %s: %s"
                % (", ".join(dns_names + ip_names), problem_text(exc))
            )
        served = []
        for authzr in orderr.authorizations:
            if authzr.body.status == acme_messages.STATUS_VALID:
                continue
            challb = _challenge(authzr, challenge)
            if challb is None:
                raise AcmeError(
                    "the ACME CA offers no %s challenge for %s (it offers %s)"
                    % (
                        challenge,
                        authzr.body.identifier.value,
                        ", ".join(c.chall.typ for c in authzr.body.challenges),
                    )
                )
            name = authzr.body.identifier.value
            answer = {"identifier": name, "type": challenge, "url": challb.uri}
            if challenge == "dns-01":
                answer.update(
                    record=challb.chall.validation_domain_name(name), value=challb.chall.validation(self.jwk)
                )
            else:
                answer.update(token=challb.chall.encode("token"), content=challb.chall.validation(self.jwk))
            served.append(answer)
        return orderr.json_dumps(), served

    def _order(self, order_json):
        try:
            return acme_messages.OrderResource.json_loads(order_json)
        except (ValueError, TypeError, josepy.errors.DeserializationError) as exc:
            raise AcmeError("the ACME order handed over is not one smtls opened (%s)" % _short(exc))

    def validate(self, order_json, timeout=120, challenge="http-01", dns_update=None):
        """Answer the order's pending challenges; wait until the CA checked each name. For
        dns-01, dns_update publishes each TXT record first (RFC 2136) and removes it after, in
        every case."""
        orderr = self._order(order_json)
        pending = [a for a in orderr.authorizations if a.body.status == acme_messages.STATUS_PENDING]
        records = []
        try:
            for authzr in pending:
                challb = _challenge(authzr, challenge)
                if challenge == "dns-01":
                    name = authzr.body.identifier.value
                    record = (challb.chall.validation_domain_name(name), challb.chall.validation(self.jwk))
                    dns_update.publish(*record)
                    records.append(record)
            if records:
                dns_update.wait_visible(records, timeout)
            for authzr in pending:
                challb = _challenge(authzr, challenge)
                try:
                    self.client.answer_challenge(challb, challb.response(self.jwk))
                except acme_messages.Error as exc:
                    raise AcmeError(
                        "the ACME CA refused the %s answer for %s: %s"
                        % (challenge, authzr.body.identifier.value, problem_text(exc))
                    )
            deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout)
            try:
                orderr = self.client.poll_authorizations(orderr, deadline)
            except acme_errors.ValidationError as exc:
                raise AcmeError("the ACME CA could not validate %s" % problem_text(exc))
            except acme_errors.TimeoutError:
                raise AcmeError("the ACME CA did not finish validating within %d s" % timeout)
        finally:
            for record in records:
                dns_update.remove(*record)
        return orderr.json_dumps()

    def finalize(self, order_json, csr_pem, root, usage="server", timeout=120):
        """The chain the CA issues for the host's CSR: leaf first, ending with root (a list of
        certificates), after checking it is for that CSR and leads to root."""
        orderr = self._order(order_json)
        csr = pki.parse_csr(csr_pem, "the host's CSR")
        orderr = orderr.update(csr_pem=csr_pem.encode("ascii") if isinstance(csr_pem, str) else csr_pem)
        deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout)
        try:
            orderr = self.client.finalize_order(orderr, deadline)
        except acme_messages.Error as exc:
            raise AcmeError("the ACME CA refused to issue: %s" % problem_text(exc))
        except acme_errors.IssuanceError as exc:
            raise AcmeError("the ACME CA did not issue: %s" % problem_text(exc.error))
        except acme_errors.TimeoutError:
            raise AcmeError("the ACME CA did not issue within %d s" % timeout)
        return checked_chain(orderr.fullchain_pem, csr, root, usage)


def _challenge(authzr, kind):
    wanted = acme_challenges.DNS01 if kind == "dns-01" else acme_challenges.HTTP01
    return next((c for c in authzr.body.challenges if isinstance(c.chall, wanted)), None)


class DnsUpdate:
    """TXT records for dns-01 through RFC 2136 dynamic updates signed with a TSIG key (what
    nsupdate does): published, seen on the server, removed. dnspython speaks DNS.

    p: dns_server, dns_port, dns_zone, dns_tsig_key_name, dns_tsig_key_secret, dns_tsig_algorithm."""

    def __init__(self, p, timeout=10):
        try:
            import dns.name
            import dns.tsigkeyring
        except ImportError as exc:
            raise AcmeError(
                "dns-01 needs the Python library dnspython on the controller: pip install -r "
                "requirements.txt (%s)" % exc
            )
        missing = [
            k for k in ("dns_server", "dns_zone", "dns_tsig_key_name", "dns_tsig_key_secret") if not p.get(k)
        ]
        if missing:
            raise AcmeError(
                "dns-01 needs %s (smtls_ca_acme_%s)" % (", ".join(missing), ", smtls_ca_acme_".join(missing))
            )
        self.server, self.port = p["dns_server"], int(p.get("dns_port") or 53)
        self.zone = dns.name.from_text(p["dns_zone"])
        self.key_name = dns.name.from_text(p["dns_tsig_key_name"])
        self.algorithm = dns.name.from_text(p.get("dns_tsig_algorithm") or "hmac-sha256")
        try:
            self.keyring = dns.tsigkeyring.from_text({p["dns_tsig_key_name"]: p["dns_tsig_key_secret"]})
        except Exception:  # noqa: BLE001 - binascii/ValueError: not base64; the secret is not shown
            raise AcmeError("smtls_ca_acme_dns_tsig_key_secret is not a base64 TSIG secret")
        self.timeout = timeout

    def _where(self):
        return "%s:%d" % (self.server, self.port)

    def _send(self, message, what):
        import dns.exception
        import dns.query
        import dns.rcode

        try:
            response = dns.query.tcp(message, self.server, port=self.port, timeout=self.timeout)
        except (dns.exception.DNSException, OSError) as exc:
            raise AcmeError(
                "the DNS server %s did not take the update of %s: %s. Fix: smtls_ca_acme_dns_server, "
                "smtls_ca_acme_dns_port, and the TSIG key (smtls_ca_acme_dns_tsig_key_name, "
                "_secret, _algorithm) the server knows"
                % (self._where(), what, exc.__class__.__name__ if not str(exc) else exc)
            )
        if response.rcode() != dns.rcode.NOERROR:
            raise AcmeError(
                "the DNS server %s refused the update of %s: %s. Fix: let the TSIG key %s update "
                "TXT records under %s (its update-policy or allow-update)"
                % (self._where(), what, dns.rcode.to_text(response.rcode()), self.key_name, self.zone)
            )
        return response

    def _relative(self, record):
        import dns.name

        name = dns.name.from_text(record)
        if not name.is_subdomain(self.zone):
            raise AcmeError(
                "%s is not in the zone %s that smtls updates (smtls_ca_acme_dns_zone). Fix: the "
                "zone that holds the fleet's names, or a CNAME delegation of _acme-challenge "
                "names is not followed - name that zone" % (record, self.zone)
            )
        return name.relativize(self.zone)

    def _update(self):
        import dns.update

        return dns.update.UpdateMessage(
            self.zone, keyring=self.keyring, keyname=self.key_name, keyalgorithm=self.algorithm
        )

    def publish(self, record, value):
        update = self._update()
        update.add(self._relative(record), 60, "TXT", '"%s"' % value)
        self._send(update, record)

    def remove(self, record, value):
        try:
            update = self._update()
            update.delete(self._relative(record), "TXT", '"%s"' % value)
            self._send(update, record)
        except AcmeError:
            pass  # a record left behind is harmless: its value proves nothing without the account key

    def check(self):
        """The key and the right to update, proven before any host: a record added and removed."""
        record = "_smtls-update-check.%s" % self.zone.to_text(omit_final_dot=True)
        self.publish(record, "smtls")
        self.remove(record, "smtls")

    def wait_visible(self, records, timeout):
        """Until the server answers every record (the CA asks the zone's servers)."""
        import dns.message
        import dns.query
        import dns.rdatatype

        deadline = datetime.datetime.now() + datetime.timedelta(seconds=timeout)
        for record, value in records:
            while True:
                query = dns.message.make_query(record, dns.rdatatype.TXT)
                try:
                    answer = dns.query.tcp(query, self.server, port=self.port, timeout=self.timeout)
                    found = [
                        b"".join(r.strings).decode()
                        for rrset in answer.answer
                        for r in rrset
                        if rrset.rdtype == dns.rdatatype.TXT
                    ]
                except Exception:  # noqa: BLE001 - not there yet: asked again below
                    found = []
                if value in found:
                    break
                if datetime.datetime.now() > deadline:
                    raise AcmeError(
                        "the TXT record %s does not show on %s within %d s" % (record, self._where(), timeout)
                    )
                time.sleep(0.5)


def checked_chain(fullchain_pem, csr, root, usage="server"):
    """The issued chain, refused unless its leaf is the CSR's key and names and may be used as
    asked (server or client), each certificate is signed by the next, and the last is signed by
    root (root appended, as the internal CA's chain ends with its certificate)."""
    chain = pki.parse_pem_certs(fullchain_pem, "the chain the ACME CA returned")
    leaf = chain[0]
    if pki.public_bytes(leaf) != pki.public_bytes(csr.public_key()):
        raise AcmeError("the ACME CA returned a certificate for another key than the CSR's")
    try:
        san = csr.extensions.get_extension_for_class(pki.x509.SubjectAlternativeName).value
        wanted = pki.normalise_names(
            san.get_values_for_type(pki.x509.DNSName),
            [str(ip) for ip in san.get_values_for_type(pki.x509.IPAddress)],
        )
    except pki.x509.ExtensionNotFound:
        wanted = pki.normalise_names([pki.common_name(csr.subject)], [])
    if pki.cert_names(leaf) != wanted:
        raise AcmeError(
            "the ACME CA issued %s for the names %s, not the ones asked for (%s): its profile or role "
            "changes the names. Fix: issue exactly the names in the CSR (the CA's policy for this "
            "directory)"
            % (pki.common_name(leaf), ", ".join(sum(pki.cert_names(leaf), [])), ", ".join(sum(wanted, [])))
        )
    purpose = (
        pki.ExtendedKeyUsageOID.CLIENT_AUTH if usage == "client" else pki.ExtendedKeyUsageOID.SERVER_AUTH
    )
    try:
        usages = leaf.extensions.get_extension_for_class(pki.x509.ExtendedKeyUsage).value
    except pki.x509.ExtensionNotFound:
        usages = None  # no restriction
    if usages is not None and purpose not in usages:
        raise AcmeError(
            "the ACME CA issued %s without the %s key usage a %s certificate needs. Fix: a profile or "
            "role of the CA that includes it (SM's client authentication needs clientAuth)"
            % (pki.common_name(leaf), "clientAuth" if usage == "client" else "serverAuth", usage)
        )
    pki.check_chain(chain, "the chain the ACME CA returned")
    if chain[-1].subject == root.subject and pki.signed_by(chain[-1], root):
        if pki.cert_der(chain[-1]) == pki.cert_der(root):
            chain = chain[:-1]
    if not pki.signed_by(chain[-1], root):
        raise AcmeError(
            "the certificate the ACME CA issued (%s) does not lead to the configured CA root %s: "
            "its chain ends at %s. Fix: put the root of the CA behind the ACME directory in "
            "smtls_ca_dir/ca.crt"
            % (pki.common_name(leaf), root.subject.rfc4514_string(), chain[-1].issuer.rfc4514_string())
        )
    return chain + [root]


def _short(exc):
    text = str(exc)
    return text if len(text) < 300 else text[:300] + "..."
