# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Edit the SM web tier's settings in place: webtier.properties, web.xml context
parameters, the pre-authentication filter of application-context.xml and the
tomcatAuthentication attribute of Tomcat's AJP connector.

Every edit is textual and local - the line or attribute concerned changes, the
rest of the file (comments, layout, other settings) stays as it is - and every
XML result is parsed before it may be written.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import xml.etree.ElementTree as ET

MASK = "********"
PRE_AUTH_FILTER = "preAuthenticationFilter"
# Names whose values are secrets wherever they appear (keystorePassword, masterKey, Tomcat's
# keystorePass / truststorePassword, ...): masked in every diff and action, whether smtls sets
# the value, removes it, or only shows it as context - a removed line is as secret as an added one.
_SECRET_WORDS = r"pass|pwd|secret|masterkey"
_SECRET_NAME = re.compile(_SECRET_WORDS, re.I)
_SECRET_ATTRIBUTE = re.compile(r"""(\s[\w:.-]*(?:%s)[\w:.-]*\s*=\s*)(["'])(.*?)\2""" % _SECRET_WORDS,
                               re.I | re.S)
_PARAM_PAIR = re.compile(r"(<param-name>\s*(.*?)\s*</param-name>\s*<param-value>)(.*?)(</param-value>)",
                         re.S)


class WebTierError(Exception):
    pass


def is_secret_name(name, secret_names=()):
    return name in secret_names or bool(_SECRET_NAME.search(name or ""))


def masked_xml(text):
    """XML as it may be shown: secret-named attributes and init/context parameters masked."""
    text = _SECRET_ATTRIBUTE.sub(lambda m: m.group(1) + m.group(2) + MASK + m.group(2), text)
    return _PARAM_PAIR.sub(lambda m: m.group(1) + (MASK if is_secret_name(m.group(2)) else m.group(3))
                           + m.group(4), text)


# --- webtier.properties ------------------------------------------------------------


def _logical_lines(text):
    """Group physical lines into logical ones (a trailing odd backslash continues)."""
    groups, current = [], []
    for raw in text.splitlines(True):
        current.append(raw)
        body = raw.rstrip("\r\n")
        trailing = len(body) - len(body.rstrip("\\"))
        if trailing % 2 == 0 or raw == body:  # no continuation, or the file ends here
            groups.append(current)
            current = []
    if current:
        groups.append(current)
    return groups


def _split_property(logical):
    """(key, raw value) of a logical line, or (None, None) for comments and blanks."""
    joined = ""
    for i, raw in enumerate(logical):
        body = raw.rstrip("\r\n")
        if i + 1 < len(logical):
            body = body[:-1]  # drop the continuation backslash
        joined += body.lstrip() if i else body
    stripped = joined.lstrip()
    if not stripped or stripped[0] in "#!":
        return None, None
    key, i = "", 0
    while i < len(stripped):
        char = stripped[i]
        if char == "\\" and i + 1 < len(stripped):
            key += stripped[i:i + 2]
            i += 2
            continue
        if char in "=: \t\f":
            break
        key += char
        i += 1
    rest = stripped[i:].lstrip(" \t\f")
    if rest[:1] in ("=", ":"):
        rest = rest[1:].lstrip(" \t\f")
    return _unescape(key), _unescape(rest)


def _unescape(text):
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            if nxt == "u" and i + 5 < len(text):
                try:
                    out.append(chr(int(text[i + 2:i + 6], 16)))
                    i += 6
                    continue
                except ValueError:
                    pass
            out.append({"t": "\t", "n": "\n", "r": "\r", "f": "\f"}.get(nxt, nxt))
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _escape(text, is_key=False):
    out = []
    for i, char in enumerate(text):
        if char == "\\":
            out.append("\\\\")
        elif char in "\t\n\r\f":
            out.append({"\t": "\\t", "\n": "\\n", "\r": "\\r", "\f": "\\f"}[char])
        elif char in "=:#!" and is_key:
            out.append("\\" + char)
        elif char == " " and (is_key or i == 0):
            out.append("\\ ")
        elif ord(char) > 0x7E:
            out.append("\\u%04x" % ord(char))
        else:
            out.append(char)
    return "".join(out)


def properties_values(text):
    return dict(_split_property(group) for group in _logical_lines(text)
                if _split_property(group)[0] is not None)


def plan_properties(text, wanted, secret_names=(), in_sync=lambda name, current: False):
    """wanted: {key: value or None}. Returns (new_text, actions)."""
    groups = _logical_lines(text)
    newline = "\r\n" if "\r\n" in text else "\n"
    actions = []
    secrets = set(secret_names)

    def show(key, value):
        return MASK if is_secret_name(key, secrets) else value

    for key, value in wanted.items():
        indexes = [i for i, g in enumerate(groups) if _split_property(g)[0] == key]
        if value is None:
            for i in reversed(indexes):
                actions.append("remove %s" % key)
                del groups[i]
            continue
        value = str(value)
        line = "%s=%s%s" % (_escape(key, True), _escape(value), newline)
        if not indexes:
            if groups and not groups[-1][-1].endswith("\n"):
                groups[-1][-1] += newline
            groups.append([line])
            actions.append("add %s=%s" % (key, show(key, value)))
            continue
        for i in reversed(indexes[1:]):
            actions.append("remove duplicate %s" % key)
            del groups[i]
        current = _split_property(groups[indexes[0]])[1]
        if current == value or (key in secrets and in_sync(key, current)):
            continue
        actions.append("set %s=%s (was %s)" % (key, show(key, value), show(key, current)))
        groups[indexes[0]] = [line]
    return "".join("".join(g) for g in groups), actions


def masked_properties(text, secret_names):
    lines = []
    for group in _logical_lines(text):
        key, _value = _split_property(group)
        if key is not None and is_secret_name(key, secret_names):
            lines.append("%s=%s" % (key, MASK))
        else:
            lines.append("".join(group).rstrip("\r\n"))
    return "\n".join(lines) + "\n"


# --- web.xml context parameters ---------------------------------------------------------

_CONTEXT_PARAM = re.compile(r"([ \t]*)<context-param>.*?</context-param>[ \t]*(\r?\n)?", re.S)
_PARAM_NAME = re.compile(r"<param-name>\s*(.*?)\s*</param-name>", re.S)
_PARAM_VALUE = re.compile(r"(<param-value>)(.*?)(</param-value>)", re.S)


def _xml_text(value):
    return (str(value).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"))


def _xml_unescape(value):
    return (value.replace("&lt;", "<").replace("&gt;", ">").replace("&quot;", '"')
            .replace("&apos;", "'").replace("&amp;", "&"))


_INIT_PARAM = re.compile(r"([ \t]*)<init-param>.*?</init-param>[ \t]*(\r?\n)?", re.S)


def _param_blocks(text, name):
    """[(kind, match)] of the <context-param> and <init-param> blocks named name, in order."""
    found = []
    for kind, pattern in (("context-param", _CONTEXT_PARAM), ("init-param", _INIT_PARAM)):
        for match in pattern.finditer(text):
            named = _PARAM_NAME.search(match.group(0))
            if named and named.group(1) == name:
                found.append((kind, match))
    return sorted(found, key=lambda item: item[1].start())


def _shown(name, value):
    return MASK if is_secret_name(name) else value


def plan_context_params(text, wanted):
    """wanted: {param-name: value or None} in web.xml, where the web tier reads a parameter
    as a <context-param> or as a servlet's <init-param>: every block of that name is set (a
    second <context-param> of one name is removed, so no name is left with two values), or
    removed with None; a name in neither form is added as a <context-param>."""
    actions = []
    for name, value in wanted.items():
        blocks = _param_blocks(text, name)
        if value is None:
            for kind, block in reversed(blocks):
                text = text[:block.start()] + text[block.end():]
                actions.append("remove %s %s" % (kind, name))
            continue
        value = str(value)
        if blocks:
            first_context, edits = next((b for k, b in blocks if k == "context-param"), None), []
            # from the end, so the offsets of the blocks before stay valid
            for kind, block in reversed(blocks):
                if kind == "context-param" and block is not first_context:
                    text = text[:block.start()] + text[block.end():]
                    edits.append("remove duplicate context-param %s" % name)
                    continue
                current = _PARAM_VALUE.search(block.group(0))
                if current and _xml_unescape(current.group(2).strip()) == value:
                    continue
                inner = block.group(0)
                if current:
                    new_block = inner[:current.start(2)] + _xml_text(value) + inner[current.end(2):]
                else:
                    new_block = inner.replace("</param-name>", "</param-name><param-value>%s"
                                              "</param-value>" % _xml_text(value), 1)
                text = text[:block.start()] + new_block + text[block.end():]
                was = _xml_unescape(current.group(2).strip()) if current else ""
                edits.append("set %s %s=%s (was %s)" % (kind, name, _shown(name, value),
                                                         _shown(name, was)))
            actions.extend(reversed(edits))
            continue
        end = text.rfind("</web-app>")
        if end < 0:
            raise WebTierError("no </web-app> element: not a web.xml")
        existing = list(_CONTEXT_PARAM.finditer(text))
        indent = existing[-1].group(1) if existing else "  "
        newline = "\r\n" if "\r\n" in text else "\n"
        block = ("%s<context-param>%s%s  <param-name>%s</param-name>%s%s  <param-value>%s"
                 "</param-value>%s%s</context-param>%s" % (
                     indent, newline, indent, _xml_text(name), newline, indent, _xml_text(value),
                     newline, indent, newline))
        insert_at = existing[-1].end() if existing else end
        text = text[:insert_at] + block + text[insert_at:]
        actions.append("add context-param %s=%s" % (name, _shown(name, value)))
    return text, actions


# --- application-context.xml: the pre-authentication filter ---------------------------------

_CHAIN_960 = re.compile(r'(<[\w:]*filter-chain\b[^>]*?\bpattern\s*=\s*"/\*\*"[^>]*?\bfilters\s*=\s*")'
                        r'([^"]*)(")', re.S)
_CHAIN_960_REVERSED = re.compile(r'(<[\w:]*filter-chain\b[^>]*?\bfilters\s*=\s*")([^"]*)'
                                 r'("[^>]*?\bpattern\s*=\s*"/\*\*")', re.S)
_CHAIN_941 = re.compile(r"(/\*\*\s*=\s*)([A-Za-z0-9_,\s]*[A-Za-z0-9_])()")


def plan_pre_authentication(text, enabled):
    """Add preAuthenticationFilter after the first filter of the /** chain, or take it out."""
    for pattern in (_CHAIN_960, _CHAIN_960_REVERSED, _CHAIN_941):
        match = pattern.search(text)
        if match:
            break
    else:
        raise WebTierError("no filter chain for pattern /** found (expected a filter-chain "
                           "element, or a /**=... line as in 9.41)")
    filters = [f.strip() for f in match.group(2).split(",") if f.strip()]
    present = PRE_AUTH_FILTER in filters
    if present == enabled:
        return text, []
    if enabled:
        filters.insert(1 if filters else 0, PRE_AUTH_FILTER)
        action = "add %s to the /** filter chain" % PRE_AUTH_FILTER
    else:
        filters = [f for f in filters if f != PRE_AUTH_FILTER]
        action = "remove %s from the /** filter chain" % PRE_AUTH_FILTER
    new = text[:match.start(2)] + ",".join(filters) + text[match.end(2):]
    return new, [action]


# --- Tomcat server.xml: tomcatAuthentication on the AJP connector ----------------------------

_AJP_CONNECTOR = re.compile(r'<Connector\b[^>]*\bprotocol\s*=\s*"(?:AJP/1\.3|[\w.]*Ajp\w*)"[^>]*>',
                            re.S)
_TOMCAT_AUTH = re.compile(r'\s+tomcatAuthentication\s*=\s*"[^"]*"')


_COMMENT = re.compile(r"<!--.*?-->", re.S)


def _uncommented(pattern, text, start=0, end=None):
    """pattern's matches in text[start:end] that lie outside XML comments (Tomcat's own
    server.xml ships its HTTPS and AJP connectors commented out)."""
    spans = [(m.start(), m.end()) for m in _COMMENT.finditer(text)]
    return [m for m in pattern.finditer(text, start, len(text) if end is None else end)
            if not any(a <= m.start() < b for a, b in spans)]


def plan_tomcat_authentication(text, value):
    """value False: tomcatAuthentication="false" on every AJP connector; True: Tomcat's default."""
    connectors = _uncommented(_AJP_CONNECTOR, text)
    if not connectors:
        if value:
            return text, []
        raise WebTierError("no AJP connector (protocol=\"AJP/1.3\") in server.xml: trusted "
                           "sign-on needs the front web server to reach Tomcat over AJP; add one")
    actions = []
    for match in reversed(connectors):
        tag = match.group(0)
        current = _TOMCAT_AUTH.search(tag)
        if value:
            if not current:
                continue
            new_tag = tag[:current.start()] + tag[current.end():]
            actions.append("remove tomcatAuthentication from the AJP connector")
        else:
            if current and current.group(0).split("=")[1].strip().strip('"') == "false":
                continue
            if current:
                new_tag = tag[:current.start()] + ' tomcatAuthentication="false"' + tag[current.end():]
            else:
                close = len(tag) - (2 if tag.endswith("/>") else 1)
                new_tag = tag[:close].rstrip() + ' tomcatAuthentication="false"' + tag[close:]
            actions.append('set tomcatAuthentication="false" on the AJP connector')
        text = text[:match.start()] + new_tag + text[match.end():]
    return text, actions


# --- Tomcat server.xml: the browser-side HTTPS connector -------------------------------------

_CONNECTOR_TAG = re.compile(r"<Connector\b[^>]*>", re.S)
_CONNECTOR_END = re.compile(r"</Connector\s*>")
_HOST_CONFIG_TAG = re.compile(r"<SSLHostConfig\b[^>]*>", re.S)
# Tomcat's defaults when server.xml names no keystore password or type
TOMCAT_KEYSTORE_PASSWORD = "changeit"
TOMCAT_KEYSTORE_TYPE = "JKS"


def _connectors(text):
    """[(start, end, element)] of every <Connector> outside comments, in file order."""
    found = []
    for tag in _uncommented(_CONNECTOR_TAG, text):
        end = tag.end()
        if not tag.group(0).endswith("/>"):
            close = _CONNECTOR_END.search(text, end)
            if not close:
                raise WebTierError("the <Connector> at offset %d of server.xml is not closed"
                                   % tag.start())
            end = close.end()
        try:
            element = ET.fromstring(text[tag.start():end])
        except ET.ParseError as exc:
            raise WebTierError("a <Connector> of server.xml does not parse (%s)" % exc)
        found.append((tag.start(), end, element))
    return found


def _serves_tls(connector):
    return connector.get("SSLEnabled", "false").strip().lower() == "true"


def _chosen_host_config(connector):
    """(index, element) of the SSLHostConfig Tomcat uses by default, or (None, None)."""
    hosts = [child for child in connector if child.tag == "SSLHostConfig"]
    if not hosts:
        return None, None
    default = connector.get("defaultSSLHostConfigName", "_default_")
    for index, host in enumerate(hosts):
        if host.get("hostName", "_default_") == default:
            return index, host
    return 0, hosts[0]


def https_connectors(text, catalina_base=None):
    """Every connector of server.xml that serves TLS (SSLEnabled="true"), in file order:
    {port, form, keystore_file, keystore_password, keystore_type, key_alias, protocols,
    certificate_files, host_configs}, and with catalina_base, keystore (keystore_file as Tomcat
    resolves it). form is SSLHostConfig (Tomcat 8.5+) or Connector (the older attributes on the
    connector itself); keystore_file is None where the connector serves PEM files or names no
    keystore (smtls manages Java keystores only)."""
    found = []
    for _start, _end, connector in _connectors(text):
        if not _serves_tls(connector):
            continue
        try:
            port = int(connector.get("port", ""))
        except ValueError:
            raise WebTierError("an HTTPS connector of server.xml has no numeric port (port=%r)"
                               % connector.get("port"))
        index, host = _chosen_host_config(connector)
        if host is not None:
            certificate = next((c for c in host if c.tag == "Certificate"), None)
            attrs = certificate.attrib if certificate is not None else {}
            entry = dict(form="SSLHostConfig", keystore_file=attrs.get("certificateKeystoreFile"),
                         keystore_password=attrs.get("certificateKeystorePassword"),
                         keystore_type=attrs.get("certificateKeystoreType"),
                         key_alias=attrs.get("certificateKeyAlias"),
                         protocols=host.get("protocols"),
                         certificate_files="certificateFile" in attrs,
                         host_configs=len([c for c in connector if c.tag == "SSLHostConfig"]))
        else:
            entry = dict(form="Connector", keystore_file=connector.get("keystoreFile"),
                         keystore_password=connector.get("keystorePass"),
                         keystore_type=connector.get("keystoreType"),
                         key_alias=connector.get("keyAlias"),
                         protocols=connector.get("sslEnabledProtocols"),
                         certificate_files="SSLCertificateFile" in connector.attrib,
                         host_configs=0)
        entry["port"] = port
        entry["keystore_password"] = entry["keystore_password"] or TOMCAT_KEYSTORE_PASSWORD
        entry["keystore_type"] = entry["keystore_type"] or TOMCAT_KEYSTORE_TYPE
        if catalina_base is not None:
            entry["keystore"] = (tomcat_path(entry["keystore_file"], catalina_base)
                                 if entry["keystore_file"] else None)
        found.append(entry)
    return found


def tomcat_path(raw, catalina_base):
    """A file name as Tomcat resolves it: ${catalina.base}/${catalina.home} expanded, a
    relative name taken from CATALINA_BASE."""
    path = raw.replace("${catalina.base}", catalina_base).replace("${catalina.home}", catalina_base)
    return path if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path) else \
        catalina_base.rstrip("/") + "/" + path


def protocol_set(value):
    """The protocols a Tomcat protocols / sslEnabledProtocols value names (comma or + lists)."""
    return set(token.strip().lstrip("+") for token in re.split(r"[,+\s]+", value or "")
               if token.strip().lstrip("+"))


def _with_attribute(tag, name, value):
    """tag with attribute name set to value (added before the tag's end when absent)."""
    pattern = re.compile(r"(\s%s\s*=\s*)([\"'])(.*?)\2" % re.escape(name), re.S)
    current = pattern.search(tag)
    quoted = _xml_text(value).replace('"', "&quot;").replace("'", "&apos;")
    if current:
        return tag[:current.start(3)] + quoted + tag[current.end(3):]
    close = len(tag) - (2 if tag.endswith("/>") else 1)
    return tag[:close].rstrip() + ' %s="%s"' % (name, quoted) + tag[close:]


_CERTIFICATE_TAG = re.compile(r"<Certificate\b[^>]*>", re.S)


def _https_connector(text, port):
    """(start, end, element) of the HTTPS connector on port."""
    for start, end, connector in _connectors(text):
        if connector.get("port") == str(port) and _serves_tls(connector):
            return start, end, connector
    raise WebTierError("no HTTPS connector (SSLEnabled=\"true\") on port %s in server.xml" % port)


def _set_on_tag(text, tag, name, value):
    return text[:tag.start()] + _with_attribute(tag.group(0), name, value) + text[tag.end():]


def plan_https_connector(text, port, protocols=None, keystore_password=None):
    """On the HTTPS connector of port: protocols (a list; the default SSLHostConfig's
    protocols, or the connector's sslEnabledProtocols in the older form; a value naming the
    same protocols in another spelling stays), and the password of its keystore (the
    Certificate's certificateKeystorePassword, or keystorePass). Returns (text, actions)."""
    actions = []
    if protocols:
        start, end, connector = _https_connector(text, port)
        index, host = _chosen_host_config(connector)
        name, current = (("protocols", host.get("protocols")) if host is not None
                         else ("sslEnabledProtocols", connector.get("sslEnabledProtocols")))
        if protocol_set(current) != set(protocols):
            tag = (_uncommented(_HOST_CONFIG_TAG, text, start, end)[index] if host is not None
                   else _CONNECTOR_TAG.match(text, start))
            text = _set_on_tag(text, tag, name, ",".join(protocols))
            actions.append('set %s="%s" on the HTTPS connector %s (was %s)' % (
                name, ",".join(protocols), port,
                current or "Tomcat's default: every protocol the JRE enables"))
    if keystore_password is not None:
        start, end, connector = _https_connector(text, port)
        index, host = _chosen_host_config(connector)
        if host is not None:
            name = "certificateKeystorePassword"
            current = next((c.get(name) for c in host if c.tag == "Certificate"), None)
            # the Certificate of the chosen SSLHostConfig: its tag lies after that host's tag
            host_tag = _uncommented(_HOST_CONFIG_TAG, text, start, end)[index]
            tags = _uncommented(_CERTIFICATE_TAG, text, host_tag.end(), end)
            if not tags:
                raise WebTierError("the HTTPS connector %s has no Certificate element" % port)
            tag = tags[0]
        else:
            name, current, tag = "keystorePass", connector.get("keystorePass"), \
                _CONNECTOR_TAG.match(text, start)
        if (current or TOMCAT_KEYSTORE_PASSWORD) != keystore_password:
            text = _set_on_tag(text, tag, name, keystore_password)
            actions.append("set %s=%s on the HTTPS connector %s" % (name, MASK, port))
    return text, actions


def browser_connector(connectors, port=0):
    """The browser-side connector smtls manages, of https_connectors' list: the one on port, or
    with no port the first serving a Java keystore; {} when there is none."""
    return next((c for c in connectors or []
                 if c.get("keystore") and (not port or int(c["port"]) == int(port))), {})


def check_xml(text, what):
    try:
        ET.fromstring(text.encode("utf-8"))
    except ET.ParseError as exc:
        raise WebTierError("%s is not well-formed XML (%s); fix or restore it first" % (what, exc))


# Tomcat runs as a user of its own (tomcat), never as root, and installers often leave the web
# tier's files root:root 0644: Tomcat reads them as "other". Capping such a file at 0640 (it
# holds secrets) without giving it Tomcat's group would lock Tomcat out at its next restart,
# and a rollback would restore the capped backup - so that is refused instead.
_OTHER_READ = 0o004


def locks_tomcat_out(mode, uid, gid, group_given):
    """Whether capping a file of this mode, owned uid:gid once the call's owner applies, at
    0640 would take away the read access Tomcat has: read by "other", and owned by root:root
    (a file of another owner or group may be Tomcat's own, or its group's - smtls cannot know,
    so it trusts those), with no group given to read it through."""
    return bool(mode & _OTHER_READ) and uid == 0 and gid == 0 and not group_given


def refuse_tomcat_lockout(path, mode, uid, gid, group_given, names="root:root"):
    """Raise the refusal locks_tomcat_out decides; names: the owner:group to show."""
    if locks_tomcat_out(mode, uid, gid, group_given):
        raise WebTierError("%s is %s with mode %04o, so Tomcat (not root) reads it as \"other\"; "
                           "capping it at 0640 for the secrets it holds would lock Tomcat out "
                           "at its next restart. Fix: set sm_webtier_file_group to the group "
                           "Tomcat runs as (e.g. tomcat), or make the file readable by its "
                           "group first (chgrp tomcat %s)" % (path, names, mode, path))


def browser_connector_problem(connector, setting, port, server_xml, managed):
    """Why the browser-side HTTPS connector cannot be given our certificate, or ''.

    connector: the one sm_webtier_info found ({} when none); setting: sm_webtier_browser_https
    (auto/true/false); port: sm_webtier_browser_https_port (0: the first); managed: whether the
    mode has SSL and the setting is not false."""
    if not managed:
        return ""
    if not connector:
        if str(setting).lower() != "true" and not int(port or 0):
            return ""  # auto: nothing to manage on this web tier
        return ("%s has no HTTPS connector (SSLEnabled=\"true\") serving a Java keystore%s, but "
                "sm_webtier_browser_https asks for one. Fix: add the connector (a Certificate with "
                "certificateKeystoreFile), correct sm_webtier_browser_https_port, or set "
                "sm_webtier_browser_https: false"
                % (server_xml, " on port %s" % port if int(port or 0) else ""))
    if not connector.get("keystore_found"):
        return ("the HTTPS connector %s of %s serves the keystore %s, which does not exist. Fix "
                "server.xml or create the keystore, or set sm_webtier_browser_https: false to leave "
                "the connector alone" % (connector.get("port"), server_xml, connector.get("keystore")))
    if not connector.get("keystore_opens"):
        return ("the HTTPS connector %s of %s serves the keystore %s, which does not open with the "
                "password server.xml gives it (nor with sm_webtier_browser_keystore_password), so "
                "Tomcat could not serve it either. Fix the password in server.xml, or set "
                "sm_webtier_browser_https: false to leave the connector alone"
                % (connector.get("port"), server_xml, connector.get("keystore")))
    return ""


def browser_https_plan(connector, managed, protocols, jre, names, probed, why_not):
    """One line of the preflight plan: what the browser-side connector gets, or why it stays."""
    if not managed:
        return "left as it is: %s" % (why_not if connector else
                                      "server.xml has no HTTPS connector serving a Java keystore")
    jre = jre or {}
    return ("connector %s (%s): certificate from the fleet CA for %s; protocols %s - Tomcat JRE %s "
            "(%s); %s" % (connector["port"], connector["keystore"],
                          ", ".join(sorted(set(names), key=names.index)),
                          ",".join(protocols) or "left as they are", jre.get("version") or "unknown",
                          jre.get("source") or "none",
                          "proven after the restart" if probed
                          else "not probed (smtls does not restart Tomcat here)"))
