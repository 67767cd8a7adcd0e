# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JRE an SM installation runs: its vendor, its version and the TLS protocols it can enable.

SM reads sslEnabledProtocols at start-up and hands the list to JSSE; a JRE without TLS 1.3
refuses the name and the servlet does not start. Which Java 8 update has TLS 1.3 depends on the
vendor (Oracle JDK 8u261, JDK-8245485; OpenJDK 8u272, JDK-8248721), and the vendor also decides
FIPS mode (SM supports it on the Oracle and IBM JREs, not on OpenJDK). So both are read from the
JRE itself - its `release` file (IMPLEMENTOR, BUILD_TYPE, JAVA_VERSION), else `java -version` -
never assumed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

# "1.8.0_202", "1.8.0_392-b08", "11.0.21", "17", "21.0.1+12"
_VERSION = re.compile(r"^(?:1\.(?P<legacy>[0-9]+)\.[0-9]+(?:_(?P<update>[0-9]+))?"
                      r"|(?P<major>[0-9]+)(?:\.[0-9]+)*)")
_RELEASE_FIELD = re.compile(r'^([A-Z_]+)\s*=\s*"?([^"\r\n]*?)"?\s*$', re.M)
_JAVA_VERSION_OUTPUT = re.compile(r'version\s+"([^"]+)"')

VENDORS = ("oracle", "openjdk", "ibm", "unknown")
# The first Java 8 update whose JSSE has TLS 1.3, by vendor: Oracle JDK 8u261 (JDK-8245485),
# OpenJDK 8u272 (JDK-8248721). IBM's Java 8 numbers its updates otherwise, and an unknown
# vendor could be either: on Java 8 they get TLSv1.2 alone.
TLS13_JAVA8_UPDATE = {"oracle": 261, "openjdk": 272}
TLS13_JAVA8_UPDATE_ANY = 261
# IMPLEMENTOR values of Oracle's name: Oracle JDK, and Oracle's own OpenJDK builds (jdk.java.net)
# alike - only BUILD_TYPE="commercial" or `java -version` ("Java(TM) SE") tells them apart.
_ORACLE_IMPLEMENTOR = "oracle corporation"


def parse_version(text):
    """(major, update) of a Java version string, or None when it is not one."""
    match = _VERSION.match((text or "").strip())
    if not match:
        return None
    if match.group("legacy") is not None:
        return int(match.group("legacy")), int(match.group("update") or 0)
    major = int(match.group("major"))
    if major < 2:
        return None
    return major, 0


def supports_tls13(version, vendor="oracle"):
    """Whether a JRE of this (major, update) and vendor can enable TLSv1.3: True, False, or None
    where it depends on a vendor not known (Java 8 from 8u261 by an unknown vendor)."""
    major, update = version
    if major >= 11:
        return True
    if major != 8:
        return False
    if vendor in TLS13_JAVA8_UPDATE:
        return update >= TLS13_JAVA8_UPDATE[vendor]
    return None if vendor == "unknown" and update >= TLS13_JAVA8_UPDATE_ANY else False


def vendor_from_release(fields):
    """(vendor, why) from the release file's fields, or (None, why) when only `java -version`
    can tell (an Oracle Corporation build without BUILD_TYPE, or no IMPLEMENTOR)."""
    implementor = fields.get("IMPLEMENTOR", "").strip()
    if fields.get("BUILD_TYPE", "").strip().lower() == "commercial":
        return "oracle", 'release BUILD_TYPE="commercial" (an Oracle JDK)'
    if "ibm" in implementor.lower():
        return "ibm", 'release IMPLEMENTOR="%s"' % implementor
    if implementor and implementor.lower() != _ORACLE_IMPLEMENTOR:
        # every other builder ships OpenJDK: Adoptium, Red Hat, Azul, Amazon, Debian, ...
        return "openjdk", 'release IMPLEMENTOR="%s"' % implementor
    return None, ('release IMPLEMENTOR="%s"' % implementor) if implementor else "release names no IMPLEMENTOR"


def vendor_from_java_output(text):
    """The vendor `java -version` names: "Java(TM) SE" is Oracle's, "OpenJDK" an OpenJDK build."""
    if "IBM" in text or "J9" in text:
        return "ibm"
    if "OpenJDK" in text:
        return "openjdk"
    if "Java(TM)" in text:
        return "oracle"
    return None


def protocols_for(requested, jre=None):
    """The protocols a server whose JRE is jre (as detect() reads it) is given.

    `auto` gives TLSv1.2 and TLSv1.3 where the JRE has TLS 1.3, and TLSv1.2 alone where it
    has not or its version is unknown (the one value the vendor documents); a list is the
    operator's and is taken as given (the preflight judges it), anything else is none (the
    preflight refuses it, naming the variable)."""
    if requested is None or requested == "auto":
        return ["TLSv1.2", "TLSv1.3"] if (jre or {}).get("tls13") else ["TLSv1.2"]
    return list(requested) if isinstance(requested, (list, tuple)) else []


def release_fields(data):
    """{FIELD: value} of a JRE's release file."""
    return {m.group(1): m.group(2) for m in _RELEASE_FIELD.finditer(data)}


def version_from_release(data):
    return release_fields(data).get("JAVA_VERSION") or None


def version_from_java_output(data):
    match = _JAVA_VERSION_OUTPUT.search(data)
    return match.group(1) if match else None


def detect(jre_dir, run_java):
    """What the JRE under jre_dir is: {home, found, version, source, vendor, vendor_source,
    implementor, tls13}.

    source is `release` (the JRE's release file), `java -version`, or `none` when neither
    tells; vendor is oracle, openjdk, ibm or unknown, and vendor_source says what told it; tls13
    is None when the version (or, on Java 8, the vendor) is unknown. `java -version` runs (one
    JVM start) only when the release file does not tell the version, or on Java 8 the vendor.
    run_java(argv) returns (rc, text)."""
    info = dict(home=jre_dir, found=os.path.isdir(jre_dir), version="", source="none", tls13=None,
                vendor="unknown", vendor_source="none", implementor="")
    if not info["found"]:
        return info
    release = os.path.join(jre_dir, "release")
    fields = {}
    if os.path.isfile(release):
        with open(release, "rb") as handle:
            fields = release_fields(handle.read().decode("utf-8", "replace"))
    version = fields.get("JAVA_VERSION") or None
    if version:
        info["source"] = "release"
    info["implementor"] = fields.get("IMPLEMENTOR", "")
    vendor, why = vendor_from_release(fields) if fields else (None, "no release file")
    java = os.path.join(jre_dir, "bin", "java")
    # the vendor decides TLS 1.3 on Java 8 only (and FIPS, which the installation read judges)
    vendor_matters = not vendor and (parse_version(version) or (8, 0))[0] == 8
    if (not version or vendor_matters) and os.access(java, os.X_OK):
        rc, text = run_java([java, "-version"])
        if rc == 0:
            if not version:
                version = version_from_java_output(text)
                if version:
                    info["source"] = "java -version"
            if not vendor:
                vendor = vendor_from_java_output(text)
                why = "java -version" if vendor else why
    info.update(vendor=vendor or "unknown", vendor_source=why)
    parsed = parse_version(version)
    if parsed:
        info.update(version=version, tls13=supports_tls13(parsed, info["vendor"]))
    else:
        info["source"] = "none"
    return info


def fips_problem(jre):
    """Why SM cannot run FIPS mode on this JRE (as detect() reads it), or ''. The vendor: "Service
    Manager does not support enabling FIPS mode with OpenJDK" - use the Oracle or IBM JRE."""
    if jre.get("vendor") == "openjdk":
        return ("fipsmode:1, but the JRE at %s is an OpenJDK build (%s), and SM does not support FIPS "
                "mode with OpenJDK. Fix: run SM on the Oracle or IBM JRE (sm_server_jre_dir), or turn "
                "fipsmode off" % (jre.get("home"), jre.get("vendor_source")))
    return ""


# Protocols JSSE knows (sslEnabledProtocols); below TLS 1.2 only on an explicit, warned opt-in.
TLS_PROTOCOLS = ("TLSv1.3", "TLSv1.2", "TLSv1.1", "TLSv1", "SSLv3")
LEGACY_PROTOCOLS = ("TLSv1.1", "TLSv1", "SSLv3")
# The cipher suites Java 11+ JSSE implements (SSLContext supported suites of OpenJDK 17): a
# name outside it is a typo or a suite the JRE cannot run, and SM would fail to start with it.
JSSE_CIPHER_SUITES = frozenset("""
TLS_AES_256_GCM_SHA384 TLS_AES_128_GCM_SHA256 TLS_CHACHA20_POLY1305_SHA256
TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384 TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
TLS_DHE_RSA_WITH_AES_256_GCM_SHA384 TLS_DHE_RSA_WITH_CHACHA20_POLY1305_SHA256
TLS_DHE_DSS_WITH_AES_256_GCM_SHA384 TLS_DHE_RSA_WITH_AES_128_GCM_SHA256
TLS_DHE_DSS_WITH_AES_128_GCM_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA384
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA384 TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256
TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256 TLS_DHE_RSA_WITH_AES_256_CBC_SHA256
TLS_DHE_DSS_WITH_AES_256_CBC_SHA256 TLS_DHE_RSA_WITH_AES_128_CBC_SHA256
TLS_DHE_DSS_WITH_AES_128_CBC_SHA256 TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA
TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA
TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA TLS_DHE_RSA_WITH_AES_256_CBC_SHA TLS_DHE_DSS_WITH_AES_256_CBC_SHA
TLS_DHE_RSA_WITH_AES_128_CBC_SHA TLS_DHE_DSS_WITH_AES_128_CBC_SHA TLS_RSA_WITH_AES_256_GCM_SHA384
TLS_RSA_WITH_AES_128_GCM_SHA256 TLS_RSA_WITH_AES_256_CBC_SHA256 TLS_RSA_WITH_AES_128_CBC_SHA256
TLS_RSA_WITH_AES_256_CBC_SHA TLS_RSA_WITH_AES_128_CBC_SHA TLS_EMPTY_RENEGOTIATION_INFO_SCSV
""".split())


def tls_problems(protocols, ciphers, allow_legacy=False, check_ciphers=True, jre=None, service="SM"):
    """What is wrong with the SSL protocol and cipher lists, one sentence each with its fix
    ([] when nothing is). protocols is `auto` or a list; jre is what sm_server_info (or
    sm_webtier_info, with service Tomcat) read."""
    problems = []
    if isinstance(protocols, str):
        if protocols != "auto":
            problems.append("smtls_ssl_protocols: '%s' is neither auto nor a list of protocols. "
                            "Fix: auto, or a list such as [TLSv1.2, TLSv1.3]" % protocols)
        protocols = []
    jre = jre or {}
    if "TLSv1.3" in protocols and jre.get("tls13") is False:
        problems.append("smtls_ssl_protocols: TLSv1.3 is not a protocol the JRE %s runs can "
                        "enable (%s: %s Java %s; TLS 1.3 needs Java 11, or Java 8 from 8u261 on Oracle "
                        "and 8u272 on OpenJDK), so %s would not start. Fix: smtls_ssl_protocols: auto, "
                        "or remove TLSv1.3 (or upgrade the JRE first)" % (
                            service, jre.get("home"), jre.get("vendor", "unknown"), jre.get("version"),
                            service))
    unknown = [p for p in protocols or [] if p not in TLS_PROTOCOLS]
    if unknown:
        problems.append("smtls_ssl_protocols: %s is not a protocol JSSE knows (use %s)"
                        % (", ".join(unknown), ", ".join(TLS_PROTOCOLS[:2])))
    legacy = [p for p in protocols or [] if p in LEGACY_PROTOCOLS]
    if legacy and not allow_legacy:
        problems.append("smtls_ssl_protocols: %s is older than TLS 1.2 and refused. Fix: remove "
                        "it, or set smtls_ssl_allow_legacy_protocols: true to accept the risk"
                        % ", ".join(legacy))
    if protocols and not [p for p in protocols if p not in LEGACY_PROTOCOLS]:
        problems.append("smtls_ssl_protocols: at least TLSv1.2 or TLSv1.3 must be enabled")
    if check_ciphers and isinstance(ciphers, list):  # auto: the JVM's own suites
        bad = [c for c in ciphers if c not in JSSE_CIPHER_SUITES]
        if bad:
            problems.append("smtls_ssl_ciphers: %s is not a cipher suite the JRE implements "
                            "(JSSE names, e.g. TLS_AES_128_GCM_SHA256). Fix the name, or set "
                            "smtls_ssl_check_ciphers: false for a JRE with other suites"
                            % ", ".join(bad))
    return problems
