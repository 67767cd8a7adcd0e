# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Desired-state engine behind the sm_keystore module.

Pure functions over bytes: given the keystore file as it is (or None) and what
it should contain, compute the new keystore, the list of actions and the
diff. The module only reads the file, calls plan(), and writes when told to.
Trusted certificates are matched by SHA-256 fingerprint, never by alias alone.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.module_utils import smtls_keystore as ks
from ansible.module_utils import smtls_x509 as pki
from ansible.module_utils.smtls_files import read_optional

# where sm_keystore keeps a new key until its certificate arrives (its pending_path default)
PENDING_SUFFIX = ".smtls-pending"

# The options that name the trusted certificates a store must hold and the entries it must not
# (sm_keystore's, sm_truststore's and the truststore plans'): plan() takes them as given.
TRUST_OPTIONS = dict(
    trusted_certs=dict(type="list", elements="dict", default=[], options=dict(
        alias=dict(type="str", required=True),
        pem=dict(type="str", required=True),
    )),
    absent=dict(type="list", elements="dict", default=[], options=dict(
        alias=dict(type="str"),
        sha256=dict(type="str"),
        subject=dict(type="str"),
        issuer=dict(type="str"),
    )),
)


class Plan:
    """What plan() decided: the keystore to write (if any) and why."""

    def __init__(self):
        self.keystore = None
        self.password = None
        self.actions = []
        self.csr = None
        self.pending_key = None      # a new key waiting for its certificate
        self.pending_used = False    # the pending key was installed
        self.key_created = False
        self.before_entries = None  # None: the file did not exist
        self.write = False

    @property
    def changed(self):
        return self.write

    @property
    def before(self):
        return listing_of(self.before_entries or [])

    @property
    def after(self):
        return listing_of(self.keystore.entries if self.keystore else [])


def entry_summary(entry):
    leaf = entry.leaf
    return {
        "alias": entry.alias,
        "kind": entry.kind,
        "subject": leaf.subject.rfc4514_string(),
        "issuer": leaf.issuer.rfc4514_string(),
        "sans": pki.sans_list(leaf),
        "not_after": pki.not_after(leaf).isoformat(),
        "sha256": pki.sha256_hex(leaf),
        "chain_length": len(entry.chain),
        "chain_sha256": [pki.sha256_hex(c) for c in entry.chain],
    }


def listing_of(entries):
    """Diff-friendly lines: names, fingerprints and dates, never key material."""
    lines = []
    for entry in entries:
        s = entry_summary(entry)
        lines.append("%s  %s  sha256=%s  subject=%s  not_after=%s  chain=%d" % (
            s["alias"], s["kind"], s["sha256"], s["subject"], s["not_after"][:10],
            s["chain_length"]))
    return lines


def _state(keystore):
    return [(e.alias.lower(), e.kind, tuple(pki.sha256_hex(c) for c in e.chain))
            for e in keystore.entries]


def keystore_file_opens(path, password):
    """True when the keystore file at path exists and opens with password (its integrity check
    and its key entries): how a password line that names a keystore is judged to be in sync."""
    data = read_optional(path, "keystore") if path else None
    if data is None:
        return False
    try:
        ks.load(data, password)
    except ks.KeystoreError:
        return False
    return True


def open_keystore(data, password, initial_passwords, path):
    """Load with password, else with each of initial_passwords (the passwords the store may still
    have instead, such as the vendor's). Returns (keystore, the password that opened it)."""
    if isinstance(initial_passwords, str):
        initial_passwords = [initial_passwords]
    try:
        for candidate in [password] + [p for p in initial_passwords or [] if p and p != password]:
            try:
                return ks.load(data, candidate), candidate
            except ks.WrongPassword:
                continue
        raise ks.WrongPassword(
            "%s: wrong store password (the integrity check failed). Fix: give the password "
            "the keystore was created with, or restore the file from its backup" % path)
    except (ks.CorruptKeystore, ks.UnsupportedKeystore) as exc:
        raise type(exc)("%s: %s. Fix: restore the file from its backup, or point the path "
                        "variable at a real keystore" % (path, exc))


def open_to_write(data, password, initial_passwords, path):
    """open_keystore for a write (sm_keystore, sm_truststore), which ends with the store under
    password: the initial passwords are tried first, then password - the order these modules
    always had (they were given the password the store has now first and the one it ends with
    second). An ordinary store opens with one password only, so there the order decides only how
    many tries it takes; a store that opens with more than one (a PKCS#12 file without an
    integrity MAC and with its certificates unencrypted opens with any) is taken to have the
    initial one, and is written again under password, with a MAC. Returns (keystore, the password
    that opened it)."""
    if isinstance(initial_passwords, str):
        initial_passwords = [initial_passwords]
    candidates = [p for p in initial_passwords or [] if p and p != password] + [password]
    return open_keystore(data, candidates[0], candidates[1:], path)


def _matches(entry, selector):
    leaf = entry.leaf
    return selector_matches(selector, entry.alias, lambda: pki.sha256_hex(leaf),
                            lambda: leaf.subject.rfc4514_string(), lambda: leaf.issuer.rfc4514_string())


def selector_matches(selector, alias, sha256, subject, issuer):
    """Whether an absent selector {alias, sha256, subject, issuer} names an entry: its alias, and
    callables giving its leaf's SHA-256 and DNs (worked out only when the selector asks)."""
    if selector.get("alias") and alias.lower() == selector["alias"].lower():
        return True
    if selector.get("sha256") and sha256() == _fp(selector["sha256"]):
        return True
    if selector.get("subject") and dn_key(subject()) == dn_key(selector["subject"]):
        return True
    if selector.get("issuer") and dn_key(issuer()) == dn_key(selector["issuer"]):
        return True
    return False


def in_place_pem(read, key_alias=None, chain="", trusted=None, **options):
    """in_place() with the chain and the trusted certificates as PEM ([{alias, pem}]): False
    whenever the read is missing or failed, or a PEM does not parse (the module reports it)."""
    if not isinstance(read, dict) or read.get("error") or read.get("skipped"):
        return False
    try:
        chain_sha256 = ([pki.sha256_hex(c) for c in pki.order_chain(pki.parse_pem_certs(chain, "chain"))]
                        if (chain or "").strip() else [])
        trusted_sha256 = [pki.sha256_hex(c) for item in trusted or []
                          for c in pki.parse_pem_certs(item["pem"], "trusted certificate")]
    except pki.PkiError:
        return False
    return in_place(read, key_alias=key_alias, chain_sha256=chain_sha256, trusted_sha256=trusted_sha256,
                    **options)


def in_place(read, key_alias=None, chain_sha256=(), trusted_sha256=(), exclusive=False,
             remove_other_keys=False, absent=(), store_type=None, mode=None, owner=None, group=None):
    """Whether plan() and the module's file arguments, given these options, would leave the
    keystore exactly as `read` found it - read (keystore_info) in this run, so the module that
    would change nothing need not run. read: {exists, password_used, pending, attributes,
    entries: entry_summary dicts}. chain_sha256: the key entry's chain as it should be (ordered);
    trusted_sha256: the trusted certificates that should be there. Conservative: anything not
    known from the read (a pending key, a symbolic mode) counts as not in place."""
    if not read.get("exists") or read.get("password_used") != "primary" or read.get("pending"):
        return False
    if store_type and read.get("type") != store_type:
        return False  # the module converts it
    keep = key_alias.lower() if key_alias else None
    entries = read.get("entries") or []
    wanted = set(trusted_sha256)
    for entry in entries:
        alias, kind = entry["alias"].lower(), entry["kind"]
        if any(selector_matches(sel, alias, lambda e=entry: e["sha256"], lambda e=entry: e["subject"],
                                lambda e=entry: e["issuer"]) for sel in absent):
            return False
        if kind == "private_key" and alias != keep and (remove_other_keys or exclusive):
            return False
        if exclusive and kind == "trusted_cert" and entry["sha256"] not in wanted:
            return False
    if keep:
        key = [e for e in entries if e["kind"] == "private_key" and e["alias"].lower() == keep]
        if not key or list(key[0].get("chain_sha256") or ()) != list(chain_sha256):
            return False
    if wanted - {e["sha256"] for e in entries if e["kind"] == "trusted_cert"}:
        return False
    found = read.get("attributes") or {}
    if mode is not None:
        # a string is octal as the module reads it ("0640"), an integer the mode itself
        if isinstance(mode, str):
            if not mode.isdigit():
                return False
            mode = int(mode, 8)
        if found.get("mode") != mode:
            return False
    elif found.get("mode") is None or found["mode"] & ~0o640:
        return False  # the module caps a wider mode
    return all(wanted_id in (None, "") or str(wanted_id) in found.get(which, ())
               for which, wanted_id in (("owner", owner), ("group", group)))


def dn_key(text):
    """A DN compared without regard to RDN order, spacing or attribute-name case."""
    parts, current, escaped = [], "", False
    for char in text:
        if escaped:
            current += char
            escaped = False
        elif char == "\\":
            current += char
            escaped = True
        elif char in ",+":
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    pairs = []
    for part in parts:
        name, _, value = part.strip().partition("=")
        pairs.append((name.strip().upper(), value.strip()))
    return tuple(sorted(pairs))


def _fp(value):
    return value.replace(":", "").strip().lower()


def _free_alias(keystore, alias, sha256):
    if keystore.get(alias) is None:
        return alias
    candidate = "%s-%s" % (alias, sha256[:8])
    n = 2
    while keystore.get(candidate) is not None:
        candidate = "%s-%s-%d" % (alias, sha256[:8], n)
        n += 1
    return candidate


def plan(data, spec, pending_data=None):
    """Decide the keystore's new content.

    data: current file bytes, or None when the file is absent.
    pending_data: bytes of the pending-key keystore, or None.
    spec keys: path, password (the one the store ends with), initial_passwords (those it may have
      now instead, tried first: open_to_write), store_type, pkcs12_profile, create,
      key (alias, generate, private_key, private_key_passphrase, chain, csr, csr_key),
      trusted [ {alias, cert} ], absent [ selectors ], exclusive, remove_other_keys.
    """
    result = Plan()
    converted = False
    path = spec["path"]
    target_password = spec["password"]
    if data is None:
        if not spec.get("create", True):
            raise ks.KeystoreError("%s does not exist and create is false" % path)
        keystore = ks.Keystore(spec.get("store_type") or "jks")
        current_password = target_password
        result.actions.append("create %s keystore" % keystore.store_type)
        before_state = None
    else:
        keystore, current_password = open_to_write(data, target_password,
                                                   spec.get("initial_passwords"), path)
        result.before_entries = list(keystore.entries)
        before_state = _state(keystore)
        if spec.get("store_type") and spec["store_type"] != keystore.store_type:
            result.actions.append("convert %s to %s" % (keystore.store_type, spec["store_type"]))
            keystore.store_type = spec["store_type"]
            converted = True
    result.password = target_password
    if current_password != target_password:
        result.actions.append("change the store password")

    key_spec = spec.get("key")
    keep_alias = key_spec["alias"].lower() if key_spec else None

    # 1. removals: by selector, then everything not wanted when exclusive
    wanted_fps = {pki.sha256_hex(t["cert"]) for t in spec.get("trusted", [])}
    for entry in list(keystore.entries):
        reason = None
        if any(_matches(entry, sel) for sel in spec.get("absent", [])):
            reason = "matches an absent selector"
        elif (spec.get("remove_other_keys") and entry.kind == "private_key"
              and entry.alias.lower() != keep_alias):
            reason = "not the managed key entry (one server certificate only)"
        elif spec.get("exclusive"):
            if entry.kind == "trusted_cert" and pki.sha256_hex(entry.cert) not in wanted_fps:
                reason = "not in the exclusive set"
            elif entry.kind == "private_key" and entry.alias.lower() != keep_alias:
                reason = "not in the exclusive set"
        if reason:
            keystore.remove(entry)
            result.actions.append("remove %s %s (sha256 %s): %s" % (
                entry.kind, entry.alias, pki.sha256_hex(entry.leaf), reason))

    # 2. the private-key entry
    if key_spec:
        _plan_key(keystore, key_spec, [target_password, current_password], pending_data, spec,
                  result)

    # 3. trusted certificates, by fingerprint
    present = {pki.sha256_hex(e.cert) for e in keystore.entries if e.kind == "trusted_cert"}
    for item in spec.get("trusted", []):
        fp = pki.sha256_hex(item["cert"])
        if fp in present:
            continue
        pki.check_current(item["cert"], "%s: trusted certificate %s" % (path, item["alias"]))
        alias = _free_alias(keystore, item["alias"], fp)
        keystore.put(ks.CertEntry(alias, item["cert"]))
        present.add(fp)
        result.actions.append("add trusted_cert %s (sha256 %s, %s)" % (
            alias, fp, item["cert"].subject.rfc4514_string()))

    result.keystore = keystore
    result.current_password = current_password
    if before_state is None:
        # a new file is written when it gets content, or when nothing but the
        # file itself was asked for (an empty truststore to fill later)
        result.write = bool(keystore.entries) or not (key_spec or spec.get("trusted"))
    else:
        result.write = (before_state != _state(keystore) or current_password != target_password
                        or converted)
    if key_spec and key_spec.get("csr_key") == "new" and not key_spec.get("chain"):
        # a request for a pending key leaves the keystore as it is: the password change and
        # everything else happen when the signed chain is installed (with a backup)
        result.write = False
        result.password = current_password
        result.actions = [a for a in result.actions if a.startswith("generate")]
    if not result.write:
        result.actions = [a for a in result.actions if not a.startswith("create ")]
    return result


def _supplied_key(key_spec, path):
    if not key_spec.get("private_key"):
        return None
    return pki.parse_pem_key(key_spec["private_key"], key_spec.get("private_key_passphrase"),
                             "%s: supplied private key" % path)


def _load_pending(pending_data, passwords):
    """The pending key, written under the target password (older runs: the current one)."""
    if pending_data is None:
        return None
    for password in passwords:
        try:
            pending = ks.load(pending_data, password)
            return pending.entries[0].private_key() if pending.entries else None
        except ks.KeystoreError:
            continue
    return None  # a pending key nobody can open is useless: a new one replaces it


def _plan_key(keystore, key_spec, passwords, pending_data, spec, result):
    path = spec["path"]
    alias = key_spec["alias"]
    entry = keystore.get(alias)
    if entry is not None and entry.kind != "private_key":
        raise ks.KeystoreError("%s: alias %r holds a trusted certificate, not a private key; "
                               "choose another key alias or remove that entry" % (path, alias))
    chain = key_spec.get("chain") or []
    supplied = _supplied_key(key_spec, path)
    pending = _load_pending(pending_data, passwords)

    if chain:
        leaf = chain[0]
        pki.check_chain(chain, "%s: certificate chain for %r" % (path, alias))
        installed = entry is not None and [pki.sha256_hex(c) for c in entry.chain] == [
            pki.sha256_hex(c) for c in chain]
        if not installed:
            for cert in chain:  # what is installed already stays; what is new must be current
                pki.check_current(cert, "%s: certificate chain for %r" % (path, alias))
        key = None
        if entry is not None and pki.key_matches(leaf, entry.private_key()):
            key = entry.private_key()
            if [pki.sha256_hex(c) for c in entry.chain] == [pki.sha256_hex(c) for c in chain]:
                _key_csr(entry.private_key(), key_spec, result)
                return
        elif supplied is not None and pki.key_matches(leaf, supplied):
            key = supplied
        elif pending is not None and pki.key_matches(leaf, pending):
            key = pending
            result.pending_used = True
        elif supplied is not None:
            raise pki.PkiError("%s: the certificate %s does not match the supplied private key"
                               % (path, leaf.subject.rfc4514_string()))
        else:
            raise pki.PkiError(
                "%s: the certificate %s matches neither the key of entry %r nor a pending key; "
                "request a CSR first (csr_key: new) or supply the matching private key"
                % (path, leaf.subject.rfc4514_string(), alias))
        new_entry = ks.KeyEntry(entry.alias if entry else alias, chain, key=key)
        keystore.put(new_entry)
        result.actions.append("install certificate chain for %s (leaf sha256 %s, issuer %s)" % (
            alias, pki.sha256_hex(leaf), leaf.issuer.rfc4514_string()))
        _key_csr(key, key_spec, result)
        return

    if supplied is not None:
        raise pki.PkiError("%s: a supplied private key needs its certificate chain" % path)
    csr_key = key_spec.get("csr_key", "current")
    if csr_key == "new":
        if pending is None:
            gen = key_spec.get("generate") or {}
            pending = pki.generate_key(gen.get("type", "rsa"), gen.get("size", 2048),
                                       gen.get("curve", "secp256r1"))
            result.actions.append("generate a new %s key for %s, kept aside until its "
                                  "certificate arrives" % (gen.get("type", "rsa"), alias))
        result.pending_key = pending
        _key_csr(pending, key_spec, result)
        return
    if entry is None:
        gen = key_spec.get("generate") or {}
        key = pki.generate_key(gen.get("type", "rsa"), gen.get("size", 2048),
                               gen.get("curve", "secp256r1"))
        csr_spec = key_spec.get("csr") or {}
        placeholder = pki.self_signed(key, csr_spec.get("common_name") or alias)
        keystore.put(ks.KeyEntry(alias, [placeholder], key=key))
        result.key_created = True
        result.actions.append("generate %s key pair %s with a self-signed placeholder" % (
            gen.get("type", "rsa"), alias))
        entry = keystore.get(alias)
    _key_csr(entry.private_key(), key_spec, result)


def _key_csr(key, key_spec, result):
    csr_spec = key_spec.get("csr")
    if csr_spec:
        result.csr = pki.csr_pem(pki.make_csr(
            key, csr_spec["common_name"], csr_spec.get("dns"), csr_spec.get("ips")))


def pending_keystore(key, store_type, password):
    """The pending key on disk: a one-entry keystore, encrypted like the real one."""
    store = ks.Keystore(store_type, [ks.KeyEntry("pending", [pki.self_signed(key, "pending")],
                                                 key=key)])
    return ks.dump(store, password)
