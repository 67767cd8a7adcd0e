# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the filter plugins (plugins/filter/smtls_*.py) share, on the controller only: the loader
of this repository's module_utils, and how a filter reads the values Ansible hands it.

Ansible loads each filter file by its path, under a name of its own, so one filter file cannot
import another, and `ansible.module_utils` on the controller does not reach this directory (the
ansible.cfg `module_utils` setting is for what modules take to hosts). Each filter file loads
this one file by its path (the few lines of boot at its top) and everything else through
module_utils() here. No module imports this file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import importlib.util
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# `from ansible.module_utils import smtls_x` and `from ansible.module_utils.smtls_x import ...`,
# at the top of a file or inside a function (a lazy import)
_DEPENDENCY = re.compile(
    r"^\s*from\s+ansible\.module_utils(?:\.(smtls_\w+)\s+import|\s+import\s+(smtls_\w+))", re.M)
_LOADING = set()


def module_utils(name):
    """One of this repository's module_utils on the controller (modules get theirs from Ansible),
    registered as ansible.module_utils.<name>: the engines import one another so (smtls_ca does
    smtls_x509), and find the copy loaded here. The smtls module_utils it imports are loaded
    first, so the filter files may ask for their engines in any order. One already imported
    (the tests put this directory on ansible.module_utils' path) is the one returned."""
    qualified = "ansible.module_utils." + name
    if qualified in sys.modules:
        return sys.modules[qualified]
    path = os.path.join(HERE, name + ".py")
    _LOADING.add(name)
    try:
        with open(path) as source:
            for match in _DEPENDENCY.finditer(source.read()):
                dependency = match.group(1) or match.group(2)
                if dependency not in _LOADING:
                    module_utils(dependency)
        spec = importlib.util.spec_from_file_location(qualified, path)
        loaded = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(loaded)
    finally:
        _LOADING.discard(name)
    sys.modules[qualified] = loaded
    return loaded


def true(value):
    """A flag as a template may give it: True, "true", "yes", 1, "1"."""
    return str(value).lower() in ("true", "1", "yes")


def given(value):
    """A file argument as a module receives it: None when empty or omitted (Ansible's omit)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        return None
    return value


def is_undefined(value):
    """Whether value is Jinja's Undefined (a variable a host does not have)."""
    from jinja2 import Undefined

    return isinstance(value, Undefined)
