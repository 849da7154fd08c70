#!/usr/bin/env python3
"""Check a Postex receipt offline, with nothing but Python and the `cryptography` package.

    python3 verify_receipt.py RECEIPT.json --site-key KEY [--witness-key KEY] [--json]

KEY is the base64 of a raw 32-byte Ed25519 public key, or a file holding it (GBLALA.pub).
This file follows docs/log-format.md, "Receipts", step by step, and imports nothing of
Postex. Exit 0: the receipt holds; 1: it does not; 2: unreadable input.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import struct
import sys
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

DASH = "\u2014 "


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def field(raw: bytes) -> bytes:  # L(x): 4-byte big-endian length, then x
    return struct.pack(">I", len(raw)) + raw


def event_hash(prev: bytes, site: str, seq: int, at: str, type_: str, body: bytes) -> bytes:
    """Step 1: the hash chain's hash of one stored row."""
    parts = (prev, site.encode(), struct.pack(">Q", seq), at.encode(), type_.encode(), body)
    return sha256(b"".join(field(p) for p in parts))


def root_from_proof(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bytes | None:
    """Step 2: RFC 9162 section 2.1.3.2, the root an inclusion proof leads to."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn // 2, sn // 2
        else:
            r = sha256(b"\x01" + r + p)
        fn, sn = fn // 2, sn // 2
    return r if sn == 0 else None


def ed25519_ok(public: bytes, sig: bytes, message: bytes) -> bool:
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(sig, message)
        return True
    except (InvalidSignature, ValueError):
        return False


def key_id(name: str, kind: int, public: bytes) -> bytes:
    return sha256(name.encode() + b"\n" + bytes([kind]) + public)[:4]


def read_note(text: str) -> tuple[str, int, bytes, str, list[tuple[str, bytes]]]:
    """Step 3: a C2SP checkpoint note: origin, size, root, signed body, signature lines."""
    body, _, sigs = text.partition("\n\n")
    origin, size, root = body.split("\n")
    lines = []
    for line in sigs.split("\n"):
        if line:
            if not line.startswith(DASH):
                raise ValueError("a signature line does not start with an em dash")
            name, payload = line[len(DASH):].split(" ")
            lines.append((name, base64.b64decode(payload, validate=True)))
    return origin, int(size), base64.b64decode(root, validate=True), body + "\n", lines


def verify(receipt: dict, site_key: bytes, witness_key: bytes | None) -> tuple[list[str], dict]:
    problems: list[str] = []
    facts: dict = {}
    site = receipt["site"]
    origin, size, root, body, sigs = read_note(receipt["checkpoint"])
    if origin.rsplit("/", 1)[-1] != site or size != receipt["tree_size"]:
        problems.append("the checkpoint is not the tree the receipt names")
    # Step 3: the site's signature (type 0x01), its key name being the origin.
    kid = key_id(origin, 0x01, site_key)
    if not any(n == origin and p[:4] == kid and ed25519_ok(site_key, p[4:], body.encode())
               for n, p in sigs):
        problems.append("the checkpoint is not signed by the site's key")
    # Step 4: a witness cosignature (cosignature/v1, type 0x04) over the same body.
    if witness_key is not None:
        good = False
        for name, p in sigs:
            if p[:4] == key_id(name, 0x04, witness_key) and len(p) == 76:
                when = struct.unpack(">Q", p[4:12])[0]
                message = f"cosignature/v1\ntime {when}\n{body}".encode()
                good = good or ed25519_ok(witness_key, p[12:], message)
        if not good:
            problems.append("no valid cosignature by the witness key")
    # Steps 1 and 2 for each event.
    for e in receipt["events"]:
        digest = event_hash(bytes.fromhex(e["prev_hash"]), site, e["seq"], e["recorded_at"],
                            e["type"], e["body"].encode())
        if digest.hex() != e["hash"]:
            problems.append(f"event {e['seq']}: the hash does not match its row")
        proof = [bytes.fromhex(p) for p in e["proof"]]
        if root_from_proof(sha256(b"\x00" + digest), e["seq"] - 1, size, proof) != root:
            problems.append(f"event {e['seq']}: not included in the signed tree")
        data = json.loads(e["body"])
        if data.get("item_id") != receipt["item_id"]:
            problems.append(f"event {e['seq']}: is about another item")
        keep = ("item_id", "site", "origin_site", "service", "destination", "weight_g")
        facts[e["label"]] = {k: data[k] for k in keep if k in data}
        facts[e["label"]].update(recorded_at=e["recorded_at"], seq=e["seq"], type=e["type"])
    # Step 5: the digest (the certificate's QR code).
    text = f"postex-receipt-v1\n{receipt['item_id']}\n"
    text += "".join(f"{e['hash']}\n" for e in receipt["events"]) + body
    if hashlib.sha256(text.encode()).hexdigest() != receipt.get("digest"):
        problems.append("the digest does not match the receipt")
    return problems, facts


def load_key(value: str) -> bytes:
    path = Path(value)
    text = path.read_text().strip() if len(value) < 400 and path.is_file() else value
    raw = base64.b64decode(text.strip(), validate=True)
    if len(raw) != 32:
        raise ValueError("a public key is 32 bytes")
    return raw


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("receipt")
    parser.add_argument("--site-key", required=True)
    parser.add_argument("--witness-key")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        receipt = json.loads(Path(args.receipt).read_text(encoding="utf-8"))
        site_key = load_key(args.site_key)
        witness_key = load_key(args.witness_key) if args.witness_key else None
        problems, facts = verify(receipt, site_key, witness_key)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(json.dumps({"ok": False, "error": str(exc)}) if args.json else f"error: {exc}")
        return 2
    if args.json:
        print(json.dumps({"ok": not problems, "problems": problems, "facts": facts,
                          "digest": receipt.get("digest")}, sort_keys=True))
    else:
        for label, f in facts.items():
            print(f"{label:12} " + " ".join(f"{k}={v}" for k, v in f.items()))
        print("\n".join(f"FAIL {p}" for p in problems) or "receipt holds")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
