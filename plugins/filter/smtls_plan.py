# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Jinja filters for the run's plan: the SSL modes and their layers, the phases and host roles
(module_utils/smtls_modes.py), which side moves first, one line of progress per batch, paths as
SM resolves them, what this run's registered results wrote or found unchanged, a secret derived
for one purpose, and whether the controller has a module.

Nothing here signs, writes a file or runs a command.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import posixpath

from ansible.errors import AnsibleFilterError

# what the filter files share (the module_utils loader): Ansible loads each filter file by its path
_spec = importlib.util.spec_from_file_location("smtls_controller", os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "module_utils", "smtls_controller.py"))
_controller = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_controller)

_modes = _controller.module_utils("smtls_modes")
_files = _controller.module_utils("smtls_files")
_plan = _controller.module_utils("smtls_plan")
_inputs = _controller.module_utils("smtls_inputs")


def smtls_mode(name):
    """What the SSL mode asks (the mode table, module_utils/smtls_modes.py): ssl, client_auth,
    trusted_clients, trusted_signon, client_certificate, client_certificate_per_host, rank."""
    try:
        return _modes.mode(name)
    except _modes.ModeError as exc:
        raise AnsibleFilterError(str(exc))


def smtls_mode_layers(layers, name, what="layers"):
    """A mode's settings from a table of layers (each mode's additions to the one before)."""
    try:
        return _modes.layers_up_to(layers, name, what)
    except _modes.ModeError as exc:
        raise AnsibleFilterError(str(exc))


def smtls_phase_steps(name):
    """What the host roles' steps do in a phase of a run (module_utils/smtls_modes.py PHASES):
    client_certificate_trust, client_certificate_apply, host_identity - identity-flow stages."""
    try:
        return _modes.phase(name)
    except _modes.ModeError as exc:
        raise AnsibleFilterError(str(exc))


def smtls_host_roles(group_names):
    """The grid's host roles (sm_server, sm_webtier, sm_windows_client) a host with these
    inventory groups runs (module_utils/smtls_modes.py HOST_ROLES)."""
    return _modes.host_roles(group_names)


def smtls_webtiers_first(states, name):
    """Whether the web tiers move before the servers, from the servers' states now
    (sm_server_state: ssl, client_auth) and the mode to reach."""
    states = [s for s in states or [] if s]
    was_ssl = any(_controller.true(s.get("ssl")) for s in states)
    was_level = max([int(s.get("client_auth") or 0) for s in states] or [0])
    return _modes.webtiers_first(was_ssl, was_level, name)


def _names(hosts, most=8):
    hosts = list(hosts)
    if not hosts:
        return "none"
    shown = ", ".join(hosts[:most])
    return shown if len(hosts) <= most else "%s ... (+%d more)" % (shown, len(hosts) - most)


def smtls_progress(batch, play_hosts, phase):
    """One line of progress for a play that runs in serial batches: which hosts the batch
    just finished, how many of the play's hosts are done, and which are left. Batches take
    hosts in the play's order, so everything up to the batch's last host is done.

    batch: ansible_play_batch; play_hosts: ansible_play_hosts_all; phase: what the play does.
    """
    batch, play_hosts = list(batch or []), list(play_hosts or [])
    if not play_hosts:
        return "%s: no hosts in this run" % phase
    position = max([play_hosts.index(h) for h in batch if h in play_hosts] or [-1]) + 1
    left = play_hosts[position:]
    return "%s: done on %s - %d of %d hosts done; left: %s" % (
        phase, _names(batch), position, len(play_hosts), _names(left))


def smtls_in_dir(path, base):
    """Resolve path against base the way SM resolves keystore names against RUN."""
    if not path:
        return path
    if posixpath.isabs(path) or (len(path) > 2 and path[1] == ":"):
        return path
    return posixpath.normpath(posixpath.join(base, path))


def smtls_truststores_in(items, base):
    """Resolve the path of each truststore item against base."""
    return [dict(item, path=smtls_in_dir(item["path"], base)) for item in items or []]


def smtls_truststore_options(items):
    """The inventory's truststore items (sm_server_extra_truststores, sm_webtier_extra_truststores)
    as sm_truststore takes them: the password an item has now, which the inventory names as its
    other variables do (initial_password, one), becomes initial_passwords (a list) - left out when
    empty or the item's own password, which moves nothing; so a store keeps its password exactly
    where its initial_passwords are empty."""
    out = []
    for item in items or []:
        item = dict(item)
        given = item.get("initial_passwords") or []
        given = [given] if isinstance(given, str) else list(given)
        given.append(item.pop("initial_password", None))
        item["initial_passwords"] = [p for p in given if p and p != item.get("password")]
        out.append(item)
    return out


def smtls_written(results):
    """[{path, backup}] of the files the given registered results wrote (sm_ini, sm_keystore,
    sm_truststore, sm_webtier_config; module_utils/smtls_files.py written): a file whose content
    stays (only its mode or owner changed) is not among them - no restart for it."""
    return _files.written(results)


def smtls_unchanged(result):
    """Whether a registered result of this run (the preflight's check-mode call, or an earlier run
    of the same call) found nothing to change: then the same call, with the same inputs and
    nothing written on the host since but restart-recorded files, has nothing to do either."""
    return (isinstance(result, dict) and "changed" in result and result.get("changed") is False
            and not result.get("skipped") and not result.get("failed"))


def smtls_trust_due(preflight_truststores=None):
    """Whether a trust step (our CA into truststores, nothing removed) has anything to do, from
    the preflight's check-mode read of the same stores in this run (sm_truststore's result): only
    when that read found our CA missing somewhere - or when there is no such read to go by."""
    stores = preflight_truststores.get("truststores") if isinstance(preflight_truststores, dict) else None
    if stores is None:
        return True
    return any(str(action).startswith("add trusted_cert") for store in stores
               for action in store.get("actions") or [])


def smtls_derived_secret(secret, purpose):
    """A secret for one purpose derived from another (HMAC-SHA256, hex): what a managed host
    needs - the passphrase of the web tiers' shared key - without the CA passphrase it comes
    from, which cannot be recovered from it. Deterministic, so reruns change nothing."""
    import hmac

    return hmac.new(str(secret).encode("utf-8"), str(purpose).encode("utf-8"), "sha256").hexdigest()


def smtls_module_available(name):
    """Whether the controller can resolve the module (a collection's, by its full name): the
    tasks that need a collection ansible-core lacks are loaded only when asked for, and the
    preflight refuses early, with the fix, where the collection is missing."""
    from ansible.plugins.loader import module_loader

    return bool(module_loader.find_plugin_with_context(name).resolved)


def _fact(hostvars, host, name):
    value = hostvars[host].get(name) if host in hostvars else None
    return None if value is None or _controller.is_undefined(value) else _inputs.plain(value)


def smtls_fleet_plan(hosts, hostvars, always=""):
    """{host: {due, why, liveness}}: the preflight's plan of the run (module_utils/smtls_plan.py),
    from each host's plan fact (sm_server_plan, sm_webtier_plan, sm_windows_client_plan) and every
    liveness observation of the run. always: a reason every host is due (a CA rotation,
    smtls_probe always), else empty."""
    hosts = list(hosts or [])
    plans = dict((host, next((found for found in (_fact(hostvars, host, name) for name in _plan.PLAN_FACTS)
                              if found), {})) for host in hosts)
    facts = ("sm_server_liveness_observed", "sm_webtier_liveness_observed")
    observations = [o for host in hosts for fact in facts for o in _fact(hostvars, host, fact) or []]
    return _plan.fleet(hosts, plans, observations, always or "")


def smtls_controller_file_in_place(path, content=None, mode=None):
    """Whether a file on the controller already holds content (None: any) with mode (octal text),
    as a template or file task would leave it: the preflight plans a bundle without a module run.
    Reads only."""
    return _files.in_place(path, content, mode)


class FilterModule(object):
    def filters(self):
        return {"smtls_mode": smtls_mode, "smtls_mode_layers": smtls_mode_layers,
                "smtls_phase_steps": smtls_phase_steps, "smtls_host_roles": smtls_host_roles,
                "smtls_webtiers_first": smtls_webtiers_first, "smtls_progress": smtls_progress,
                "smtls_in_dir": smtls_in_dir, "smtls_truststores_in": smtls_truststores_in,
                "smtls_truststore_options": smtls_truststore_options,
                "smtls_written": smtls_written, "smtls_unchanged": smtls_unchanged,
                "smtls_trust_due": smtls_trust_due, "smtls_derived_secret": smtls_derived_secret,
                "smtls_module_available": smtls_module_available, "smtls_fleet_plan": smtls_fleet_plan,
                "smtls_controller_file_in_place": smtls_controller_file_in_place}
