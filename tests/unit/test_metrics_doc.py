"""docs/metrics.md against the renderer: the sample alert rule file in the page loads as a
Prometheus rule file, and every metric, label and label value its expressions use is one
smtls.prom really carries; every metric the renderer writes is described on the page.

The rendered side is a report built from records that give every family samples (a probe
recorded, a host not read, every certificate usage), parsed back with prometheus_client.
"""

import re
from pathlib import Path

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from ansible.module_utils import smtls_findings as engine
from ansible.module_utils import smtls_report_render as render
from test_report import AT, SAMPLE_CA, entry, ini, record, server, store, web

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "metrics.md"
# a selector: metric{label op "value", ...}
SELECTOR = re.compile(r"\b(smtls_[a-z_]+)\b(?:\{([^}]*)\})?")
MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"([^"]*)"\s*')


def code_blocks(language):
    return re.findall(r"^```%s\n(.*?)^```" % language, DOC.read_text(), re.M | re.S)


@pytest.fixture(scope="module")
def rules():
    blocks = [b for b in code_blocks("yaml") if re.search(r"^groups:", b, re.M)]
    assert len(blocks) == 1, "docs/metrics.md must hold one rule file (a yaml block with groups:)"
    return yaml.safe_load(blocks[0])


@pytest.fixture(scope="module")
def emitted():
    """{metric: {label: {values}}} of a rendering where every family has samples."""
    records = [
        server(probe={"path": "/p", "exists": True, "last_success": "2029-12-01T00:00:00Z"},
               stores=[store("identity", [entry("sm1")]),
                       store("truststore", [entry("smtls-ca", 3000, kind="trusted_cert", known_ca=True),
                                            entry("sampleca", 900, kind="trusted_cert", issuer=SAMPLE_CA,
                                                  untrusted=True),
                                            entry("corp", 900, kind="trusted_cert", issuer="CN=Corp")]),
                       store("allowlist", [entry("sm-webtier", kind="trusted_cert", sha="ab" * 32)])]),
        server("sm3", sm_ini=ini("encryption"), stores=[store("identity", [entry("sm3", -1)])],
               probe={"path": "/p", "exists": False, "last_success": None}),
        web(), record("win1", "windows_client", context={"read": "controller"}),
    ]
    built = engine.build(records, expected={"server": ["sm1", "sm2", "sm3"]}, at=AT)
    found = {}
    for family in text_string_to_metric_families(render.render_prom(built)):
        assert family.samples, "%s has no sample in the fixture: extend it" % family.name
        labels = found.setdefault(family.name, {})
        for sample in family.samples:
            for name, value in sample.labels.items():
                labels.setdefault(name, set()).add(value)
    assert set(found) == set(render.METRIC_NAMES)
    return found


def all_rules(rules):
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_the_rule_file_is_a_prometheus_rule_file(rules):
    assert isinstance(rules["groups"], list) and rules["groups"]
    for group in rules["groups"]:
        assert group["name"] and group["rules"]
        for rule in group["rules"]:
            assert set(rule) <= {"alert", "expr", "for", "labels", "annotations"}, rule
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", rule["alert"])
            assert rule["labels"]["severity"] in ("critical", "warning", "info")
            assert rule["annotations"]["summary"]
            assert re.fullmatch(r"\d+[smhd]", rule["for"])
            assert rule["expr"].count("(") == rule["expr"].count(")")


def test_the_rules_use_only_metrics_labels_and_values_the_renderer_emits(rules, emitted):
    used = set()
    for rule in all_rules(rules):
        selectors = SELECTOR.findall(rule["expr"])
        assert selectors, "%s uses no smtls metric" % rule["alert"]
        for metric, matchers in selectors:
            assert metric in emitted, "%s: %s is not a metric smtls.prom has" % (rule["alert"], metric)
            used.add(metric)
            for part in filter(str.strip, matchers.split(",")):
                match = MATCHER.fullmatch(part)
                assert match, "%s: cannot read the matcher %r" % (rule["alert"], part)
                label, op, value = match.groups()
                assert label in emitted[metric], "%s: %s has no label %s" % (rule["alert"], metric, label)
                values = value.split("|") if op in ("=~", "!~") else [value]
                unknown = set(values) - emitted[metric][label]
                assert not unknown, "%s: %s{%s} never takes %s" % (rule["alert"], metric, label, unknown)
    # the rules watch expiry, findings, probes and the report itself
    assert {"smtls_certificate_not_after_timestamp_seconds", "smtls_host_findings",
            "smtls_host_probe_last_success_timestamp_seconds",
            "smtls_report_generated_timestamp_seconds"} <= used


@pytest.mark.parametrize("metric,must", [
    ("smtls_certificate_not_after_timestamp_seconds", "< 30 * 86400"),  # expiry within 30 days
    ("smtls_host_findings", 'severity="critical"'),                     # any critical finding
    ("smtls_host_probe_last_success_timestamp_seconds", "time() -"),    # probe stale
])
def test_the_three_alerts_the_page_promises_are_there(rules, metric, must):
    exprs = [r["expr"] for r in all_rules(rules) if metric in r["expr"]]
    assert exprs and any(must in " ".join(e.split()) for e in exprs), exprs


def test_every_metric_is_described_on_the_page():
    text = DOC.read_text()
    for name, _help, labels in render.METRICS:
        row = next((line for line in text.splitlines() if line.startswith("| `%s`" % name)), None)
        assert row, "%s is not in the metrics table of docs/metrics.md" % name
        described = re.findall(r"`([a-z_]+)`", row.split("|")[2])
        assert described == list(labels), (name, described)
    for label in ("store", "purpose", "alias", "subject", "usage"):
        assert re.search(r"^\| `%s` \|" % label, text, re.M), "label %s is not described" % label
