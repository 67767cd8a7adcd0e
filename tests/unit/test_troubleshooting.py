"""docs/troubleshooting.md explains every message smtls can refuse or fail with, and every probe
reason: tools/error_catalog.py reads them off the code, and these tests hold the page to it. The
extractor and the checker are tested on small made-up sources too, so neither passes vacuously.
"""

import importlib.util
import textwrap
from pathlib import Path

import pytest

from ansible.module_utils import smtls_probe
from ansible.module_utils import smtls_x509 as pki

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "error_catalog.py"
DOC = ROOT / "docs" / "troubleshooting.md"

spec = importlib.util.spec_from_file_location("error_catalog", TOOL)
catalog = importlib.util.module_from_spec(spec)
spec.loader.exec_module(catalog)

# Floors well under today's counts (about 130 Python and 12 YAML messages): a change that
# makes the extractor find next to nothing fails here instead of passing every check.
MIN_PYTHON = 80
MIN_YAML = 10


@pytest.fixture(scope="module")
def messages():
    return catalog.catalogue()


@pytest.fixture(scope="module")
def doc():
    return DOC.read_text()


def _kinds(messages, kind):
    return [m for m in messages if m.kind == kind]


def test_every_message_has_an_entry(messages, doc):
    problems = catalog.missing(doc, messages)
    assert not problems, (
        "docs/troubleshooting.md lacks an entry (message | meaning | fix) quoting these "
        "messages:\n  " + "\n  ".join(problems))


def test_no_stale_entry(messages, doc):
    problems = catalog.stale(doc, messages)
    assert not problems, ("entries of docs/troubleshooting.md that no message in the code "
                          "reads any more:\n  " + "\n  ".join(problems))


def test_every_probe_reason_has_an_entry(doc):
    text, _offset = catalog.section(doc, "Probe reasons")
    rows = {cells[0].strip(): [c.strip() for c in cells[1:4]]
            for _n, cells in catalog.table_rows(text, "reason")}
    for key, reason_text in smtls_probe.REASONS.items():
        assert "`%s`" % key in rows, "probe reason %s has no row" % key
        quoted, causes, fix = rows["`%s`" % key]
        assert quoted == "`%s`" % reason_text, "the text of probe reason %s is not quoted" % key
        assert causes and fix, "probe reason %s: likely causes and fix" % key


def test_every_certificate_decision_has_an_entry(doc):
    text, _offset = catalog.section(doc, "Certificate decisions")
    rows = {cells[0].strip(): catalog.code_spans("|".join(cells[1:]))
            for _n, cells in catalog.table_rows(text, "decision")}
    for key, reason_text in pki.REASONS.items():
        assert reason_text in rows.get("`%s`" % key, []), "certificate decision %s" % key


def test_the_extractor_finds_enough(messages):
    python, yaml_ = _kinds(messages, "python"), _kinds(messages, "yaml")
    assert len(python) >= MIN_PYTHON, [m.where for m in python]
    assert len(yaml_) >= MIN_YAML, [m.where for m in yaml_]
    assert {m.source for m in _kinds(messages, "reason")} == set(smtls_probe.REASONS)
    assert {m.source for m in _kinds(messages, "decision")} == set(pki.REASONS)
    sources = {m.path for m in python}
    for name in ("smtls_keystore.py", "smtls_x509.py", "smtls_ca.py", "smtls_webtier.py",
                 "smtls_smini.py", "smtls_files.py", "sm_tls_probe.py", "sm_pending_restart.py"):
        assert any(path.endswith("/" + name) for path in sources), name
    assert {m.path for m in yaml_} >= {"roles/smtls/tasks/validate.yml", "roles/smtls/tasks/restart.yml",
                                        "playbooks/rotate_ca.yml"}


def test_known_messages_and_their_stems(messages):
    by_where = {(m.path.rsplit("/", 1)[-1], m.shown) for m in messages}
    assert ("smtls_keystore_state.py",
            "<...>: wrong store password (the integrity check failed). Fix: give the password the "
            "keystore was created with, or restore the file from its backup") in by_where
    # a rescue section's fail task, with its Jinja placeholders
    assert any(m.path == "roles/smtls/tasks/restart.yml" and "failed its check after the restart"
               in m.template for m in messages)
    short = [m for m in messages if m.shown == "JKS version <...>"]
    assert short and short[0].stem is None  # too short alone: the whole message is quoted
    assert all(m.line > 0 for m in messages)


def test_every_message_without_text_is_accounted_for(messages):
    opaque = [m for m in messages if m.kind == "python" and m.opaque]
    assert opaque, "the modules pass domain errors on with str(exc): some are expected"
    unlisted = [m.where + " " + m.source for m in opaque if catalog.opaque_reason(m) is None]
    assert not unlisted, unlisted


def _new_problems(doc, edited, messages):
    """What the checker reports for an edited page beyond what it reports for the page itself
    (robust to a message added to the code while the page is being caught up)."""
    before = set(catalog.missing(doc, messages))
    return [p for p in catalog.missing(edited, messages) if p not in before]


def test_a_missing_entry_is_reported_with_its_source(messages, doc):
    probe = next(m for m in messages if m.path.endswith("sm_tls_probe.py")
                 and m.stem == "no CA to trust: give a truststore with trusted certificates, or "
                               "ca_certificates")
    lines = [line for line in doc.splitlines() if probe.stem not in line]
    assert len(lines) == len(doc.splitlines()) - 1
    assert _new_problems(doc, "\n".join(lines), messages) == [
        "%s: no entry quotes %r" % (probe.where, probe.stem)]


def test_a_missing_probe_reason_is_reported(messages, doc):
    where = next(m.where for m in messages if m.kind == "reason" and m.source == "timeout")
    lines = [line for line in doc.splitlines() if not line.startswith("| `timeout` |")]
    assert _new_problems(doc, "\n".join(lines), messages) == [
        "%s: reason `timeout` has no row in the table under 'Probe reasons'" % where]
    # the row is there, but without the reason's text
    edited = doc.replace("| `timeout` | `no answer in time` |", "| `timeout` | no answer |")
    assert edited != doc
    assert _new_problems(doc, edited, messages) == [
        "%s: the row of reason `timeout` does not quote its text 'no answer in time'" % where]


def test_a_short_message_needs_the_whole_message(messages):
    jks = [m for m in messages if m.shown == "JKS version <...>"]
    assert len(jks) == 1
    assert catalog.missing("| `JKS version` | damaged |", jks)  # the fixed text alone
    assert catalog.missing("the JKS version <n> of the file", jks)  # not quoted
    assert catalog.missing("| `the JKS version <n> of the file` |", jks)  # not the message alone
    assert not catalog.missing("| `JKS version <n>` | a version smtls does not read |", jks)


def test_a_stale_entry_is_reported(messages):
    doc = textwrap.dedent("""\
        ## Inputs

        | message | meaning | fix |
        |---|---|---|
        | `a new CA key needs a passphrase of at least 8 characters (smtls_ca_passphrase)` | m | f |
        | `this message was removed from the code long ago` | m | f |

        ## Probe reasons

        | reason | text |
        |---|---|
        | `timeout` | `no answer in time` |
        | `gone_reason` | `a reason the probe no longer has` |
        """)
    problems = catalog.stale(doc, messages)
    assert len(problems) == 2, problems
    assert "docs/troubleshooting.md:6: stale entry" in problems[0]
    assert "stale reason `gone_reason`" in problems[1] and ":13:" in problems[1]


def test_the_extractor_on_a_small_repository(tmp_path):
    (tmp_path / "roles" / "r" / "tasks").mkdir(parents=True)
    (tmp_path / "roles" / "r" / "tasks" / "main.yml").write_text(textwrap.dedent("""\
        ---
        - name: a block
          block:
            - name: check
              ansible.builtin.assert:
                that: false
                fail_msg: >-
                  {{ inventory_hostname }}: the widget
                  {{ name }} is broken. Fix: set widget_name
          rescue:
            - name: say so
              ansible.builtin.fail:
                msg: "{{ inventory_hostname }}: {{ ansible_failed_result.msg }}. Nothing was written"
        - name: not a message
          ansible.builtin.debug:
            msg: "{{ something }} is fine"
        """))
    (tmp_path / "roles" / "r" / "defaults").mkdir()
    (tmp_path / "roles" / "r" / "defaults" / "main.yml").write_text("widget_name: x\n")
    (tmp_path / "plugins" / "module_utils").mkdir(parents=True)
    (tmp_path / "plugins" / "module_utils" / "thing.py").write_text(textwrap.dedent("""\
        REASONS = {"ok": "fine", "bad": "not fine"}


        def f(path, exc, module, n):
            if n:
                raise ValueError("%s: the file has %d%% of %(what)s missing" % (path, n))
            if exc:
                raise TypeError(str(exc))
            if module:
                module.fail_json(msg="prefix " + path + " and a long literal suffix")
            raise KeyError(f"{path} is gone, {n} times over")
        """))
    messages = (catalog.yaml_messages(tmp_path) + catalog.python_messages(tmp_path))
    shown = sorted((m.kind, m.line, m.shown) for m in messages)
    assert shown == [
        ("python", 6, "<...>: the file has <...>% of <...> missing"),
        ("python", 8, "<...>"),
        ("python", 10, "prefix <...> and a long literal suffix"),
        ("python", 11, "<...> is gone, <...> times over"),
        ("yaml", 7, "<...>: the widget <...> is broken. Fix: set widget_name"),
        ("yaml", 13, "<...>: <...>. Nothing was written"),
    ]
    stems = {m.line: m.stem for m in messages if m.kind == "python"}
    assert stems[10] == "and a long literal suffix"
    assert stems[8] is None and [m for m in messages if m.line == 8][0].opaque
    assert stems[11] is None  # "is gone" and "times over" are short: the whole message counts
    table = catalog.reason_table("plugins/module_utils/thing.py", tmp_path)
    assert {key: text for key, (text, _line) in table.items()} == {"ok": "fine", "bad": "not fine"}
