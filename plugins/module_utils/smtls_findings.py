# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's findings engine (controller side): what is wrong with the fleet's certificates.

Input: one record per host - the result of sm_tls_inventory (or, for a Windows client,
what the controller knows), each carrying a `context` (name, kind, SSL mode, renewal
window, allowlist clients) - the inventory's groups and what hosts saw of each other's
ports. Output (`build`): the report, plain data that JSON holds as it is:

  {format, title, generated_at, summary: {hosts, findings: {severity: n},
   hosts_by_status: {severity or ok: n}},
   hosts: [{name, kind, read, mode: {inventory, in_effect}, renew_days, status, counts,
            next_expiry, findings: [{severity, code, message, store?}],
            stores: [store facts, each entry with days_left and severity],
            sm_ini?, installation?, servlets?, webtier?, connectors?, probe?}]}

Every decision is made here: the findings and their severities (FINDINGS), a host's status,
its next expiry, the summary, what a certificate is to its host (`certificate_usage`). The
renderers (smtls_report_render: JSON, Prometheus metrics, HTML) only show this data. Pure
functions; the sm_fleet_report module reads the old files, calls in and writes.

Days to expiry are whole days counted down from the report time, so the content (and the
files) change when a day passes, and not otherwise; the time of generation is kept out of
the comparison (see `same_content`).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible.module_utils import smtls_liveness as live
from ansible.module_utils import smtls_modes as modes
from ansible.module_utils import smtls_x509 as pki

FORMAT = "smtls-report/1"
SEVERITIES = ("critical", "warning", "info")
# Worst first; "ok" is the status of a host (or a store) without findings.
RANK = {"critical": 0, "warning": 1, "info": 2, "ok": 3}

# Every finding: code -> (severity, what it means). docs/report.md's table is this one.
FINDINGS = {
    "sample_ca_trusted": ("critical", "a truststore, the allowlist or a keystore holds an "
                                      "untrusted CA: the issuer a server presented before smtls "
                                      "managed it (the vendor's sample CA), or one of "
                                      "smtls_untrusted_cas"),
    "sample_certificate": ("critical", "the host's keystore holds a certificate issued by an "
                                       "untrusted CA (the vendor's sample certificate)"),
    "expired": ("critical", "the host's certificate, or our CA in a truststore, has expired"),
    "not_read": ("critical", "the host was in the run but could not be read (unreachable or "
                             "failed)"),
    "not_serving": ("critical", "an SSL servlet of the server, or the web tier's HTTPS connector smtls "
                                "probes, does not answer (down, or SSL off there)"),
    "wrong_certificate": ("critical", "a port serves a certificate other than the one in its keystore "
                                      "(not restarted since the keystore changed, or something else "
                                      "listens there)"),
    "expiring": ("warning", "a certificate expires within smtls_renew_days"),
    "default_password": ("warning", "a store smtls manages opens with a well-known password "
                                    "(the JDK's default, the vendor's example passwords)"),
    "initial_password": ("warning", "a store opens only with its initial password: the "
                                    "rollout has not moved it yet"),
    "wrong_password": ("warning", "no password the inventory gives opens the store"),
    "store_missing": ("warning", "a store the SSL mode needs does not exist"),
    "store_unreadable": ("warning", "a store or a settings file cannot be read"),
    "allowlist_unknown": ("warning", "the allowlist holds certificates that are not the "
                                     "inventory's clients"),
    "allowlist_missing": ("warning", "a client of the inventory is not on the allowlist"),
    "allowlist_unchecked": ("info", "allowlist certificates that could not be matched, because "
                                    "some clients were not read in this run"),
    "allowlist_expired": ("warning", "the allowlist holds an expired client certificate"),
    "mode_drift": ("warning", "the settings in effect differ from smtls_ssl_mode"),
    "other_issuer": ("warning", "the host's certificate was not issued by our CA"),
    "ca_missing": ("warning", "a truststore does not hold our CA"),
    "expected_default_password": ("info", "a truststore opens with a well-known password that "
                                          "smtls keeps by design (a bundled JRE's cacerts, a "
                                          "Windows client's bundle truststore)"),
    "plain_password": ("info", "sm.ini holds an SSL password in plain text (SM 9.50+ "
                               "encrypts it at its next start)"),
    "plain_password_kept": ("warning", "sm.ini holds an SSL password in plain text, and the SM release "
                                       "(before 9.50) never encrypts it"),
    "installation": ("warning", "the installation cannot run the SSL set-up as read (a start file "
                                "without a servlet, FIPS mode on OpenJDK)"),
    "ssl_off": ("info", "SSL is off (smtls_ssl_mode none)"),
    "controller_only": ("info", "Windows client: nothing is read from the client; the report "
                                "shows its bundle on the controller"),
    "not_in_run": ("info", "the host was left out of this run (--limit): nothing was read"),
}

# The modes with an allowlist on the servers (the mode table says which).
TRUSTED_MODES = tuple(name for name in modes.NAMES if modes.MODES[name]["trusted_clients"])


class ReportError(Exception):
    pass


def parse_time(text):
    """An aware datetime of an ISO 8601 time (Z, an offset, or none: UTC)."""
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=pki.UTC)


def days_left(not_after, at):
    """Whole days until not_after (negative once expired), counted down from at."""
    return int((parse_time(not_after) - at).total_seconds() // 86400)


def _iso(at):
    return at.astimezone(pki.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _finding(code, message, store=None, severity=None):
    finding = {"severity": severity or FINDINGS[code][0], "code": code, "message": message}
    if store:
        finding["store"] = store
    return finding


def store_name(store):
    """The name a store goes by in findings and pages: its label, else its path."""
    return store.get("label") or store.get("path") or "store"


def _client_certificates(records):
    """{sha256: host} of every client certificate the report read (web tiers, and Windows
    clients whose bundle the controller read), {alias: host} of the clients' aliases, and
    the clients read."""
    by_sha, by_alias, read = {}, {}, set()
    for record in records:
        context = record.get("context") or {}
        if context.get("kind") not in ("webtier", "windows_client"):
            continue
        read.add(context.get("name"))
        alias = context.get("client_alias") or context.get("name")
        if alias:
            by_alias[alias.lower()] = context.get("name")
        for store in record.get("stores") or []:
            # a browser-side connector's certificate is a server's, not a client's
            if store.get("purpose") != "identity" or store.get("browser_connector"):
                continue
            for entry in store.get("entries") or []:
                if entry.get("kind") == "private_key":
                    by_sha[entry["sha256"]] = context.get("name")
    return by_sha, by_alias, read


def _extra_fingerprints(items, host):
    fingerprints = set()
    for item in items or []:
        try:
            for cert in pki.parse_pem_certs(item.get("pem") or "", "allowlist extra %s"
                                            % item.get("alias")):
                fingerprints.add(pki.sha256_hex(cert))
        except pki.PkiError as exc:
            raise ReportError("%s: sm_server_trusted_clients_extra: %s" % (host, exc))
    return fingerprints


def _store_findings(store, context, at, ca_known):
    """Findings of one store; marks each entry with days_left and a severity."""
    name, path = store_name(store), store.get("path")
    where = "%s %s" % (name, path or "")
    findings = []
    purpose = store.get("purpose")
    if store.get("error"):
        code = "wrong_password" if store.get("problem") == "password" else "store_unreadable"
        findings.append(_finding(code, "%s: %s" % (name, store["error"]), path))
        return findings
    if not store.get("exists"):
        if store.get("required"):
            findings.append(_finding("store_missing", "%s does not exist, and mode %s needs it"
                                     % (where, context.get("mode")), path))
        return findings
    used = store.get("password_used")
    if store.get("well_known_password"):
        if store.get("default_password_expected"):
            findings.append(_finding("expected_default_password", "%s opens with a well-known "
                                     "password, as smtls leaves it" % where, path))
        else:
            findings.append(_finding("default_password", "%s opens with a well-known password; "
                                     "give it its own (in Vault) and run the rollout" % where, path))
    elif used == "initial":
        findings.append(_finding("initial_password", "%s opens only with its initial password; "
                                 "the rollout moves it to the configured one" % where, path))
    elif used == "unknown":
        findings.append(_finding("wrong_password", "%s: no password the inventory gives opens it "
                                 "(listed without the integrity check)" % where, path))
    if store.get("type_mismatch"):
        findings.append(_finding("store_unreadable", "%s is %s, the inventory says %s" % (
            where, store.get("type"), store["type_mismatch"]), path))
    renew = int(context.get("renew_days") or 0)
    untrusted, ours = [], False
    for entry in store.get("entries") or []:
        entry["days_left"] = days_left(entry["not_after"], at)
        entry["severity"] = None
        subject = "%s (alias %s)" % (entry.get("subject"), entry.get("alias"))
        if entry.get("untrusted"):
            untrusted.append(subject)
            entry["severity"] = "critical"
            continue
        ours = ours or entry.get("known_ca")
        own = purpose == "identity" and entry.get("kind") == "private_key"
        if own and entry.get("issued_by_untrusted"):
            entry["severity"] = "critical"
            findings.append(_finding("sample_certificate", "%s holds %s, issued by the untrusted "
                                     "%s" % (where, subject, entry.get("issuer")), path))
            continue
        if own and ca_known and not entry.get("issued_by_known_ca"):
            entry["severity"] = "warning"
            findings.append(_finding("other_issuer", "%s holds %s, issued by %s, not by our CA" % (
                where, subject, entry.get("issuer")), path))
        watched = own or entry.get("known_ca") or purpose == "allowlist"
        if not watched:
            continue
        if entry["days_left"] < 0 or parse_time(entry["not_after"]) <= at:
            code = "allowlist_expired" if purpose == "allowlist" else "expired"
            entry["severity"] = FINDINGS[code][0]
            findings.append(_finding(code, "%s: %s expired on %s" % (
                where, subject, entry["not_after"][:10]), path))
        elif entry["days_left"] <= renew:
            entry["severity"] = entry["severity"] or "warning"
            findings.append(_finding("expiring", "%s: %s expires in %d days (%s), within the "
                                     "renewal window of %d days" % (
                                         where, subject, entry["days_left"],
                                         entry["not_after"][:10], renew), path))
    if untrusted:
        findings.insert(0, _finding("sample_ca_trusted", "%s trusts the untrusted %s" % (
            where, "; ".join(untrusted)), path))
    if purpose == "truststore" and ca_known and not ours and context.get("mode") != "none":
        findings.append(_finding("ca_missing", "%s does not hold our CA" % where, path))
    return findings


def _allowlist_findings(store, context, clients, extras):
    """The trusted-clients keystore against the inventory's clients."""
    by_sha, by_alias, read = clients
    name, path = store_name(store), store.get("path")
    findings = []
    expected_hosts = context.get("allowlist_clients") or []
    unread = [h for h in expected_hosts if h not in read]
    present = set()
    unknown = []
    for entry in store.get("entries") or []:
        if entry.get("kind") != "trusted_cert" or entry.get("untrusted"):
            continue
        alias = (entry.get("alias") or "").lower()
        if entry["sha256"] in by_sha:
            present.add(by_sha[entry["sha256"]])
        elif entry["sha256"] in extras:
            continue
        elif alias in by_alias or (alias.endswith("-next") and alias[:-5] in by_alias):
            # a client whose certificate the report did not read (a Windows client), or its
            # next certificate during a CA rotation
            present.add(by_alias.get(alias) or by_alias.get(alias[:-5]))
        else:
            unknown.append(entry)
            entry["severity"] = entry.get("severity") or ("info" if unread else "warning")
    if unknown and unread:
        # left out with --limit, or failed: their certificates are unknown here
        findings.append(_finding("allowlist_unchecked", "%s: %d certificate(s) not matched; the "
                                 "clients %s were not read in this run" % (
                                     name, len(unknown), ", ".join(unread)), path))
    elif unknown:
        findings.append(_finding("allowlist_unknown", "%s allows %d certificate(s) that are not "
                                 "the inventory's clients: %s" % (
                                     name, len(unknown), "; ".join(
                                         "%s (alias %s)" % (e.get("subject"), e.get("alias"))
                                         for e in unknown)), path))
    if context.get("mode") in TRUSTED_MODES:
        known_hosts = set(by_sha.values()) | set(by_alias.values())
        missing = [h for h in expected_hosts if h in known_hosts and h not in present]
        if missing:
            findings.append(_finding("allowlist_missing", "%s does not allow the client "
                                     "certificate of %s; the server refuses them" % (
                                         name, ", ".join(missing)), path))
    return findings


def _host_from_record(record, clients, at):
    context = dict(record.get("context") or {})
    kind = context.get("kind") or "server"
    mode = context.get("mode")
    host = {"name": context.get("name"), "kind": kind,
            "read": context.get("read") or "host",
            "mode": {"inventory": mode, "in_effect": None},
            "renew_days": context.get("renew_days"), "findings": [], "stores": []}
    findings = host["findings"]
    if host["read"] == "controller":
        findings.append(_finding("controller_only", "%s is a Windows client: nothing is read "
                                 "from it; the report shows its bundle on the controller"
                                 % host["name"]))
    if mode == "none":
        findings.append(_finding("ssl_off", "SSL is off on this host (smtls_ssl_mode none)"))
    ca_known = bool(record.get("known_ca_count"))
    for store in record.get("stores") or []:
        store = dict(store, entries=[dict(e) for e in store.get("entries") or []])
        findings.extend(_store_findings(store, context, at, ca_known))
        if store.get("purpose") == "allowlist" and store.get("exists") and not store.get("error"):
            extras = _extra_fingerprints(context.get("allowlist_extra"), host["name"])
            findings.extend(_allowlist_findings(store, context, clients, extras))
        store["entries"].sort(key=lambda e: (e.get("days_left", 0), e.get("alias") or ""))
        host["stores"].append(store)
    ini = record.get("sm_ini")
    if ini is not None:
        host["sm_ini"] = ini
        if ini.get("error") or not ini.get("exists"):
            findings.append(_finding("store_unreadable", "sm.ini %s: %s" % (
                ini.get("path"), ini.get("error") or "does not exist (check sm_server_run_dir)")))
        else:
            host["mode"]["in_effect"] = ini.get("mode")
            if mode and ini.get("mode") != mode:
                findings.append(_finding("mode_drift", "sm.ini puts mode %s in effect, the "
                                         "inventory asks for %s" % (ini.get("mode"), mode)))
            release = (record.get("installation") or {}).get("release") or {}
            if ini.get("plain_passwords") and release.get("encrypts_passwords") is False:
                findings.append(_finding("plain_password_kept", "sm.ini holds %s in plain text, and SM %s "
                                         "does not encrypt it (9.50 and later do): keep sm.ini readable by "
                                         "the SM account only, or upgrade SM" % (
                                             ", ".join(ini["plain_passwords"]), release.get("version"))))
            elif ini.get("plain_passwords"):
                findings.append(_finding("plain_password", "sm.ini holds %s in plain text; SM "
                                         "9.50+ encrypts it at its next start" % ", ".join(
                                             ini["plain_passwords"])))
    model = record.get("installation")
    if model is not None:
        host["installation"] = dict((k, model.get(k))
                                    for k in ("release", "start_file", "jre", "fips", "platform"))
        for problem in model.get("problems") or ([model["error"]] if model.get("error") else []):
            findings.append(_finding("installation", problem))
    cfg = record.get("sm_cfg")
    if cfg is not None:
        host["servlets"] = cfg.get("servlets") or []
        if cfg.get("error"):
            findings.append(_finding("store_unreadable", "sm.cfg: %s" % cfg["error"]))
    tier = record.get("webtier")
    if tier is not None:
        host["webtier"] = tier
        if tier.get("error") or not tier.get("exists"):
            findings.append(_finding("store_unreadable", "web tier settings: %s" % (
                tier.get("error") or "neither webtier.properties nor web.xml exists (check "
                "sm_webtier_webapp_dir)")))
        else:
            host["mode"]["in_effect"] = tier.get("mode")
            wanted = modes.webtier_view(mode) if mode in modes.MODES else None
            if wanted and tier.get("mode") != wanted:
                findings.append(_finding("mode_drift", "the web tier settings put %s in effect, "
                                         "mode %s needs %s" % (tier.get("mode"), mode, wanted)))
    tomcat = record.get("tomcat")
    if tomcat is not None:
        host["connectors"] = tomcat.get("connectors") or []
        if tomcat.get("error"):
            findings.append(_finding("store_unreadable", "server.xml: %s" % tomcat["error"]))
    probe = record.get("probe")
    if probe is not None:
        # the time the rollout's handshake probes last proved this host (None: never recorded)
        host["probe"] = {"path": probe.get("path"), "last_success": probe.get("last_success")}
        if probe.get("error"):
            findings.append(_finding("store_unreadable", "probe record: %s" % probe["error"]))
    return host


def _liveness_findings(host, observations):
    """The liveness of host's ports as others (or it) saw them: each compared with the key entry
    of the keystore that port serves - a server's keystore, a connector's keystore."""
    findings = []
    for seen in observations:
        if seen.get("kind") == "connector":
            stores = [s for s in host["stores"] if s.get("browser_connector") == seen.get("port")]
        else:
            stores = [s for s in host["stores"] if s.get("purpose") == "identity"]
        expected = [x for store in stores for x in live.expected_fingerprints(store)]
        line = live.port_problem(seen, expected, " / ".join(s.get("path") or "" for s in stores))
        if line:
            findings.append(_finding("not_serving" if not seen.get("answered") else "wrong_certificate",
                                     line))
    return findings


def _placeholder(name, kind, code, mode=None):
    messages = {"not_read": "%s was in this run but could not be read: see the play output "
                            "(unreachable, or a task failed)" % name,
                "not_in_run": "%s was left out of this run (--limit): nothing was read" % name}
    return {"name": name, "kind": kind, "read": code, "mode": {"inventory": mode,
                                                               "in_effect": None},
            "renew_days": None, "stores": [], "findings": [_finding(code, messages[code])]}


def _finish(host):
    rank = lambda f: (RANK[f["severity"]], f["code"], f["message"])  # noqa: E731
    host["findings"].sort(key=rank)
    host["counts"] = {s: sum(1 for f in host["findings"] if f["severity"] == s) for s in SEVERITIES}
    host["status"] = next((s for s in SEVERITIES if host["counts"][s]), "ok")
    own = [(e["days_left"], e["not_after"], e.get("subject"), e.get("issuer"), store_name(s))
           for s in host["stores"] if s.get("purpose") == "identity"
           for e in s.get("entries") or [] if e.get("kind") == "private_key" and "days_left" in e]
    if own:
        days, not_after, subject, issuer, store = min(own)
        host["next_expiry"] = {"days": days, "not_after": not_after, "subject": subject,
                               "issuer": issuer, "store": store}
    else:
        host["next_expiry"] = None
    return host


def build(records, expected=None, run_hosts=None, at=None, title="smtls fleet report", liveness=None):
    """The report dict.

    records: sm_tls_inventory results (or controller-made records), each with `context`
      {name, kind, mode, renew_days, allowlist_clients, allowlist_extra, client_alias}.
    expected: {kind: [host names]} - the inventory's groups; a host without a record is
      shown as not read (in the run) or not in the run (not in run_hosts).
    liveness: what hosts saw of each other's ports (sm_tls_inventory's liveness), by host name.
    """
    at = at or pki.now()
    records = [r for r in records or [] if isinstance(r, dict) and (r.get("context") or {}).get("name")]
    clients = _client_certificates(records)
    hosts = {}
    for record in records:
        host = _host_from_record(record, clients, at)
        hosts[(host["name"], host["kind"])] = host
    for host in hosts.values():
        host["findings"].extend(_liveness_findings(host, [o for o in liveness or []
                                                          if o.get("name") == host["name"]]))
    for kind, names in sorted((expected or {}).items()):
        for name in names or []:
            if (name, kind) in hosts:
                continue
            in_run = run_hosts is None or name in run_hosts
            hosts[(name, kind)] = _placeholder(name, kind, "not_read" if in_run else "not_in_run")
    ordered = [_finish(hosts[key]) for key in sorted(hosts)]
    summary = {
        "hosts": len(ordered),
        "findings": {s: sum(h["counts"][s] for h in ordered) for s in SEVERITIES},
        "hosts_by_status": {s: sum(1 for h in ordered if h["status"] == s)
                            for s in SEVERITIES + ("ok",)},
    }
    return {"format": FORMAT, "title": title, "generated_at": _iso(at), "summary": summary,
            "hosts": ordered}


def same_content(old, new):
    """Equal but for the time of generation."""
    if not isinstance(old, dict):
        return False
    strip = lambda r: {k: v for k, v in r.items() if k != "generated_at"}  # noqa: E731
    return strip(old) == strip(new)


def findings_list(report):
    """Every finding of the report, each with its host's name and kind."""
    return [dict(f, host=h["name"], kind=h["kind"]) for h in report["hosts"] for f in h["findings"]]


def store_status(host, store):
    """The worst severity of the host's findings about the store ("ok" when none)."""
    severities = [f["severity"] for f in host["findings"]
                  if store.get("path") and f.get("store") == store.get("path")]
    return min(severities, key=lambda s: RANK[s]) if severities else "ok"


def certificate_usage(store, entry):
    """What a certificate is to the host: own (its identity), ca (our CA), client (an allowed
    client), untrusted (an untrusted CA or what it issued), other."""
    if entry.get("untrusted") or entry.get("issued_by_untrusted"):
        return "untrusted"
    if store.get("purpose") == "identity" and entry.get("kind") == "private_key":
        return "own"
    if entry.get("known_ca"):
        return "ca"
    if store.get("purpose") == "allowlist":
        return "client"
    return "other"
