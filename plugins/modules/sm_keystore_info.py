#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_keystore_info
short_description: Read the entries of a Java keystore (JKS or PKCS12)
description:
  - Lists a keystore's entries without changing anything and without a JVM.
  - With a password the integrity check is made, so a wrong password is reported as such.
    Without one, a JKS file (and a password-less PKCS12 truststore) is still listed, like
    C(keytool -list) does.
version_added: "1.0.0"
author: smtls contributors
options:
  writable:
    description:
      - Also refuse, with the fix, what would stop the keystore (or a new one in its place)
        from being replaced later in the run - an immutable file or directory, a directory this
        user cannot write, a read-only file system, no room for it and its backup. For a
        preflight.
    type: bool
    default: false
  path:
    description: Keystore file.
    type: path
    required: true
  password:
    description: Store password (the one the inventory gives it); tried first.
    type: str
  initial_passwords:
    description:
      - Passwords the keystore may have now instead of I(password), such as the vendor's
        initial one before smtls changes it; tried in order after I(password). Nothing is
        changed - C(password_used) says which one opened it.
    type: list
    elements: str
    default: []
  type:
    description: Expected type; detected from the file when omitted. A mismatch is an error.
    type: str
    choices: [jks, pkcs12]
  return_pem:
    description: Also return each entry's certificate chain as PEM (public data only).
    type: bool
    default: false
  known_cas:
    description:
      - Our CA certificates (PEM). When given, each key entry also gets C(foreign_issuer) - the
        issuer of its certificate when none of these signed it (on a server smtls never
        managed, the vendor's sample CA), as C(subject) and, when the chain carries it,
        C(sha256); C({}) when one of them signed it.
    type: list
    elements: str
notes:
  - A missing file is not an error; C(exists) is then false.
  - Supports check mode (it never changes anything).
seealso:
  - module: sm_keystore
"""

EXAMPLES = r"""
- name: Server keystore | read it
  sm_keystore_info:
    path: /opt/sm/Server/RUN/server.keystore
    password: "{{ sm_keystore_password }}"
    return_pem: true
  register: server_keystore

- name: Show what the server presents
  ansible.builtin.debug:
    msg: "{{ server_keystore.entries | selectattr('kind', 'eq', 'private_key') | map(attribute='subject') }}"
"""

RETURN = r"""
exists:
  description: Whether the file exists.
  returned: always
  type: bool
password_used:
  description: C(primary) when I(password) opened the keystore, C(initial) for one of
    I(initial_passwords), C(none) when no password was given.
  returned: when the file exists
  type: str
type:
  description: Detected type, C(jks) or C(pkcs12).
  returned: when the file exists
  type: str
attributes:
  description: The file's C(mode) (an integer), C(owner) and C(group) (each C([name, id])) - with
    the entries, what M(sm_keystore) would compare before writing, so the roles leave out a call
    that would change nothing.
  returned: when the file exists
  type: dict
  sample: {mode: 416, owner: [root, "0"], group: [tomcat, "91"]}
pending:
  description: Whether a new key waits beside the keystore for its certificate (the
    C(.smtls-pending) file of M(sm_keystore) I(csr_key=new)).
  returned: when the file exists
  type: bool
entries:
  description: The entries, in file order.
  returned: always
  type: list
  elements: dict
  contains:
    alias:
      description: Entry alias.
      type: str
    kind:
      description: C(private_key) or C(trusted_cert).
      type: str
    subject:
      description: Subject DN of the (leaf) certificate, RFC 4514.
      type: str
    issuer:
      description: Issuer DN of the (leaf) certificate, RFC 4514.
      type: str
    sans:
      description: Subject alternative names, as C(DNS:name) and C(IP:address).
      type: list
      elements: str
    not_after:
      description: End of validity, ISO 8601 in UTC.
      type: str
    sha256:
      description: SHA-256 of the leaf certificate's DER, lowercase hex without colons.
      type: str
    chain_length:
      description: Certificates in the entry's chain (1 for a trusted certificate).
      type: int
    chain_sha256:
      description: SHA-256 of each certificate of the chain, leaf first.
      type: list
      elements: str
    chain_pem:
      description: The chain as PEM, when I(return_pem) is set.
      type: str
    foreign_issuer:
      description: With I(known_cas), for a key entry - its issuer when no known CA signed it.
      type: dict
  sample:
    - alias: smserver
      kind: private_key
      subject: CN=sm1.example.com
      issuer: CN=smtls CA
      sans: ["DNS:sm1.example.com"]
      not_after: "2027-12-01T10:00:00+00:00"
      sha256: 3f0c...
      chain_length: 2
"""

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_inventory as inv
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import FileProblem


ARGUMENT_SPEC = dict(
    path=dict(type="path", required=True),
    password=dict(type="str", no_log=True),
    initial_passwords=dict(type="list", elements="str", default=[], no_log=True),
    type=dict(type="str", choices=list(ks.STORE_TYPES)),
    return_pem=dict(type="bool", default=False),
    known_cas=dict(type="list", elements="str"),
    writable=dict(type="bool", default=False),
)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    p = module.params
    try:
        info = inv.keystore_info(p["path"], p["password"], p["initial_passwords"], p["type"],
                                 p["return_pem"], p["known_cas"], p["writable"])
    except (ks.KeystoreError, pki.PkiError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **info)


if __name__ == "__main__":
    main()
