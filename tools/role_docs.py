#!/usr/bin/env python3
"""The role variable tables of README.md, rendered from each role's meta/argument_specs.yml.

    python tools/role_docs.py            print the rendered blocks
    python tools/role_docs.py --check    fail when README.md is out of date or a spec is incomplete
    python tools/role_docs.py --write    update README.md; a new role's block is added at the
                                         end of its "## Variables" section

Each role with an argument spec has one block in README.md between
``<!-- BEGIN role NAME -->`` and ``<!-- END role NAME -->``. The spec is the source: edit it
(and the role's defaults/main.yml), then run --write.

Besides the README, --check and --write hold each role to these rules:
  - every entry point has a short_description and every option a description;
  - every variable of defaults/main.yml is an option of the role's argument spec (or of the
    spec of a role that depends on it);
  - every option that is not required has a value: a default in the spec, in defaults/main.yml
    (the role's or a dependency's), or a commented "# name: ..." line there that says why it
    is deliberately unset (a secret from Vault, an input its callers give);
  - a default given both in the spec and in defaults/main.yml is the same.
"""

import argparse
import difflib
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## Variables"
BEGIN = "<!-- BEGIN role %s -->"
END = "<!-- END role %s -->"
# Ansible documentation markup -> Markdown.
MARKUP = [
    (re.compile(r"[ICMOV]\(([^)]*)\)"), lambda m: "`%s`" % m.group(1)
     if m.group(0)[0] != "I" else "*%s*" % m.group(1)),
    (re.compile(r"B\(([^)]*)\)"), r"**\1**"),
    (re.compile(r"U\(([^)]*)\)"), r"\1"),
    (re.compile(r"L\(([^,]*),[^)]*\)"), r"\1"),
]
UNSET = "—"


class Role:
    def __init__(self, path):
        self.path = path
        self.name = path.name
        self.specs = load_yaml(path / "meta" / "argument_specs.yml").get("argument_specs") or {}
        meta = load_yaml(path / "meta" / "main.yml")
        self.summary = (meta.get("galaxy_info") or {}).get("description", "")
        self.dependencies = [d["role"] if isinstance(d, dict) else d
                             for d in meta.get("dependencies") or []]
        defaults_file = path / "defaults" / "main.yml"
        text = defaults_file.read_text() if defaults_file.exists() else ""
        self.defaults = yaml.safe_load(text) or {} if text else {}
        # "# name: why it has no value" - deliberately unset, documented in the defaults file
        self.unset = set(re.findall(r"^#\s*([a-z][a-z0-9_]*):", text, re.M)) - set(self.defaults)

    def entry_points(self):
        """(name, spec), main first, then in file order."""
        names = sorted(self.specs, key=lambda n: n != "main")
        return [(n, self.specs[n] or {}) for n in names]

    def options(self):
        return {name: option for _, entry in self.entry_points()
                for name, option in (entry.get("options") or {}).items()}


def load_yaml(path):
    return (yaml.safe_load(path.read_text()) or {}) if path.exists() else {}


def load_roles(roles_dir):
    return {p.parents[1].name: Role(p.parents[1])
            for p in sorted(roles_dir.glob("*/meta/argument_specs.yml"))}


def all_defaults(role, roles):
    """Defaults a role sees: its dependencies' (recursively), then its own."""
    values, unset = {}, set()
    for dep in role.dependencies:
        if dep in roles:
            dep_values, dep_unset = all_defaults(roles[dep], roles)
            values.update(dep_values)
            unset |= dep_unset
    values.update(role.defaults)
    return values, (unset | role.unset) - set(values)


def problems(roles):
    found = []
    dependents = {name: {other.name for other in roles.values() if name in other.dependencies}
                  for name in roles}
    for role in roles.values():
        where = "roles/%s/meta/argument_specs.yml" % role.name
        defaults, unset = all_defaults(role, roles)
        for entry_name, entry in role.entry_points():
            if not entry.get("short_description"):
                found.append("%s: entry point %s has no short_description" % (where, entry_name))
            for name, option in (entry.get("options") or {}).items():
                option = option or {}
                if not text_of(option.get("description")):
                    found.append("%s: %s.%s has no description" % (where, entry_name, name))
                if option.get("required"):
                    continue
                if "default" in option:
                    if name in role.defaults and role.defaults[name] != option["default"]:
                        found.append("%s: %s.%s default %r, but defaults/main.yml has %r"
                                     % (where, entry_name, name, option["default"],
                                        role.defaults[name]))
                elif name not in defaults and name not in unset:
                    found.append("%s: %s.%s is optional but has no default: set it in "
                                 "defaults/main.yml, or add a line '# %s: <why unset>' there"
                                 % (where, entry_name, name, name))
        documented = set(role.options())
        for other in dependents[role.name]:
            documented |= set(roles[other].options())
        for name in sorted(set(role.defaults) - documented):
            found.append("roles/%s/defaults/main.yml: %s is not in the argument spec"
                         % (role.name, name))
    return found


def text_of(description):
    if isinstance(description, list):
        description = " ".join(str(d) for d in description)
    return " ".join(str(description or "").split())


def markdown(text):
    for pattern, replacement in MARKUP:
        text = pattern.sub(replacement, text)
    return text.replace("|", "\\|")


def code(value):
    """A value as a Markdown code span inside a table cell."""
    if isinstance(value, str):
        shown = value if value else '""'
    else:
        shown = yaml.safe_dump(value, default_flow_style=True, sort_keys=False,
                               width=1 << 20).strip()
        shown = shown[:-4] if shown.endswith("\n...") else shown
    shown = " ".join(shown.split()).replace("|", "\\|")
    fence = "``" if "`" in shown else "`"
    return "%s%s%s" % (fence, shown, fence)


def type_of(option):
    kind = option.get("type", "str")
    if kind == "list" and option.get("elements"):
        kind = "list of %s" % option["elements"]
    return kind


def table(options, defaults, unset):
    lines = ["| variable | type | default | required | description |",
             "|---|---|---|---|---|"]
    for name, option in options.items():
        option = option or {}
        if "default" in option:
            default = code(option["default"])
        elif name in defaults:
            default = code(defaults[name])
        else:
            default = UNSET
        description = markdown(text_of(option.get("description")))
        if option.get("choices"):
            description += " One of %s." % ", ".join(code(c) for c in option["choices"])
        if option.get("no_log"):
            description += " Secret (`no_log`)."
        lines.append("| `%s` | %s | %s | %s | %s |" % (
            name, type_of(option), default, "yes" if option.get("required") else "",
            description.strip()))
    return lines


def sentence(text):
    text = markdown(text_of(text))
    return text if not text or text[-1] in ".!?" else text + "."


def render(role, roles):
    defaults, unset = all_defaults(role, roles)
    entry_points = role.entry_points()
    main = role.specs.get("main") or {}
    title = main.get("short_description") or role.summary
    lines = [BEGIN % role.name, "", "**`%s`** — %s" % (role.name, sentence(title))]
    rendered = {}
    for name, entry in entry_points:
        options = entry.get("options") or {}
        if name != "main":
            lines += ["", "Entry point `%s` — %s" % (name, sentence(entry.get("short_description")))]
        same = next((other for other, opts in rendered.items() if opts == options), None)
        if same is not None:
            lines[-1] += " Its options are those of `%s`." % same
            continue
        rendered[name] = options
        if options:
            lines += [""] + table(options, defaults, unset)
        else:
            lines[-1] += " No options."
    return "\n".join(lines + ["", END % role.name])


def update(readme, blocks):
    """README text with every role block in place; new blocks at the end of the section."""
    text = readme
    for name in list(re.findall(r"<!-- BEGIN role ([\w-]+) -->", text)):
        if name not in blocks:
            text = re.sub(r"\n?%s.*?%s\n?" % (re.escape(BEGIN % name), re.escape(END % name)),
                          "\n", text, flags=re.S)
    for name, block in blocks.items():
        found = re.search("%s.*?%s" % (re.escape(BEGIN % name), re.escape(END % name)), text, re.S)
        if found:
            text = text[:found.start()] + block + text[found.end():]
            continue
        start = text.find("\n%s\n" % SECTION)
        if start < 0:
            raise SystemExit("README.md has no '%s' section" % SECTION)
        following = re.search(r"^## ", text[start + len(SECTION) + 2:], re.M)
        end = start + len(SECTION) + 2 + following.start() if following else len(text)
        head = text[:end].rstrip("\n")
        text = head + "\n\n" + block + "\n\n" + text[end:].lstrip("\n")
    return text


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="fail when README.md is out of date")
    mode.add_argument("--write", action="store_true", help="update README.md")
    parser.add_argument("--root", type=Path, default=ROOT, help="repository root")
    args = parser.parse_args(argv)

    roles = load_roles(args.root / "roles")
    blocks = {name: render(role, roles) for name, role in roles.items()}
    issues = problems(roles)
    readme_path = args.root / "README.md"
    readme = readme_path.read_text()
    wanted = update(readme, blocks)

    if not (args.check or args.write):
        print("\n\n".join(blocks.values()))
    elif args.write and wanted != readme:
        readme_path.write_text(wanted)
        print("README.md: role tables updated (%s)" % ", ".join(blocks))
    elif args.check and wanted != readme:
        missing = [n for n in blocks if (BEGIN % n) not in readme]
        issues.append("README.md is out of date%s: run python tools/role_docs.py --write"
                      % (" (no block for %s)" % ", ".join(missing) if missing else ""))
        sys.stdout.writelines(difflib.unified_diff(
            readme.splitlines(True), wanted.splitlines(True), "README.md", "README.md (wanted)"))
    for issue in issues:
        print("role_docs: %s" % issue, file=sys.stderr)
    return 1 if issues else 0


if __name__ == "__main__":
    sys.exit(main())
