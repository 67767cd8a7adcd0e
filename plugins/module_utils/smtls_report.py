# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report engine (controller side): findings, JSON and one self-contained HTML page.

Input: one record per host - the result of sm_tls_inventory (or, for a Windows client,
what the controller knows), each carrying a `context` (name, kind, SSL mode, renewal
window, allowlist clients). Output: a report dict, rendered as JSON and as HTML. Pure
functions; the sm_fleet_report module reads the old files, calls in and writes.

Days to expiry are whole days counted down from the report time, so the content (and the
files) change when a day passes, and not otherwise; the time of generation is kept out of
the comparison (see `same_content`). The same report also renders as Prometheus metrics
(`render_prom`, for node_exporter's textfile collector).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib
import json
from html import escape

from ansible.module_utils import smtls_liveness as live
from ansible.module_utils import smtls_modes as modes
from ansible.module_utils import smtls_x509 as pki

FORMAT = "smtls-report/1"
SEVERITIES = ("critical", "warning", "info")
_RANK = {"critical": 0, "warning": 1, "info": 2, "ok": 3}

# Every finding: code -> (severity, what it means). The README table is made from this.
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

KINDS = {"server": "SM server", "webtier": "web tier", "windows_client": "Windows client"}
# The modes with an allowlist on the servers (the mode table says which).
TRUSTED_MODES = tuple(name for name in modes.NAMES if modes.MODES[name]["trusted_clients"])


class ReportError(Exception):
    pass


def _parse_time(text):
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=pki.UTC)


def days_left(not_after, at):
    """Whole days until not_after (negative once expired), counted down from at."""
    return int((_parse_time(not_after) - at).total_seconds() // 86400)


def _iso(at):
    return at.astimezone(pki.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def _finding(code, message, store=None, severity=None):
    finding = {"severity": severity or FINDINGS[code][0], "code": code, "message": message}
    if store:
        finding["store"] = store
    return finding


def _store_name(store):
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
    name, path = _store_name(store), store.get("path")
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
        if entry["days_left"] < 0 or _parse_time(entry["not_after"]) <= at:
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
    name, path = _store_name(store), store.get("path")
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
    rank = lambda f: (_RANK[f["severity"]], f["code"], f["message"])  # noqa: E731
    host["findings"].sort(key=rank)
    host["counts"] = {s: sum(1 for f in host["findings"] if f["severity"] == s) for s in SEVERITIES}
    host["status"] = next((s for s in SEVERITIES if host["counts"][s]), "ok")
    own = [(e["days_left"], e["not_after"], e.get("subject"), e.get("issuer"), _store_name(s))
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
    return [dict(f, host=h["name"], kind=h["kind"]) for h in report["hosts"] for f in h["findings"]]


def summary_lines(report):
    """One line per finding, for a diff."""
    if not isinstance(report, dict):
        return []
    return ["%s [%s] %s: %s" % (f["host"], f["severity"], f["code"], f["message"])
            for f in findings_list(report)] if report.get("hosts") is not None else []


def render_json(report):
    return json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# --- Prometheus metrics ----------------------------------------------------------------------
#
# The report as the Prometheus text exposition format (version 0.0.4), for node_exporter's
# textfile collector: no client-side timestamps, one HELP and TYPE per family, every family's
# samples together and with the same label names, no two samples with the same labels.
# A pure function of the report: the same report renders the same bytes, so the .prom file
# changes exactly when the JSON does. Times count from the report's generated_at (kept while
# the content stays the same). docs/metrics.md describes every metric.

CERTIFICATE_LABELS = ("host", "kind", "store", "purpose", "alias", "subject", "usage")

# (name, help, label names), in the order of the file. Every family is a gauge.
METRICS = (
    ("smtls_report_generated_timestamp_seconds",
     "When the fleet report was generated (unix time; kept while its content stays the same).",
     ()),
    ("smtls_host_read_ok",
     "1 when the report read the host (for a Windows client, its bundle on the controller); "
     "0 when it failed or was left out of the run.",
     ("host", "kind")),
    ("smtls_host_findings",
     "Findings of the fleet report on the host, by severity (0 included).",
     ("host", "kind", "severity")),
    ("smtls_host_ssl_mode_info",
     "Always 1: the SSL mode the host's settings put in effect (mode; unknown when not read) "
     "and the mode the inventory asks for (inventory_mode).",
     ("host", "kind", "mode", "inventory_mode")),
    ("smtls_host_probe_last_success_timestamp_seconds",
     "When the rollout's TLS handshake probes last proved the host (unix time); 0 when no "
     "successful probe is recorded. Absent for hosts smtls does not probe (Windows clients).",
     ("host", "kind")),
    ("smtls_certificate_not_after_timestamp_seconds",
     "The certificate's notAfter (unix time).",
     CERTIFICATE_LABELS),
    ("smtls_certificate_expiry_seconds",
     "Seconds from the report's generation to the certificate's notAfter (negative once "
     "expired).",
     CERTIFICATE_LABELS),
)
METRIC_NAMES = tuple(name for name, _help, _labels in METRICS)


def _unix(text):
    return int((_parse_time(text) - datetime.datetime(1970, 1, 1, tzinfo=pki.UTC)).total_seconds())


def _escape_label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


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


def metric_samples(report):
    """{metric name: [(labels dict, value)]} of a report, in file order."""
    generated = _unix(report["generated_at"])
    samples = {name: [] for name in METRIC_NAMES}
    samples["smtls_report_generated_timestamp_seconds"].append(({}, generated))
    for host in report["hosts"]:
        who = {"host": host["name"], "kind": host["kind"]}
        read = host.get("read") in ("host", "controller")
        samples["smtls_host_read_ok"].append((who, 1 if read else 0))
        counts = host.get("counts") or {}
        for severity in SEVERITIES:
            samples["smtls_host_findings"].append((dict(who, severity=severity),
                                                   counts.get(severity, 0)))
        mode = host.get("mode") or {}
        samples["smtls_host_ssl_mode_info"].append((dict(
            who, mode=mode.get("in_effect") or "unknown",
            inventory_mode=mode.get("inventory") or "unknown"), 1))
        if "probe" in host:
            when = host["probe"].get("last_success")
            samples["smtls_host_probe_last_success_timestamp_seconds"].append(
                (who, _unix(when) if when else 0))
        for store in host.get("stores") or []:
            for entry in store.get("entries") or []:
                if not entry.get("not_after"):
                    continue
                labels = dict(who, store=store.get("path") or _store_name(store),
                              purpose=store.get("purpose") or "", alias=entry.get("alias") or "",
                              subject=entry.get("subject") or "",
                              usage=certificate_usage(store, entry))
                not_after = _unix(entry["not_after"])
                samples["smtls_certificate_not_after_timestamp_seconds"].append((labels, not_after))
                samples["smtls_certificate_expiry_seconds"].append((labels, not_after - generated))
    return samples


def render_prom(report):
    """The report's metrics in the Prometheus text exposition format."""
    samples = metric_samples(report)
    lines = []
    for name, text, label_names in METRICS:
        lines.append("# HELP %s %s" % (name, _escape_help(text)))
        lines.append("# TYPE %s gauge" % name)
        seen = set()
        for labels, value in samples[name]:
            key = tuple(str(labels[label]) for label in label_names)
            if key in seen:  # the same store listed twice: one series, the first
                continue
            seen.add(key)
            rendered = ",".join('%s="%s"' % (label, _escape_label(labels[label]))
                                for label in label_names)
            lines.append("%s%s %d" % (name, "{%s}" % rendered if rendered else "", value))
    return "\n".join(lines) + "\n"


# --- HTML ----------------------------------------------------------------------------------

_CSS = """
:root{--critical:#b3261e;--critical-bg:#fde7e5;--warning:#8a5a00;--warning-bg:#fff3d6;
--info:#245b8f;--info-bg:#e6f0fa;--ok:#2e6b34;--ok-bg:#e8f4e9;--line:#d0d4da}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2126;
background:#f6f7f9}
header,main{max-width:1400px;margin:0 auto;padding:12px 20px}
header{border-bottom:1px solid var(--line);background:#fff;max-width:none}
h1{font-size:22px;margin:4px 0}h2{font-size:18px;margin:20px 0 8px}h3{font-size:15px;margin:14px 0 6px}
table{border-collapse:collapse;width:100%;background:#fff;margin:6px 0 12px}
th,td{border:1px solid var(--line);padding:4px 7px;text-align:left;vertical-align:top}
th{background:#eceff3;white-space:nowrap}
table.sortable th{cursor:pointer;user-select:none}
th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code,.mono{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
.badge{display:inline-block;border-radius:9px;padding:0 7px;margin:1px 2px;font-size:12px;
font-weight:600}
.badge.finding-critical,li.finding-critical{background:var(--critical-bg);color:var(--critical)}
.badge.finding-warning,li.finding-warning{background:var(--warning-bg);color:var(--warning)}
.badge.finding-info,li.finding-info{background:var(--info-bg);color:var(--info)}
.badge.finding-none{background:var(--ok-bg);color:var(--ok)}
tr.finding-critical td{background:var(--critical-bg)}
tr.finding-warning td{background:var(--warning-bg)}
tr.finding-critical td:first-child{border-left:4px solid var(--critical)}
tr.finding-warning td:first-child{border-left:4px solid var(--warning)}
tr.finding-info td:first-child{border-left:4px solid var(--info)}
tr.finding-none td:first-child{border-left:4px solid var(--ok)}
section.host{background:#fff;border:1px solid var(--line);border-left:6px solid var(--ok);
padding:4px 14px 8px;margin:14px 0}
section.host.finding-critical{border-left-color:var(--critical)}
section.host.finding-warning{border-left-color:var(--warning)}
section.host.finding-info{border-left-color:var(--info)}
ul.findings{list-style:none;padding:0;margin:6px 0}
ul.findings li{padding:3px 8px;margin:2px 0;border-radius:3px}
.sev{font-weight:700;text-transform:uppercase;font-size:11px;margin-right:6px}
.muted{color:#5f6670}
.controls{margin:8px 0}
body.only-findings .finding-none.host-row,body.only-findings section.host.finding-none{display:none}
"""

_JS = """
(function () {
  "use strict";
  function value(cell, type) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) { raw = cell.textContent; }
    if (type === "num") {
      var n = parseFloat(raw);
      return isNaN(n) ? Infinity : n;
    }
    return raw.toLowerCase();
  }
  function sortBy(table, index, direction) {
    var head = table.tHead.rows[0].cells;
    var type = head[index].getAttribute("data-type") || "text";
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = value(a.cells[index], type), y = value(b.cells[index], type);
      if (x < y) { return -direction; }
      if (x > y) { return direction; }
      return 0;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    for (var i = 0; i < head.length; i++) { head[i].removeAttribute("aria-sort"); }
    head[index].setAttribute("aria-sort", direction > 0 ? "ascending" : "descending");
  }
  var tables = document.querySelectorAll("table.sortable");
  Array.prototype.forEach.call(tables, function (table) {
    var head = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(head, function (th, index) {
      th.tabIndex = 0;
      th.title = "sort by this column";
      var toggle = function () {
        sortBy(table, index, th.getAttribute("aria-sort") === "ascending" ? -1 : 1);
      };
      th.addEventListener("click", toggle);
      th.addEventListener("keydown", function (event) {
        if (event.key === "Enter" || event.key === " ") { event.preventDefault(); toggle(); }
      });
      if (th.hasAttribute("data-default-sort")) { sortBy(table, index, 1); }
    });
  });
  var filter = document.getElementById("only-findings");
  if (filter) {
    filter.disabled = false;
    filter.addEventListener("change", function () {
      document.body.classList.toggle("only-findings", filter.checked);
    });
  }
  document.body.setAttribute("data-script", "ran");
}());
"""


def _csp_hash(text):
    return "'sha256-%s'" % base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode()


def e(value):
    """HTML-escaped text of any value (None shows as an empty string)."""
    return escape("" if value is None else str(value), quote=True)


def _badges(counts):
    parts = ['<span class="badge finding-%s">%d %s</span>' % (s, counts[s], s)
             for s in SEVERITIES if counts.get(s)]
    return "".join(parts) or '<span class="badge finding-none">ok</span>'


def _status_class(status):
    return "finding-%s" % ("none" if status == "ok" else status)


def _days_cell(days):
    if days is None:
        return '<td class="num" data-sort="">&#8212;</td>'
    return '<td class="num" data-sort="%d">%d</td>' % (days, days)


def _fleet_table(report):
    rows = []
    order = sorted(enumerate(report["hosts"]), key=lambda ih: (
        ih[1]["next_expiry"]["days"] if ih[1].get("next_expiry") else float("inf"),
        ih[1]["name"], ih[1]["kind"]))
    for index, host in order:
        expiry = host.get("next_expiry") or {}
        rows.append(
            '<tr class="host-row %s" data-host="%s" data-status="%s">'
            '<td><a href="#host-%d">%s</a></td><td>%s</td><td>%s</td><td>%s</td>%s'
            '<td class="mono">%s</td><td>%s</td><td data-sort="%d">%s</td></tr>' % (
                _status_class(host["status"]), e(host["name"]), e(host["status"]), index,
                e(host["name"]), e(KINDS.get(host["kind"], host["kind"])),
                e(host["mode"].get("inventory")), e(host["mode"].get("in_effect") or "—"),
                _days_cell(expiry.get("days")), e(expiry.get("subject")), e(expiry.get("issuer")),
                _RANK[host["status"]], _badges(host["counts"])))
    return (
        '<table class="sortable" id="fleet-table"><thead><tr><th>Host</th><th>Kind</th>'
        '<th>Mode (inventory)</th><th>Mode in effect</th>'
        '<th data-type="num" data-default-sort>Days to expiry</th><th>Certificate</th>'
        '<th>Issuer</th><th data-type="num">Findings</th></tr></thead><tbody>%s</tbody></table>'
        % "".join(rows))


def _findings_html(host):
    if not host["findings"]:
        return '<p class="muted">No findings.</p>'
    items = ['<li class="finding finding-%s" data-code="%s"><span class="sev">%s</span>%s</li>'
             % (f["severity"], e(f["code"]), e(f["severity"]), e(f["message"]))
             for f in host["findings"]]
    return '<ul class="findings">%s</ul>' % "".join(items)


def _password_text(store):
    if not store.get("exists") or store.get("error"):
        return ""
    used = store.get("password_used") or ""
    text = {"configured": "the configured one", "initial": "the initial one",
            "well_known": "a well-known default", "unknown": "none of those given",
            "none": "not checked"}.get(used, used)
    if store.get("well_known_password") and used != "well_known":
        text += " (a well-known default)"
    return text


def _stores_table(host):
    rows = []
    for store in host["stores"]:
        severities = [f["severity"] for f in host["findings"]
                      if store.get("path") and f.get("store") == store.get("path")]
        status = min(severities, key=lambda s: _RANK[s]) if severities else "ok"
        if store.get("error"):
            state = store["error"]
        elif not store.get("exists"):
            state = "absent" + (" (the mode needs it)" if store.get("required") else "")
        else:
            count = store.get("entry_count", 0)
            state = "%d %s%s" % (count, "entry" if count == 1 else "entries",
                                 " (%d listed: key entries, our CA, untrusted CAs and what they "
                                 "issued)" % len(store.get("entries") or [])
                                 if store.get("listed") == "notable" else "")
        rows.append('<tr class="%s"><td>%s</td><td class="mono">%s</td><td>%s</td><td>%s</td>'
                    '<td>%s</td></tr>' % (_status_class(status), e(_store_name(store)),
                                          e(store.get("path")), e(store.get("type") or ""),
                                          e(_password_text(store)), e(state)))
    if not rows:
        return ""
    return ('<h3>Keystores and truststores</h3><table class="stores"><thead><tr><th>Store</th>'
            '<th>Path</th><th>Type</th><th>Opened with password</th><th>Contents</th></tr>'
            '</thead><tbody>%s</tbody></table>' % "".join(rows))


def _entry_flags(entry):
    flags = []
    if entry.get("untrusted"):
        flags.append("untrusted CA")
    if entry.get("issued_by_untrusted"):
        flags.append("issued by an untrusted CA")
    if entry.get("known_ca"):
        flags.append("our CA")
    elif entry.get("issued_by_known_ca"):
        flags.append("issued by our CA")
    return ", ".join(flags)


def _entries_table(host, index):
    rows = []
    entries = [(store, entry) for store in host["stores"] for entry in store.get("entries") or []]
    entries.sort(key=lambda se: (se[1].get("days_left", 0), _store_name(se[0]), se[1].get("alias")))
    for store, entry in entries:
        rows.append(
            '<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
            '<td class="mono">%s</td><td>%s</td>%s<td>%s</td><td class="mono" title="%s">%s&#8230;'
            '</td></tr>' % (
                _status_class(entry.get("severity") or "ok"), e(_store_name(store)),
                e(entry.get("alias")), e("key" if entry.get("kind") == "private_key" else "trusted"),
                e(entry.get("subject")), e(entry.get("issuer")), e(", ".join(entry.get("sans") or [])),
                e((entry.get("not_after") or "")[:10]), _days_cell(entry.get("days_left")),
                e(_entry_flags(entry)), e(entry.get("sha256")), e((entry.get("sha256") or "")[:16])))
    if not rows:
        return ""
    return ('<h3>Certificates</h3><table class="sortable entries" id="entries-%d"><thead><tr>'
            '<th>Store</th><th>Alias</th><th>Entry</th><th>Subject</th><th>Issuer</th><th>SANs</th>'
            '<th>Not after</th><th data-type="num" data-default-sort>Days to expiry</th>'
            '<th>Notes</th><th>SHA-256</th></tr></thead><tbody>%s</tbody></table>'
            % (index, "".join(rows)))


def _settings_table(host):
    blocks = []
    ini = host.get("sm_ini")
    if ini and ini.get("exists") and not ini.get("error"):
        encrypted, plain = set(ini.get("encrypted") or []), set(ini.get("plain_passwords") or [])
        rows = ['<tr><td>%s</td><td class="mono">%s</td><td>%s</td></tr>' % (
            e(name), e(value), e("encrypted by SM" if name in encrypted else
                                 "plain text" if name in plain else ""))
            for name, value in sorted(ini.get("settings", {}).items())]
        blocks.append('<h3>sm.ini SSL settings <span class="muted mono">%s</span></h3>'
                      '<table class="settings"><thead><tr><th>Parameter</th><th>Value</th>'
                      '<th>Note</th></tr></thead><tbody>%s</tbody></table>' % (
                          e(ini.get("path")), "".join(rows) or
                          '<tr><td colspan="3" class="muted">no SSL parameter</td></tr>'))
    if host.get("servlets"):
        rows = ['<tr><td>%s</td><td class="mono">%s</td><td class="mono">%s</td><td>%s</td></tr>' % (
            e(servlet.get("line")), e(servlet.get("http_port") or "-"), e(servlet.get("https_port") or "-"),
            e("load balancer (HTTP only)" if servlet.get("load_balancer") else ""))
        for servlet in host["servlets"]]
        blocks.append('<h3>Servlets (sm.cfg)</h3><table class="settings"><thead><tr><th>Line</th>'
                      '<th>httpPort</th><th>httpsPort</th><th>Role</th></tr></thead><tbody>%s'
                      '</tbody></table>' % "".join(rows))
    if host.get("connectors"):
        rows = ['<tr><td class="mono">%s</td><td class="mono">%s</td><td class="mono">%s</td></tr>' % (
            e(connector.get("port")), e(connector.get("keystore") or "PEM files (not managed)"),
            e(connector.get("protocols") or "Tomcat's default")) for connector in host["connectors"]]
        blocks.append('<h3>Browser-side HTTPS connectors (server.xml)</h3><table class="settings">'
                      '<thead><tr><th>Port</th><th>Keystore</th><th>Protocols</th></tr></thead>'
                      '<tbody>%s</tbody></table>' % "".join(rows))
    tier = host.get("webtier")
    if tier and tier.get("exists") and not tier.get("error"):
        source = tier.get("source") or {}
        rows = ['<tr><td>%s</td><td class="mono">%s</td><td>%s</td></tr>' % (
            e(name), e(value), e(source.get(name))) for name, value in sorted(
                tier.get("settings", {}).items())]
        blocks.append('<h3>Web tier settings</h3><table class="settings"><thead><tr>'
                      '<th>Setting</th><th>Value</th><th>From</th></tr></thead><tbody>%s'
                      '</tbody></table>' % ("".join(rows) or
                                            '<tr><td colspan="3" class="muted">none</td></tr>'))
    return "".join(blocks)


def _probe_text(host):
    if "probe" not in host:
        return ""
    when = host["probe"].get("last_success")
    return (" Last proven by a TLS handshake: %s." % when if when
            else " No successful TLS handshake probe recorded.")


def _host_section(host, index):
    return (
        '<section class="host %s" id="host-%d" data-host="%s"><h2>%s <span class="muted">%s</span> '
        '%s</h2><p>Mode: <b>%s</b> in the inventory, <b>%s</b> in effect. %s%s</p>%s%s%s%s</section>'
        % (_status_class(host["status"]), index, e(host["name"]), e(host["name"]),
           e(KINDS.get(host["kind"], host["kind"])), _badges(host["counts"]),
           e(host["mode"].get("inventory") or "unknown"), e(host["mode"].get("in_effect") or "unknown"),
           e({"host": "Read from the host.", "controller": "From the controller's records.",
              "not_read": "Not read.", "not_in_run": "Not in this run."}.get(host["read"], "")),
           e(_probe_text(host)), _findings_html(host), _stores_table(host),
           _entries_table(host, index), _settings_table(host)))


def _legend():
    rows = ['<tr class="finding-%s"><td>%s</td><td><code>%s</code></td><td>%s</td></tr>' % (
        severity, e(severity), e(code), e(meaning))
        for code, (severity, meaning) in sorted(FINDINGS.items(), key=lambda i: (_RANK[i[1][0]], i[0]))]
    return ('<h2>What the findings mean</h2><table class="legend"><thead><tr><th>Severity</th>'
            '<th>Finding</th><th>Meaning</th></tr></thead><tbody>%s</tbody></table>' % "".join(rows))


def render_html(report):
    """One self-contained page: inline CSS and script (allowed by hash in its CSP), no
    external resource of any kind; every text HTML-escaped."""
    summary = report["summary"]
    csp = ("default-src 'none'; style-src %s; script-src %s; img-src 'none'; base-uri 'none'; "
           "form-action 'none'" % (_csp_hash(_CSS), _csp_hash(_JS)))
    hosts = "".join(_host_section(h, i) for i, h in enumerate(report["hosts"]))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta http-equiv="Content-Security-Policy" content="%s">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="generator" content="smtls">'
        '<title>%s</title><style>%s</style></head>\n<body>'
        '<header><h1>%s</h1><p>%d hosts &#183; %s &#183; generated %s (kept while the content '
        'stays the same)</p></header>\n<main><h2>Fleet</h2>'
        '<p class="controls"><label><input type="checkbox" id="only-findings" disabled> '
        'only hosts with findings</label> <span class="muted">Click a column header to sort.'
        '</span></p>%s\n%s\n%s</main>\n<script>%s</script></body></html>\n' % (
            e(csp), e(report["title"]), _CSS, e(report["title"]), summary["hosts"],
            _badges(summary["findings"]), e(report["generated_at"]), _fleet_table(report),
            hosts, _legend(), _JS))
