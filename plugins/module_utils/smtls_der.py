# -*- coding: utf-8 -*-
# Copyright: smtls contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Just enough DER to read and write PKCS#12 and the JKS key wrapper.

The keystore codecs need a handful of ASN.1 types; a full ASN.1 library would
be one more dependency on every managed host, so this is a small, strict
encoder/decoder for definite-length DER (and the BER constructed forms that
some PKCS#12 writers emit for OCTET STRING).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

INTEGER = 0x02
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
UTF8_STRING = 0x0C
BMP_STRING = 0x1E
SEQUENCE = 0x30
SET = 0x31


class DerError(ValueError):
    """Raised when bytes are not the DER structure the caller expects."""


def _length(n):
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag, value):
    return bytes([tag]) + _length(len(value)) + value


def seq(*items):
    return tlv(SEQUENCE, b"".join(items))


def set_of(*items):
    # DER sorts SET OF members by their encoding.
    return tlv(SET, b"".join(sorted(items)))


def integer(n):
    if n == 0:
        return tlv(INTEGER, b"\x00")
    body = n.to_bytes((n.bit_length() + 8) // 8, "big", signed=True)
    return tlv(INTEGER, body)


def octets(data):
    return tlv(OCTET_STRING, bytes(data))


def null():
    return tlv(NULL, b"")


def bmp_string(text):
    return tlv(BMP_STRING, text.encode("utf-16-be"))


def explicit(number, inner):
    """[number] EXPLICIT, constructed context-specific tag."""
    return tlv(0xA0 | number, inner)


def implicit_primitive(number, value):
    return tlv(0x80 | number, value)


def oid(dotted):
    parts = [int(p) for p in dotted.split(".")]
    body = bytearray([parts[0] * 40 + parts[1]])
    for part in parts[2:]:
        chunk = [part & 0x7F]
        part >>= 7
        while part:
            chunk.append(0x80 | (part & 0x7F))
            part >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def algorithm(dotted, params=None):
    return seq(oid(dotted), null() if params is None else params)


# --- decoding ---------------------------------------------------------------


def read_tlv(data, pos=0):
    """Return (tag, value_bytes, next_pos) for the element at data[pos:]."""
    if pos + 2 > len(data):
        raise DerError("truncated DER element")
    tag = data[pos]
    first = data[pos + 1]
    pos += 2
    if first == 0x80:
        # Indefinite length (BER): only accepted for constructed elements.
        if not tag & 0x20:
            raise DerError("indefinite length on a primitive element")
        start = pos
        while True:
            if data[pos:pos + 2] == b"\x00\x00":
                return tag, data[start:pos], pos + 2
            _tag, _value, pos = read_tlv(data, pos)
    if first & 0x80:
        count = first & 0x7F
        if count > 4 or pos + count > len(data):
            raise DerError("bad DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    else:
        length = first
    end = pos + length
    if end > len(data):
        raise DerError("truncated DER element")
    return tag, data[pos:end], end


def children(value):
    """Split the content of a constructed element into (tag, value) pairs."""
    items = []
    pos = 0
    while pos < len(value):
        tag, inner, pos = read_tlv(value, pos)
        items.append((tag, inner))
    return items


def expect(data, tag, what):
    """Decode one element of the given tag that spans all of data."""
    got, value, end = read_tlv(data)
    if got != tag:
        raise DerError("%s: expected tag 0x%02x, found 0x%02x" % (what, tag, got))
    if end != len(data):
        raise DerError("%s: trailing bytes" % what)
    return value


def octet_string_value(tag, value):
    """Content of an OCTET STRING, joining BER constructed segments."""
    if tag == OCTET_STRING:
        return value
    if tag == OCTET_STRING | 0x20:
        return b"".join(octet_string_value(t, v) for t, v in children(value))
    raise DerError("expected OCTET STRING, found tag 0x%02x" % tag)


def decode_oid(value):
    if not value:
        raise DerError("empty OID")
    parts = [value[0] // 40, value[0] % 40]
    acc = 0
    for byte in value[1:]:
        acc = (acc << 7) | (byte & 0x7F)
        if not byte & 0x80:
            parts.append(acc)
            acc = 0
    return ".".join(str(p) for p in parts)


def decode_int(value):
    return int.from_bytes(value, "big", signed=True)


def encode_element(tag, value):
    """Re-encode a decoded (tag, value) pair."""
    return tlv(tag, value)
