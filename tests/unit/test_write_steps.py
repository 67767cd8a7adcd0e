"""The write steps and their plans, declared once (issue 25, item 2).

A write step the installation read plans (sm.ini, the web tier's settings files) takes its
arguments from one role variable, the step's entry: the read is given that entry as its plan
option, the write task passes the entry's values and nothing of its own, the entry names only
options the write module has, and the read's plan option has exactly the write module's options
(one engine's OPTIONS). And every task that writes a host's files passes the host role's restart
record, so a restart cannot be missed because a call site forgot it. Each check fails on drift.
"""

import importlib
import re
from pathlib import Path

import jinja2
import pytest
import yaml
from jinja2 import nodes

ROOT = Path(__file__).resolve().parents[2]

# (role, its write step's task file, write module, the entry, the read's task file, read module,
#  the read's plan option, {write option: role variable} the write takes instead of the entry's
#  value - each derived from that value by what the read resolves - and the plan-only options
#  the read adds to the entry)
PLANNED_WRITES = [
    ("sm_server", "ini.yml", "sm_ini", "__sm_server_ini_args", "info.yml", "sm_server_info", "ini_plan",
     {"parameters": "__sm_server_ini_parameters"},
     {"ssl_protocols", "fips_parameters", "fips_password_keystores"}),
    ("sm_webtier", "config.yml", "sm_webtier_config", "__sm_webtier_config_args", "info.yml",
     "sm_webtier_info", "config_plan", {}, set()),
]
# The read plans before its own result exists: where a write's arguments depend on the result
# (role variables derived from the registered read), the read resolves that value itself for
# its plan. {role: (the read's task file, module, register, {role variable the read resolves:
# how})}. Any other path from a plan's arguments to the read's result would be planned with the
# value the variable has before the read (the web tier's connector protocols and password were).
READ_RESOLVED = {
    "sm_server": ("info.yml", "sm_server_info", "sm_server_installation",
                  {"__sm_server_fips": "fips_parameters, fips_password_keystores (the FIPS stores)"}),
    "sm_webtier": ("info.yml", "sm_webtier_info", "sm_webtier_installation",
                   {"__sm_webtier_browser_connector": "browser_connector (the connector chosen)",
                    "__sm_webtier_browser_protocols": "browser_connector.protocols (for the JRE read)"}),
}
# options of the writers no read plans: the host's restart record and the run's host lock
NOT_PLANNED = {"restart_record", "run_lock"}
# the modules that note a file in the host's restart record before replacing it
RECORDING_MODULES = {"sm_ini", "sm_keystore", "sm_truststore", "sm_webtier_config"}
# the host roles whose services restart (a Windows client's bundle has nothing to restart)
RESTARTING_ROLES = {"sm_server": "__sm_server_record", "sm_webtier": "__sm_webtier_record"}


def tasks(role, name):
    """Every task of a task file, blocks flattened."""
    found, todo = [], list(yaml.safe_load((ROOT / "roles" / role / "tasks" / name).read_text()) or [])
    while todo:
        task = todo.pop(0)
        found.append(task)
        for section in ("block", "rescue", "always"):
            todo[:0] = task.get(section) or []
    return found


def module_task(role, name, module):
    matches = [t for t in tasks(role, name) if module in t]
    assert len(matches) == 1, "%s/tasks/%s: %d tasks call %s" % (role, name, len(matches), module)
    return matches[0][module]


def role_vars(role):
    return yaml.safe_load((ROOT / "roles" / role / "vars" / "main.yml").read_text())


def entry_keys(value):
    """The option names of an entry: a mapping's keys, or the keys at the top of a Jinja
    expression - of its dict literals, the dicts combined into them and either branch of a
    conditional (read from Jinja's own parse, not the keys of a value's dict)."""
    if isinstance(value, dict):
        return set(value)
    template = jinja2.Environment().parse(value.strip())
    keys, todo = set(), [node.nodes[0] for node in template.body if isinstance(node, nodes.Output)]
    while todo:
        node = todo.pop()
        if isinstance(node, nodes.Dict):
            keys.update(pair.key.value for pair in node.items if isinstance(pair.key, nodes.Const))
        elif isinstance(node, nodes.Filter) and node.name == "combine":
            todo += [node.node] + list(node.args)
        elif isinstance(node, nodes.CondExpr):
            todo += [node.expr1, node.expr2]
    return keys


def template_names(value):
    """The variables a role variable's value (a template, or a mapping or list of them) reads."""
    if isinstance(value, dict):
        return set().union(*map(template_names, value.values())) if value else set()
    if isinstance(value, list):
        return set().union(*map(template_names, value)) if value else set()
    if isinstance(value, str) and "{" in value:
        # every name loaded (loop and lambda names too: a superset, which only adds dead ends)
        return {node.name for node in jinja2.Environment().parse(value).find_all(nodes.Name)
                if node.ctx == "load"}
    return set()


def paths_to(role, start, target, stop):
    """The chains of role variables from the names in start to target, not passing through stop."""
    defined, found = role_vars(role), []

    def walk(name, path):
        if name == target:
            found.append(" -> ".join(path))
        elif name in defined and name not in stop and name not in path[:-1]:
            for used in sorted(template_names(defined[name])):
                walk(used, path + [used])

    for name in sorted(start):
        walk(name, [name])
    return found


def spec(module):
    return importlib.import_module(module).ARGUMENT_SPEC


@pytest.mark.parametrize("role,write_file,writer,entry,read_file,reader,plan_option,derived,plan_only",
                         PLANNED_WRITES, ids=[w[0] + ":" + w[2] for w in PLANNED_WRITES])
def test_a_planned_write_step_is_one_entry_the_plan_and_the_write_both_take(
        role, write_file, writer, entry, read_file, reader, plan_option, derived, plan_only):
    keys = entry_keys(role_vars(role)[entry])
    assert keys, "%s: no options found in %s" % (role, entry)
    writer_options = set(spec(writer)) - NOT_PLANNED
    # the entry names only options the write module has
    assert keys <= writer_options, "%s: %s names %s, no option of %s" % (role, entry, keys - writer_options,
                                                                       writer)
    # the read plans with the writer's options, exactly (one engine's OPTIONS), plus what it resolves
    planned = set(spec(reader)[plan_option]["options"])
    assert planned - plan_only == writer_options, (
        "%s's %s and %s's options differ: %s" % (reader, plan_option, writer, planned ^ writer_options))
    # the read is given the entry itself
    read_value = module_task(role, read_file, reader)[plan_option]
    assert re.match(r"^\{\{ %s\b" % entry, read_value.strip()), (
        "%s/tasks/%s: %s's %s is not %s: %r" % (role, read_file, reader, plan_option, entry, read_value))
    # ... with nothing added to it but what the read resolves itself
    added = entry_keys(read_value)
    assert added <= plan_only, "%s/tasks/%s: %s's %s adds %s to %s" % (role, read_file, reader, plan_option,
                                                                      added - plan_only, entry)
    # the write passes the entry's values (or a declared derivation of one), nothing of its own
    written = module_task(role, write_file, writer)
    assert set(written) - {"restart_record"} == keys, (
        "%s/tasks/%s: %s's options %s differ from %s's %s" % (role, write_file, writer, sorted(written),
                                                             entry, sorted(keys)))
    for option in keys:
        source = derived.get(option, "%s.%s" % (entry, option))
        assert re.match(r"^\{\{ %s\b" % re.escape(source), str(written[option]).strip()), (
            "%s/tasks/%s: %s's %s is not taken from %s: %r" % (role, write_file, writer, option, source,
                                                               written[option]))


@pytest.mark.parametrize("role", sorted(READ_RESOLVED))
def test_a_plan_depends_on_its_own_read_only_through_what_the_read_resolves(role):
    """The read's plan options are evaluated before the read returns: a value they take from the
    read's result is planned as it is before it (empty), and a change of it alone is planned as
    nothing - unless the read resolves it itself, as declared in READ_RESOLVED."""
    read_file, reader, register, resolved = READ_RESOLVED[role]
    task = module_task(role, read_file, reader)
    plan_options = [name for name in task if name.endswith("_plan")]
    assert plan_options, "%s/tasks/%s: %s plans nothing" % (role, read_file, reader)
    defined = role_vars(role)
    for name in resolved:
        assert name in defined and register in str(defined[name]), (role, name)
    problems = [chain for option in plan_options
                for chain in paths_to(role, template_names(task[option]), register, set(resolved))]
    assert problems == [], "%s: the read's plans take the read's own result through %s" % (role, problems)


def test_every_write_of_a_restarting_host_role_passes_its_restart_record():
    """A call site that forgot the record would write a file no restart, rollback or report sees."""
    problems = []
    for role, record in RESTARTING_ROLES.items():
        for path in sorted((ROOT / "roles" / role / "tasks").glob("*.yml")):
            for task in tasks(role, path.name):
                for module in RECORDING_MODULES & set(task):
                    args = task[module]
                    if not (isinstance(args, dict) and record in str(args.get("restart_record", ""))):
                        problems.append("%s/tasks/%s: %r (%s) has no restart_record %s"
                                        % (role, path.name, task.get("name"), module, record))
                include = task.get("ansible.builtin.include_role") or {}
                if include.get("name") == "smtls" and include.get("tasks_from") in ("identity", "truststore"):
                    if record not in str((task.get("vars") or {}).get("smtls_restart_record", "")):
                        problems.append("%s/tasks/%s: %r includes smtls %s without smtls_restart_record %s"
                                        % (role, path.name, task.get("name"), include["tasks_from"], record))
    assert problems == []


def test_the_shared_flows_pass_the_record_they_are_given_to_every_write():
    """The smtls role's identity and truststore flows write host files for the host roles: each
    write there takes smtls_restart_record (the new key's CSR call writes no keystore)."""
    problems = []
    for name in ("identity.yml", "identity_issue.yml", "truststore.yml"):
        for task in tasks("smtls", name):
            for module in RECORDING_MODULES & set(task):
                args = task[module]
                if args.get("csr_key"):
                    continue
                if "smtls_restart_record" not in str(args.get("restart_record", "")):
                    problems.append("smtls/tasks/%s: %r (%s) has no restart_record"
                                    % (name, task.get("name"), module))
    assert problems == []


def test_no_task_passes_its_arguments_as_one_template():
    """`module: "{{ args }}"` is unsafe (Ansible warns, and a value from a fact could inject
    options): every task of the roles and playbooks names its options."""
    problems = []
    files = list((ROOT / "roles").glob("*/tasks/*.yml")) + list((ROOT / "playbooks").glob("*.yml"))
    for path in sorted(files):
        todo = list(yaml.safe_load(path.read_text()) or [])
        while todo:
            task = todo.pop()
            if not isinstance(task, dict):
                continue
            for section in ("tasks", "pre_tasks", "post_tasks", "handlers", "block", "rescue", "always"):
                todo += task.get(section) or []
            for key, value in task.items():
                if (key == "args" or "." in key or key.startswith("sm_")) and isinstance(value, str) \
                        and value.strip().startswith("{{"):
                    problems.append("%s: %r passes %s %s" % (path.relative_to(ROOT), task.get("name"), key,
                                                              value))
    assert problems == []
