# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The web tier's settings files (webtier.properties, web.xml, application-context.xml,
server.xml) for a mode: planned, checked and written as one step.

One engine for the write (sm_webtier_config) and for the plan the installation read makes of it
(sm_webtier_info's config_plan): both take the same options (OPTIONS), so what the preflight
plans and what the write does cannot drift.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os

from ansible.module_utils import smtls_webtier as web
from ansible.module_utils.smtls_files import (FileProblem, change_ownership, check_writable,
                                              mode_action, owner_names, ownership_change,
                                              read_optional, tighten, wanted_ids, wide_mode,
                                              write_atomic)

# sm_webtier_config's options for the files (its documentation describes each one)
OPTIONS = dict(
    properties_file=dict(type="path"),
    properties=dict(type="dict", default={}),
    passwords=dict(type="dict", default={}, no_log=True),
    password_keystores=dict(type="dict", default={}, no_log=False),
    web_xml=dict(type="path"),
    context_params=dict(type="dict", default={}),
    application_context=dict(type="path"),
    pre_authentication=dict(type="bool"),
    server_xml=dict(type="path"),
    tomcat_authentication=dict(type="bool"),
    https_port=dict(type="int"),
    https_protocols=dict(type="list", elements="str"),
    https_keystore_password=dict(type="str", no_log=True),
    owner=dict(type="str"),
    group=dict(type="str"),
    backup=dict(type="bool", default=False),
)


def _read_text(path, what, required=True):
    data = read_optional(path, what)
    if data is None:
        if required:
            raise FileProblem("%s: %s does not exist (check the web tier path variables)" % (what, path))
        return None
    return data.decode("utf-8")


def plan_files(p):
    """[(path, old_text, new_text, actions, shown_old, shown_new)] for every file asked for."""
    plans = []
    secret_names = set(p["passwords"])
    if p["properties_file"] and (p["properties"] or p["passwords"]):
        old = _read_text(p["properties_file"], "webtier.properties", required=False)
        wanted = dict((k, None if v is None else str(v)) for k, v in p["properties"].items())
        wanted.update((k, str(v)) for k, v in p["passwords"].items())
        values = web.properties_values(old or "")

        def in_sync(key, current):
            # the web tier encrypts keystorePassword under its masterKey once it has run; the
            # keystore code (and cryptography) is imported only then, not on every run
            from ansible.module_utils.smtls_keystore_state import keystore_file_opens

            return "masterKey" in values and keystore_file_opens(p["password_keystores"].get(key),
                                                                 p["passwords"][key])

        new, actions = web.plan_properties(old or "", wanted, secret_names, in_sync)
        plans.append((p["properties_file"], old, new, actions,
                      web.masked_properties(old or "", secret_names),
                      web.masked_properties(new, secret_names)))
    if p["web_xml"] and p["context_params"]:
        old = _read_text(p["web_xml"], "web.xml")
        web.check_xml(old, p["web_xml"])
        new, actions = web.plan_context_params(old, p["context_params"])
        plans.append((p["web_xml"], old, new, actions, web.masked_xml(old), web.masked_xml(new)))
    if p["application_context"] and p["pre_authentication"] is not None:
        old = _read_text(p["application_context"], "application-context.xml")
        web.check_xml(old, p["application_context"])
        new, actions = web.plan_pre_authentication(old, p["pre_authentication"])
        plans.append((p["application_context"], old, new, actions, web.masked_xml(old),
                      web.masked_xml(new)))
    connector = p["https_protocols"] or p["https_keystore_password"] is not None
    if p["server_xml"] and (p["tomcat_authentication"] is not None or connector):
        old = _read_text(p["server_xml"], "server.xml")
        web.check_xml(old, p["server_xml"])
        new, actions = old, []
        if p["tomcat_authentication"] is not None:
            new, actions = web.plan_tomcat_authentication(new, p["tomcat_authentication"])
        if connector:
            if not p["https_port"]:
                raise web.WebTierError("https_protocols and https_keystore_password need "
                                       "https_port (the connector to set)")
            new, more = web.plan_https_connector(new, p["https_port"], p["https_protocols"],
                                                 p["https_keystore_password"])
            actions += more
        plans.append((p["server_xml"], old, new, actions, web.masked_xml(old), web.masked_xml(new)))
    for path, _old, new, _actions, _shown_old, _shown_new in plans:
        if path.endswith(".xml"):
            web.check_xml(new, path)
    return plans


def checked_plans(p):
    """The plans, with each file's mode cap and ownership change, once every file this step
    changes is known to be replaceable, every mode cappable without locking Tomcat out and every
    owner and group given - before the first write. Raises WebTierError or FileProblem."""
    plans = plan_files(p)
    uid, gid = wanted_ids(p["owner"], p["group"], "sm_webtier_config")
    checked = []
    for path, old, new, actions, shown_old, shown_new in plans:
        what = os.path.basename(path)
        if old != new:
            check_writable(path, what, len(new.encode("utf-8")), p["backup"])
        if old is None:  # created by this call: predicted from who creates it
            checked.append((path, old, new, actions, shown_old, shown_new, None,
                            ownership_change(path, what, uid, gid)))
            continue
        found = os.stat(path)
        wide = wide_mode(path, what)
        if wide:
            web.refuse_tomcat_lockout(path, wide[0], found.st_uid if uid is None else uid, found.st_gid,
                                      bool(p["group"]), owner_names(found.st_uid, found.st_gid))
        checked.append((path, old, new, actions, shown_old, shown_new, wide,
                        ownership_change(path, what, uid, gid, current=(found.st_uid, found.st_gid))))
    return checked


def plan(p):
    """What the write would do (its check-mode result: changed, files), or {'error': message}:
    for the installation read, which reports what it finds rather than failing."""
    try:
        checked = checked_plans(p)
    except (web.WebTierError, FileProblem) as exc:
        return {"error": str(exc)}
    files = [_entry(path, old, new, actions, wide, owner_actions)
             for path, old, new, actions, _so, _sn, wide, (owner_actions, _target) in checked]
    return dict(changed=any(entry["changed"] for entry in files), files=files)


def _entry(path, old, new, actions, wide, owner_actions):
    """A file's result: changed (content, mode, owner or group), written (its content - what a
    restart is due for) and the actions."""
    return dict(path=path, changed=old != new or bool(wide) or bool(owner_actions), written=old != new,
                actions=actions + ([mode_action(wide)] if wide else []) + owner_actions)


def apply(module, p, restart_record=None):
    """Plan, check and (outside check mode) write every file: the module's result (changed,
    files, diff). Raises WebTierError or FileProblem before the first write for a bad file."""
    checked = checked_plans(p)
    files, diffs = [], []
    for path, old, new, actions, shown_old, shown_new, wide, (owner_actions, target) in checked:
        entry = _entry(path, old, new, actions, wide, owner_actions)
        if old != new:
            diffs.append(dict(before=shown_old, after=shown_new, before_header=path, after_header=path))
        if not module.check_mode:
            if wide:
                tighten(path, wide)
            # an existing file gets its owner and group before the write, which keeps them (as it
            # keeps the mode); a new one once it exists
            if target and old is not None:
                change_ownership(path, target)
            if old != new:
                backup_file = write_atomic(module, path, new.encode("utf-8"), backup=p["backup"],
                                           mode=0o640, restart_record=restart_record, secret=True)
                if backup_file:
                    entry["backup_file"] = backup_file
            if target and old is None:
                change_ownership(path, target)
        files.append(entry)
    return dict(changed=any(entry["changed"] for entry in files), files=files, diff=diffs)
