# -*- coding: utf-8 -*-
"""Test helpers for the Molecule verify playbooks."""

import re


ANSI = re.compile(r"\x1b\[[0-9;]*m")


def smtls_recap(output):
    hosts = {}
    for line in ANSI.sub("", output).split("PLAY RECAP")[-1].splitlines():
        match = re.match(r"(\S+)\s+: ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", line)
        if match:
            hosts[match.group(1)] = {"ok": int(match.group(2)), "changed": int(match.group(3)),
                                     "unreachable": int(match.group(4)), "failed": int(match.group(5))}
    return hosts


def smtls_line_positions(prefixes, lines):
    """For each prefix, the index of the first line starting with it (-1 when none)."""
    return [next((i for i, line in enumerate(lines) if line.startswith(p)), -1) for p in prefixes]


class FilterModule(object):
    def filters(self):
        return {"smtls_recap": smtls_recap, "smtls_line_positions": smtls_line_positions}
