"""tools/role_docs.py: README.md's role tables match every role's meta/argument_specs.yml, and
the specs agree with the roles' defaults. The tool itself is tested on a small repository.
"""

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOL = ROOT / "tools" / "role_docs.py"

spec = importlib.util.spec_from_file_location("role_docs", TOOL)
role_docs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(role_docs)

README = """# project

## Variables

Some prose.

## Tests

More prose.
"""


def test_readme_is_up_to_date_and_specs_are_complete():
    proc = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr


def test_every_role_with_a_spec_has_a_block():
    readme = (ROOT / "README.md").read_text()
    for path in (ROOT / "roles").glob("*/meta/argument_specs.yml"):
        name = path.parents[1].name
        assert role_docs.BEGIN % name in readme and role_docs.END % name in readme, name


def test_every_role_renders_in_ansible_doc():
    """ansible-doc -t role reads every spec, and shows every option of every entry point."""
    roles = role_docs.load_roles(ROOT / "roles")
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / "ansible.cfg"), ANSIBLE_NOCOLOR="1")
    proc = subprocess.run([str(Path(sys.executable).parent / "ansible-doc"), "-t", "role",
                           "-r", str(ROOT / "roles"), *roles], capture_output=True, text=True,
                          env=env, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    assert "[ERROR]" not in proc.stderr and "[WARNING]" not in proc.stderr, proc.stderr
    for name, role in roles.items():
        assert "(%s)" % (ROOT / "roles" / name) in proc.stdout, name
        for option in role.options():
            assert option in proc.stdout, (name, option)


def make_role(root, name, spec, defaults="---\n", deps=()):
    role = root / "roles" / name
    (role / "meta").mkdir(parents=True)
    (role / "defaults").mkdir()
    (role / "meta" / "argument_specs.yml").write_text(textwrap.dedent(spec))
    (role / "meta" / "main.yml").write_text(
        "---\ngalaxy_info:\n  description: %s role\ndependencies: [%s]\n" % (name, ", ".join(deps)))
    (role / "defaults" / "main.yml").write_text(textwrap.dedent(defaults))


GOOD_SPEC = """\
    ---
    argument_specs:
      main:
        short_description: Does a thing
        options:
          demo_path:
            type: path
            description: Where the thing lives, a|b.
          demo_password:
            type: str
            required: true
            no_log: true
            description: I(secret) for C(thing).
          demo_mode:
            type: str
            choices: [one, two]
            description: The mode.
      other:
        short_description: The same options again
        options: {}
"""
GOOD_DEFAULTS = """\
    ---
    demo_path: /opt/demo
    # demo_mode: unset - the thing chooses
"""


@pytest.fixture
def repo(tmp_path):
    (tmp_path / "README.md").write_text(README)
    make_role(tmp_path, "demo", GOOD_SPEC, GOOD_DEFAULTS)
    return tmp_path


def run(repo, *args):
    return role_docs.main(["--root", str(repo), *args])


def test_missing_block_fails_the_check_and_write_adds_it_at_the_end_of_the_section(repo, capsys):
    assert run(repo, "--check") == 1
    assert "no block for demo" in capsys.readouterr().err
    assert run(repo, "--write") == 0
    text = (repo / "README.md").read_text()
    assert text.index("Some prose.") < text.index(role_docs.BEGIN % "demo") \
        < text.index(role_docs.END % "demo") < text.index("## Tests")
    assert "| `demo_path` | path | `/opt/demo` |  | Where the thing lives, a\\|b. |" in text
    assert "| `demo_password` | str | — | yes | *secret* for `thing`. Secret (`no_log`). |" in text
    assert "One of `one`, `two`." in text
    assert "Entry point `other` — The same options again. No options." in text
    assert run(repo, "--check") == 0
    assert run(repo, "--write") == 0 and (repo / "README.md").read_text() == text


def test_a_block_edited_by_hand_is_out_of_date(repo, capsys):
    run(repo, "--write")
    readme = repo / "README.md"
    readme.write_text(readme.read_text().replace("/opt/demo", "/opt/other"))
    assert run(repo, "--check") == 1
    assert "README.md is out of date" in capsys.readouterr().err
    run(repo, "--write")
    assert "`/opt/demo`" in readme.read_text()


def test_blocks_stay_where_they_are_and_a_removed_role_loses_its_block(repo):
    make_role(repo, "zeta", GOOD_SPEC.replace("demo_", "zeta_"), GOOD_DEFAULTS.replace("demo_", "zeta_"))
    run(repo, "--write")
    readme = repo / "README.md"
    text = readme.read_text()
    assert text.index(role_docs.BEGIN % "demo") < text.index(role_docs.BEGIN % "zeta")
    # moved by hand: the tool keeps the order it finds
    zeta = text[text.index(role_docs.BEGIN % "zeta"):text.index(role_docs.END % "zeta")
                + len(role_docs.END % "zeta")]
    moved = text.replace(zeta + "\n\n", "").replace("Some prose.\n", "Some prose.\n\n" + zeta + "\n")
    readme.write_text(moved)
    assert run(repo, "--check") == 0
    for path in sorted((repo / "roles" / "zeta").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    (repo / "roles" / "zeta").rmdir()
    assert run(repo, "--check") == 1
    run(repo, "--write")
    assert "zeta" not in readme.read_text() and run(repo, "--check") == 0


@pytest.mark.parametrize("spec, defaults, problem", [
    (GOOD_SPEC.replace("            description: The mode.\n", ""), GOOD_DEFAULTS,
     "main.demo_mode has no description"),
    (GOOD_SPEC.replace("    short_description: The same options again\n", ""), GOOD_DEFAULTS,
     "entry point other has no short_description"),
    (GOOD_SPEC, GOOD_DEFAULTS + "    demo_extra: 1\n",
     "demo_extra is not in the argument spec"),
    (GOOD_SPEC, GOOD_DEFAULTS.replace("    # demo_mode: unset - the thing chooses\n", ""),
     "main.demo_mode is optional but has no default"),
    (GOOD_SPEC.replace("description: The mode.", "description: The mode.\n"
                       "            default: one"), GOOD_DEFAULTS + "    demo_mode: two\n",
     "main.demo_mode default 'one', but defaults/main.yml has 'two'"),
])
def test_spec_problems_are_reported(repo, capsys, spec, defaults, problem):
    (repo / "roles" / "demo" / "meta" / "argument_specs.yml").write_text(textwrap.dedent(spec))
    (repo / "roles" / "demo" / "defaults" / "main.yml").write_text(textwrap.dedent(defaults))
    assert run(repo, "--write") == 1
    assert problem in capsys.readouterr().err


def test_a_dependency_defaults_and_a_dependents_spec_count(repo):
    """A role's option may take its default from a dependency; a dependency's default may be
    documented by the role that depends on it (smtls_ssl_protocols: smtls / sm_server)."""
    make_role(repo, "base", """\
        ---
        argument_specs:
          helper:
            short_description: Helps
            options: {}
        """, "---\nbase_shared: [a, b]\n")
    make_role(repo, "top", """\
        ---
        argument_specs:
          main:
            short_description: Uses base
            options:
              base_shared:
                type: list
                elements: str
                description: From the base role.
        """, deps=("base",))
    assert run(repo, "--write") == 0
    assert "| `base_shared` | list of str | `[a, b]` |" in (repo / "README.md").read_text()
