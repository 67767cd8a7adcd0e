# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The fleet report's renderers: the report of smtls_findings as JSON, Prometheus metrics, one
self-contained HTML page, and the lines of a diff.

Each renderer is a function of the report dict alone (`smtls_findings.build`'s result, or the
same loaded back from its JSON): it decides nothing - the findings, severities, statuses and
what a certificate is to its host come from the engine - and only shows the data, so the same
report renders the same bytes. From the engine it takes the vocabulary (SEVERITIES, RANK,
FINDINGS for the page's legend) and the pure helpers that read the data (store_name,
store_status, certificate_usage, parse_time, findings_list).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import datetime
import hashlib
import json
from html import escape

from ansible.module_utils import smtls_findings as engine

KINDS = {"server": "SM server", "webtier": "web tier", "windows_client": "Windows client"}


# --- JSON and the diff ---------------------------------------------------------------------


def render_json(report):
    """The report document (smtls-report.json)."""
    return json.dumps(report, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def summary_lines(report):
    """One line per finding, for a diff (nothing for what is not a report)."""
    if not isinstance(report, dict):
        return []
    return ["%s [%s] %s: %s" % (f["host"], f["severity"], f["code"], f["message"])
            for f in engine.findings_list(report)] if report.get("hosts") is not None else []


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


_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def _unix(text):
    return int((engine.parse_time(text) - _EPOCH).total_seconds())


def _escape_label(value):
    return str(value).replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _escape_help(text):
    return text.replace("\\", "\\\\").replace("\n", "\\n")


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
        for severity in engine.SEVERITIES:
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
                labels = dict(who, store=store.get("path") or engine.store_name(store),
                              purpose=store.get("purpose") or "", alias=entry.get("alias") or "",
                              subject=entry.get("subject") or "",
                              usage=engine.certificate_usage(store, entry))
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
             for s in engine.SEVERITIES if counts.get(s)]
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
                engine.RANK[host["status"]], _badges(host["counts"])))
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
        status = engine.store_status(host, store)
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
                    '<td>%s</td></tr>' % (_status_class(status), e(engine.store_name(store)),
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
    entries.sort(key=lambda se: (se[1].get("days_left", 0), engine.store_name(se[0]),
                                 se[1].get("alias")))
    for store, entry in entries:
        rows.append(
            '<tr class="%s"><td>%s</td><td>%s</td><td>%s</td><td>%s</td><td>%s</td>'
            '<td class="mono">%s</td><td>%s</td>%s<td>%s</td><td class="mono" title="%s">%s&#8230;'
            '</td></tr>' % (
                _status_class(entry.get("severity") or "ok"), e(engine.store_name(store)),
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
        for code, (severity, meaning) in sorted(engine.FINDINGS.items(),
                                                key=lambda i: (engine.RANK[i[1][0]], i[0]))]
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
