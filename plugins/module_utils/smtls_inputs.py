# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The input model: what each variable of the fleet may hold, checked before the first write.

Three layers, each one line per problem naming the variable, its value (masked for a secret)
and the fix - never an argument-spec dump or a traceback:
- a variable's type and its set of values: the role's argument spec (meta/argument_specs.yml);
- a variable's range: RANGES here (argument specs have no minimum or maximum);
- rules across variables of one host (host_problems) and across the hosts of a run
  (fleet_problems): lifetimes, ports, fleet-wide settings, host roles, hosts named by others.
A unit test keeps this model and the argument specs together (every int option has a range).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from collections.abc import Mapping
import datetime
import hashlib
import json
import os
import re

import yaml

from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.smtls_x509 import PkiError, check_current, normalise_names, parse_pem_certs

# what stands for "not set" in the values the roles pass (query('vars', ..., default=UNSET))
UNSET = "__smtls_unset__"
# the longest problem line: a message an operator reads whole
MAX_LINE = 300

SECRET = re.compile(r"(password|passphrase|secret|hmac_key)")

PORT = (1, 65535, "a TCP port from 1 to 65535")
# variable: (lowest, highest, what it is - the fix names the range)
RANGES = {
    "smtls_valid_days": (1, 3650, "the days a host certificate is valid, 1 to 3650 (397 by default)"),
    "smtls_renew_days": (
        0,
        3649,
        "the days before expiry a certificate is renewed, 0 or more (30 by default)",
    ),
    "smtls_ca_valid_days": (1, 36500, "the days a new CA is valid, 1 to 36500 (3650 by default)"),
    "smtls_probe_wait": (
        1,
        3600,
        "the seconds a restarted service gets to listen, 1 to 3600 (60 by default)",
    ),
    "smtls_backup_keep": (0, 100, "the backups kept per file, 0 to 100 (3 by default)"),
    "smtls_acme_responder_lifetime": (10, 86400, "the seconds an http-01 responder lives, 10 to 86400"),
    "smtls_ca_acme_timeout": (1, 3600, "the seconds an ACME request may take, 1 to 3600"),
    "smtls_max_fail_percentage": (0, 100, "a percentage of a batch, 0 to 100"),
    "smtls_key_size": (256, 16384, "a key size in bits"),
    "smtls_acme_http_port": PORT,
    "smtls_ca_acme_dns_port": PORT,
    "sm_server_http_port": PORT,
    "sm_server_https_port": PORT,
    "sm_webtier_server_http_port": PORT,
    "sm_webtier_server_https_port": PORT,
    "sm_webtier_browser_https_port": (
        0,
        65535,
        "a TCP port, or 0 for the first HTTPS connector of server.xml",
    ),
    "sm_windows_client_server_http_port": PORT,
    "sm_windows_client_server_https_port": PORT,
}
# (HTTP, HTTPS): SM listens on both, so they cannot be one port
PORT_PAIRS = (
    ("sm_server_http_port", "sm_server_https_port"),
    ("sm_webtier_server_http_port", "sm_webtier_server_https_port"),
    ("sm_windows_client_server_http_port", "sm_windows_client_server_https_port"),
)
# a list or auto: an empty list would leave the JVM's defaults and drop the TLS 1.2 floor
AUTO_OR_LIST = ("smtls_ssl_protocols", "smtls_ssl_ciphers")
FILE_MODES = (
    "sm_server_file_mode",
    "sm_webtier_file_mode",
    "sm_windows_client_file_mode",
    "smtls_identity_mode",
)
# keytool refuses a new store a password shorter than 6 characters: an operator could not use it by hand
KEYSTORE_PASSWORDS = (
    "sm_server_keystore_password",
    "sm_server_truststore_password",
    "sm_server_trustedclients_password",
    "sm_server_client_ca_password",
    "sm_webtier_keystore_password",
    "sm_webtier_browser_keystore_password",
    "sm_windows_client_keystore_password",
    "sm_windows_client_truststore_password",
)
# the names a certificate will carry: judged as the certificate engine judges them
NAME_LISTS = {
    "sm_server_dns_names": "dns",
    "sm_server_ip_addresses": "ips",
    "sm_webtier_dns_names": "dns",
    "sm_webtier_browser_dns_names": "dns",
    "sm_webtier_browser_ips": "ips",
    "sm_windows_client_dns_names": "dns",
}
# certificates smtls puts into stores: each must parse and be within its validity (nothing expired
# is written); lists of {alias, pem}, or of PEM text
CERTIFICATE_LISTS = ("smtls_client_cas", "sm_server_trusted_clients_extra", "smtls_accepted_ca_certificates")
BATCHES = ("smtls_server_batch", "smtls_webtier_batch")
# play keywords, set with -e: no role spec holds them
PLAY_KEYWORDS = BATCHES + ("smtls_max_fail_percentage",)
# equal on every host of a run, or the fleet would be split (docs/inventory.md)
FLEET_WIDE = (
    "smtls_ssl_mode",
    "smtls_phase",
    "smtls_ca_source",
    "smtls_ca_dir",
    "smtls_ca_create",
    "smtls_ca_common_name",
    "smtls_ca_valid_days",
    "smtls_ca_passphrase",
    "smtls_ca_organization",
    "smtls_ca_alias",
    "smtls_ca_acme_directory_url",
    "smtls_ca_acme_server_ca",
    "smtls_ca_acme_account_key",
    "smtls_ca_acme_account_key_passphrase",
    "smtls_ca_acme_eab_kid",
    "smtls_ca_acme_eab_hmac_key",
    "smtls_ca_acme_challenge",
    "smtls_ca_acme_dns_server",
    "smtls_ca_acme_dns_port",
    "smtls_ca_acme_dns_zone",
    "smtls_ca_acme_dns_tsig_key_name",
    "smtls_ca_acme_dns_tsig_key_secret",
    "smtls_ca_acme_dns_tsig_algorithm",
    "sm_webtier_shared_certificate",
    "sm_webtier_shared_certificate_name",
    "sm_webtier_shared_key_passphrase",
    "smtls_valid_days",
    "smtls_renew_days",
    "smtls_key_type",
    "smtls_key_size",
    "smtls_ssl_protocols",
    "smtls_ssl_ciphers",
    "smtls_ssl_allow_legacy_protocols",
    "smtls_ssl_check_ciphers",
    "smtls_client_cas",
    "smtls_untrusted_cas",
    "smtls_keep_cas",
    "smtls_accepted_ca_certificates",
    "smtls_csr_export_dir",
    "smtls_certificate_import_dir",
    "smtls_probe",
)
# the options an inventory sets of the smtls role (the rest are the flows' internal arguments)
# and of the smtls_fleet role (the fleet report's); their defaults are the smtls role's
SHARED = (
    "smtls_renew_days",
    "smtls_valid_days",
    "smtls_key_type",
    "smtls_key_size",
    "smtls_untrusted_cas",
    "smtls_keep_cas",
    "smtls_accepted_ca_certificates",
    "smtls_csr_export_dir",
    "smtls_certificate_import_dir",
    "smtls_ca_alias",
    "smtls_acme_http_port",
    "smtls_acme_http_address",
    "smtls_acme_responder_lifetime",
    "smtls_probe",
    "smtls_probe_wait",
    "smtls_backup_keep",
    "smtls_report_dir",
    "smtls_report_title",
    "smtls_report_metrics_file",
    "smtls_report_fail_on",
)
HOST_ROLES = {
    "sm_servers": "sm_server",
    "sm_webtiers": "sm_webtier",
    "sm_windows_clients": "sm_windows_client",
}
# How Ansible reaches a host: the roles that run our Python modules on the host need a POSIX one
PLATFORM_NAMES = ("ansible_connection", "ansible_shell_type")
WINDOWS_CONNECTIONS = ("winrm", "psrp")
WINDOWS_SHELLS = ("powershell", "cmd")
# Servers that answer clients under one name (a horizontal group): restarted never all at once
CLUSTER_ALIAS = "sm_server_cluster_alias"
# variables that name another host of the inventory, and the group it must be in
# (variable, group its host must be in, whether a name no host has is the role's to judge)
HOST_REFERENCES = (
    ("sm_webtier_server_host", "sm_servers", True),  # or a name the servers carry (a cluster alias)
    ("sm_windows_client_server_host", "sm_servers", True),
    ("sm_server_probe_from", "all", False),  # a web tier, the server itself, or localhost
)


def is_secret(name):
    return bool(SECRET.search(name))


def shown(name, value):
    """A value as a message may show it: a secret never, a long value cut."""
    if is_secret(name):
        return "(secret)"
    if isinstance(value, (dict, list)) and any(
        isinstance(item, dict) for item in (value if isinstance(value, list) else [value])
    ):
        return "(%s of %d)" % (
            "list" if isinstance(value, list) else "dict",
            len(value),
        )  # its entries may hold passwords
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def line(name, value, what, fix):
    """One problem: variable, value, what is wrong, the fix; at most MAX_LINE characters."""
    text = "%s=%s %s. Fix: %s" % (name, shown(name, value), what, fix)
    return text if len(text) <= MAX_LINE else text[: MAX_LINE - 3] + "..."


def _number(value):
    """An int from an int or a string of digits (inventories give both); None otherwise."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and re.match(r"^-?[0-9]+$", value.strip()):
        return int(value)
    return None


def plain(value):
    """value as plain Python data (dict, list, str, int, float, bool, None). Jinja hands filters
    lazy containers that template themselves again on every deep copy, and the argument spec
    validator deep-copies what it checks: converted once here, a host's check costs milliseconds
    instead of seconds (py-spy on a rerun of the demo: 40% of the workers' time)."""
    if isinstance(value, Mapping):
        return dict((str(k), plain(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, bool) or value is None:
        return value if value is None else bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    return value


def _spec_problem(name, option, value):
    """The argument spec's verdict on one variable, as one line."""
    if option.get("required") and (value is None or value == ""):
        return line(name, value, "is required but empty", "set it (a secret in Vault)")
    if value is None:
        return ""
    option = dict(option, required=False)
    result = ArgumentSpecValidator({name: option}).validate({name: plain(value)})
    if not result.errors.errors:
        return ""
    error = result.errors.errors[0]
    kind = type(error).__name__
    if kind == "ArgumentValueError" and "choices" in option:
        return line(
            name,
            value,
            "must be one of %s" % ", ".join(str(c) for c in option["choices"]),
            "one of those values",
        )
    if kind == "ArgumentTypeError":
        wanted = option.get("type", "str")
        if wanted == "list" and option.get("elements"):
            wanted = "list of %s" % option["elements"]
        return line(name, value, "is not a %s" % wanted, "a %s (see the role's README)" % wanted)
    # nested options (lists of dicts): the spec's own words about the element, without the value
    words = re.sub(r"\s+", " ", error.msg)[:150]
    return line(name, value, "does not fit its spec (%s)" % words, "see the role's README")


def _range_problem(name, value):
    lowest, highest, what = RANGES[name]
    number = _number(value)
    if number is None or not lowest <= number <= highest:
        return line(name, value, "is out of range", what)
    return ""


def _batch_problem(name, value):
    for item in value if isinstance(value, list) else [value]:
        text = str(item).strip()
        number = text[:-1] if text.endswith("%") else text
        if not number.isdigit() or int(number) < 1 or (text.endswith("%") and int(number) > 100):
            return line(
                name,
                value,
                "is not a batch size",
                "a number of hosts (2), a percentage (25%), or a list of them ([1, 25%, 100%])",
            )
    return ""


def _key_problem(key_type, size):
    if key_type == "rsa":
        bits = _number(size)
        if bits is None or not 2048 <= bits <= 16384:
            return line(
                "smtls_key_size",
                size,
                "is not an RSA key size smtls makes (2048 to 16384 bits)",
                "2048, 3072 or 4096",
            )
    return ""


def host_problems(values, spec, group_names=(), defaults=None):
    """Every problem with one host's inputs, one line each ([] when none).

    values: variable -> value (UNSET when not set); spec: the argument spec options the values
    answer to (the host role's, the CA's, the shared ones); group_names: the host's groups;
    defaults: the roles' literal defaults, which the rules across variables read for what is unset.
    """
    values = dict((k, plain(v)) for k, v in values.items() if v != UNSET)
    given = dict(values)
    problems = []
    for name, option in spec.items():
        if name in values or option.get("required"):
            problem = _spec_problem(name, option, values.get(name))
            if problem:
                problems.append(problem)
                values.pop(name, None)  # judged: the rules below would only repeat it
    for name in RANGES:
        if name in values and name != "smtls_key_size":
            problems.append(_range_problem(name, values[name]))
    for name in BATCHES:
        if name in values:
            problems.append(_batch_problem(name, values[name]))
    if "smtls_key_type" in values or "smtls_key_size" in values:
        problems.append(_key_problem(values.get("smtls_key_type", "rsa"), values.get("smtls_key_size", 2048)))
    for name in AUTO_OR_LIST:
        value = values.get(name, "auto")
        if value != "auto" and not (isinstance(value, list) and value):
            problems.append(
                line(
                    name,
                    value,
                    "is neither auto nor a non-empty list",
                    "auto (the JRE's own choice, read from the host), or a list such as [TLSv1.2, TLSv1.3]"
                    if name == "smtls_ssl_protocols"
                    else "auto (the JVM's suites), or a list of JSSE suite names",
                )
            )
    for name in FILE_MODES:
        value = values.get(name)
        if value is not None and not re.match(r"^0?[0-7]{3}$", str(value)):
            problems.append(line(name, value, "is not an octal file mode", "a quoted mode such as '0640'"))
    for name in KEYSTORE_PASSWORDS:
        value = values.get(name)
        if isinstance(value, str) and 0 < len(value) < 6:
            problems.append(
                line(
                    name,
                    value,
                    "is shorter than 6 characters, which keytool refuses for a new store",
                    "a longer password, in Vault",
                )
            )
    # the rules across variables see the defaults too (a window set against the default validity)
    merged = dict((k, v) for k, v in (defaults or {}).items() if k in spec and k not in given)
    merged.update(values)
    problems += _name_problems(values)
    problems += _certificate_problems(values)
    problems += _lifetime_problems(merged)
    problems += _port_problems(merged)
    problems += _service_problems(merged)
    roles = [HOST_ROLES[g] for g in group_names if g in HOST_ROLES]
    problems += _platform_problems(values, roles)
    problems += _cluster_problems(merged)
    if len(roles) > 1:
        problems.append(
            line(
                "group_names",
                sorted(g for g in group_names if g in HOST_ROLES),
                "puts this host in more than one host role (%s)" % ", ".join(roles),
                "list the host in one of sm_servers, sm_webtiers, sm_windows_clients",
            )
        )
    return [p for p in problems if p]


def _name_problems(values):
    problems = []
    for name, kind in NAME_LISTS.items():
        items = values.get(name)
        if not isinstance(items, list):
            continue
        for item in items:
            try:
                normalise_names([item] if kind == "dns" else [], [item] if kind == "ips" else [])
            except PkiError:
                problems.append(
                    line(
                        name,
                        items,
                        "holds %r, which is not a valid DNS name" % item
                        if kind == "dns"
                        else "holds %r, which is not an IP address" % item,
                        "letters, digits and hyphens in dot-separated labels; addresses go into "
                        "the ip_addresses list"
                        if kind == "dns"
                        else "an IPv4 or IPv6 address; names go into the dns_names list",
                    )
                )
                break
    return problems


def _certificate_problems(values):
    problems = []
    for name in CERTIFICATE_LISTS:
        for item in values.get(name) or []:
            pem, alias = (item.get("pem"), item.get("alias")) if isinstance(item, dict) else (item, None)
            what = "%s %s" % (name, alias or "")
            try:
                for cert in parse_pem_certs(pem or "", what.strip()):
                    check_current(cert, what.strip())
            except PkiError as exc:
                reason = str(exc).split(". Fix:")[0]
                problems.append(
                    line(
                        name,
                        values[name],
                        "is refused: %s" % reason[:170],
                        "a current certificate in PEM (renew or replace it), or take it out",
                    )
                )
                break
    return problems


def _lifetime_problems(values):
    if values.get("smtls_ca_source", "internal") != "internal":
        return []  # a corporate or ACME CA sets the validity, not smtls_valid_days
    valid, renew = _number(values.get("smtls_valid_days")), _number(values.get("smtls_renew_days"))
    if valid is not None and renew is not None and 1 <= valid and 0 <= renew and renew >= valid:
        return [
            line(
                "smtls_renew_days",
                renew,
                "is not below smtls_valid_days=%d, so every run would "
                "renew every certificate and restart every server" % valid,
                "a renewal window shorter than the validity (30 of 397 by default)",
            )
        ]
    return []


def _port_problems(values):
    problems = []
    for http, https in PORT_PAIRS:
        a, b = _number(values.get(http)), _number(values.get(https))
        if a is not None and a == b:
            problems.append(
                line(
                    https,
                    b,
                    "is the port %s has too" % http,
                    "SM's HTTPS port differs from its HTTP port (13443 and 13080 by default)",
                )
            )
    return problems


def _platform_problems(values, roles):
    """An SM server or web tier reached as a Windows host: refused before its first module (smtls
    runs Python modules on those hosts; Windows-hosted SM is not supported yet)."""
    connection, shell = values.get("ansible_connection"), values.get("ansible_shell_type")
    windows = connection in WINDOWS_CONNECTIONS or shell in WINDOWS_SHELLS
    hosted = [r for r in roles if r in ("sm_server", "sm_webtier")]
    if not windows or not hosted:
        return []
    name, value = ("ansible_connection", connection) if connection in WINDOWS_CONNECTIONS else (
        "ansible_shell_type", shell)
    return [line(name, value, "makes this %s a Windows host; smtls runs its modules on SM servers and web "
                              "tiers in Python, which Windows hosts do not run, so it supports them on "
                              "Linux/Unix only" % hosted[0].replace("_", " "),
                 "take the host out of sm_servers/sm_webtiers (README \"Platforms\"); Windows clients "
                 "are supported (docs/windows-clients.md)")]


def _cluster_problems(values):
    alias, names = values.get(CLUSTER_ALIAS), values.get("sm_server_dns_names")
    if alias and isinstance(names, list) and alias not in names:
        return [line(CLUSTER_ALIAS, alias, "is not among sm_server_dns_names, so clients sent to the "
                                           "group's name would refuse this server's certificate",
                     "add it to sm_server_dns_names")]
    if alias and values.get("smtls_ca_source") == "acme" and values.get("smtls_ca_acme_challenge",
                                                                          "http-01") == "http-01":
        # the CA fetches the token from whichever member the name resolves to
        return [line(CLUSTER_ALIAS, alias, "is on every member's certificate, and http-01 cannot prove a "
                                           "name several hosts share",
                     "smtls_ca_acme_challenge: dns-01 (docs/acme.md), or no alias on the certificates")]
    return []


def serial_batches(hosts, serial):
    """The batches a play with this `serial` runs hosts in, as Ansible makes them: each size a
    number or a percentage of the play's hosts (at least 1), the last size repeated."""
    sizes = serial if isinstance(serial, list) else [serial]
    batches, rest, index = [], list(hosts), 0
    while rest:
        text = str(sizes[min(index, len(sizes) - 1)]).strip()
        size = int(len(hosts) * int(text[:-1]) / 100.0) if text.endswith("%") else int(text)
        size = max(size, 1)
        batches.append(rest[:size])
        rest, index = rest[size:], index + 1
    return batches


def group_batch_problems(servers, aliases, serial):
    """A batch that restarts every server of a horizontal group at once, one line per group.
    servers: the run's SM servers in play order; aliases: server -> its sm_server_cluster_alias."""
    serial = 1 if serial in (None, "", UNSET) else serial
    if _batch_problem("smtls_server_batch", serial):
        return []  # the fleet's input check names it
    groups = {}
    for server in servers:
        if aliases.get(server):
            groups.setdefault(aliases[server], []).append(server)
    problems = []
    for alias, members in sorted(groups.items()):
        if len(members) < 2:
            continue
        for batch in serial_batches(servers, serial):
            if set(members) <= set(batch):
                problems.append(line("smtls_server_batch", serial,
                                     "restarts every server behind %s (%s) in one batch, so the group "
                                     "would stop serving" % (alias, _hosts_text(members)),
                                     "a batch smaller than the group (-e smtls_server_batch=1, the "
                                     "default), so one member serves while another restarts"))
                break
    return problems


def _service_problems(values):
    problems = []
    for role in ("sm_server", "sm_webtier"):
        if values.get(role + "_service_manager") == "command" and not values.get(role + "_restart_command"):
            problems.append(
                line(
                    role + "_restart_command",
                    values.get(role + "_restart_command", []),
                    "is empty, but %s_service_manager is command" % role,
                    "the command that restarts the service, as a list",
                )
            )
    return problems


def fingerprints(values, defaults=None, names=FLEET_WIDE, spec=None):
    """Each fleet-wide setting of a host as a digest: a fact that can be compared across hosts
    without holding a secret. defaults: the roles' literal defaults, for what a host leaves unset
    (so a host that sets the default value agrees with one that sets nothing; one whose default is
    a template is not judged when unset); spec: the options, to compare values as the roles take
    them ("397" from an INI inventory is 397)."""
    digests = {}
    for name in names:
        if is_secret(name):
            digests[name] = None  # compared in fleet_problems, never kept here, not even as a digest
            continue
        value = values.get(name, UNSET)
        if value == UNSET:
            value = (defaults or {}).get(name, UNSET)
        if value == UNSET:
            continue
        value = _converted(name, (spec or {}).get(name), value)
        digests[name] = hashlib.sha256(json.dumps(value, sort_keys=True, default=str).encode()).hexdigest()[
            :16
        ]
    return digests


def _converted(name, option, value):
    if not option:
        return value
    result = ArgumentSpecValidator({name: dict(option, required=False)}).validate({name: plain(value)})
    return value if result.errors.errors else result.validated_parameters[name]


def _hosts_text(hosts, most=4):
    hosts = sorted(hosts)
    return ", ".join(hosts[:most]) + (" and %d more" % (len(hosts) - most) if len(hosts) > most else "")


def fleet_problems(
    settings,
    groups,
    references=None,
    secrets=None,
    ca_not_after=None,
    valid_days=None,
    renew_days=None,
    signs=True,
    at=None,
):
    """Every problem with the hosts of a run taken together, one line each ([] when none).

    settings: host -> its fingerprints() (hosts without one are not judged); secrets: host ->
    {variable: value} for the fleet-wide secrets, compared here and never shown;
    groups: the inventory's groups; references: host -> {variable: host name it names};
    ca_not_after: the CA's expiry (datetime or ISO text), with valid_days and renew_days the
    lifetimes of the certificates it signs (signs: false for a CA smtls does not sign with).
    """
    problems = []
    hosts = sorted(settings)
    secrets = secrets or {}
    for name in FLEET_WIDE:
        classes = {}
        for host in hosts:
            if name not in settings[host]:
                continue  # not an input of this host's role (a Windows client has no protocols)
            value = secrets.get(host, {}).get(name) if is_secret(name) else settings[host][name]
            classes.setdefault(json.dumps(value, sort_keys=True, default=str), []).append(host)
        if len(classes) > 1:
            biggest = max(classes.values(), key=len)
            odd = [h for members in classes.values() if members is not biggest for h in members]
            problems.append(
                line(
                    name,
                    "(differs)",
                    "is fleet-wide but %s set it apart from %s" % (_hosts_text(odd), _hosts_text(biggest, 2)),
                    "set it once for the fleet (group_vars/all), not per host or group",
                )
            )
    for host, named in sorted((references or {}).items()):
        for variable, group, names_ok in HOST_REFERENCES:
            target = named.get(variable)
            if target in (None, UNSET, "localhost"):
                continue
            if names_ok and target not in groups.get("all", []):
                continue  # a name, not a host: the role checks the names it accepts
            if target not in groups.get(group, []):
                problems.append(
                    line(
                        variable,
                        target,
                        "(on %s) names a host that is not in %s" % (host, group),
                        "name a host of the %s group" % group,
                    )
                )
    problems += ca_life_problems(ca_not_after, valid_days, renew_days, signs, at)
    return [p for p in problems if p]


def _as_datetime(value):
    if isinstance(value, datetime.datetime):
        return value if value.tzinfo else value.replace(tzinfo=datetime.timezone.utc)
    parsed = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=datetime.timezone.utc)


def ca_life_problems(ca_not_after, valid_days, renew_days, signs=True, at=None):
    """A CA whose remaining life cannot hold a renewal window plus a full certificate: what it
    signs would be cut short at its expiry and renewed by every run, or be born expired."""
    if ca_not_after in (None, "") or _number(valid_days) is None or _number(renew_days) is None:
        return []
    at = at or datetime.datetime.now(datetime.timezone.utc)
    left = (_as_datetime(ca_not_after) - at).total_seconds() / 86400.0
    valid, renew = _number(valid_days), _number(renew_days)
    needed = renew + valid if signs else renew
    if left < needed:
        return [
            line(
                "smtls_ca_dir",
                "(the CA)",
                "holds a CA with %.0f day(s) left, less than the %d the "
                "certificates need (smtls_renew_days %d%s)"
                % (max(left, 0), needed, renew, " + smtls_valid_days %d" % valid if signs else ""),
                "rotate to a new CA (playbooks/rotate_ca.yml, smtls_ca_valid_days above %d), or "
                "lower smtls_valid_days / smtls_renew_days" % needed,
            )
        ]
    return []


# --- a host's inputs as its roles declare them (roles_dir: the roles' directory) -------------

_ROLE_FILES = {}


def _role_file(roles_dir, role, path):
    with open(os.path.join(roles_dir, role, *path)) as data:
        return yaml.safe_load(data) or {}


def input_defaults(role, roles_dir):
    """The literal (untemplated) defaults of the roles a host's inputs come from."""
    key = ("defaults", role, roles_dir)
    if key not in _ROLE_FILES:
        defaults = {}
        for name in ("smtls", "smtls_ca", role):
            defaults.update((k, v) for k, v in _role_file(roles_dir, name, ("defaults", "main.yml")).items()
                            if "{{" not in repr(v))
        _ROLE_FILES[key] = defaults
    return _ROLE_FILES[key]


def input_spec(role, roles_dir):
    """The argument spec of a host of this role's inputs: its role's, the CA's, the shared ones."""
    key = (role, roles_dir)
    if key not in _ROLE_FILES:
        def options(name):
            return _role_file(roles_dir, name, ("meta", "argument_specs.yml"))["argument_specs"]
        spec = {}
        # the shared inventory inputs of the flows, and of the fleet's decisions (its report)
        for entry in list(options("smtls").values()) + list(options("smtls_fleet").values()):
            spec.update((k, v) for k, v in entry.get("options", {}).items() if k in SHARED)
        spec.update(options("smtls_ca")["main"]["options"])
        spec.update(options(role)["main"]["options"])
        _ROLE_FILES[key] = spec
    return _ROLE_FILES[key]


def input_names(role, roles_dir):
    """The variables the input model checks for a host of this role (its argument spec, the CA's,
    the shared ones, the play keywords)."""
    return sorted(input_spec(role, roles_dir)) + list(PLAY_KEYWORDS) + list(PLATFORM_NAMES)


def host_check(values, names, role, roles_dir, group_names=()):
    """The input model's verdict on one host (values: its values of names, as input_names lists
    them): {problems: one line each, fleet: the fleet-wide settings as digests (no secret),
    references: the hosts its variables name}."""
    values, spec = dict(zip(names, values)), input_spec(role, roles_dir)
    defaults = input_defaults(role, roles_dir)
    return {"problems": host_problems(values, spec, group_names, defaults),
            "fleet": fingerprints(values, defaults, [n for n in FLEET_WIDE if n in spec], spec),
            "references": dict((name, values[name]) for name, _group, _names_ok in HOST_REFERENCES
                               if values.get(name, UNSET) != UNSET)}
