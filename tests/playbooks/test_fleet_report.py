"""The fleet report (playbooks/report.yml) on the embedded demo fleet, and its page in a browser.

One fleet for the module: reported as shipped (the sample CA and certificate, changeit), then
rolled out and reported again (no critical finding, every host shown; a second run and a check
run change nothing; nothing on a host is written), then reported with one server's renewal
window wider than its certificate's life (that host flagged as expiring). The HTML page is
rendered by headless Chromium with no network: it renders, its script runs under the page's
own content security policy, every host is there and the expiring host's row is highlighted.
Every run also writes smtls.prom (docs/metrics.md): it parses as the Prometheus text format
and says the same about every demo host - read, its mode, its findings, its last probe.
"""

import datetime
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest
import demofleet
from demofleet import host_files, run_playbook
from prometheus_client.parser import text_string_to_metric_families
import yaml

ROOT = Path(__file__).resolve().parents[2]
# Ports of the demo's SM stand-ins in this module (the other playbook tests use their own).
EXPIRING = "sm2.demo.invalid"
SECRETS = ["demo-ca-passphrase", "demo-Server-ks1", "demo-Trust-ks1", "demo-Web-ks1",
           "demo-Clients-1", "demo-Win-ks1", "demo-Tomcat-ks1", "serverkeystore", "changeit"]
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu",
    # nothing may reach a network: no background traffic, no name resolution at all
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--disable-domain-reliability",
    "--disable-client-side-phishing-detection", "--disable-breakpad", "--no-pings",
    "--no-first-run", "--no-default-browser-check", "--metrics-recording-only",
    "--host-resolver-rules=MAP * ~NOTFOUND", "--disable-dev-shm-usage",
]


def inventory_hosts():
    """{group: [hosts]} of the demo inventory's SM groups, as the report must show them."""
    groups = yaml.safe_load((ROOT / "inventories/demo/hosts.yml").read_text())["all"]["children"]
    return {name: sorted(group.get("hosts") or {}) for name, group in groups.items()
            if name in ("sm_servers", "sm_webtiers", "sm_windows_clients")}


def all_hosts():
    return sorted(h for hosts in inventory_hosts().values() for h in hosts)


def playbook(fleet, name, *args):
    return run_playbook(fleet, name, *args).stdout


def recap(output):
    """{host: changed} from the PLAY RECAP (which must be there and name a host)."""
    return {host: counts["changed"] for host, counts in demofleet.recap(output).items()}


def report(directory):
    directory = Path(directory)
    return {"json": json.loads((directory / "smtls-report.json").read_text()),
            "html": directory / "smtls-report.html",
            "prom": metrics(directory / "smtls.prom"),
            "bytes": {p.name: p.read_bytes() for p in directory.iterdir()}}


def metrics(path):
    """{name: [(labels, value)]} of a .prom file, parsed by the Prometheus client library."""
    assert path.exists(), "the report run wrote no %s" % path.name
    return {family.name: [(s.labels, s.value) for s in family.samples]
            for family in text_string_to_metric_families(path.read_text())}


def per_host(prom, name, **match):
    """{host: value} of one metric (for one kind: every demo host is in one group)."""
    return {labels["host"]: value for labels, value in prom[name]
            if all(labels.get(k) == v for k, v in match.items())}


def findings(data):
    return {(h["name"], f["severity"], f["code"]) for h in data["hosts"] for f in h["findings"]}


@pytest.fixture(scope="module")
def before(fleet, rollout):
    """The report of the fresh fleet, made before the shared rollout (see conftest)."""
    return dict(report(Path(fleet) / "before-report"), output=rollout["report_before"])


@pytest.fixture(scope="module")
def after(fleet, before):
    files = host_files(fleet)
    first = playbook(fleet, "report.yml")
    written = report(Path(fleet) / "report")
    second = playbook(fleet, "report.yml")
    checked = playbook(fleet, "report.yml", "--check", "--diff")
    assert host_files(fleet) == files, "the report wrote on a host"
    return dict(report(Path(fleet) / "report"), first=first, second=second, checked=checked,
                written=written)


@pytest.fixture(scope="module")
def expiring(fleet, after, tmp_path_factory):
    """sm2's renewal window (400 days) is wider than its certificate's life (397): due now."""
    extra = tmp_path_factory.mktemp("inventory") / "expiring.yml"
    extra.write_text(yaml.safe_dump({"all": {"hosts": {EXPIRING: {"smtls_renew_days": 400}}}}))
    directory = Path(fleet) / "expiring-report"
    playbook(fleet, "report.yml", "-i", str(extra), "-e", "smtls_report_dir=%s" % directory)
    return report(directory)


# --- the report's content ------------------------------------------------------------------


def test_fresh_fleet_sample_material_is_critical(before):
    data, hosts = before["json"], inventory_hosts()
    assert sorted(h["name"] for h in data["hosts"]) == all_hosts()
    found = findings(data)
    for server in hosts["sm_servers"]:
        assert (server, "critical", "sample_certificate") in found
        assert (server, "critical", "sample_ca_trusted") in found
        assert (server, "warning", "default_password") in found  # serverkeystore, changeit
        assert (server, "warning", "mode_drift") in found
    for webtier in hosts["sm_webtiers"]:
        assert (webtier, "critical", "sample_ca_trusted") in found
        # its cacerts keeps changeit on purpose (no web tier parameter carries a password); the
        # one well-known password flagged is that of Tomcat's browser-side connector keystore
        # (changeit, as Tomcat's example server.xml has it), which the rollout replaces
        assert (webtier, "info", "expected_default_password") in found
        flagged = [f.get("store", "") for h in data["hosts"] if h["name"] == webtier
                   for f in h["findings"] if f["code"] == "default_password"]
        assert len(flagged) == 1 and flagged[0].endswith("/tomcat/conf/localhost-rsa.jks"), flagged
    assert data["summary"]["findings"]["critical"] >= 2 * len(hosts["sm_servers"])


def test_the_report_shows_no_secret(before):
    text = before["output"] + json.dumps(before["json"]) + before["html"].read_text()
    for secret in SECRETS:
        assert secret not in text, "secret %r leaked" % secret
    assert "PRIVATE KEY" not in text


def test_after_rollout_no_critical_finding_and_every_host_shown(after):
    data = after["json"]
    assert sorted(h["name"] for h in data["hosts"]) == all_hosts()
    assert data["summary"]["findings"]["critical"] == 0, findings(data)
    assert all(h["read"] in ("host", "controller") for h in data["hosts"])
    for host in data["hosts"]:
        assert not {f["code"] for f in host["findings"]} & {"sample_ca_trusted",
                                                             "sample_certificate",
                                                             "default_password", "mode_drift"}
    servers = [h for h in data["hosts"] if h["kind"] == "server"]
    assert all(h["mode"] == {"inventory": "trusted_clients", "in_effect": "trusted_clients"}
               for h in servers)
    for server in servers:
        allowlist = next(s for s in server["stores"] if s["purpose"] == "allowlist")
        assert len(allowlist["entries"]) >= 1  # the web tiers' (and Windows clients') certificates
    assert all(h["next_expiry"]["days"] > 300 for h in servers)
    # each web tier's browser side: the connector, its protocols, our certificate in its keystore
    for web in [h for h in data["hosts"] if h["kind"] == "webtier"]:
        assert [(c["port"], c["protocols"]) for c in web["connectors"]] == [
            (8443, "TLSv1.2" if web["name"] == "web2.demo.invalid" else "TLSv1.2,TLSv1.3")]
        browser = next(s for s in web["stores"] if s.get("browser_connector") == 8443)
        [key] = [e for e in browser["entries"] if e["kind"] == "private_key"]
        assert (key["subject"], key["issuer"]) == ("CN=" + web["name"], "CN=smtls demo CA")
        assert "Browser-side HTTPS connectors (server.xml)" in after["html"].read_text()


def test_second_run_and_check_run_change_nothing(after):
    assert sum(recap(after["first"]).values()) == 1  # the report files, on the controller
    for run in ("second", "checked"):
        assert set(recap(after[run])) == set(all_hosts())
        assert sum(recap(after[run]).values()) == 0, after[run][-3000:]
    assert after["bytes"] == after["written"]["bytes"]


def test_a_certificate_inside_the_renewal_window_is_flagged(expiring):
    found = findings(expiring["json"])
    assert (EXPIRING, "warning", "expiring") in found
    assert not [f for f in found if f[2] == "expiring" and f[0] != EXPIRING]
    host = next(h for h in expiring["json"]["hosts"] if h["name"] == EXPIRING)
    assert host["status"] == "warning"


# --- the metrics (smtls.prom) -----------------------------------------------------------------


def test_metrics_of_the_fresh_fleet(before):
    prom, hosts = before["prom"], inventory_hosts()
    assert set(per_host(prom, "smtls_host_read_ok")) == set(all_hosts())
    critical = per_host(prom, "smtls_host_findings", severity="critical")
    for server in hosts["sm_servers"]:
        assert critical[server] >= 2  # the sample certificate, the sample CA
    # never probed yet: 0 (no successful probe recorded), not absent
    probed = per_host(prom, "smtls_host_probe_last_success_timestamp_seconds")
    assert probed == {h: 0 for h in hosts["sm_servers"] + hosts["sm_webtiers"]}
    modes = {labels["host"]: labels for labels, _ in prom["smtls_host_ssl_mode_info"]}
    for server in hosts["sm_servers"]:
        assert modes[server]["inventory_mode"] == "trusted_clients"
        assert modes[server]["mode"] != "trusted_clients"  # the mode_drift finding
    untrusted = {labels["host"] for labels, _ in prom["smtls_certificate_expiry_seconds"]
                 if labels["usage"] == "untrusted"}
    assert set(hosts["sm_servers"]) <= untrusted


def test_metrics_after_the_rollout_say_what_the_report_says(before, after):
    prom, data, hosts = after["prom"], after["json"], inventory_hosts()
    assert "smtls.prom" in after["bytes"]
    [(labels, stamp)] = prom["smtls_report_generated_timestamp_seconds"]
    assert labels == {}  # one fleet-wide sample
    assert stamp == datetime.datetime.fromisoformat(
        data["generated_at"].replace("Z", "+00:00")).timestamp()
    assert per_host(prom, "smtls_host_read_ok") == {h: 1 for h in all_hosts()}
    for severity in ("critical", "warning", "info"):
        assert per_host(prom, "smtls_host_findings", severity=severity) == {
            h["name"]: h["counts"][severity] for h in data["hosts"]}
    assert not any(per_host(prom, "smtls_host_findings", severity="critical").values())
    modes = {labels["host"]: (labels["kind"], labels["mode"], labels["inventory_mode"])
             for labels, value in prom["smtls_host_ssl_mode_info"] if value == 1}
    expected = {h: ("server", "trusted_clients", "trusted_clients") for h in hosts["sm_servers"]}
    expected.update({h: ("webtier", "client_certificate", "trusted_clients") for h in hosts["sm_webtiers"]})
    expected.update({h: ("windows_client", "unknown", "trusted_clients")
                     for h in hosts["sm_windows_clients"]})
    assert modes == expected
    # the rollout proved every server and web tier with a handshake: after the fresh fleet's
    # report, before this one (Windows clients are not probed: no sample)
    start = before["prom"]["smtls_report_generated_timestamp_seconds"][0][1]
    probed = per_host(prom, "smtls_host_probe_last_success_timestamp_seconds")
    assert set(probed) == set(hosts["sm_servers"] + hosts["sm_webtiers"])
    assert all(start <= when <= stamp for when in probed.values()), (start, probed, stamp)
    own = {labels["host"]: value for labels, value in prom["smtls_certificate_expiry_seconds"]
           if labels["usage"] == "own"}
    assert set(own) == set(all_hosts())
    assert all(value > 300 * 86400 for host, value in own.items() if host in hosts["sm_servers"])


def test_metrics_flag_the_expiring_host(expiring):
    warnings = per_host(expiring["prom"], "smtls_host_findings", severity="warning")
    assert warnings[EXPIRING] >= 1
    assert not [h for h, count in warnings.items() if count and h != EXPIRING]


# --- the page in a browser ----------------------------------------------------------------------


class Dom(HTMLParser):
    def __init__(self, text):
        super().__init__()
        self.rows, self.sections, self.body, self.sorted_headers, self._table = [], {}, {}, [], None
        self._section, self.codes = None, {}
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "body":
            self.body = attrs
        if tag == "table":
            self._table = attrs.get("id")
        if tag == "th" and attrs.get("aria-sort"):
            self.sorted_headers.append((self._table, attrs["aria-sort"]))
        if tag == "tr" and self._table == "fleet-table" and "data-host" in attrs:
            self.rows.append((attrs["data-host"], attrs.get("class", "").split()))
        if tag == "section" and "data-host" in attrs:
            self._section = attrs["data-host"]
            self.sections[self._section] = attrs.get("class", "").split()
        if tag == "li" and self._section and "data-code" in attrs:
            self.codes.setdefault(self._section, set()).add(attrs["data-code"])


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    binary = shutil.which("chromium")
    if not binary:
        pytest.fail("chromium is required to render the report (.ci/host-deps.sh installs it)")
    profile = tmp_path_factory.mktemp("chromium-profile")

    def dump_dom(page):
        proc = subprocess.run([binary, *CHROMIUM_FLAGS, "--user-data-dir=%s" % profile,
                               "--dump-dom", Path(page).as_uri()],
                              capture_output=True, text=True, timeout=180,
                              env=dict(os.environ, DBUS_SESSION_BUS_ADDRESS="disabled:"))
        assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-3000:]
        return proc.stdout

    return dump_dom


def test_page_renders_every_host_and_flags_the_expiring_one(chromium, expiring):
    dom = Dom(chromium(expiring["html"]))
    assert dom.body.get("data-script") == "ran"  # the inline script ran under the page's CSP
    assert ("fleet-table", "ascending") in dom.sorted_headers  # sorted by days, by the script
    assert sorted(host for host, _ in dom.rows) == all_hosts()
    assert sorted(dom.sections) == all_hosts()
    classes = dict(dom.rows)
    assert "finding-warning" in classes[EXPIRING]
    assert "finding-warning" in dom.sections[EXPIRING]
    assert "expiring" in dom.codes[EXPIRING]
    assert not [h for h, c in classes.items() if h != EXPIRING and "finding-warning" in c]


def test_page_of_the_fresh_fleet_highlights_the_critical_hosts(chromium, before):
    dom = Dom(chromium(before["html"]))
    assert dom.body.get("data-script") == "ran"
    classes = dict(dom.rows)
    for server in inventory_hosts()["sm_servers"]:
        assert "finding-critical" in classes[server]
        assert {"sample_certificate", "sample_ca_trusted"} <= dom.codes[server]


def test_page_sorts_when_a_column_header_is_clicked(chromium, after, tmp_path):
    # a copy with a second script that clicks "Host" twice (descending); the copy drops the
    # page's content security policy, which (rightly) lets only the page's own script run
    html = after["html"].read_text()
    html = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    click = ('<script>var th=document.querySelector("#fleet-table th");th.click();th.click();'
             '</script></body>')
    page = tmp_path / "clicked.html"
    page.write_text(html.replace("</body>", click))
    dom = Dom(chromium(page))
    assert [host for host, _ in dom.rows] == sorted(all_hosts(), reverse=True)
    assert dom.sorted_headers[0] == ("fleet-table", "descending")
