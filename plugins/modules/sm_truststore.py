#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_truststore
short_description: Put the CA into every truststore of a host and take untrusted CAs out
description:
  - One call for all the CA truststores (C(cacerts)) a host uses - the SM server's
    truststore, the bundled JRE's cacerts, the web tier's cacerts - instead of one task each.
  - Certificates are matched by SHA-256 fingerprint, never by alias alone. Untrusted CAs
    (the vendor's fictitious sample CA) are removed by fingerprint, subject, issuer or alias.
  - A store password can be changed on the way (from one of I(initial_passwords) to
    I(password)).
  - Each file is written only when its entries change, atomically, with an optional backup.
    Check mode decides the same without writing; the diff lists aliases and fingerprints.
  - A store of the service's own (I(private), the default) ends no wider than C(0640) - a wider
    mode is capped (owner and group stay), even when no entry changes, and reported as a change;
    a backup gets the capped mode too. A narrower mode is kept. A I(mode) wider than C(0640) is
    refused before anything is written.
version_added: "1.0.0"
author: smtls contributors
extends_documentation_fragment:
  - smtls_run_lock
  - smtls_restart_record
options:
  truststores:
    description: The truststores.
    type: list
    elements: dict
    required: true
    suboptions:
      path:
        description: Keystore file.
        type: path
        required: true
      password:
        description:
          - Store password it must end with (a new store is created with it); tried after
            I(initial_passwords) when the store is opened.
        type: str
        required: true
        no_log: true
      initial_passwords:
        description:
          - Passwords it may have now instead of I(password) (the JDK's C(changeit)), tried in
            order before I(password). A store that opens with one of them is written again under
            I(password) (unless I(change_passwords=false)).
        type: list
        elements: str
        default: []
        no_log: true
      type:
        description: C(jks) or C(pkcs12) for a new file; an existing file keeps its type.
        type: str
        choices: [jks, pkcs12]
      create:
        description: Create it when absent. When false an absent file is left absent.
        type: bool
        default: true
      owner:
        description: Owner.
        type: str
      group:
        description: Group.
        type: str
      mode:
        description: Mode (a new file is 0600 otherwise); 0640 or narrower when I(private).
        type: raw
      private:
        description:
          - The store is the service's own, so its mode is capped at C(0640) (see above). C(false)
            for a store other programs read too - a JRE's or the system's C(cacerts), public
            certificates under a well-known password - whose mode stays as it is (capping it
            would lock every other user's Java out of it).
        type: bool
        default: true
      convert:
        description:
          - Convert an existing store to I(type) - a store SM opens as C(truststoreFile) under its
            C(truststoreType) (PKCS#12 in FIPS mode). Without it an existing store keeps its format
            and I(type) is the format of a new one.
        type: bool
        default: false
  trusted_certs:
    description: Certificates every truststore must hold.
    type: list
    elements: dict
    default: []
    suboptions:
      alias:
        description: Alias for a certificate that is added (a free variant when taken).
        type: str
        required: true
      pem:
        description: The certificate (PEM).
        type: str
        required: true
  absent:
    description: Certificates no truststore may hold; each item matches by any of its keys.
    type: list
    elements: dict
    default: []
    suboptions:
      alias:
        description: Alias (case-insensitive).
        type: str
      sha256:
        description: SHA-256 fingerprint (hex, colons allowed).
        type: str
      subject:
        description: Subject DN, RFC 4514 (RDN order and spacing do not matter).
        type: str
      issuer:
        description: Issuer DN, RFC 4514.
        type: str
  change_passwords:
    description:
      - Move each store from the one of I(initial_passwords) it has to I(password). False keeps
        the password a store has (any of them opens it) - for a first phase that only adds a CA,
        so that C(sm.ini) is updated before the passwords it names change.
    type: bool
    default: true
  pkcs12_profile:
    description: Algorithms for PKCS12 files (C(legacy) for Java 8 before 8u301).
    type: str
    choices: [modern, legacy]
    default: modern
  backup:
    description: Keep a timestamped copy of each file before changing it.
    type: bool
    default: false
notes:
  - Needs the Python C(cryptography) library (release 38 or later) on the managed host.
  - All files are checked before the first one is written, so a wrong password on the third
    file leaves the first two untouched.
seealso:
  - module: sm_keystore
"""

EXAMPLES = r"""
- name: Truststores | our CA in, the sample CA out, everywhere on the host
  sm_truststore:
    truststores:
      - path: /opt/sm/Server/RUN/cacerts
        password: "{{ sm_server_truststore_password }}"
        initial_passwords: [changeit]
      - path: /opt/sm/Server/RUN/jre/lib/security/cacerts
        password: changeit
        create: false
    trusted_certs:
      - alias: smtls-ca
        pem: "{{ smtls_ca_certificate }}"
    absent:
      - subject: "CN=Sample CA (fictitious),O=Service Manager sample"
    backup: true
"""

RETURN = r"""
truststores:
  description: One result per truststore, in the order given.
  returned: always
  type: list
  elements: dict
  contains:
    path:
      description: The file.
      type: str
    exists:
      description: Whether it exists (after the change).
      type: bool
    changed:
      description: Whether it changed (would change, in check mode) - its entries, owner or mode.
      type: bool
    written:
      description:
        - Whether its content changed (would change) - what a restart is due for; its mode or
          owner alone is not.
      type: bool
    actions:
      description: What changed, in words; a capped mode too (C(cap mode 0644 to 0640 ...)).
      type: list
      elements: str
    backup_file:
      description: The backup, when one was made.
      type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_lock
from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_truststore as engine
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import (RESTART_RECORD_OPTION, FileProblem, apply_attributes,
                                              tighten, write_atomic)


ARGUMENT_SPEC = dict(
    **RESTART_RECORD_OPTION,
    **engine.PLAN_OPTIONS,
    pkcs12_profile=dict(type="str", choices=list(ks.PKCS12_PROFILES), default="modern"),
    backup=dict(type="bool", default=False),
)
# the host lock of the run (smtls_lock: a claim by the installation reads, checked by writers)
ARGUMENT_SPEC.update(smtls_lock.HOST_LOCK_OPTION)


def main():
    module = AnsibleModule(
        argument_spec=ARGUMENT_SPEC,
        supports_check_mode=True,
    )
    # refused before anything is read or written when another run planned this host since
    smtls_lock.guard_module(module)
    p = module.params
    results = []
    try:
        plans = engine.plan_stores(module, p, backup=p["backup"])
    except (ks.KeystoreError, pki.PkiError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    changed = False
    diff = {"before": "", "after": ""}
    for store, plan, wide in plans:
        result = engine.store_result(store, plan, wide)
        if plan is not None:
            if module._diff and plan.write:
                diff["before"] += "# %s\n%s\n" % (store["path"], "\n".join(plan.before))
                diff["after"] += "# %s\n%s\n" % (store["path"], "\n".join(plan.after))
            if wide and not module.check_mode:
                try:
                    tighten(store["path"], wide)
                except FileProblem as exc:
                    module.fail_json(msg=str(exc))
            if plan.write and not module.check_mode:
                blob = ks.dump(plan.keystore, plan.password, profile=p["pkcs12_profile"])
                backup_file = write_atomic(module, store["path"], blob, backup=p["backup"],
                                           restart_record=p["restart_record"],
                                           secret=store["private"])
                if backup_file:
                    result["backup_file"] = backup_file
            if os.path.exists(store["path"]):  # check mode: the attribute helpers only predict
                result["changed"] = apply_attributes(module, store["path"], result["changed"],
                                                     store["owner"], store["group"], store["mode"])
        changed = changed or result["changed"]
        results.append(result)
    output = dict(changed=changed, truststores=results)
    if module._diff:
        output["diff"] = diff
    module.exit_json(**output)


if __name__ == "__main__":
    main()
