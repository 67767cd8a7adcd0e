#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
---
module: sm_fleet_report
short_description: Write the smtls fleet report - findings as JSON and one self-contained HTML page
description:
  - Runs on the controller. Takes every host's M(sm_tls_inventory) result, decides the
    findings (sample CA or sample certificate still present, expired or expiring
    certificates, well-known passwords, allowlist against the inventory's clients, settings
    against the SSL mode) and writes C(smtls-report.json) and C(smtls-report.html) into
    I(dest).
  - The HTML page is one file with its style and script inline and a content security
    policy that forbids loading anything, so it opens anywhere without a network. Tables
    sort by days to expiry and by any column; findings are highlighted by severity.
  - Each file is written atomically, and only when its content changes. The time of
    generation is not part of that comparison - a run that finds the same fleet keeps the
    files, and their time, as they are. Days to expiry count down, so the content changes
    once a day.
  - With I(metrics_file), the same state is also written as Prometheus metrics (text
    exposition format, for node_exporter's textfile collector; see C(docs/metrics.md)) -
    certificates' expiry, findings by severity, the SSL mode in effect, the last successful
    probe and whether each host was read, per host. Its times count from the report's time
    of generation, so it is rewritten exactly when the JSON is.
  - Check mode decides the same without writing; the diff lists the findings.
version_added: "1.0.0"
author: smtls contributors
options:
  dest:
    description: Directory of the report files (created when absent).
    type: path
    required: true
  records:
    description:
      - The hosts' M(sm_tls_inventory) results (for a Windows client, a record the
        controller makes), each with its C(context) (name, kind, mode, renew_days,
        allowlist_clients, allowlist_extra, client_alias). Records without a C(context.name)
        are ignored.
    type: list
    elements: dict
    default: []
  expected:
    description:
      - The inventory's hosts by kind (C(server), C(webtier), C(windows_client)). A host
        without a record is shown too - as not read, or as left out of the run.
    type: dict
    default: {}
  run_hosts:
    description: The hosts of this run; an expected host not among them was left out (C(--limit)).
    type: list
    elements: str
  liveness:
    description:
      - What the hosts saw of each other's SSL ports (the C(liveness) results of M(sm_tls_inventory)
        and M(sm_tls_liveness)), each named by the host whose port it is. A port that does not
        answer, or serves a certificate other than the key entry of that host's keystore (a
        server's, or the connector's), is a critical finding (C(not_serving), C(wrong_certificate)).
    type: list
    elements: dict
    default: []
  title:
    description: Title of the report.
    type: str
    default: smtls fleet report
  metrics_file:
    description:
      - Also write the report as Prometheus metrics to this file (its directory is created
        when absent). Name it C(*.prom) for node_exporter's textfile collector; it is written
        atomically through a hidden temporary file the collector ignores. Not written when
        omitted.
    type: path
  fail_on:
    description: Fail (after writing the report) when a finding of this severity or worse exists.
    type: str
    choices: [never, critical, warning]
    default: never
notes:
  - Supports check mode and diff mode.
  - The report holds no secret - no password, no key material; which kind of password
    opened a store is all it says about passwords.
seealso:
  - module: sm_tls_inventory
"""

EXAMPLES = r"""
- name: Report | the fleet report on the controller
  sm_fleet_report:
    dest: "{{ playbook_dir }}/../.smtls/report"
    records: >-
      {{ groups['sm_servers'] | map('extract', hostvars, 'sm_server_report')
         | select('defined') | list }}
    expected:
      server: "{{ groups['sm_servers'] }}"
    run_hosts: "{{ ansible_play_hosts_all }}"
    metrics_file: "{{ playbook_dir }}/../.smtls/report/smtls.prom"
  run_once: true
  delegate_to: localhost
"""

RETURN = r"""
json_file:
  description: The JSON report.
  returned: always
  type: str
  sample: /srv/smtls/.smtls/report/smtls-report.json
html_file:
  description: The HTML report.
  returned: always
  type: str
metrics_file:
  description: The Prometheus metrics file (with I(metrics_file)).
  returned: when I(metrics_file) is given
  type: str
  sample: /srv/smtls/.smtls/report/smtls.prom
generated_at:
  description: The time in the files (kept from the last run when nothing else changed).
  returned: always
  type: str
summary:
  description: Hosts, findings by severity, hosts by their worst finding.
  returned: always
  type: dict
  sample: {hosts: 4, findings: {critical: 0, warning: 1, info: 2},
           hosts_by_status: {critical: 0, warning: 1, info: 2, ok: 1}}
findings:
  description: Every finding, with its host.
  returned: always
  type: list
  elements: dict
  sample:
    - host: sm1.example.com
      kind: server
      severity: warning
      code: expiring
      message: "server keystore (keystoreFile) ...: CN=sm1.example.com expires in 12 days"
written:
  description: The files written (would be written, in check mode).
  returned: always
  type: list
  elements: str
"""

import json
import os

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils import smtls_findings as engine
from ansible.module_utils import smtls_report_render as render
from ansible.module_utils.smtls_files import FileProblem, read_optional, write_atomic

JSON_NAME = "smtls-report.json"
HTML_NAME = "smtls-report.html"

ARGUMENT_SPEC = dict(
    dest=dict(type="path", required=True),
    records=dict(type="list", elements="dict", default=[]),
    expected=dict(type="dict", default={}),
    run_hosts=dict(type="list", elements="str"),
    title=dict(type="str", default="smtls fleet report"),
    liveness=dict(type="list", elements="dict", default=[]),
    metrics_file=dict(type="path"),
    fail_on=dict(type="str", choices=["never", "critical", "warning"], default="never"),
)


def old_report(data):
    try:
        return json.loads(data.decode("utf-8")) if data else None
    except ValueError:
        return None


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    p = module.params
    json_file = os.path.join(p["dest"], JSON_NAME)
    html_file = os.path.join(p["dest"], HTML_NAME)
    try:
        report = engine.build(p["records"], p["expected"], p["run_hosts"], title=p["title"],
                              liveness=p["liveness"])
        old_json = read_optional(json_file, "fleet report") if os.path.isdir(p["dest"]) else None
        old_html = read_optional(html_file, "fleet report") if os.path.isdir(p["dest"]) else None
        metrics_file = os.path.abspath(p["metrics_file"]) if p["metrics_file"] else None
        old_prom = (read_optional(metrics_file, "fleet metrics")
                    if metrics_file and os.path.isdir(os.path.dirname(metrics_file)) else None)
    except (engine.ReportError, FileProblem) as exc:
        module.fail_json(msg=str(exc))
    old = old_report(old_json)
    if engine.same_content(old, report):
        report["generated_at"] = old["generated_at"]  # nothing new: keep the files as they are
    files = [(json_file, render.render_json(report).encode("utf-8"), old_json),
             (html_file, render.render_html(report).encode("utf-8"), old_html)]
    if metrics_file:
        # a pure function of the report: rewritten exactly when the JSON is
        files.append((metrics_file, render.render_prom(report).encode("utf-8"), old_prom))
    written = [path for path, data, before in files if data != before]
    if written and not module.check_mode:
        for path in written:
            if not os.path.isdir(os.path.dirname(path)):
                os.makedirs(os.path.dirname(path), 0o755)
        for path, data, _before in files:
            if path in written:
                # the report holds no secret: readable like any other document
                write_atomic(module, path, data, mode=0o644)
    findings = engine.findings_list(report)
    result = dict(changed=bool(written), json_file=json_file, html_file=html_file,
                  generated_at=report["generated_at"], summary=report["summary"],
                  findings=findings, written=written)
    if metrics_file:
        result["metrics_file"] = metrics_file
    if module._diff:
        result["diff"] = dict(before="\n".join(render.summary_lines(old)) + "\n",
                              after="\n".join(render.summary_lines(report)) + "\n",
                              before_header=json_file, after_header=json_file)
    levels = {"never": (), "critical": ("critical",), "warning": ("critical", "warning")}
    failing = [f for f in findings if f["severity"] in levels[p["fail_on"]]]
    if failing:
        module.fail_json(msg="the fleet report has %d finding(s) of severity %s or worse: see %s"
                         % (len(failing), p["fail_on"], html_file), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
