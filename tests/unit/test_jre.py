"""Reading the JRE an SM server runs (smtls_jre): the version decides whether TLSv1.3 may be
written to sslEnabledProtocols."""

import os
import stat

import pytest

from ansible.module_utils import smtls_jre as jre


@pytest.mark.parametrize("text,version,tls13", [
    ("1.8.0_202", (8, 202), False),
    ("1.8.0_261", (8, 261), True),
    ("1.8.0_392-b08", (8, 392), True),
    ("1.8.0", (8, 0), False),
    ("1.7.0_80", (7, 80), False),
    ("9.0.4", (9, 0), False),
    ("10", (10, 0), False),
    ("11.0.21", (11, 0), True),
    ("17", (17, 0), True),
    ("21.0.1+12", (21, 0), True),
])
def test_versions_and_tls13(text, version, tls13):
    assert jre.parse_version(text) == version
    assert jre.supports_tls13(version) is tls13


@pytest.mark.parametrize("text", ["", "abc", "1", None, "v17"])
def test_not_a_version(text):
    assert jre.parse_version(text) is None


def make_jre(tmp_path, release=None, java_output=None, java_rc=0):
    home = tmp_path / "jre"
    (home / "bin").mkdir(parents=True)
    if release is not None:
        (home / "release").write_text(release)
    if java_output is not None:
        java = home / "bin" / "java"
        java.write_text("#!/bin/sh\n")
        java.chmod(java.stat().st_mode | stat.S_IXUSR)
    calls = []

    def run_java(argv):
        calls.append(argv)
        return java_rc, java_output or ""
    return str(home), run_java, calls


def test_release_file_is_read_without_starting_a_jvm(tmp_path):
    home, run_java, calls = make_jre(tmp_path, 'IMPLEMENTOR="AdoptOpenJDK"\nJAVA_VERSION="1.8.0_202"\n',
                                     java_output='java version "17"')
    info = jre.detect(home, run_java)
    assert info == dict(home=home, found=True, version="1.8.0_202", source="release", tls13=False,
                        vendor="openjdk", vendor_source='release IMPLEMENTOR="AdoptOpenJDK"',
                        implementor="AdoptOpenJDK")
    assert calls == []


# (release file, java -version output, vendor, tls13): the vendor decides TLS 1.3 on Java 8 -
# Oracle 8u261 (JDK-8245485), OpenJDK 8u272 (JDK-8248721); an unknown vendor's Java 8 gets none
@pytest.mark.parametrize("release,output,vendor,tls13", [
    ('IMPLEMENTOR="AdoptOpenJDK"\nJAVA_VERSION="1.8.0_262"\n', None, "openjdk", False),
    ('IMPLEMENTOR="Red Hat, Inc."\nJAVA_VERSION="1.8.0_272"\n', None, "openjdk", True),
    ('JAVA_VERSION="1.8.0_262"\nBUILD_TYPE="commercial"\n', None, "oracle", True),
    ('JAVA_VERSION="1.8.0_251"\nBUILD_TYPE="commercial"\n', None, "oracle", False),
    ('IMPLEMENTOR="IBM Corporation"\nJAVA_VERSION="1.8.0_291"\n', None, "ibm", False),
    # Oracle's name alone: Oracle JDK or Oracle's OpenJDK build - java -version tells them apart
    ('IMPLEMENTOR="Oracle Corporation"\nJAVA_VERSION="1.8.0_265"\n',
     'java version "1.8.0_265"\nJava(TM) SE Runtime Environment', "oracle", True),
    ('IMPLEMENTOR="Oracle Corporation"\nJAVA_VERSION="1.8.0_265"\n',
     'openjdk version "1.8.0_265"\nOpenJDK Runtime Environment', "openjdk", False),
    ('IMPLEMENTOR="Oracle Corporation"\nJAVA_VERSION="1.8.0_265"\n', None, "unknown", None),
    ('JAVA_VERSION="1.8.0_202"\n', None, "unknown", False),
    ('IMPLEMENTOR="Oracle Corporation"\nJAVA_VERSION="17.0.9"\n', None, "unknown", True),
    ('IMPLEMENTOR="Eclipse Adoptium"\nJAVA_VERSION="10.0.2"\n', None, "openjdk", False),
])
def test_vendor_and_tls13(tmp_path, release, output, vendor, tls13):
    home, run_java, calls = make_jre(tmp_path, release, java_output=output)
    info = jre.detect(home, run_java)
    assert (info["vendor"], info["tls13"]) == (vendor, tls13), info
    # auto: TLSv1.3 only where the JRE surely has it
    assert ("TLSv1.3" in jre.protocols_for("auto", info)) is bool(tls13)
    # a JVM starts only where the release file leaves the vendor of a Java 8 open
    assert bool(calls) == (output is not None)


def test_fips_is_refused_on_openjdk_only():
    assert "does not support FIPS mode with OpenJDK" in jre.fips_problem(
        dict(home="/j", vendor="openjdk", vendor_source='release IMPLEMENTOR="Debian"'))
    assert jre.fips_problem(dict(vendor="oracle")) == jre.fips_problem(dict(vendor="ibm")) == ""


def test_java_version_when_the_release_file_does_not_tell(tmp_path):
    output = ('openjdk version "11.0.21" 2023-10-17\nOpenJDK Runtime Environment (build 11.0.21+9)\n')
    home, run_java, calls = make_jre(tmp_path, 'IMPLEMENTOR="x"\n', java_output=output)
    info = jre.detect(home, run_java)
    assert (info["version"], info["source"], info["tls13"]) == ("11.0.21", "java -version", True)
    assert calls == [[os.path.join(home, "bin", "java"), "-version"]]


@pytest.mark.parametrize("release,java_output,java_rc", [
    (None, None, 0),                 # no release file, no java
    ("JAVA_VERSION=\"weird\"\n", None, 0),
    (None, "Error: could not create the JVM", 1),
])
def test_unknown_version_says_so(tmp_path, release, java_output, java_rc):
    home, run_java, _calls = make_jre(tmp_path, release, java_output, java_rc)
    info = jre.detect(home, run_java)
    assert (info["found"], info["version"], info["source"], info["tls13"]) == (True, "", "none", None)


def test_missing_jre(tmp_path):
    info = jre.detect(str(tmp_path / "nowhere"), lambda argv: (0, ""))
    assert info["found"] is False and info["tls13"] is None
