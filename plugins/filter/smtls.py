# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Small Jinja filters the smtls roles share."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import posixpath


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


def smtls_written(results):
    """[{path, backup}] of the files the given registered results wrote.

    Understands sm_ini and sm_keystore (one file), sm_truststore (truststores) and
    sm_webtier_config (files); skipped and unchanged results contribute nothing.
    """
    written = []
    for result in results or []:
        if not isinstance(result, dict) or result.get("skipped") or not result.get("changed"):
            continue
        for item in result.get("truststores") or result.get("files") or [result]:
            if item.get("changed") and item.get("path"):
                written.append({"path": item["path"], "backup": item.get("backup_file") or ""})
    return written


def smtls_key_entry(entries, alias):
    """The private-key entry a keystore serves: the one under alias, else the first one (the
    vendor's sample under its own alias), else {} - as sm_keystore_info lists entries."""
    keys = [e for e in entries or [] if e.get("kind") == "private_key"]
    wanted = [e for e in keys if e.get("alias") == (alias or "").lower()]
    return (wanted or keys or [{}])[0]


def smtls_module_available(name):
    """Whether the controller can resolve the module (a collection's, by its full name): the
    tasks that need a collection ansible-core lacks are loaded only when asked for, and the
    preflight refuses early, with the fix, where the collection is missing."""
    from ansible.plugins.loader import module_loader

    return bool(module_loader.find_plugin_with_context(name).resolved)


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


class FilterModule(object):
    def filters(self):
        return {"smtls_in_dir": smtls_in_dir, "smtls_truststores_in": smtls_truststores_in,
                "smtls_written": smtls_written, "smtls_key_entry": smtls_key_entry,
                "smtls_module_available": smtls_module_available,
                "smtls_progress": smtls_progress}
