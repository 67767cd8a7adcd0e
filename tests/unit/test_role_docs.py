"""tools/role_docs.py: every role's README.md is rendered from its meta/argument_specs.yml, and
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

README = "# project\n\nThe main README; the tool never touches it.\n"


def test_role_readmes_are_up_to_date_and_specs_are_complete():
    proc = subprocess.run([sys.executable, str(TOOL), "--check"], capture_output=True, text=True,
                          cwd=ROOT)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr


def test_every_role_has_a_readme_with_every_option():
    roles = role_docs.find_roles(ROOT)
    assert {"smtls_ca", "smtls", "smtls_fleet", "sm_server", "sm_webtier", "sm_windows_client",
            "sm_sample"} <= set(roles)
    for name, role in roles.items():
        readme = (role.path / "README.md").read_text()
        assert readme.startswith("# Role `%s`\n" % name), name
        assert role.options(), name
        for option in role.options():
            assert "| `%s` |" % option in readme, (name, option)


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


def make_role(root, name, spec, defaults="---\n", deps=(), where="roles"):
    role = root / where / name
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
        description:
          - The first paragraph.
          - The second one, with C(code).
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


def test_a_missing_readme_fails_the_check_and_write_renders_it(repo, capsys):
    page = repo / "roles" / "demo" / "README.md"
    assert run(repo, "--check") == 1
    assert "roles/demo/README.md is missing" in capsys.readouterr().err
    assert not page.exists(), "--check wrote a file"
    assert run(repo, "--write") == 0
    text = page.read_text()
    assert text.startswith("# Role `demo`\n")
    assert "\ndemo role.\n" in text  # the description of meta/main.yml
    assert "Part of [smtls](../../README.md)." in text
    assert text.index("## Entry point `main`") < text.index("## Entry point `other`")
    assert "\nDoes a thing.\n\nThe first paragraph.\n\nThe second one, with `code`.\n" in text
    assert "| `demo_path` | path | `/opt/demo` |  | Where the thing lives, a\\|b. |" in text
    assert "| `demo_password` | str | — | yes | *secret* for `thing`. Secret (`no_log`). |" in text
    assert "One of `one`, `two`." in text
    assert "## Entry point `other`\n\nThe same options again.\n\nNo options.\n" in text
    assert (repo / "README.md").read_text() == README
    assert run(repo, "--check") == 0
    assert run(repo, "--write") == 0 and page.read_text() == text
    assert capsys.readouterr().out.count("written") == 1  # the second --write wrote nothing


def test_a_readme_edited_by_hand_is_out_of_date(repo, capsys):
    run(repo, "--write")
    page = repo / "roles" / "demo" / "README.md"
    page.write_text(page.read_text().replace("/opt/demo", "/opt/other"))
    assert run(repo, "--check") == 1
    captured = capsys.readouterr()
    assert "roles/demo/README.md is out of date" in captured.err
    assert "-| `demo_path` | path | `/opt/other`" in captured.out  # the diff shows what differs
    run(repo, "--write")
    assert "`/opt/demo`" in page.read_text() and "/opt/other" not in page.read_text()


def test_every_role_of_roles_and_tests_roles_gets_one(repo, capsys):
    make_role(repo, "zeta", GOOD_SPEC.replace("demo_", "zeta_"),
              GOOD_DEFAULTS.replace("demo_", "zeta_"))
    make_role(repo, "double", GOOD_SPEC.replace("demo_", "double_"),
              GOOD_DEFAULTS.replace("demo_", "double_"), where="tests/roles")
    assert run(repo, "--write") == 0
    for where in ("roles/demo", "roles/zeta", "tests/roles/double"):
        assert (repo / where / "README.md").exists(), where
    assert "Part of [smtls](../../../README.md)." in \
        (repo / "tests" / "roles" / "double" / "README.md").read_text()
    (repo / "tests" / "roles" / "double" / "README.md").unlink()
    assert run(repo, "--check") == 1
    assert "tests/roles/double/README.md is missing" in capsys.readouterr().err


def test_entry_points_with_the_same_options_point_to_the_first(repo):
    (repo / "roles" / "demo" / "meta" / "argument_specs.yml").write_text(textwrap.dedent("""\
        ---
        argument_specs:
          main:
            short_description: Does a thing
            options:
              demo_path: {type: path, description: Where the thing lives.}
          single:
            short_description: One option
            options:
              demo_mode: {type: str, choices: [one, two], description: The mode.}
          again:
            short_description: The same option as single
            options:
              demo_mode: {type: str, choices: [one, two], description: The mode.}
        """))
    assert run(repo, "--write") == 0
    text = (repo / "roles" / "demo" / "README.md").read_text()
    assert "## Entry point `again`\n\nThe same option as single.\n\n" \
        "Its options are those of [`single`](#entry-point-single).\n" in text
    assert text.count("| `demo_mode` |") == 1 and text.count("| `demo_path` |") == 1


@pytest.mark.parametrize("joiner", ["-", "1.", "*", "#"])
def test_a_wrapped_line_never_starts_a_markdown_block(joiner):
    """Wrapped at 100 columns, but a word such as '-' stays on the line before it."""
    first = "x" * (role_docs.WIDTH - 1)
    assert role_docs.wrap(first + " ab y") == first + "\nab y"
    assert role_docs.wrap(first + " %s y" % joiner) == first + " %s\ny" % joiner


def test_a_role_without_an_argument_spec_is_reported(repo, capsys):
    (repo / "roles" / "bare" / "tasks").mkdir(parents=True)
    assert run(repo, "--write") == 1
    assert "roles/bare/meta/argument_specs.yml: missing" in capsys.readouterr().err
    assert "This role has no argument spec." in (repo / "roles" / "bare" / "README.md").read_text()


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
    assert "| `base_shared` | list of str | `[a, b]` |" in \
        (repo / "roles" / "top" / "README.md").read_text()
