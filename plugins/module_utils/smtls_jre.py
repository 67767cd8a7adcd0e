# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The JRE an SM installation runs: its version and the TLS protocols it can enable.

SM reads sslEnabledProtocols at start-up and hands the list to JSSE; a JRE without TLS 1.3
(Java 8 before 8u261, Java 9 and 10) refuses the name and the servlet does not start. So the
version is read from the JRE itself - its `release` file, else `java -version` - never assumed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

# "1.8.0_202", "1.8.0_392-b08", "11.0.21", "17", "21.0.1+12"
_VERSION = re.compile(r"^(?:1\.(?P<legacy>[0-9]+)\.[0-9]+(?:_(?P<update>[0-9]+))?"
                      r"|(?P<major>[0-9]+)(?:\.[0-9]+)*)")
_RELEASE_LINE = re.compile(r'^JAVA_VERSION\s*=\s*"?([^"\s]+)"?\s*$', re.M)
_JAVA_VERSION_OUTPUT = re.compile(r'version\s+"([^"]+)"')

# JSSE gained TLS 1.3 in Java 11, and in Java 8 with update 261 (Oracle 8u261, OpenJDK 8u272
# ships it too; 261 is the earliest build that has it).
TLS13_JAVA8_UPDATE = 261


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


def supports_tls13(version):
    """Whether a JRE of this (major, update) can enable TLSv1.3."""
    major, update = version
    return major >= 11 or (major == 8 and update >= TLS13_JAVA8_UPDATE)


def protocols_for(requested, jre=None):
    """The protocols a server whose JRE is jre (as detect() reads it) is given.

    `auto` gives TLSv1.2 and TLSv1.3 where the JRE has TLS 1.3, and TLSv1.2 alone where it
    has not or its version is unknown (the one value the vendor documents); a list is the
    operator's and is taken as given (the preflight judges it), anything else is none (the
    preflight refuses it, naming the variable)."""
    if requested is None or requested == "auto":
        return ["TLSv1.2", "TLSv1.3"] if (jre or {}).get("tls13") else ["TLSv1.2"]
    return list(requested) if isinstance(requested, (list, tuple)) else []


def version_from_release(data):
    match = _RELEASE_LINE.search(data)
    return match.group(1) if match else None


def version_from_java_output(data):
    match = _JAVA_VERSION_OUTPUT.search(data)
    return match.group(1) if match else None


def detect(jre_dir, run_java):
    """What the JRE under jre_dir is: {home, found, version, source, tls13}.

    source is `release` (the JRE's release file), `java -version`, or `none` when neither
    tells; tls13 is None when the version is unknown. run_java(argv) returns (rc, text).
    """
    info = dict(home=jre_dir, found=os.path.isdir(jre_dir), version="", source="none", tls13=None)
    if not info["found"]:
        return info
    release = os.path.join(jre_dir, "release")
    version = None
    if os.path.isfile(release):
        with open(release, "rb") as handle:
            version = version_from_release(handle.read().decode("utf-8", "replace"))
        if version:
            info["source"] = "release"
    java = os.path.join(jre_dir, "bin", "java")
    if not version and os.access(java, os.X_OK):
        rc, text = run_java([java, "-version"])
        version = version_from_java_output(text) if rc == 0 else None
        if version:
            info["source"] = "java -version"
    parsed = parse_version(version)
    if parsed:
        info.update(version=version, tls13=supports_tls13(parsed))
    else:
        info["source"] = "none"
    return info
