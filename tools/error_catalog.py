#!/usr/bin/env python3
"""The catalogue of every message an operator sees when smtls refuses or fails, read off the code.

    python tools/error_catalog.py            print the catalogue: kind, source file:line, stem
    python tools/error_catalog.py --check    also check docs/troubleshooting.md; exit 1 when an
                                             entry is missing (or stale), listing them

docs/troubleshooting.md must explain each of these messages; tests/unit/test_troubleshooting.py
holds it to that with check(). The sources:

  yaml     roles/**/*.yml and playbooks/*.yml: the ``fail_msg`` of every ``ansible.builtin.assert``
           task and the ``msg`` of every ``ansible.builtin.fail`` task (blocks, rescue and always
           sections included); and, as messages of their own, the string literals of MIN_WORDS
           (3) words or more inside the Jinja expressions of that message and of the task's
           ``vars`` (text a template puts together, like ``'... is not a percentage' % x``).
  python   plugins/**/*.py: the message of every ``raise SomeError(<message>)`` and of every
           ``<module>.fail_json(msg=<message>)`` whose message is a string constant, a
           ``"..." % args`` expression, an f-string, or a concatenation of these; and in a
           function named ``*_problem`` or ``*_problems`` (a filter that says what is wrong, for
           an assert to show), every such string it returns or appends to a list.
  reason   the keys of ``REASONS`` in plugins/module_utils/smtls_probe.py, with their text.
  decision the keys of ``REASONS`` in plugins/module_utils/smtls_x509.py (certificate
           decisions), with their text.

A message's *template* is its text with the placeholders in it (Jinja ``{{ }}``/``{% %}``,
``%s``/``%r``/``%d``/``%(name)s``..., f-string fields). Its *fragments* are the literal pieces
between the placeholders, with runs of white space made one space and the punctuation and
spaces around each piece stripped. Its *stem* decides how the documentation must quote it:

  - When the longest fragment has at least MIN_STEM (16) characters and more than one word,
    that fragment is the stem, and it must appear verbatim inside a code span (`...`) of the
    documentation.
  - Otherwise ("JKS version %d", "empty OID", "%s: sm_server_trusted_clients_extra: %s") a
    fragment alone says too little, so the whole template is the stem: some code span must be
    the message, each placeholder standing for any non-empty text (`JKS version <n>` matches
    "JKS version %d"; the span holds that message and nothing else).
  - A message with no literal text at all (``raise X(str(exc))``, ``"%s: %s" % (what, exc)``)
    cannot be quoted: it passes on a message raised elsewhere, which is catalogued where it is
    raised. Each such place must be listed in OPAQUE, with the reason; an unlisted one is an
    error, so a new message built only from variables is noticed.

Code spans are compared with white space collapsed and ``\\|`` (a pipe inside a Markdown table)
read as ``|``. A probe reason is documented by a row of the table in the section "Probe
reasons" whose first cell is the key in a code span and which quotes the reason's text in a
code span; the certificate decisions of smtls_x509.py likewise, under "Certificate decisions".
A row of a message table (a table whose first column is "message") whose message cell matches
no catalogued message is stale; so is a reason key in a reasons table that REASONS no longer
has.
"""

import argparse
import ast
import fnmatch
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
DOC = "docs/troubleshooting.md"
# kind -> (file with a REASONS dict, the section of DOC that explains each key, the first
# column of that section's table)
REASON_SOURCES = {
    "reason": ("plugins/module_utils/smtls_probe.py", "Probe reasons", "reason"),
    "decision": ("plugins/module_utils/smtls_x509.py", "Certificate decisions", "decision"),
}
# The first column of the tables of messages in DOC.
MESSAGE_COLUMN = "message"
MIN_STEM = 16

YAML_GLOBS = ("roles/**/*.yml", "roles/**/*.yaml", "playbooks/*.yml", "playbooks/*.yaml")
PYTHON_GLOBS = ("plugins/**/*.py",)
ASSERT_ACTIONS = ("ansible.builtin.assert", "assert")
FAIL_ACTIONS = ("ansible.builtin.fail", "fail")

# Messages that consist of nothing but a message made elsewhere: (file pattern, the source of
# the message expression) -> why no entry of their own is needed.
OPAQUE = {
    ("playbooks/preflight.yml", None):
        "the liveness check of the hosts the run's plan has nothing due on (smtls_fleet_plan), one "
        "problem per port; catalogued where smtls_liveness.port_problem and liveness_problems build them",
    ("roles/sm_server/tasks/apply.yml", None):
        "the liveness check's problems (smtls_liveness_problems), one per port; catalogued where "
        "smtls_liveness.port_problem and liveness_problems build them",
    ("roles/sm_webtier/tasks/apply.yml", None):
        "the liveness check's problems of the browser-side connector (smtls_liveness_problems); "
        "catalogued where smtls_liveness.port_problem and liveness_problems build them",
    ("roles/sm_webtier/tasks/info.yml", None):
        "the client keystore's read error, which sm_webtier_info returns instead of failing (so the "
        "checks before it can name a wrong path first); catalogued where the keystore engine raises it",
    ("roles/sm_server/tasks/preflight.yml", None):
        "the server keystore's and the allowlist's read errors and the sm.ini and truststore plans' "
        "errors, which sm_server_info returns instead of failing (so the checks before them can name "
        "a wrong path first), and a malformed extra client's PEM (smtls_pem_problem); catalogued "
        "where the keystore, sm.ini and x509 engines raise them",
    ("plugins/filter/smtls_*.py", "str(exc)"):
        "smtls_mode, smtls_mode_layers, smtls_phase_steps (smtls_plan.py) and "
        "smtls_certificate_decision (smtls_certs.py) pass a domain error (ModeError, PkiError) on as "
        "AnsibleFilterError; its message is catalogued where it is raised",
    ("plugins/action/smtls_certificate_plan.py", "str(exc)"):
        "the action passes sm_certificate's engine's error (PkiError, FileProblem) on as the task's "
        "failure or as its result's error; its message is catalogued where it is raised",
    ("plugins/modules/sm_tls_probe.py", "'; '.join((message for message, _result in failed))"):
        "the failing probes' messages of one call joined; each is catalogued where probe_problem() "
        "builds it",
    ("plugins/modules/*.py", "str(exc)"):
        "every module's last `except` turns a domain error (KeystoreError, PkiError, FileProblem, "
        "SmIniError, WebTierError, ReportError...) into fail_json; its message is catalogued "
        "where it is raised",
    ("plugins/module_utils/smtls_keystore.py", "str(exc)"):
        "an UnsupportedAlgorithm from smtls_pbe (a PKCS12 encryption algorithm smtls cannot "
        "decrypt) passed on as UnsupportedKeystore; its message is catalogued in smtls_pbe.py",
    ("plugins/module_utils/smtls_x509.py", "'%s: %s' % (what, exc)"):
        "parse_pem_key: the PEM library's own refusal (unsupported key type, encryption), "
        "prefixed with the file it came from",
    ("plugins/action/smtls_run_lock.py", "str(exc)"):
        "the fleet lock's refusal or problem (LockHeld, LockProblem) passed on as the task's "
        "failure; catalogued where smtls_lock.py raises it",
    ("plugins/module_utils/smtls_lock.py", "str(exc)"):
        "guard_module: the host lock's refusal (LockHeld, LockProblem) passed on as the writing "
        "module's failure; catalogued where guard_host raises it",
    ("plugins/module_utils/smtls_inventory.py", "when"):
        "read_probe_record: an internal TypeError, caught two lines below and replaced by "
        "'not a smtls probe record ...'",
}

_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)
_JINJA_STRING = re.compile(r"""(['"])((?:\\.|(?!\1).)*)\1""", re.S)
# A Jinja string literal of this many words or more is message text.
MIN_WORDS = 3
# Functions that say what is wrong (filters for a role's assert) rather than raise it.
PROBLEM_FUNCTION = re.compile(r"_problems?$")
_PERCENT = re.compile(r"%%|%(?:\([^)]*\))?[#0 +-]*(?:\d+|\*)?(?:\.\d+)?[diouxXeEfFgGcrsa]")
# Placeholders in a template string once it is read: a private-use character.
HOLE = "\ue000"
_STRIP = " \t\n.,;:()[]'\"-"


class Message:
    """One message: where it is, its template (HOLE for each placeholder) and how to quote it."""

    def __init__(self, kind, path, line, template, source=None):
        self.kind = kind
        self.path = path
        self.line = line
        self.template = " ".join(template.split())
        self.source = source  # the expression, for opaque messages
        self.fragments = [f for f in (p.strip(_STRIP) for p in self.template.split(HOLE)) if f]

    @property
    def where(self):
        return "%s:%d" % (self.path, self.line)

    @property
    def opaque(self):
        return not any(ch.isalpha() for ch in "".join(self.fragments))

    @property
    def stem(self):
        """The longest fragment, or None when the whole template is the stem (short, opaque)."""
        if self.opaque:
            return None
        longest = max(self.fragments, key=len)
        return longest if len(longest) >= MIN_STEM and " " in longest else None

    @property
    def shown(self):
        """The template as the documentation may quote it, placeholders as <...>."""
        return self.template.replace(HOLE, "<...>")

    def pattern(self):
        """A regex for the whole template, each placeholder any non-empty text."""
        parts = [re.escape(p).replace("\\ ", r"\s+") for p in self.template.split(HOLE)]
        return re.compile(r"\S.*?".join(parts), re.S)

    def found_in(self, spans):
        """True when one of the code spans quotes this message."""
        if self.stem is not None:
            return any(self.stem in span for span in spans)
        pattern = self.pattern()
        return any(pattern.fullmatch(span) for span in spans)

    def __repr__(self):
        return "Message(%s %s %r)" % (self.kind, self.where, self.shown)


# --- YAML ----------------------------------------------------------------------------------

def _jinja_template(text):
    return _JINJA.sub(HOLE, str(text))


class _Map(dict):
    """A YAML mapping that remembers the line of each key."""

    lines = {}


class _Loader(yaml.SafeLoader):
    """The safe loader, with the line of every mapping key kept (for file:line in messages)."""


def _construct_map(loader, node):
    mapping = _Map()
    yield mapping
    mapping.update(loader.construct_mapping(node))
    mapping.lines = {key.value: key.start_mark.line + 1 for key, _ in node.value
                     if isinstance(key, yaml.ScalarNode)}


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _walk_tasks(tasks):
    for task in tasks or []:
        if not isinstance(task, dict):
            continue
        yield task
        for section in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks",
                        "handlers"):
            if isinstance(task.get(section), list):
                yield from _walk_tasks(task[section])


def _jinja_literals(value):
    """String literals of several words inside the Jinja expressions of value (a string, or
    the dicts and lists of a task's vars): message text a template puts together."""
    if isinstance(value, dict):
        return [lit for v in value.values() for lit in _jinja_literals(v)]
    if isinstance(value, list):
        return [lit for v in value for lit in _jinja_literals(v)]
    found = []
    for block in _JINJA.findall(str(value)):
        for match in _JINJA_STRING.finditer(block):
            text = match.group(2)
            if len(text.split()) >= MIN_WORDS and any(ch.isalpha() for ch in text):
                found.append(_PERCENT.sub(lambda m: "%" if m.group(0) == "%%" else HOLE, text))
    return found


def yaml_messages(root=ROOT):
    messages = []
    files = sorted({p for pattern in YAML_GLOBS for p in root.glob(pattern)})
    for path in files:
        text = path.read_text()
        data = yaml.load(text, Loader=_Loader)  # noqa: S506 - a safe loader
        if not isinstance(data, list):
            continue  # vars, defaults, argument specs: no tasks
        rel = path.relative_to(root).as_posix()
        for task in _walk_tasks(data):
            for actions, key in ((ASSERT_ACTIONS, "fail_msg"), (FAIL_ACTIONS, "msg")):
                for action in actions:
                    args = task.get(action)
                    if not isinstance(args, dict) or not args.get(key):
                        continue
                    line = getattr(args, "lines", {}).get(key, 0)
                    messages.append(Message("yaml", rel, line, _jinja_template(args[key])))
                    # text put together in Jinja: literals in the message and the task's vars
                    for literal in _jinja_literals(args[key]):
                        messages.append(Message("yaml", rel, line, literal))
                    vars_line = getattr(task, "lines", {}).get("vars", line)
                    for literal in _jinja_literals(task.get("vars") or {}):
                        messages.append(Message("yaml", rel, vars_line, literal))
    return sorted(messages, key=lambda m: (m.path, m.line))


# --- Python --------------------------------------------------------------------------------

def _template(node):
    """The template of a message expression, or None when it holds no literal text."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(v.value if isinstance(v, ast.Constant) else HOLE for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        left = _template(node.left)
        if left is None:
            return None
        return _PERCENT.sub(lambda m: "%" if m.group(0) == "%%" else HOLE, left)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _template(node.left), _template(node.right)
        if left is None and right is None:
            return None
        return (left if left is not None else HOLE) + (right if right is not None else HOLE)
    return None


def _message_arg(call):
    if call.args:
        return call.args[0]
    for keyword in call.keywords:
        if keyword.arg in ("msg", "message"):
            return keyword.value
    return None


def _problem_messages(function):
    """(node, template) of the messages a *_problem / *_problems function returns or collects."""
    found = []
    for node in ast.walk(function):
        value = None
        if isinstance(node, ast.Return):
            value = node.value
        elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
              and node.func.attr == "append" and node.args):
            value = node.args[0]
        template = _template(value) if value is not None else None
        if template and any(ch.isalpha() for ch in template):
            found.append((value, template))
    return found


def python_messages(root=ROOT):
    messages = []
    files = sorted({p for pattern in PYTHON_GLOBS for p in root.glob(pattern)})
    for path in files:
        rel = path.relative_to(root).as_posix()
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef) and PROBLEM_FUNCTION.search(node.name):
                messages.extend(Message("python", rel, value.lineno, template, ast.unparse(value))
                                for value, template in _problem_messages(node))
                continue
            arg = None
            if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
                arg = _message_arg(node.exc)
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr == "fail_json"):
                arg = next((k.value for k in node.keywords if k.arg == "msg"), None)
            if arg is None:
                continue
            template = _template(arg)
            message = Message("python", rel, arg.lineno,
                              HOLE if template is None else template, ast.unparse(arg))
            messages.append(message)
    return sorted(messages, key=lambda m: (m.path, m.line))


# --- reasons: the probe's, and the certificate decisions' -----------------------------------

def reason_table(path, root=ROOT):
    """{key: (text, line)} of the REASONS dict of a module_utils file, read without importing it."""
    tree = ast.parse((root / path).read_text())
    for node in tree.body:
        if (isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "REASONS"
                                                 for t in node.targets)):
            return {k.value: (v.value, k.lineno) for k, v in zip(node.value.keys, node.value.values)}
    raise LookupError("%s defines no REASONS" % path)


def reason_messages(root=ROOT):
    return [Message(kind, path, line, text, source=key)
            for kind, (path, _section, _column) in REASON_SOURCES.items()
            for key, (text, line) in reason_table(path, root).items()]


def catalogue(root=ROOT):
    """Every message: YAML, then Python, then the probe reasons and certificate decisions."""
    return yaml_messages(root) + python_messages(root) + reason_messages(root)


def opaque_reason(message):
    for (pattern, source), why in OPAQUE.items():
        if fnmatch.fnmatch(message.path, pattern) and message.source == source:
            return why
    return None


# --- the documentation ---------------------------------------------------------------------

_CODE_SPAN = re.compile(r"(?<!`)(`+)(?!`)(.+?)(?<!`)\1(?!`)", re.S)


def code_spans(markdown):
    """The text of every code span, white space collapsed, table pipes unescaped."""
    return [" ".join(m.group(2).replace("\\|", "|").split())
            for m in _CODE_SPAN.finditer(markdown)]


def section(markdown, title):
    """(text, offset) under the heading `title` (any level), up to the next heading of that
    level or higher; offset is the number of lines before that text. ("", 0) without it."""
    match = re.search(r"^(#+)\s+%s\s*$" % re.escape(title), markdown, re.M)
    if not match:
        return "", 0
    level = len(match.group(1))
    rest = markdown[match.end():]
    end = re.search(r"^#{1,%d}\s" % level, rest, re.M)
    return (rest[:end.start()] if end else rest), markdown[:match.end()].count("\n")


def table_rows(markdown, first_column, offset=0):
    """(line number, cells) of the rows of every table whose first header is first_column."""
    rows, state = [], None  # None: outside a table; else "header", "match" or "other"
    for number, line in enumerate(markdown.splitlines(), 1 + offset):
        cells = _cells(line)
        if cells is None:
            state = None
        elif state is None:
            state = "header" if cells[0].strip().lower() == first_column else "other"
        elif state == "header":
            state = "match"  # the delimiter row
        elif state == "match":
            rows.append((number, cells))
    return rows


def _cells(line):
    line = line.strip()
    if not line.startswith("|"):
        return None
    return re.split(r"(?<!\\)\|", line[1:])


def check(markdown, messages=None):
    """Problems of the documentation against the code, as lines (empty: complete)."""
    messages = catalogue() if messages is None else messages
    return missing(markdown, messages) + stale(markdown, messages)


def missing(markdown, messages):
    """The messages the documentation does not explain, as lines naming file:line."""
    spans = code_spans(markdown)
    problems = []
    for message in messages:
        if message.kind in REASON_SOURCES:
            continue
        if message.opaque:
            if opaque_reason(message) is None:
                problems.append("%s: message without literal text (%s): quote the text the "
                                "operator sees instead, or add it to OPAQUE in tools/error_catalog.py"
                                % (message.where, message.source))
            continue
        if not message.found_in(spans):
            problems.append("%s: no entry quotes %r" % (message.where, message.stem or message.shown))
    for kind, (_path, title, column) in REASON_SOURCES.items():
        text, _offset = section(markdown, title)
        rows = [(code_spans(cells[0]), code_spans("|".join(cells[1:])))
                for _number, cells in table_rows(text, column)]
        for message in (m for m in messages if m.kind == kind):
            row = next((spans for keys, spans in rows if keys == [message.source]), None)
            if row is None:
                problems.append("%s: %s `%s` has no row in the table under '%s'"
                                % (message.where, kind, message.source, title))
            elif message.template not in row:
                problems.append("%s: the row of %s `%s` does not quote its text %r"
                                % (message.where, kind, message.source, message.template))
    return problems


def stale(markdown, messages):
    """Entries of the documentation the code no longer has."""
    problems = []
    quotable = [m for m in messages if m.kind not in REASON_SOURCES and not m.opaque]
    for number, cells in table_rows(markdown, MESSAGE_COLUMN):
        cell_spans = code_spans(cells[0])
        if not cell_spans or not any(m.found_in(cell_spans) for m in quotable):
            problems.append("%s:%d: stale entry, no message in the code reads %s"
                            % (DOC, number, cells[0].strip()))
    for kind, (path, title, column) in REASON_SOURCES.items():
        keys = {m.source for m in messages if m.kind == kind}
        text, offset = section(markdown, title)
        for number, cells in table_rows(text, column, offset):
            for key in code_spans(cells[0]):
                if key not in keys:
                    problems.append("%s:%d: stale %s `%s` (not in REASONS of %s)"
                                    % (DOC, number, kind, key, path))
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true",
                        help="check %s against the code" % DOC)
    args = parser.parse_args(argv)
    messages = catalogue()
    counts = {}
    for message in messages:
        counts[message.kind] = counts.get(message.kind, 0) + 1
        if message.kind in REASON_SOURCES:
            quote = "%s: %s" % (message.source, message.template)
        elif message.opaque:
            quote = "(no literal text: %s)" % message.source
        else:
            quote = message.stem or message.shown
        print("%-8s  %-50s  %s" % (message.kind, message.where, quote))
    print("\n" + ", ".join("%d %s" % (n, kind) for kind, n in sorted(counts.items())))
    if args.check:
        problems = check((ROOT / DOC).read_text(), messages)
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
