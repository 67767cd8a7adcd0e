#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_tls_probe
short_description: Prove an SM server with a real TLS handshake, using a client's own material
description:
  - Connects to an SM server's HTTPS port trusting only the CA certificates of a truststore
    (a web tier's C(cacerts), say), presenting the key entry of a keystore (the web tier's
    client keystore) when given, completes the handshake and one HTTP request.
  - Returns the certificate the server presented, the negotiated protocol, whether the client
    certificate was accepted, and on failure a reason - C(nothing_listening), C(unknown_host), C(timeout),
    C(untrusted_ca), C(name_mismatch), C(certificate_expired), C(certificate_refused),
    C(protocol_mismatch), C(not_tls), C(connection_closed) or C(error).
  - With I(expect=failure) the task succeeds only when the handshake fails (for a reason in
    I(expect_reasons) when given) - to prove that an unlisted client is refused.
version_added: "1.0.0"
author: smtls contributors
options:
  host:
    description: Server to connect to.
    type: str
    required: true
  port:
    description: Its HTTPS port (the servlet's httpsPort).
    type: int
    required: true
  more_ports:
    description:
      - Other ports of the same server, probed the same way in the same call (an SM server runs
        one servlet per port in C(sm.cfg)); the call fails when any of them does.
    type: list
    elements: int
    default: []
  plain_ports:
    description:
      - Ports of the same server answering plain HTTP only - the load balancer's (C(sm -loadBalancer
        -httpPort:N)), never a TLS endpoint - asked in the same call; each must answer. Their results
        carry C(load_balancer) and, when the answer is a redirect, C(location).
    type: list
    elements: int
    default: []
  redirect_names:
    description:
      - The names a redirect of a I(plain_ports) port may send clients to (the names the servers'
        certificates carry). Empty - not checked.
    type: list
    elements: str
    default: []
  server_name:
    description: Name to check the certificate against (and to send as SNI). Defaults to I(host).
    type: str
  verify_hostname:
    description: Check that the certificate carries I(server_name).
    type: bool
    default: true
  plain_http:
    description: Make a plain HTTP request, without TLS (a server whose SSL mode is C(none)).
    type: bool
    default: false
  truststore:
    description: Keystore whose trusted certificates are the CAs to trust.
    type: dict
    suboptions:
      path:
        description: File.
        type: path
        required: true
      password:
        description: Store password (optional for JKS).
        type: str
        no_log: true
      initial_passwords:
        description: Passwords it may have now instead, tried after I(password) (a change under way).
        type: list
        elements: str
        default: []
  ca_certificates:
    description: CA certificates (PEM) to trust, instead of or besides I(truststore).
    type: list
    elements: str
    default: []
  keystore:
    description: Client keystore; its private-key entry is presented as the client certificate.
    type: dict
    suboptions:
      path:
        description: File.
        type: path
        required: true
      password:
        description: Store and key password.
        type: str
        required: true
        no_log: true
      initial_passwords:
        description: Passwords it may have now instead, tried after I(password) (a change under way).
        type: list
        elements: str
        default: []
      alias:
        description: Entry to use; the first private-key entry when omitted.
        type: str
  timeout:
    description: Seconds for each connection attempt.
    type: float
    default: 10
  wait:
    description: Keep trying this many seconds while nothing listens yet (a restarting server).
    type: float
    default: 0
  expect:
    description: C(success), C(failure), or C(any) (report only).
    type: str
    choices: [success, failure, any]
    default: success
  expect_reasons:
    description: With I(expect=failure), the failure reasons that count.
    type: list
    elements: str
    default: []
notes:
  - Uses only the Python standard library's C(ssl) and smtls' keystore reader; no JVM.
  - The client key is handed to C(ssl) through a private temporary file, encrypted with a
    one-time password and deleted right after loading.
  - Supports check mode (it changes nothing).
seealso:
  - module: sm_keystore_info
"""

EXAMPLES = r"""
- name: Probe | each SM server from this web tier, with its own keystore and cacerts
  sm_tls_probe:
    host: "{{ item }}"
    port: 13443
    truststore:
      path: /var/lib/tomcat10/webapps/webtier-9.61/WEB-INF/cacerts
      password: "{{ sm_webtier_truststore_password }}"
    keystore:
      path: /var/lib/tomcat10/webapps/webtier-9.61/WEB-INF/webtier.keystore
      password: "{{ sm_webtier_keystore_password }}"
    wait: 60
  loop: "{{ groups['sm_servers'] }}"

- name: Probe | a client signed by our CA but not on the allowlist is refused
  sm_tls_probe:
    host: sm1.example.com
    port: 13443
    ca_certificates: ["{{ smtls_ca_certificate }}"]
    keystore:
      path: /tmp/unlisted.keystore
      password: "{{ test_password }}"
    expect: failure
    expect_reasons: [certificate_refused]
"""

RETURN = r"""
ok:
  description: Whether handshake and request succeeded.
  returned: always
  type: bool
reason:
  description: C(ok) or the failure reason.
  returned: always
  type: str
  sample: certificate_refused
reason_text:
  description: The reason in words.
  returned: always
  type: str
message:
  description: The underlying error, when the probe failed.
  returned: on failure
  type: str
protocol:
  description: Negotiated TLS version.
  returned: always
  type: str
  sample: TLSv1.3
cipher:
  description: Negotiated cipher suite.
  returned: always
  type: str
peer:
  description: The server's certificate - subject, issuer, sans, not_after, sha256.
  returned: when the handshake got that far
  type: dict
http_status:
  description: HTTP status of the request after the handshake.
  returned: always
  type: int
client_certificate:
  description: Whether a client certificate was offered.
  returned: always
  type: bool
client_certificate_accepted:
  description: True when a client certificate was offered and the exchange succeeded.
  returned: always
  type: bool
probes:
  description:
    - With I(more_ports) or I(plain_ports), every port's result (the keys above, each with its port);
      the keys above are then those of the first failing probe, else the first one.
  returned: with more_ports or plain_ports
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_keystore_state as state
from ansible.module_utils import smtls_probe as tls
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import FileProblem, read_optional

ARGUMENT_SPEC = dict(
    host=dict(type="str", required=True),
    port=dict(type="int", required=True),
    more_ports=dict(type="list", elements="int", default=[]),
    plain_ports=dict(type="list", elements="int", default=[]),
    redirect_names=dict(type="list", elements="str", default=[]),
    server_name=dict(type="str"),
    verify_hostname=dict(type="bool", default=True),
    plain_http=dict(type="bool", default=False),
    truststore=dict(type="dict", options=dict(
        path=dict(type="path", required=True),
        password=dict(type="str", no_log=True),
        initial_passwords=dict(type="list", elements="str", default=[], no_log=True),
    )),
    ca_certificates=dict(type="list", elements="str", default=[]),
    keystore=dict(type="dict", options=dict(
        path=dict(type="path", required=True),
        password=dict(type="str", required=True, no_log=True),
        initial_passwords=dict(type="list", elements="str", default=[], no_log=True),
        alias=dict(type="str"),
    )),
    timeout=dict(type="float", default=10),
    wait=dict(type="float", default=0),
    expect=dict(type="str", choices=["success", "failure", "any"], default="success"),
    expect_reasons=dict(type="list", elements="str", default=[]),
)


def _open(spec, what):
    data = read_optional(spec["path"], what)
    if data is None:
        raise FileProblem("%s %s does not exist" % (what, spec["path"]))
    return state.open_keystore(data, spec.get("password"), spec.get("initial_passwords"),
                               "%s %s" % (what, spec["path"]))[0]


def material(params):
    if params["plain_http"]:
        return None
    cas = [pki.parse_pem_certs(pem, "ca_certificates")[0] for pem in params["ca_certificates"]]
    if params["truststore"]:
        store = _open(params["truststore"], "truststore")
        cas += [e.cert for e in store.entries if e.kind == "trusted_cert"]
    if not cas:
        raise pki.PkiError("no CA to trust: give a truststore with trusted certificates, or "
                           "ca_certificates")
    if not params["keystore"]:
        return tls.ProbeMaterial(cas)
    store = _open(params["keystore"], "keystore")
    alias = params["keystore"]["alias"]
    entries = [e for e in store.entries if e.kind == "private_key"
               and (alias is None or e.alias.lower() == alias.lower())]
    if not entries:
        raise ks.KeystoreError("keystore %s has no private-key entry%s" % (
            params["keystore"]["path"], " %r" % alias if alias else ""))
    return tls.ProbeMaterial(cas, entries[0].private_key(), entries[0].chain)


def probe_problem(p, port, result):
    """Why the outcome of one probe is not the one expected, or None."""
    host = p["host"]
    if p["expect"] == "success" and not result["ok"]:
        return "TLS probe of %s:%s failed: %s (%s)" % (host, port, result["reason_text"],
                                                       result.get("message", ""))
    if p["expect"] == "failure":
        if result["ok"]:
            return "TLS probe of %s:%s succeeded but was expected to fail" % (host, port)
        if p["expect_reasons"] and result["reason"] not in p["expect_reasons"]:
            return "TLS probe of %s:%s failed for %s, expected one of %s" % (
                host, port, result["reason"], ", ".join(p["expect_reasons"]))
    return None


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    # the server's other ports (one per servlet sm.cfg starts) in the same call, with the
    # material opened once
    ports = [p["port"]] + [port for port in p["more_ports"] if port != p["port"]]
    results, problems = [], []
    try:
        probe_material = material(p)
        for port in ports:
            result = tls.probe(p["host"], port, probe_material, p["server_name"],
                               p["verify_hostname"], p["timeout"], p["wait"], plain=p["plain_http"])
            result["client_certificate_accepted"] = bool(result["ok"] and result["client_certificate"])
            results.append(result)
            problems.append(probe_problem(p, port, result))
        # the load balancer's HTTP port (sm -loadBalancer, never a TLS endpoint): it answers, and
        # sends clients to a name the certificates carry
        for port in p["plain_ports"]:
            result = tls.probe(p["host"], port, None, p["server_name"], False, p["timeout"], p["wait"],
                               plain=True)
            result.update(client_certificate_accepted=False, load_balancer=True)
            results.append(result)
            problem = ("load balancer: %s" % probe_problem(dict(p, expect="success"), port, result)
                       if not result["ok"] else tls.redirect_problem(result, p["redirect_names"]))
            problems.append(problem or None)
    except (ks.KeystoreError, pki.PkiError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    failed = [(message, result) for message, result in zip(problems, results) if message]
    # the first failing probe's details (else the first probe's) at the top, as for one port
    summary = dict(failed[0][1] if failed else results[0])
    if len(results) > 1:
        summary["probes"] = results
    if failed:
        module.fail_json(msg="; ".join(message for message, _result in failed), **summary)
    module.exit_json(changed=False, **summary)


if __name__ == "__main__":
    main()
