# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The truststores of a host, planned: sm_truststore writes what plan_stores() decides, and the
preflight's calls (sm_server_info's installation read, sm_webtier_config's settings check) return
the same plan in their one module run, so a preflight needs no check-mode run of sm_truststore."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_keystore_state as state
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import (FileProblem, check_writable, mode_action,
                                              predict_attributes, read_optional, refuse_wide_mode,
                                              wide_mode)

STORE_OPTIONS = dict(
    path=dict(type="path", required=True),
    password=dict(type="str", required=True, no_log=True),
    initial_passwords=dict(type="list", elements="str", default=[], no_log=True),
    type=dict(type="str", choices=list(ks.STORE_TYPES)),
    create=dict(type="bool", default=True),
    owner=dict(type="str"),
    group=dict(type="str"),
    mode=dict(type="raw"),
    private=dict(type="bool", default=True),
    convert=dict(type="bool", default=False),
)

# What every store is to trust and not to trust: sm_truststore's options, and the plan's.
PLAN_OPTIONS = dict(
    truststores=dict(type="list", elements="dict", required=True, options=STORE_OPTIONS),
    change_passwords=dict(type="bool", default=True),
    **state.TRUST_OPTIONS
)


def plan_stores(module, options, backup=False):
    """[(store, plan or None for an absent store that may stay absent, wide mode or None)], every
    file decided before any is written: one bad file stops the call. Raises KeystoreError,
    PkiError or FileProblem with the message for the operator."""
    trusted = []
    for item in options["trusted_certs"]:
        cert = pki.parse_pem_certs(item["pem"], "trusted certificate %s" % item["alias"])[0]
        trusted.append({"alias": item["alias"], "cert": cert})
    plans = []
    for store in options["truststores"]:
        # a store that may be absent (create: false) may lack its directory too
        absent_ok = not store["create"] and not os.path.isdir(os.path.dirname(store["path"]) or ".")
        data = None if absent_ok else read_optional(store["path"], "truststore")
        if data is None and not store["create"]:
            plans.append((store, None, None))
            continue
        if store["private"]:
            refuse_wide_mode(module, store["path"], store["mode"], "truststore")
        # opened with the initial passwords first, then password (state.open_to_write)
        spec = {"path": store["path"], "password": store["password"],
                "initial_passwords": store["initial_passwords"],
                # an existing store keeps its format unless it must be converted (a store SM
                # opens as truststoreFile under its truststoreType, PKCS#12 in FIPS mode)
                "store_type": store["type"] if data is None or store["convert"] else None,
                "trusted": trusted, "absent": options["absent"], "key": None}
        if data is not None and not options["change_passwords"]:
            # the store keeps the password it has, whichever of them opens it
            _store, opened_with = state.open_to_write(data, store["password"],
                                                      store["initial_passwords"], store["path"])
            spec.update(password=opened_with, initial_passwords=[])
        plan = state.plan(data, spec)
        if plan.write:
            check_writable(store["path"], "truststore", len(data or b"") + 65536, backup)
        plans.append((store, plan, wide_mode(store["path"], "truststore") if store["private"] else None))
    return plans


def store_result(store, plan, wide):
    """What sm_truststore returns for one store, before its write and its attributes."""
    result = {"path": store["path"], "exists": plan is not None, "changed": False,
              "written": False, "actions": []}
    if plan is not None:
        result.update(changed=plan.write or bool(wide), written=plan.write,
                      actions=plan.actions + ([mode_action(wide)] if wide else []))
    return result


def planned(module, options):
    """sm_truststore's check-mode result for these options, or {'error': message} - for a call
    that reports what it finds rather than failing (or fails with the message itself)."""
    try:
        plans = plan_stores(module, options)
    except (ks.KeystoreError, pki.PkiError, FileProblem) as exc:
        return {"error": str(exc)}
    results = []
    for store, plan, wide in plans:
        result = store_result(store, plan, wide)
        if plan is not None and os.path.exists(store["path"]):
            result["changed"] = predict_attributes(module, store["path"], result["changed"],
                                                   store["owner"], store["group"], store["mode"])
        results.append(result)
    return {"changed": any(result["changed"] for result in results), "truststores": results}

