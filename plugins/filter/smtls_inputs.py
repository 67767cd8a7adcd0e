# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters for the input model (module_utils/smtls_inputs.py): the variables it checks for
a host of a role, its verdict on one host, and its verdict on the hosts of a run together.

Nothing here signs, writes a file or runs a command; the roles' argument specs and defaults
are read (roles_dir), nothing else.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os

# what the filter files share (the module_utils loader): Ansible loads each filter file by its path
_spec = importlib.util.spec_from_file_location("smtls_controller", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "smtls_controller.py"))
_controller = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_controller)

_pki = _controller.module_utils("smtls_x509")
_inputs = _controller.module_utils("smtls_inputs")
_liveness = _controller.module_utils("smtls_liveness")


def smtls_input_names(role, roles_dir):
    """The variables the input model checks for a host of this role (its argument spec, the CA's,
    the shared ones, the play keywords)."""
    return _inputs.input_names(role, roles_dir)


def smtls_input_check(values, names, role, roles_dir, group_names=()):
    """The input model's verdict on one host: {problems: one line each, fleet: the fleet-wide
    settings as digests (no secret), references: the hosts its variables name}."""
    return _inputs.host_check(values, names, role, roles_dir, group_names)


def smtls_fleet_problems(hosts, hostvars, groups, ca_certificate="", valid_days=None, renew_days=None,
                         ca_source="internal"):
    """The input model's verdict on the hosts of a run together (module_utils/smtls_inputs.py
    fleet_problems): fleet-wide settings equal everywhere, hosts named by others in the right
    group, a CA with life enough for what it signs; and the load balancers' redirects the
    preflight's liveness check saw (smtls_liveness.py redirect_problems). This filter only
    gathers what those need from the hosts' variables."""
    settings, references, secrets = {}, {}, {}
    for host in hosts:
        checked = hostvars[host].get("smtls_inputs")
        if not checked:
            continue
        settings[host] = checked["fleet"]
        references[host] = checked.get("references", {})
        secrets[host] = dict((name, str(hostvars[host].get(name, _inputs.UNSET)))
                             for name in _inputs.FLEET_WIDE if _inputs.is_secret(name))
    not_after = None
    if ca_certificate:
        not_after = _pki.not_after(_pki.parse_pem_certs(ca_certificate, "the CA certificate")[0])
    servers = [h for h in groups.get("sm_servers", []) if h in hosts]
    aliases = dict((h, hostvars[h].get(_inputs.CLUSTER_ALIAS)) for h in servers)
    serial = hostvars[servers[0]].get("smtls_server_batch") if servers else None
    # what the preflight's liveness check saw the load balancers send clients to (servers' and web
    # tiers' reads), against the names the new certificates will carry
    observed = [o for h in hosts for fact in ("sm_server_liveness_observed", "sm_webtier_liveness_observed")
                for o in hostvars[h].get(fact) or []]
    names = dict((h, (hostvars[h].get("sm_server_liveness_target") or {}).get("redirect_names"))
                 for h in servers)
    return (_inputs.fleet_problems(settings, dict(groups), references, secrets, not_after, valid_days,
                                   renew_days, signs=ca_source == "internal")
            + _inputs.group_batch_problems(servers, aliases, serial)
            + _liveness.redirect_problems(observed, names))


class FilterModule(object):
    def filters(self):
        return {"smtls_input_names": smtls_input_names, "smtls_input_check": smtls_input_check,
                "smtls_fleet_problems": smtls_fleet_problems}
