"""Every module's DOCUMENTATION matches its ARGUMENT_SPEC and renders in ansible-doc.

The checks validate-modules makes, for a repository that is not a collection: same option
names, types, defaults, choices, required flags and element types, recursively; EXAMPLES
and RETURN are valid YAML.
"""

import importlib
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
# every module file, whatever its name
MODULES = sorted(p.stem for p in (ROOT / "plugins" / "modules").glob("*.py")
                 if not p.stem.startswith("_"))
# Options every module gets from add_file_common_args / the files fragment.
FILE_OPTIONS = {"mode", "owner", "group", "seuser", "serole", "setype", "selevel",
                "unsafe_writes", "attributes"}


def compare(doc_options, spec, where):
    problems = []
    doc_options = doc_options or {}
    for name in sorted(set(spec) | set(doc_options)):
        if name not in doc_options:
            problems.append("%s.%s: in the argument spec, not documented" % (where, name))
            continue
        if name not in spec:
            problems.append("%s.%s: documented, not in the argument spec" % (where, name))
            continue
        doc, arg = doc_options[name], spec[name]
        if doc.get("type", "str") != arg.get("type", "str"):
            problems.append("%s.%s: type %s vs %s" % (where, name, doc.get("type"), arg.get("type")))
        if bool(doc.get("required")) != bool(arg.get("required")):
            problems.append("%s.%s: required differs" % (where, name))
        if doc.get("default") != arg.get("default") and not (
                doc.get("default") is None and arg.get("default") in (None, [], {})):
            problems.append("%s.%s: default %r vs %r" % (where, name, doc.get("default"),
                                                         arg.get("default")))
        if sorted(map(str, doc.get("choices") or [])) != sorted(map(str, arg.get("choices") or [])):
            problems.append("%s.%s: choices differ" % (where, name))
        if doc.get("elements") != arg.get("elements"):
            problems.append("%s.%s: elements differ" % (where, name))
        if arg.get("options") or doc.get("suboptions"):
            problems += compare(doc.get("suboptions"), arg.get("options") or {}, where + "." + name)
        if "description" not in doc:
            problems.append("%s.%s: no description" % (where, name))
    return problems


def _fragment(path):
    """A doc fragment file, imported as Ansible loads it (its strings may be built in Python)."""
    spec = importlib.util.spec_from_file_location("smtls_doc_fragment_" + path.stem, path)
    loaded = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(loaded)
    return loaded


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_argument_spec(name):
    module = importlib.import_module(name)
    doc = yaml.safe_load(module.DOCUMENTATION)
    assert doc["module"] == name
    spec = dict(module.ARGUMENT_SPEC)
    options = dict(doc.get("options") or {})
    fragments = doc.get("extends_documentation_fragment") or []
    if "ansible.builtin.files" in fragments:
        spec = {k: v for k, v in spec.items() if k not in FILE_OPTIONS}
    for fragment in fragments:  # our own fragments, plugins/doc_fragments/<name>.py[.<attribute>]
        name, _dot, attribute = fragment.partition(".")
        path = ROOT / "plugins" / "doc_fragments" / ("%s.py" % name)
        if path.exists():
            loaded = _fragment(path)
            options.update(yaml.safe_load(getattr(loaded.ModuleDocFragment,
                                                  (attribute or "documentation").upper()))["options"])
    assert compare(options, spec, name) == []
    for section in ("EXAMPLES", "RETURN"):
        assert yaml.safe_load(getattr(module, section)), "%s.%s is empty or invalid" % (name, section)
    assert all(isinstance(d, str) for d in doc["description"]), "description items must be strings"


@pytest.mark.parametrize("name", MODULES)
def test_ansible_doc_renders(name):
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"))
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-M",
                           str(ROOT / "plugins" / "modules"), name], capture_output=True,
                          text=True, env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "[ERROR]" not in proc.stderr and "[WARNING]" not in proc.stderr, proc.stderr


# the other plugins that carry DOCUMENTATION (action, callback, lookup, ...): ansible-doc and
# ansible-lint read it, and a YAML error there is reported on every lint run, not as a failure
OTHER_PLUGINS = sorted(p for kind in ("action", "callback", "filter", "lookup", "inventory")
                       for p in (ROOT / "plugins" / kind).glob("*.py")
                       if "DOCUMENTATION" in p.read_text())


@pytest.mark.parametrize("path", OTHER_PLUGINS, ids=[p.parent.name + "/" + p.name for p in OTHER_PLUGINS])
def test_plugin_documentation_is_yaml_with_its_name(path):
    import ast

    tree = ast.parse(path.read_text())
    [text] = [node.value.value for node in tree.body if isinstance(node, ast.Assign)
              and any(getattr(t, "id", None) == "DOCUMENTATION" for t in node.targets)]
    doc = yaml.safe_load(text)
    assert isinstance(doc, dict) and doc.get("name") == path.stem, doc
    assert doc.get("short_description") and isinstance(doc.get("description"), list)
    for option, spec in (doc.get("options") or {}).items():
        assert isinstance(spec, dict) and spec.get("description"), (path.name, option)
