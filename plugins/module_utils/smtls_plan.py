# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""One plan per host: which of this run's write steps have anything to do on each host, decided
by the preflight before the first write (docs/rollout.md "The plan").

Each host role's preflight publishes its part as the fact <role>_plan (PLAN_FACTS):

    {role, steps: {step: due}, restart_pending,
     client_certificate: {alias, pem} - a client whose certificate stays (else client_certificate_due),
     allowlist: {read, trusted: [{alias, pem}] (the extra clients), clients: [hosts], store_type, mode,
                 owner, group} - a server that keeps an exact allowlist,
     liveness: {keystore_read, keystore, ports}}

fleet() adds what only the whole fleet knows - a server whose allowlist would change because a
client's certificate changes, or because the allowlist read does not hold exactly the clients'
certificates - and, for each host with nothing due, the liveness check the skipped apply step
would have made: a host that no restart will prove must still serve the certificate of its
keystore, and a run that finds it down fails before any write.

A host with nothing due leaves the run after the preflight (grid.yml ends it): a rerun costs
one read per host. Anything not known from the reads counts as due.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils import smtls_keystore_state as state
from ansible.module_utils import smtls_liveness as liveness

PLAN_FACTS = ("sm_server_plan", "sm_webtier_plan", "sm_windows_client_plan")


def _client_change(plans, clients):
    """Why an allowlist of these clients cannot be judged from the reads: a client whose
    certificate changes in this run, or one that published no plan."""
    for client in clients:
        plan = plans.get(client)
        if not plan:
            return "client %s has no plan in this run" % client
        if plan.get("client_certificate_due") or not (plan.get("client_certificate") or {}).get("pem"):
            return "client %s may get a new certificate in this run" % client
    return ""


def allowlist_due(plan, plans):
    """'' when the server's allowlist holds exactly its clients' certificates (and the extra
    ones) as sm_keystore would keep it, else why not."""
    allow = plan.get("allowlist")
    if not allow:
        return ""
    clients = list(dict.fromkeys(allow.get("clients") or []))
    why = _client_change(plans, clients)
    if why:
        return "allowlist: " + why
    trusted = [plans[c]["client_certificate"] for c in clients] + list(allow.get("trusted") or [])
    if not state.in_place_pem(allow.get("read"), trusted=trusted, exclusive=True,
                              store_type=allow.get("store_type"), mode=allow.get("mode"),
                              owner=allow.get("owner"), group=allow.get("group")):
        return "allowlist: not exactly the clients' certificates"
    return ""


def host_due(plan, plans, always=""):
    """[why] the apply steps have something to do on this host ([] when nothing)."""
    if always:
        return [always]
    if not plan:
        return ["no plan from the preflight"]
    why = sorted(step for step, due in (plan.get("steps") or {}).items() if due)
    if plan.get("restart_pending"):
        why.append("restart pending from an earlier run")
    allow = allowlist_due(plan, plans)
    if allow:
        why.append(allow)
    return why


def fleet(hosts, plans, observations=(), always=""):
    """{host: {due, why, liveness}} for the hosts of the run. plans: {host: its plan fact};
    observations: every liveness observation of the run (the servers' and the web tiers' reads);
    always: a reason every host is due (a CA rotation, smtls_probe always), else ''."""
    found = {}
    for host in hosts:
        plan = plans.get(host) or {}
        why = host_due(plan, plans, always)
        problems = []
        check = plan.get("liveness")
        if not why and check:
            problems = liveness.keystore_problems(observations, host, check.get("keystore_read"),
                                                  check.get("keystore") or "", check.get("ports"))
        found[host] = {"due": bool(why), "why": why, "liveness": problems}
    return found
