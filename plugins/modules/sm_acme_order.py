#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: sm_acme_order
short_description: Order a host certificate from a corporate CA's ACME endpoint (RFC 8555)
description:
  - Runs on the controller (delegate_to localhost). One I(step) of an order per call, so the
    host in between can answer the CA's http-01 challenge and make its key only once its names
    are proven. The protocol is the C(acme) library's; the engine is module_utils/smtls_acme.
  - The account key stays on the controller, encrypted with I(account_key_passphrase); it is
    made and the account registered (with External Account Binding when given) on first use.
  - Errors carry the CA's problem document (type and detail, per name).
options:
  step:
    description:
      - C(check) reads the directory and finds (or registers) the account - before any host. Only
        this step makes the account key and registers the account; the others refuse without them.
      - C(authorize) opens an order for the names and returns the http-01 tokens to serve.
      - C(validate) answers the tokens and waits until the CA checked every name.
      - C(finalize) sends I(csr) and returns the chain, checked against I(ca_dir)/ca.crt.
    type: str
    choices: [check, authorize, validate, finalize]
    required: true
  directory_url:
    description: The ACME directory URL.
    type: str
    required: true
  server_ca:
    description:
      - PEM file of the CA that signed the ACME server's HTTPS certificate (unset - the system's CAs).
    type: path
  account_key:
    description: The account key file on the controller (PEM, encrypted; made when absent).
    type: path
    required: true
  account_key_passphrase:
    description: Passphrase of I(account_key), at least 8 characters.
    type: str
    required: true
  contact:
    description: Contact addresses of a new account (emails).
    type: list
    elements: str
    default: []
  eab_kid:
    description: External Account Binding key id, when the CA requires one.
    type: str
  eab_hmac_key:
    description: External Account Binding HMAC key (base64url).
    type: str
  common_name:
    description: The identity's common name (C(authorize)).
    type: str
  dns:
    description: Its DNS names (C(authorize)).
    type: list
    elements: str
    default: []
  ips:
    description: Its IP addresses (C(authorize)).
    type: list
    elements: str
    default: []
  order:
    description: The order as C(authorize) returned it (C(validate), C(finalize)).
    type: str
  csr:
    description: The host's CSR, PEM (C(finalize)).
    type: str
  ca_dir:
    description: The CA directory whose C(ca.crt) is the root the issued chain must lead to (C(finalize)).
    type: path
  usage:
    description:
      - What the certificate is for (C(finalize)) - the issued one must allow it (serverAuth or clientAuth).
    type: str
    choices: [server, client]
    default: server
  challenge:
    description:
      - How names are proven. C(http-01) - a token served on the host (sm_acme_responder).
        C(dns-01) - a TXT record published through an RFC 2136 dynamic update signed with a TSIG key,
        removed after the validation; C(check) proves the key may update the zone (a record added
        and removed).
    type: str
    choices: [http-01, dns-01]
    default: http-01
  dns_server:
    description: The DNS server (primary) that takes the updates (dns-01).
    type: str
  dns_port:
    description: Its port.
    type: int
    default: 53
  dns_zone:
    description: The zone the C(_acme-challenge) records go into (dns-01).
    type: str
  dns_tsig_key_name:
    description: Name of the TSIG key (dns-01).
    type: str
  dns_tsig_key_secret:
    description: The TSIG key's secret, base64 (dns-01).
    type: str
  dns_tsig_algorithm:
    description: The TSIG key's algorithm.
    type: str
    default: hmac-sha256
  timeout:
    description: Seconds to wait for the CA to validate or issue.
    type: int
    default: 120
notes:
  - In check mode C(check) looks the account up without registering it; the other steps
    place nothing and report a change.
"""

EXAMPLES = r"""
- name: Open an order for the server's names
  sm_acme_order:
    step: authorize
    directory_url: https://acme.example.com/directory
    account_key: /srv/smtls/ca/acme/account.key
    account_key_passphrase: "{{ vault_smtls_ca_acme_account_key_passphrase }}"
    common_name: sm1.example.com
    dns: [sm1.example.com]
  delegate_to: localhost
  register: order
"""

RETURN = r"""
account_uri:
  description: The account's URL at the CA (empty when, in check mode, it does not exist yet).
  returned: always
  type: str
account_created:
  description: Whether the account was registered by this call.
  returned: always
  type: bool
order:
  description: The order, for the next step.
  returned: step authorize, validate
  type: str
challenges:
  description: The http-01 tokens to serve - identifier, token, content (the key authorization) and url.
  returned: step authorize
  type: list
  elements: dict
chain:
  description: The issued chain, PEM, leaf first and ending with the root.
  returned: step finalize
  type: str
sha256:
  description: SHA-256 of the issued certificate.
  returned: step finalize
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_acme as acme
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import FileProblem, write_atomic

ARGUMENT_SPEC = dict(
    step=dict(type="str", required=True, choices=["check", "authorize", "validate", "finalize"]),
    directory_url=dict(type="str", required=True),
    server_ca=dict(type="path"),
    account_key=dict(type="path", required=True, no_log=False),
    account_key_passphrase=dict(type="str", required=True, no_log=True),
    contact=dict(type="list", elements="str", default=[]),
    eab_kid=dict(type="str"),
    eab_hmac_key=dict(type="str", no_log=True),
    common_name=dict(type="str"),
    dns=dict(type="list", elements="str", default=[]),
    ips=dict(type="list", elements="str", default=[]),
    order=dict(type="str"),
    csr=dict(type="str"),
    ca_dir=dict(type="path"),
    usage=dict(type="str", choices=["server", "client"], default="server"),
    challenge=dict(type="str", choices=["http-01", "dns-01"], default="http-01"),
    dns_server=dict(type="str"),
    dns_port=dict(type="int", default=53),
    dns_zone=dict(type="str"),
    dns_tsig_key_name=dict(type="str"),
    dns_tsig_key_secret=dict(type="str", no_log=True),
    dns_tsig_algorithm=dict(type="str", default="hmac-sha256"),
    timeout=dict(type="int", default=120),
)

REQUIRED = {"authorize": ["common_name"], "validate": ["order"], "finalize": ["order", "csr", "ca_dir"]}


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
        required_if=[("step", step, needed) for step, needed in REQUIRED.items()],
    )
    p = module.params
    step = p["step"]
    result = dict(changed=False, account_uri="", account_created=False)
    if module.check_mode and step != "check":
        module.exit_json(changed=True, msg="check mode: no order placed", **result)
    try:
        root = None
        if step == "finalize":
            root_path = os.path.join(p["ca_dir"], "ca.crt")
            root = pki.parse_pem_certs(
                pki.read_file(root_path, "the ACME CA's root"), "the ACME CA's root %s" % root_path
            )[0]
        session = acme.Session(p, check_mode=module.check_mode, create=step == "check")
        result["account_uri"] = session.account() or ""
        result["account_created"] = session.account_created
        # a new key is kept once the CA took it (a refused registration leaves nothing behind)
        if session.key_written and not module.check_mode:
            directory = os.path.dirname(p["account_key"])
            if not os.path.isdir(directory):
                os.makedirs(directory, 0o700)
            write_atomic(
                module, p["account_key"], session.key_written.encode("ascii"), mode=0o600, secret=True
            )
        if step == "check" and p["challenge"] == "dns-01":
            update = acme.DnsUpdate(p)
            if not module.check_mode:
                update.check()
        # in check mode an account not found yet is one the real run registers
        result["changed"] = (
            session.account_created
            or bool(session.key_written and not module.check_mode)
            or (module.check_mode and not result["account_uri"])
        )
        if step == "authorize":
            result["order"], result["challenges"] = session.authorize(
                p["common_name"], p["dns"], p["ips"], p["challenge"]
            )
        elif step == "validate":
            result["order"] = session.validate(
                p["order"],
                p["timeout"],
                p["challenge"],
                acme.DnsUpdate(p) if p["challenge"] == "dns-01" else None,
            )
        elif step == "finalize":
            chain = session.finalize(p["order"], p["csr"], root, p["usage"], p["timeout"])
            result.update(changed=True, chain=pki.chain_pem(chain), sha256=pki.sha256_hex(chain[0]))
    except (acme.AcmeError, pki.PkiError, FileProblem) as exc:
        module.fail_json(msg=str(exc), **result)
    except acme.LIBRARY_ERRORS as exc:
        module.fail_json(
            msg="the ACME exchange with %s failed (step %s): %s"
            % (p["directory_url"], step, acme.problem_text(exc)),
            **result,
        )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
