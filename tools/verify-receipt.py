#!/usr/bin/env python3
"""Verifies a Settle receipt (settle-receipt/v1) with the log's public key and nothing else.

An independent implementation of protocol/receipts.md, written from the document, sharing no
code with `settle audit check-receipt`: RFC 9162 hashing from hashlib, Ed25519 from the
`cryptography` package. Usage: verify-receipt.py RECEIPT PUBLIC_KEY_PEM. Exit 0 and one line
per proven record, or exit 1 and the first reason the receipt proves nothing.
"""
import hashlib
import json
import re
import struct
import sys

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

HEX = re.compile(r"[0-9a-f]*")
HEAD_FIELDS = {"chainHash", "keyID", "rootHash", "sealNumber", "sealedAtNanoseconds", "signature", "treeSize"}


class Refused(Exception):
    pass


def unhex(text, length=None):
    if not isinstance(text, str) or len(text) % 2 or not HEX.fullmatch(text):
        raise Refused(f"not lower-case hex: {text!r}")
    data = bytes.fromhex(text)
    if length is not None and len(data) != length:
        raise Refused(f"expected {length} bytes, got {len(data)}")
    return data


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf, index, size, path, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def check_head(head, key, key_id):
    if not isinstance(head, dict) or set(head) != HEAD_FIELDS:
        raise Refused("the tree head does not have exactly the fields of a tree head")
    for field in ("sealNumber", "treeSize", "sealedAtNanoseconds"):
        if type(head[field]) is not int:
            raise Refused(f"tree head {field} is not an integer")
    if unhex(head["keyID"], 32) != key_id:
        raise Refused("the tree head was signed by another key")
    message = (
        b"settle-log-seal-v2"
        + struct.pack(">QQ", head["sealNumber"], head["treeSize"])
        + unhex(head["chainHash"], 32)
        + unhex(head["rootHash"], 32)
        + struct.pack(">q", head["sealedAtNanoseconds"])
        + key_id
    )
    try:
        key.verify(unhex(head["signature"], 64), message)
    except InvalidSignature:
        raise Refused("the tree head's signature does not verify")
    return unhex(head["rootHash"], 32), head["treeSize"]


def check_record(item, transfer, root, size):
    if not isinstance(item, dict) or set(item) != {"lsn", "body", "inclusionPath"} or type(item["lsn"]) is not int:
        raise Refused("a record does not have exactly lsn, body and inclusionPath")
    if not isinstance(item["inclusionPath"], list):
        raise Refused("a record's inclusionPath is not a list")
    body = unhex(item["body"])
    if len(body) < 19 + 32 or body[0] != 0x52:
        raise Refused(f"record {item['lsn']}: not a record frame body")
    lsn, record_type = struct.unpack(">QH", body[1:11])
    if lsn != item["lsn"] or lsn < 1:
        raise Refused(f"record {item['lsn']}: its body holds LSN {lsn}")
    path = [unhex(h, 32) for h in item["inclusionPath"]]
    leaf = hashlib.sha256(b"\x00" + body).digest()
    if not verify_inclusion(leaf, lsn - 1, size, path, root):
        raise Refused(f"record {lsn}: its inclusion path does not lead to the signed root")
    payload = json.loads(body[19:-32])
    if record_type < 0x0100 or not isinstance(payload, dict) or payload.get("transfer") != transfer:
        raise Refused(f"record {lsn}: not a record of transfer {transfer}")
    return lsn, record_type, payload


def verify(receipt_bytes, pem):
    text = receipt_bytes.decode("utf-8")
    receipt = json.loads(text)
    # One spelling only: compact JSON, members sorted by code point, no whitespace outside strings.
    if json.dumps(receipt, separators=(",", ":"), ensure_ascii=False, sort_keys=True) != text:
        raise Refused("the receipt is not in canonical form")
    if not isinstance(receipt, dict) or set(receipt) != {"format", "transfer", "publicKey", "treeHead", "records"}:
        raise Refused("the receipt does not have exactly the fields of a receipt")
    if not all(isinstance(receipt[k], str) for k in ("format", "transfer", "publicKey")) or not isinstance(receipt["records"], list):
        raise Refused("a member of the receipt has the wrong type")
    if receipt["format"] != "settle-receipt/v1":
        raise Refused("not a settle-receipt/v1")
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise Refused("the public key is not Ed25519")
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    canonical_pem = key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    if receipt["publicKey"].encode() != canonical_pem:
        raise Refused("the receipt's public key is not the given key")
    root, size = check_head(receipt["treeHead"], key, hashlib.sha256(der).digest())
    if not receipt["records"]:
        raise Refused("the receipt holds no record")
    proven = [check_record(item, receipt["transfer"], root, size) for item in receipt["records"]]
    lsns = [lsn for lsn, _, _ in proven]
    if any(later <= earlier for earlier, later in zip(lsns, lsns[1:])):
        raise Refused("the records are not in strictly increasing LSN order")
    return proven


def main():
    if len(sys.argv) != 3:
        print("usage: verify-receipt.py RECEIPT PUBLIC_KEY_PEM", file=sys.stderr)
        return 2
    with open(sys.argv[1], "rb") as f:
        receipt_bytes = f.read()
    with open(sys.argv[2], "rb") as f:
        pem = f.read()
    try:
        records = verify(receipt_bytes, pem)
    except Exception as error:  # any malformed input is a refusal with one line, never a traceback
        print(f"verify-receipt: FAILED: {error}", file=sys.stderr)
        return 1
    for lsn, record_type, payload in records:
        print(f"LSN {lsn} type 0x{record_type:04x} {json.dumps(payload, sort_keys=True)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
