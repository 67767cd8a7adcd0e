# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters for certificates and keystores: the keep-or-issue decision
(module_utils/smtls_ca.py), a keystore's key entry and whether sm_keystore would leave it as read,
what the identity flow did, the detected CAs merged and as store selectors, named certificates,
the client certificates the hosts published, and what is wrong with given PEMs.

Nothing here signs, writes a file or runs a command: a template may be evaluated more than once.
What sm_certificate would do (signing a CSR in memory) is the action smtls_certificate_plan's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping
import importlib.util
import os

from ansible.errors import AnsibleFilterError

# what the filter files share (the module_utils loader): Ansible loads each filter file by its path
_spec = importlib.util.spec_from_file_location("smtls_controller", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "smtls_controller.py"))
_controller = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_controller)

_pki = _controller.module_utils("smtls_x509")
_authority = _controller.module_utils("smtls_ca")
_files = _controller.module_utils("smtls_files")
_keystore_state = _controller.module_utils("smtls_keystore_state")
_true = _controller.true
_given = _controller.given

def smtls_certificate_decision(current_chain, ca_certificate, accepted=None, common=None, dns=None,
                               ips=None, renew_days=30):
    """Whether a host's installed certificate stays, and why not (the engine's decision,
    smtls_ca.decision, made on the controller from what the host read, without a module run):
    {action keep | issue, reason, reason_text, chain (the one that stays, or ""), sha256}.
    ca_certificate: our CA (PEM); accepted: other CAs a certificate may still come from (a
    rotation)."""
    try:
        return _authority.decision(current_chain, ca_certificate, accepted, common, dns, ips, renew_days)
    except _pki.PkiError as exc:
        raise AnsibleFilterError(str(exc))


def smtls_key_entry(entries, alias):
    """The private-key entry a keystore serves: the one under alias, else the first one (the
    vendor's sample under its own alias), else {} - as sm_keystore_info lists entries."""
    keys = [e for e in entries or [] if e.get("kind") == "private_key"]
    wanted = [e for e in keys if e.get("alias") == (alias or "").lower()]
    return (wanted or keys or [{}])[0]


def smtls_certificate_dns(dns, common_name, acme=False):
    """The DNS names a certificate of this identity carries: dns, and from an ACME CA the common
    name too (the CA puts every name it authorized into the certificate, the common name among
    them). The identity flow and the plan decide with the same list."""
    dns = list(dns or [])
    name = (common_name or "").lower()
    if _controller.true(acme) and name not in [d.lower() for d in dns]:
        return dns + [name]
    return dns


def smtls_leaf_pem(chain):
    """The first certificate of a PEM chain ("" for none): the identity outcome's certificate,
    and the one a client publishes as installed."""
    return _pki.leaf_pem(chain)


def smtls_keystore_in_place(read, key_alias=None, chain="", trusted=None, exclusive=False,
                            remove_other_keys=False, absent=None, store_type=None, mode=None, owner=None,
                            group=None):
    """Whether sm_keystore with these options would leave the keystore as this run's read of it
    (keystore_info: sm_keystore_info, or an installation read) found it - then the call is left
    out, a module run saved. chain: the key entry's chain (PEM); trusted: [{alias, pem}]; the
    rest as sm_keystore takes them (owner, group and mode omitted as empty). False whenever the
    read is missing or failed, or a PEM does not parse (the module then reports it)."""
    return _keystore_state.in_place_pem(
        read, key_alias=key_alias, chain=chain, trusted=trusted, exclusive=_true(exclusive),
        remove_other_keys=_true(remove_other_keys), absent=absent or [], store_type=_given(store_type),
        mode=_given(mode), owner=_given(owner), group=_given(group))


def smtls_identity_outcome(chain, keystore, alias, stage, supplied, decision, signed, request, installed):
    """What the identity flow did with one keystore (published as smtls_identity_result): {keystore,
    alias, action, reason, sha256, backup, written, chain, certificate (the leaf), changed}. Worked
    out once from the flow's registered results - a template would read each of them (and the
    keystore read behind the chain) once per field."""
    decision, signed = decision or {}, signed or {}
    installed = installed if isinstance(installed, dict) else {}
    if stage == "current":
        action, reason = "keep", "current (not decided in this phase)"
    elif _true(supplied):
        action, reason = "supplied", "shared certificate"
    else:
        action = signed.get("action") or decision.get("action") or "install"
        reason = decision.get("reason") or "signed in the issue stage"
    return {"keystore": keystore, "alias": alias, "action": action, "reason": reason,
            "sha256": signed.get("sha256") or decision.get("sha256") or "",
            "backup": installed.get("backup_file") or "",
            "written": _files.written([installed]), "chain": chain or "",
            "certificate": _pki.leaf_pem(chain),
            "changed": bool((request or {}).get("changed")) or bool(installed.get("changed"))}


def smtls_merge_detected_cas(recorded, found, keep=None):
    """The issuers smtls distrusts without being told: those recorded on the controller by
    earlier runs, and those found now (the foreign_issuer of each server), once each, in
    that order - less the ones smtls_keep_cas keeps on purpose (smtls_ca.merge_detected_cas)."""
    return _authority.merge_detected_cas(recorded, found, keep)


def smtls_ca_selectors(cas):
    """Detected CAs as the selectors the store modules take: by SHA-256 where it is known (an
    exact certificate), by subject only where the server's chain did not carry its issuer."""
    return [{"sha256": ca["sha256"]} if ca.get("sha256") else {"subject": ca["subject"]}
            for ca in cas or []]


def smtls_named_certs(pems, prefix):
    """PEM certificates as the {alias, pem} items the store modules take: prefix-1, prefix-2..."""
    return [{"alias": "%s-%d" % (prefix, number), "pem": pem}
            for number, pem in enumerate([p for p in pems or [] if p], 1)]


def smtls_client_certificates(hosts, hostvars):
    """{host: {'current': {alias, pem}, 'next': {alias, pem} or {}, 'known'}} for the hosts among hosts
    that published a client certificate in this run (smtls_client_certificate; in a rotation's
    reissue phase also smtls_client_certificate_next; where the client's plan had nothing due, the
    certificate its preflight read, in its plan); hosts that did not are left out.

    Read once per batch of servers (run_once), not per server: each hostvars[host] builds that
    host's variables, so a per-server read of every client costs servers x clients builds."""
    found = {}
    for host in dict.fromkeys(hosts or []):
        if host not in hostvars:
            continue
        facts = hostvars[host]
        current = facts.get("smtls_client_certificate")
        if current is None or _controller.is_undefined(current):
            # a client whose certificate stays, and that took no step of the run (its plan had
            # nothing due): the certificate its preflight read
            current = next((plan.get("client_certificate") for plan in (
                facts.get(name) for name in ("sm_webtier_plan", "sm_windows_client_plan"))
                if isinstance(plan, Mapping) and plan.get("client_certificate")), None)
        if current is None or _controller.is_undefined(current):
            continue
        upcoming = facts.get("smtls_client_certificate_next")
        upcoming = {} if upcoming is None or _controller.is_undefined(upcoming) else upcoming
        # known: a certificate to allow exists (one waiting for a corporate CA or an ACME order
        # has none yet - only check mode predicts such an order)
        found[host] = {"current": current, "next": upcoming,
                       "known": bool(current.get("pem") or upcoming.get("pem"))}
    return found


def smtls_pem_problem(items, variable):
    """Why one of items ({alias, pem}) does not parse as PEM certificates, or holds one outside its
    validity (nothing expired is written) - the message naming the variable and the alias - or ''."""
    return _authority.pem_problem(items, variable)


def smtls_clients_without_ca_problem(clients, cas, variable):
    """Why some of clients ({alias, pem}) would be refused by a server that trusts exactly cas
    ({alias, pem}) for client certificates - one sentence naming each and the fix - or ''."""
    return _authority.clients_without_ca_problem(clients, cas, variable)


class FilterModule(object):
    def filters(self):
        return {"smtls_certificate_decision": smtls_certificate_decision,
                "smtls_key_entry": smtls_key_entry, "smtls_leaf_pem": smtls_leaf_pem,
                "smtls_certificate_dns": smtls_certificate_dns,
                "smtls_keystore_in_place": smtls_keystore_in_place,
                "smtls_identity_outcome": smtls_identity_outcome,
                "smtls_merge_detected_cas": smtls_merge_detected_cas,
                "smtls_ca_selectors": smtls_ca_selectors, "smtls_named_certs": smtls_named_certs,
                "smtls_client_certificates": smtls_client_certificates,
                "smtls_pem_problem": smtls_pem_problem,
                "smtls_clients_without_ca_problem": smtls_clients_without_ca_problem}
