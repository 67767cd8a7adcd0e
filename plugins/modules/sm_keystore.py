#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_keystore
short_description: Ensure the contents of a Java keystore (JKS or PKCS12)
description:
  - Makes a keystore hold exactly what is asked, in one call and without a JVM.
  - A private-key entry with its certificate chain. The key is generated on the host when
    absent, or supplied. With I(csr_key=new) a fresh key is kept aside in a pending file
    (encrypted with the store password) and a CSR is returned; the live entry is replaced only
    when the signed chain is installed, so a service restarted in between still works.
  - Trusted certificates matched by SHA-256 fingerprint, never by alias alone; removal by
    fingerprint, subject, issuer or alias; I(exclusive) for an exact set (a trusted-clients
    allowlist).
  - Store password change without losing entries (from one of I(initial_passwords) to
    I(password)); keys are re-encrypted under the new one.
  - The file is written only when its content changes (entries and fingerprints, not bytes),
    atomically, with an optional backup. Check mode makes the same decision without writing.
    The diff lists aliases, fingerprints, subjects and dates, never key material.
version_added: "1.0.0"
author: smtls contributors
options:
  path:
    description: Keystore file.
    type: path
    required: true
  password:
    description:
      - The store password the keystore ends with (a new one is created with it); also the
        password of the private keys (as SM and Tomcat expect).
      - Tried after I(initial_passwords) when the keystore is opened.
    type: str
    required: true
  initial_passwords:
    description:
      - Passwords the keystore may have now instead of I(password) (the vendor's, before smtls
        changes it), tried in order before I(password). A keystore that opens with one of them
        is written again under I(password), its keys re-encrypted; one that already opens with
        I(password) counts as changed, so the task stays idempotent.
    type: list
    elements: str
    default: []
  store_type:
    description:
      - C(jks) or C(pkcs12). Detected from an existing file when omitted; a new file is JKS.
      - When it differs from the existing file's type, the keystore is converted.
    type: str
    choices: [jks, pkcs12]
  pkcs12_profile:
    description:
      - Algorithms for PKCS12 files. C(modern) are the JDK 17 defaults (AES-256, HMAC-SHA256);
        C(legacy) can be read by Java 8 runtimes older than 8u301 (3DES, HMAC-SHA1).
    type: str
    choices: [modern, legacy]
    default: modern
  create:
    description:
      - Create the keystore when it does not exist. When false, an absent keystore is left
        absent and the task reports C(exists=false) (for optional files such as a JRE's cacerts).
    type: bool
    default: true
  key_alias:
    description: Alias of the private-key entry to manage.
    type: str
  key_type:
    description: Type of a generated key.
    type: str
    choices: [rsa, ec]
    default: rsa
  key_size:
    description: RSA key size of a generated key.
    type: int
    default: 2048
  key_curve:
    description: Curve of a generated EC key.
    type: str
    choices: [secp256r1, secp384r1]
    default: secp256r1
  private_key:
    description: A supplied private key (PEM) for I(key_alias), with I(certificate_chain).
    type: str
  private_key_passphrase:
    description: Passphrase of I(private_key).
    type: str
  certificate_chain:
    description:
      - PEM bundle for I(key_alias), leaf first (reordered when needed). Installed with the key
        it matches - the entry's own key, the pending key, or I(private_key).
    type: str
  csr:
    description: Return a CSR for the key of I(key_alias) (or the pending key) with these names.
    type: dict
    suboptions:
      common_name:
        description: Subject CN.
        type: str
        required: true
      dns:
        description: DNS subject alternative names.
        type: list
        elements: str
        default: []
      ips:
        description: IP subject alternative names.
        type: list
        elements: str
        default: []
  csr_key:
    description:
      - C(current) signs the CSR with the entry's key (generating the entry when absent).
      - C(new) uses a pending key that replaces the entry's key when its chain is installed. The
        keystore itself is not changed by such a request (not even its password - the pending
        key is encrypted with the password the keystore has now).
    type: str
    choices: [current, new]
    default: current
  pending_path:
    description: Where the pending key waits. Defaults to I(path) with C(.smtls-pending) added.
    type: path
  trusted_certs:
    description: Trusted certificates that must be present.
    type: list
    elements: dict
    default: []
    suboptions:
      alias:
        description: Alias for a certificate that is added (a free variant is used when taken).
        type: str
        required: true
      pem:
        description: The certificate (PEM).
        type: str
        required: true
  absent:
    description: Entries to remove; each item matches by any of its keys.
    type: list
    elements: dict
    default: []
    suboptions:
      alias:
        description: Entry alias (case-insensitive).
        type: str
      sha256:
        description: SHA-256 fingerprint of the entry's certificate (hex, colons allowed).
        type: str
      subject:
        description: Subject DN of the entry's certificate, RFC 4514 form.
        type: str
      issuer:
        description: Issuer DN of the entry's certificate, RFC 4514 form (removes all it issued).
        type: str
  exclusive:
    description:
      - Remove every trusted certificate not listed in I(trusted_certs), and every private-key
        entry other than I(key_alias).
    type: bool
    default: false
  remove_other_keys:
    description:
      - Remove every private-key entry other than I(key_alias), such as the vendor's sample
        certificate, so the server can only present the managed certificate.
    type: bool
    default: false
  backup:
    description:
      - Keep a timestamped copy of the file before changing it
        (C(<file>.<pid>.<YYYY-MM-DD@HH:MM:SS>~) beside it; for a symbolic link, beside its
        target and named after it), at the file's mode capped at 0640.
    type: bool
    default: false
  private_backup:
    description:
      - The backup readable by its owner alone (the file's mode capped at 0600) - for a copy
        no service reads, as in a Windows client bundle. A host's backups keep the file's
        (capped) mode, which a rollback restores.
    type: bool
    default: false
extends_documentation_fragment:
  - smtls_run_lock
  - smtls_restart_record
  - ansible.builtin.files
notes:
  - Needs the Python C(cryptography) library (release 38 or later) on the managed host.
  - A new keystore is created with mode C(0600) unless I(mode) says otherwise.
  - A keystore holds secrets, so the keystore and its pending key end no wider than C(0640) - a
    wider mode is capped (owner and group stay), even when no entry changes, and reported as a
    change; the backup gets the capped mode too. A narrower mode is kept. An I(mode) wider than
    C(0640) is refused before anything is written.
seealso:
  - module: sm_keystore_info
  - module: sm_certificate
"""

EXAMPLES = r"""
- name: Server keystore | trust our CA, drop the sample CA
  sm_keystore:
    path: /opt/sm/Server/RUN/cacerts
    password: "{{ sm_truststore_password }}"
    trusted_certs:
      - alias: smtls-ca
        pem: "{{ smtls_ca_pem }}"
    absent:
      - sha256: "{{ sm_sample_ca_sha256 }}"
    backup: true

- name: Server keystore | new key aside, CSR out
  sm_keystore:
    path: /opt/sm/Server/RUN/server.keystore
    password: "{{ sm_keystore_password }}"
    key_alias: smserver
    csr_key: new
    csr:
      common_name: sm1.example.com
      dns: [sm1.example.com, sm1]
  register: server_csr

- name: Server keystore | install the signed chain, the store moved off the vendor's password
  sm_keystore:
    path: /opt/sm/Server/RUN/server.keystore
    password: "{{ sm_keystore_password }}"
    initial_passwords: ["{{ sm_keystore_initial_password }}"]
    key_alias: smserver
    certificate_chain: "{{ signed.chain }}"
    backup: true

- name: Trusted clients | exact allowlist
  sm_keystore:
    path: /opt/sm/Server/RUN/trustedclients.keystore
    password: "{{ sm_trustedclients_password }}"
    trusted_certs: "{{ allowed_client_certs }}"
    exclusive: true
"""

RETURN = r"""
actions:
  description:
    - What changed (or would change), in words; no secrets. A capped mode too
      (C(cap mode 0644 to 0640 ...)).
  returned: always
  type: list
  elements: str
  sample: ["remove trusted_cert sampleca (sha256 9f86...): matches an absent selector"]
aliases:
  description: Aliases after the change, in file order (details come from sm_keystore_info).
  returned: always
  type: list
  elements: str
  sample: [smserver, smtls-ca]
csr:
  description: PEM certificate request, when I(csr) was given.
  returned: when csr is given
  type: str
pending:
  description: True while a pending key waits for its certificate.
  returned: always
  type: bool
key_created:
  description: A key pair was generated into the keystore.
  returned: always
  type: bool
exists:
  description: False when the keystore is absent and I(create=false).
  returned: when the keystore is absent
  type: bool
store_type:
  description: Type of the keystore as written.
  returned: always
  type: str
  sample: jks
backup_file:
  description: The backup, when one was made.
  returned: changed and backup
  type: str
written:
  description:
    - Whether the keystore's content changed (would change) - what a restart is due for; its
      mode or owner alone is not.
  returned: unless the keystore is absent and I(create=false)
  type: bool
path:
  description: The keystore file.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_lock
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_keystore_state as state
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import (RESTART_RECORD_OPTION, FileProblem, apply_file_args,
                                              check_writable, mode_action, read_optional,
                                              refuse_wide_mode, tighten, wide_mode, write_atomic)


def build_spec(params, path):
    key = None
    if params["key_alias"]:
        chain = []
        if params["certificate_chain"]:
            chain = pki.order_chain(pki.parse_pem_certs(
                params["certificate_chain"], "%s: certificate_chain" % path))
        key = {
            "alias": params["key_alias"],
            "generate": {"type": params["key_type"], "size": params["key_size"],
                         "curve": params["key_curve"]},
            "private_key": params["private_key"],
            "private_key_passphrase": params["private_key_passphrase"],
            "chain": chain,
            "csr": params["csr"],
            "csr_key": params["csr_key"],
        }
    trusted = []
    for item in params["trusted_certs"]:
        certs = pki.parse_pem_certs(item["pem"], "%s: trusted certificate %s" % (path, item["alias"]))
        trusted.extend({"alias": item["alias"] if i == 0 else "%s-%d" % (item["alias"], i),
                        "cert": cert} for i, cert in enumerate(certs))
    return {
        "path": path,
        "password": params["password"],
        "initial_passwords": params["initial_passwords"],
        "store_type": params["store_type"],
        "create": params["create"],
        "key": key,
        "trusted": trusted,
        "absent": params["absent"],
        "exclusive": params["exclusive"],
        "remove_other_keys": params["remove_other_keys"],
    }


ARGUMENT_SPEC = dict(
    **RESTART_RECORD_OPTION,
    path=dict(type="path", required=True),
    password=dict(type="str", required=True, no_log=True),
    initial_passwords=dict(type="list", elements="str", default=[], no_log=True),
    store_type=dict(type="str", choices=list(ks.STORE_TYPES)),
    pkcs12_profile=dict(type="str", choices=list(ks.PKCS12_PROFILES), default="modern"),
    create=dict(type="bool", default=True),
    key_alias=dict(type="str"),
    key_type=dict(type="str", choices=["rsa", "ec"], default="rsa"),
    key_size=dict(type="int", default=2048),
    key_curve=dict(type="str", choices=["secp256r1", "secp384r1"], default="secp256r1"),
    private_key=dict(type="str", no_log=True),
    private_key_passphrase=dict(type="str", no_log=True),
    certificate_chain=dict(type="str"),
    csr=dict(type="dict", options=dict(
        common_name=dict(type="str", required=True),
        dns=dict(type="list", elements="str", default=[]),
        ips=dict(type="list", elements="str", default=[]),
    )),
    csr_key=dict(type="str", choices=["current", "new"], default="current"),
    pending_path=dict(type="path"),
    **state.TRUST_OPTIONS,
    exclusive=dict(type="bool", default=False),
    remove_other_keys=dict(type="bool", default=False),
    backup=dict(type="bool", default=False),
    private_backup=dict(type="bool", default=False),
)
# the host lock of the run (smtls_lock: a claim by the installation reads, checked by writers)
ARGUMENT_SPEC.update(smtls_lock.HOST_LOCK_OPTION)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        required_by=dict(
            certificate_chain=["key_alias"],
            csr=["key_alias"],
            private_key=["key_alias", "certificate_chain"],
        ),
        mutually_exclusive=[["private_key", "csr"]],
        required_if=[("remove_other_keys", True, ["key_alias"])],
        add_file_common_args=True,
        supports_check_mode=True,
    )
    # refused before anything is read or written when another run planned this host since
    smtls_lock.guard_module(module)
    params = module.params
    path = params["path"]
    pending_path = params["pending_path"] or path + state.PENDING_SUFFIX
    try:
        refuse_wide_mode(module, path, params["mode"], "keystore")
        data = read_optional(path, "keystore")
        if data is None and not params["create"]:
            module.exit_json(changed=False, exists=False, actions=[], aliases=[],
                             msg="%s does not exist; left absent (create=false)" % path)
        pending_data = read_optional(pending_path, "pending key") if params["key_alias"] else None
        plan = state.plan(data, build_spec(params, path), pending_data)
        result = dict(changed=plan.write, written=plan.write, actions=plan.actions,
                      key_created=plan.key_created, store_type=plan.keystore.store_type,
                      aliases=plan.keystore.aliases(), path=path)
        new_pending = plan.pending_key is not None and pending_data is None
        if new_pending:
            result["changed"] = True
        if plan.csr:
            result["csr"] = plan.csr
        result["pending"] = plan.pending_key is not None or (
            pending_data is not None and not plan.pending_used)
        if module._diff:
            result["diff"] = dict(before="\n".join(plan.before) + "\n",
                                  after="\n".join(plan.after) + "\n",
                                  before_header=path, after_header=path)
        # what the writes below would trip on is refused first, in check mode too
        if plan.write:
            check_writable(path, "keystore", len(data or b"") + 65536, params["backup"])
        if new_pending:
            check_writable(pending_path, "pending key", 65536)
        # both hold secrets: a wider mode is capped, also when nothing else changes (a pending
        # key that is used now goes below)
        wide = [(path, "", wide_mode(path, "keystore"))]
        if pending_data is not None and not plan.pending_used:
            wide.append((pending_path, "pending key: ", wide_mode(pending_path, "pending key")))
        wide = [(name, label, found) for name, label, found in wide if found]
        for _name, label, found in wide:
            result["changed"] = True
            result["actions"].append(label + mode_action(found))
        if module.check_mode:
            module.exit_json(**result)
        for name, _label, found in wide:
            tighten(name, found)
        if plan.write:
            blob = ks.dump(plan.keystore, plan.password, profile=params["pkcs12_profile"])
            backup_file = write_atomic(module, path, blob, backup=params["backup"],
                                       restart_record=params["restart_record"], secret=True,
                                       backup_cap=0o600 if params["private_backup"] else 0o7777)
            if backup_file:
                result["backup_file"] = backup_file
        if new_pending:
            write_atomic(module, pending_path, state.pending_keystore(
                plan.pending_key, plan.keystore.store_type, plan.password), secret=True)
        if plan.pending_used and os.path.exists(pending_path):
            os.unlink(pending_path)
            result["pending"] = False
        result["changed"] = apply_file_args(module, path, result["changed"])
    except (ks.KeystoreError, pki.PkiError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
