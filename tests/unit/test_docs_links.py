"""The documentation's links resolve: in README.md, docs/*.md and the role READMEs, every
relative Markdown link points at a file or directory that exists, and every #anchor (in the
same file or another .md file) matches a heading's GitHub-style anchor.
"""

import re
from pathlib import Path
from urllib.parse import unquote

ROOT = Path(__file__).resolve().parents[2]
# so few that a checker which finds nothing cannot pass: README.md alone has more
MIN_LINKS = 40
MIN_ANCHORS = 15

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
INLINE_LINK = re.compile(r"!?\[((?:[^\[\]]|\[[^\[\]]*\])*)\]\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^ {0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)", re.M)
HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$")
HTML_ID = re.compile(r"<a\s[^>]*(?:name|id)=\"([^\"]+)\"", re.I)
SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*:", re.I)


def documents(root=ROOT):
    return sorted([root / "README.md", *root.glob("docs/*.md"), *root.glob("roles/*/README.md"),
                   *root.glob("tests/roles/*/README.md")])


def prose(text):
    """The text outside fenced code blocks, line for line (code lines blanked)."""
    lines, fence = [], None
    for line in text.splitlines():
        found = FENCE.match(line)
        if fence:
            if found and found.group(1)[0] == fence[0] and len(found.group(1)) >= len(fence):
                fence = None
            lines.append("")
        elif found:
            fence = found.group(1)
            lines.append("")
        else:
            lines.append(line)
    return "\n".join(lines)


def slug(heading):
    """GitHub's anchor for a heading: its text lower-cased, punctuation dropped, spaces to
    hyphens (a link or code span counts by its text)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)
    text = re.sub(r"<[^>]+>", "", text).replace("`", "").lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(path):
    """Every anchor of a Markdown file: one per heading (repeats get -1, -2, ...), and HTML ids."""
    found, seen = set(), {}
    text = prose(path.read_text())
    for line in text.splitlines():
        heading = HEADING.match(line)
        if heading:
            base = slug(heading.group(2))
            count = seen.get(base, 0)
            seen[base] = count + 1
            found.add(base if count == 0 else "%s-%d" % (base, count))
    found.update(HTML_ID.findall(text))
    return found


def links(path):
    """(line number, target) of every link in a Markdown file, code excluded."""
    text = CODE_SPAN.sub(lambda m: re.sub(r"[^\n]", " ", m.group(0)), prose(path.read_text()))
    found = [(m.start(), m.group(2)) for m in INLINE_LINK.finditer(text)]
    found += [(m.start(), m.group(1)) for m in REFERENCE.finditer(text)]
    return sorted((text.count("\n", 0, start) + 1, target.strip("<>")) for start, target in found)


def broken(paths, root=ROOT):
    """(problems, number of relative links checked, number of anchors checked)."""
    problems, checked, anchored, cache = [], 0, 0, {}
    for path in paths:
        for line, target in links(path):
            if SCHEME.match(target):
                continue  # a web address or mailto: not checked here
            checked += 1
            where = "%s:%d: %s" % (path.relative_to(root), line, target)
            file_part, _, anchor = target.partition("#")
            file_part = unquote(file_part)
            if not file_part:
                dest = path
            elif file_part.startswith("/"):
                dest = root / file_part.lstrip("/")
            else:
                dest = path.parent / file_part
            if not dest.exists():
                problems.append("%s: no such file" % where)
                continue
            if not anchor:
                continue
            if dest.suffix != ".md" or not dest.is_file():
                problems.append("%s: an anchor into a file that is not Markdown" % where)
                continue
            anchored += 1
            if dest not in cache:
                cache[dest] = anchors(dest)
            if unquote(anchor) not in cache[dest]:
                problems.append("%s: no heading with anchor #%s in %s"
                                % (where, anchor, dest.relative_to(root)))
    return problems, checked, anchored


def test_every_link_of_the_documentation_resolves():
    paths = documents()
    assert ROOT / "README.md" in paths and any(p.parent.name == "docs" for p in paths)
    assert any(p.parent.parent.name == "roles" for p in paths)
    problems, checked, anchored = broken(paths)
    assert not problems, "\n".join(problems)
    assert checked >= MIN_LINKS, "only %d relative links found" % checked
    assert anchored >= MIN_ANCHORS, "only %d anchors found" % anchored


def test_the_readme_links_every_guide_and_every_role_readme():
    targets = {target.partition("#")[0] for _, target in links(ROOT / "README.md")}
    for guide in sorted((ROOT / "docs").glob("*.md")):
        assert "docs/%s" % guide.name in targets, guide.name
    for readme in sorted(ROOT.glob("roles/*/README.md")):
        assert str(readme.relative_to(ROOT)) in targets, readme


def test_anchors_follow_github():
    assert slug("Restart record, probe, rollback") == "restart-record-probe-rollback"
    assert slug("The `ansible.windows` collection") == "the-ansiblewindows-collection"
    assert slug("AWX / Ansible Automation Platform") == "awx--ansible-automation-platform"
    assert slug("Entry point `sm_server`") == "entry-point-sm_server"
    assert slug("The SM stand-in (a test double)") == "the-sm-stand-in-a-test-double"
    assert slug("[Linked](x.md) heading") == "linked-heading"


def test_the_checker_finds_missing_files_and_anchors(tmp_path):
    """The checker itself, on a small tree: every kind of broken link is reported, and only
    those; links in code are not links."""
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "guide.md").write_text(
        "# Guide\n\n## Step one\n\n## Step one\n\n<a id=\"custom\"></a>\n\n"
        "```\n## Not a heading\n[not a link](gone-in-code.md)\n```\n")
    (tmp_path / "notes.txt").write_text("plain\n")
    (tmp_path / "README.md").write_text(
        "# Top\n\n## Local part\n\n"
        "[ok](docs/guide.md) [ok](docs/guide.md#step-one) [ok](docs/guide.md#step-one-1)\n"
        "[ok](docs/guide.md#custom) [ok](#local-part) [ok](docs/) [ok](notes.txt)\n"
        "[web](https://example.com/missing.md) `[code](gone-in-span.md)`\n"
        "[missing file](docs/absent.md)\n"
        "[missing anchor](docs/guide.md#step-two)\n"
        "[missing local anchor](#nowhere)\n"
        "[code heading](docs/guide.md#not-a-heading)\n"
        "[anchor into text](notes.txt#x)\n"
        "[ref]: docs/also-absent.md\n")
    problems, checked, anchored = broken([tmp_path / "README.md"], root=tmp_path)
    assert problems == [
        "README.md:8: docs/absent.md: no such file",
        "README.md:9: docs/guide.md#step-two: no heading with anchor #step-two in docs/guide.md",
        "README.md:10: #nowhere: no heading with anchor #nowhere in README.md",
        "README.md:11: docs/guide.md#not-a-heading: no heading with anchor #not-a-heading in "
        "docs/guide.md",
        "README.md:12: notes.txt#x: an anchor into a file that is not Markdown",
        "README.md:13: docs/also-absent.md: no such file",
    ]
    assert checked == 13 and anchored == 7


def test_the_report_guide_lists_every_finding_as_the_engine_defines_it():
    """docs/report.md's findings table is FINDINGS of plugins/module_utils/smtls_findings.py:
    the same codes, severities and meanings (code spans aside)."""
    from ansible.module_utils import smtls_findings as engine

    rows = re.findall(r"^\| (critical|warning|info) \| `(\w+)` \| (.*) \|$",
                      (ROOT / "docs" / "report.md").read_text(), re.M)
    documented = {code: (severity, meaning.replace("`", "")) for severity, code, meaning in rows}
    assert len(rows) == len(documented), "a finding is listed twice"
    assert documented == dict(engine.FINDINGS)
