# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit the SSL parameters of SM's sm.ini and nothing else.

sm.ini holds one `name:value` per line. SM 9.50+ rewrites some credential lines
as `*name:<hex>`, encrypted under `smmasterkey`, when it starts. This editor:
  - changes, adds or removes only the lines of the parameters it is asked about,
    keeping every other line, comment, order and line ending;
  - never touches `smmasterkey`;
  - counts an encrypted password line as in sync when the caller says the
    keystore opens with the wanted password, and otherwise writes the new
    password in plain text for SM to encrypt at its next start;
  - masks credentials (and the master key) in everything it reports.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

from ansible.module_utils.smtls_files import (FileProblem, check_writable, mode_action,
                                              read_optional, wide_mode)

# Parameters SM 9.50+ encrypts at start (reference section 1.3); their values are masked.
ENCRYPTED_BY_SM = ("changeencrkey", "upgradeencralg", "encryptionkey", "sqllogin",
                   "ldapbindpass", "smtppassword", "keystorepass", "truststorepass",
                   "ssl_trustedclientspwd", "idmsigningkey")
MASTER_KEY = "smmasterkey"
MASK = "********"
# Any other parameter named like a credential is masked too (defence in depth: a site's own
# password parameters, whether smtls sets them, removes them or leaves them alone).
_SECRET_NAME = re.compile(r"pass|pwd|secret", re.I)
_LINE = re.compile(r"^(\s*)(\*?)([A-Za-z_][A-Za-z0-9_.\-]*):(.*)$")


class SmIniError(Exception):
    pass


class Line:
    """One physical line; `name` is None for comments, blanks and unparsed text."""

    def __init__(self, raw):
        self.raw = raw
        body = raw.rstrip("\r\n")
        self.ending = raw[len(body):]
        match = _LINE.match(body) if not body.lstrip().startswith("#") else None
        if match:
            self.encrypted = match.group(2) == "*"
            self.name = match.group(3)
            self.value = match.group(4)
        else:
            self.encrypted, self.name, self.value = False, None, None

    @property
    def key(self):
        return self.name.lower() if self.name else None


def parse(text):
    return [Line(raw) for raw in text.splitlines(True)]


def masked_line(line):
    """The line as it may be shown: values of credentials and the master key hidden."""
    if line.name and (line.encrypted or line.key in ENCRYPTED_BY_SM or line.key == MASTER_KEY
                      or _SECRET_NAME.search(line.name)):
        return "%s%s:%s" % ("*" if line.encrypted else "", line.name, MASK)
    return line.raw.rstrip("\r\n")


def masked_text(lines):
    return "".join(masked_line(line) + "\n" for line in lines)


def current_values(lines):
    """{name: value} of plain parameters (credentials masked) and the encrypted names."""
    values, encrypted = {}, []
    for line in lines:
        if not line.name:
            continue
        if line.encrypted:
            encrypted.append(line.name)
        values[line.name] = MASK if (line.encrypted or line.key in ENCRYPTED_BY_SM
                                     or line.key == MASTER_KEY) else line.value
    return values, encrypted


def _ending(lines):
    endings = [line.ending for line in lines if line.ending]
    return "\r\n" if endings and endings.count("\r\n") > len(endings) / 2 else "\n"


def plan(text, wanted, secret_names=(), in_sync=lambda name: False):
    """New text and actions for sm.ini.

    wanted: {name: value or None}; None removes the parameter.
    secret_names: names whose values must never be shown.
    in_sync(name): for an encrypted line, True when its keystore opens with the wanted
      password, so the encrypted value stands for it.
    Returns (new_text, actions, changed).
    """
    secrets = {n.lower() for n in secret_names} | set(ENCRYPTED_BY_SM)
    lines = parse(text)
    newline = _ending(lines)
    actions = []

    def show(name, value):
        return MASK if name.lower() in secrets or _SECRET_NAME.search(name) else value

    for name, value in wanted.items():
        if name.lower() == MASTER_KEY:
            raise SmIniError("smtls never edits smmasterkey (SM would no longer decrypt its "
                             "own values); remove it from the wanted parameters")
        if value is not None:
            value = str(value)
            if "\n" in value or "\r" in value:
                raise SmIniError("value of %s contains a line break" % name)
        matches = [i for i, line in enumerate(lines) if line.key == name.lower()]
        if value is None:
            for i in reversed(matches):
                actions.append("remove %s" % masked_line(lines[i]))
                del lines[i]
            continue
        if not matches:
            if lines and not lines[-1].ending:
                lines[-1] = Line(lines[-1].raw + newline)
            lines.append(Line("%s:%s%s" % (name, value, newline)))
            actions.append("add %s:%s" % (name, show(name, value)))
            continue
        first = matches[0]
        for i in reversed(matches[1:]):
            actions.append("remove duplicate %s" % masked_line(lines[i]))
            del lines[i]
        line = lines[first]
        if line.encrypted:
            if in_sync(name):
                continue
            actions.append("replace encrypted %s by the wanted value in plain text (SM "
                           "encrypts it at its next start)" % name)
        elif line.value == value and line.name == name:
            continue
        elif line.value == value:
            actions.append("respell %s as %s" % (line.name, name))
        else:
            actions.append("set %s:%s (was %s)" % (name, show(name, value),
                                                   show(name, line.value)))
        lines[first] = Line("%s%s:%s%s" % (re.match(r"\s*", line.raw).group(0), name, value,
                                          line.ending or newline))
    new_text = "".join(line.raw for line in lines)
    return new_text, actions, new_text != text


# The parameters sm_ini takes (sm_server_info's ini_plan takes the same, to plan in the same call
# that reads the installation).
FILE_OPTIONS = dict(
    path=dict(type="path", required=True),
    parameters=dict(type="dict", default={}),
    passwords=dict(type="dict", default={}, no_log=True),
    password_keystores=dict(type="dict", default={}, no_log=False),
    backup=dict(type="bool", default=False),
)


def _encodes(value, encoding):
    try:
        value.encode(encoding)
    except UnicodeEncodeError:
        return False
    return True


class FilePlan(object):
    """What sm_ini does to one sm.ini: `result` is what the module returns (without the
    write's backup_file), `data` the new bytes, `wide` the mode to cap (see wide_mode)."""

    def __init__(self, path, parameters, passwords=None, password_keystores=None, backup=False):
        passwords = passwords or {}
        password_keystores = password_keystores or {}
        if not os.path.isdir(os.path.dirname(path) or "."):
            raise FileProblem("the RUN directory %s does not exist: point sm_server_run_dir at the "
                              "RUN directory of the SM installation" % os.path.dirname(path))
        data = read_optional(path, "sm.ini")
        if data is None:
            raise FileProblem("%s does not exist: point sm_server_run_dir at the RUN directory "
                              "of the SM installation" % path)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        base = os.path.dirname(path)
        wanted = dict((k, None if v is None else str(v)) for k, v in parameters.items())
        wanted.update((k, str(v)) for k, v in passwords.items())

        def in_sync(name):
            target = password_keystores.get(name)
            if name not in passwords or not target:
                return False
            # imported here: only an encrypted password line needs the keystore code (and
            # cryptography), which otherwise costs every run of the module its import
            from ansible.module_utils.smtls_keystore_state import keystore_file_opens

            return keystore_file_opens(os.path.join(base, target), passwords[name])

        self.lines = parse(text)
        values, encrypted = current_values(self.lines)
        self.text, actions, self.written = plan(text, wanted, passwords.keys(), in_sync)
        self.data = None
        # the file keeps its encoding; what cannot be written is refused before any write
        encoding = "utf-8" if data == text.encode("utf-8") else "latin-1"
        if self.written:
            try:
                self.data = self.text.encode(encoding)
            except UnicodeEncodeError:
                names = [n for n, v in wanted.items() if v is not None and not _encodes(v, encoding)]
                raise FileProblem("%s is %s-encoded, and the new value of %s has characters "
                                  "%s lacks. Fix: choose a value within %s, or convert sm.ini "
                                  "to UTF-8 first" % (path, encoding, ", ".join(names) or "a "
                                                      "parameter", encoding, encoding))
            check_writable(path, "sm.ini", len(self.data), backup)
        self.wide = wide_mode(path, "sm.ini")
        self.result = dict(changed=self.written or bool(self.wide), written=self.written,
                           actions=actions + ([mode_action(self.wide)] if self.wide else []),
                           encrypted=encrypted, path=path,
                           master_key=any(line.key == MASTER_KEY for line in self.lines),
                           parameters=values)

    def diff(self):
        path = self.result["path"]
        return dict(before=masked_text(self.lines), after=masked_text(parse(self.text)),
                    before_header=path, after_header=path)
