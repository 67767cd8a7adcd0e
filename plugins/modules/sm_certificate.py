#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_certificate
short_description: Decide whether a host keeps its certificate, and sign a new one
description:
  - "Runs on the controller (C(delegate_to: localhost))."
  - Ensures the CA directory (C(ca.crt), and C(ca.key) encrypted with I(ca_passphrase)); creates
    the internal CA when asked and absent. A corporate CA is a directory with only C(ca.crt).
  - Decides whether I(current_chain) can stay - kept when it is from the CA, has exactly the
    wanted names, is outside the renewal window and (when known) matches the key - and says
    why not otherwise, in C(reason) - C(missing), C(key_mismatch), C(other_issuer) (the
    sample CA, for instance), C(names_differ), C(expired), C(expiring) or C(forced).
  - Signs I(csr) when a new certificate is needed and the CA can sign. With a corporate CA,
    I(csr_export_dir) receives the CSR and I(certificate_import_dir) is where the signed
    certificate is picked up on a later run.
version_added: "1.0.0"
author: smtls contributors
options:
  ca_dir:
    description: CA directory on the controller.
    type: path
    required: true
  ca_passphrase:
    description: Passphrase of C(ca.key).
    type: str
  ca_create:
    description: Create the internal CA when I(ca_dir) holds none.
    type: bool
    default: true
  ca_common_name:
    description: Subject CN of a new CA.
    type: str
    default: smtls internal CA
  ca_organization:
    description: Subject O of a new CA.
    type: str
  ca_valid_days:
    description: Lifetime of a new CA.
    type: int
    default: 3650
  accepted_ca_certs:
    description: PEM of other CAs whose certificates may stay (the old CA during a rotation).
    type: list
    elements: str
    default: []
  common_name:
    description:
      - Subject CN of the host certificate. Without it only the CA is ensured and returned.
    type: str
  dns:
    description: DNS names the certificate must carry, exactly.
    type: list
    elements: str
    default: []
  ips:
    description: IP addresses the certificate must carry, exactly.
    type: list
    elements: str
    default: []
  usage:
    description: C(server) (serverAuth and clientAuth) or C(client) (clientAuth).
    type: str
    choices: [server, client]
    default: server
  current_chain:
    description: The host's installed chain (PEM, leaf first); empty when none.
    type: str
    default: ""
  csr:
    description: CSR to sign when a new certificate is needed.
    type: str
  renew_days:
    description: Reissue when the certificate expires within this many days.
    type: int
    default: 30
  valid_days:
    description: Lifetime of issued certificates (never past the CA's own end).
    type: int
    default: 397
  force:
    description: Reissue even when the certificate could stay.
    type: bool
    default: false
  csr_export_dir:
    description: Corporate CA - write the CSR here as C(<common_name>.csr) for the CA team.
    type: path
  certificate_import_dir:
    description: Corporate CA - read the signed certificate from C(<common_name>.crt) here.
    type: path
  key_file:
    description:
      - A key held on the controller instead of a host - for a certificate several hosts
        share (the web tier's) or a host that runs no Python (Windows clients). Generated when
        absent, encrypted with I(key_passphrase). The certificate is kept in
        I(certificate_file) and decided on from there; no CSR is needed.
    type: path
  key_passphrase:
    description:
      - The passphrase of I(key_file) (default I(ca_passphrase)). A key that goes to managed
        hosts gets one of its own, so that no host ever needs the CA's; a key an earlier run
        encrypted with I(ca_passphrase) is re-encrypted with this one (C(key_rekeyed)).
    type: str
  certificate_file:
    description: Where the chain for I(key_file) is kept. Defaults to I(key_file) with C(.crt).
    type: path
  detected_issuers:
    description:
      - Issuers found on the hosts that are not ours (the vendor's sample CA), as the roles record
        them (SHA-256 or subject) - public data, kept beside the CA in I(detected_issuers_file)
        (JSON) in the same call that ensures the CA. An empty list leaves the file as it is.
    type: list
    elements: dict
    default: []
  detected_issuers_file:
    description: Where I(detected_issuers) is kept (mode C(0644)).
    type: path
notes:
  - Check mode makes the same decision and signs in memory, without writing the CA or CSR files.
seealso:
  - module: sm_keystore
"""

EXAMPLES = r"""
- name: PKI | decide and sign the server certificate
  sm_certificate:
    ca_dir: "{{ smtls_ca_dir }}"
    ca_passphrase: "{{ smtls_ca_passphrase }}"
    common_name: "{{ inventory_hostname }}"
    dns: ["{{ inventory_hostname }}"]
    current_chain: "{{ current.chain_pem | default('') }}"
    csr: "{{ server_csr.csr | default(omit) }}"
  delegate_to: localhost
  register: signed
"""

RETURN = r"""
action:
  description: C(keep), C(issue) (needed, not signed yet), C(issued), or C(none) without I(common_name).
  returned: always
  type: str
reason:
  description: Why, as a short code.
  returned: always
  type: str
  sample: other_issuer
reason_text:
  description: The reason in words.
  returned: always
  type: str
chain:
  description: The chain to install (PEM, leaf then CA); empty when action is C(issue).
  returned: always
  type: str
sha256:
  description: SHA-256 of the leaf of C(chain).
  returned: when chain is not empty
  type: str
not_after:
  description: End of validity of the leaf of C(chain), ISO 8601.
  returned: when chain is not empty
  type: str
ca_certificate:
  description: The CA certificate (PEM).
  returned: always
  type: str
ca_sha256:
  description: SHA-256 of the CA certificate.
  returned: always
  type: str
ca_key_missing:
  description:
    - The CA directory holds C(ca.crt) but no C(ca.key) - a corporate CA (smtls cannot sign),
      or an internal CA whose key was lost.
  returned: always
  type: bool
ca_created:
  description: The CA was created by this call.
  returned: always
  type: bool
ca_subject:
  description: Subject DN of the CA certificate.
  returned: always
  type: str
ca_not_after:
  description: End of validity of the CA certificate, ISO 8601.
  returned: always
  type: str
csr_file:
  description: Where the CSR was exported for a corporate CA.
  returned: when exported
  type: str
key_file:
  description: The controller-held key (never its content).
  returned: when key_file is given
  type: str
detected_issuers_written:
  description: Whether I(detected_issuers_file) was (or, in check mode, would be) written.
  returned: always
  type: bool
certificate_file:
  description: Where the chain of the controller-held key is kept.
  returned: when key_file is given
  type: str
key_rekeyed:
  description: Whether I(key_file) was found under I(ca_passphrase) and re-encrypted with I(key_passphrase).
  returned: when key_file is given
  type: bool
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_ca as authority
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import FileProblem, read_optional, write_atomic


ARGUMENT_SPEC = dict(
    ca_dir=dict(type="path", required=True),
    ca_passphrase=dict(type="str", no_log=True),
    ca_create=dict(type="bool", default=True),
    ca_common_name=dict(type="str", default="smtls internal CA"),
    ca_organization=dict(type="str"),
    ca_valid_days=dict(type="int", default=3650),
    accepted_ca_certs=dict(type="list", elements="str", default=[]),
    common_name=dict(type="str"),
    dns=dict(type="list", elements="str", default=[]),
    ips=dict(type="list", elements="str", default=[]),
    usage=dict(type="str", choices=["server", "client"], default="server"),
    current_chain=dict(type="str", default=""),
    csr=dict(type="str"),
    renew_days=dict(type="int", default=30),
    valid_days=dict(type="int", default=397),
    force=dict(type="bool", default=False),
    csr_export_dir=dict(type="path"),
    certificate_import_dir=dict(type="path"),
    key_file=dict(type="path"),
    key_passphrase=dict(type="str", no_log=True),
    certificate_file=dict(type="path"),
    detected_issuers=dict(type="list", elements="dict", default=[]),
    detected_issuers_file=dict(type="path"),
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    try:
        # every decision is the engine's; this module only writes what the plan holds
        plan = authority.plan_certificate(module.params, read_optional)
        if not module.check_mode:
            for directory, mode in plan.directories:
                if not os.path.isdir(directory):
                    os.makedirs(directory, mode)
            for path, content, mode in plan.files:
                write_atomic(module, path, content, mode=mode)
    except (pki.PkiError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=plan.changed, **plan.result)


if __name__ == "__main__":
    main()
