#!/usr/bin/env python3
"""Checks an OWSO Pay digest bundle without the service (Python 3 standard library only).

Usage: python3 verify.py [BUNDLE_DIR]   (default: the directory this script is in)

The bundle holds keys.txt (the ledger's configured public keys, base64, one a line) and, per
day, digests/DAY.payload (the exact signed text), DAY.sig (base64 Ed25519 signature) and
DAY.key (base64 of the key the service says signed it; not trusted, only reported).
Every signature is checked against keys.txt only; head_seq and entry_count must never go
backwards from one day to the next. One line per digest; exit 0 when all pass, 1 otherwise.

Ed25519 verification is written out from RFC 8032 section 5.1.7 (with the reference
arithmetic of section 6), so nothing needs installing; it is slow but a year of digests takes
seconds.
"""
import base64
import hashlib
import os
import sys

P = 2**255 - 19
L = 2**252 + 27742317777372353535851937790883648493
D = -121665 * pow(121666, P - 2, P) % P
SQRT_M1 = pow(2, (P - 1) // 4, P)


def _recover_x(y, sign):
    if y >= P:
        return None
    x2 = (y * y - 1) * pow(D * y * y + 1, P - 2, P) % P
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (P + 3) // 8, P)
    if (x * x - x2) % P != 0:
        x = x * SQRT_M1 % P
    if (x * x - x2) % P != 0:
        return None
    if (x & 1) != sign:
        x = P - x
    return x


def _add(a, b):
    # Extended homogeneous coordinates (RFC 8032 section 6).
    e1 = (a[1] - a[0]) * (b[1] - b[0]) % P
    e2 = (a[1] + a[0]) * (b[1] + b[0]) % P
    c = 2 * a[3] * b[3] * D % P
    d = 2 * a[2] * b[2] % P
    e, f, g, h = e2 - e1, d - c, d + c, e2 + e1
    return (e * f % P, g * h % P, f * g % P, e * h % P)


def _mul(scalar, point):
    result = (0, 1, 1, 0)
    while scalar > 0:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _equal(a, b):
    return (a[0] * b[2] - b[0] * a[2]) % P == 0 and (a[1] * b[2] - b[1] * a[2]) % P == 0


def _decompress(raw):
    if len(raw) != 32:
        return None
    y = int.from_bytes(raw, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    if x is None:
        return None
    return (x, y, 1, x * y % P)


_GY = 4 * pow(5, P - 2, P) % P
_GX = _recover_x(_GY, 0)
BASE = (_GX, _GY, 1, _GX * _GY % P)


def ed25519_verify(public, message, signature):
    """RFC 8032 Ed25519 verification: True when `signature` of `message` verifies with `public`."""
    if len(public) != 32 or len(signature) != 64:
        return False
    a = _decompress(public)
    r = _decompress(signature[:32])
    if a is None or r is None:
        return False
    s = int.from_bytes(signature[32:], "little")
    if s >= L:
        return False
    h = int.from_bytes(hashlib.sha512(signature[:32] + public + message).digest(), "little") % L
    return _equal(_mul(s, BASE), _add(r, _mul(h, a)))


def _field(payload, name):
    for line in payload.decode("utf-8", "replace").split("\n"):
        if line.startswith(name + " "):
            try:
                return int(line[len(name) + 1:])
            except ValueError:
                return None
    return None


def main(argv):
    root = argv[1] if len(argv) > 1 else os.path.dirname(os.path.abspath(__file__))
    try:
        with open(os.path.join(root, "keys.txt"), encoding="ascii") as handle:
            keys = [base64.b64decode(line.strip()) for line in handle if line.strip()]
    except (OSError, ValueError) as error:
        print(f"FAIL keys.txt: {error}")
        return 1
    folder = os.path.join(root, "digests")
    days = sorted(name[: -len(".payload")] for name in os.listdir(folder) if name.endswith(".payload"))
    failed = False
    previous = None
    for day in days:
        base = os.path.join(folder, day)
        try:
            with open(base + ".payload", "rb") as handle:
                payload = handle.read()
            with open(base + ".sig", encoding="ascii") as handle:
                signature = base64.b64decode(handle.read().strip())
        except (OSError, ValueError) as error:
            print(f"FAIL {day}: unreadable ({error})")
            failed = True
            continue
        signer = next((i for i, key in enumerate(keys) if ed25519_verify(key, payload, signature)), None)
        if signer is None:
            print(f"FAIL {day}: the signature does not verify with any key in keys.txt")
            failed = True
            continue
        head_seq, entry_count = _field(payload, "head_seq"), _field(payload, "entry_count")
        if head_seq is None or entry_count is None or f"day {day}\n".encode() not in payload:
            print(f"FAIL {day}: the payload is not a digest of this day")
            failed = True
            continue
        if previous is not None and (head_seq < previous[0] or entry_count < previous[1]):
            print(f"FAIL {day}: head_seq/entry_count go backwards ({head_seq}/{entry_count} after {previous[0]}/{previous[1]})")
            failed = True
        else:
            print(f"OK   {day}: signed by key {signer + 1} of keys.txt, head_seq {head_seq}, entry_count {entry_count}")
        previous = (head_seq, entry_count)
    if not days:
        print("FAIL no digests in the bundle")
        failed = True
    print("FAILED" if failed else f"ALL {len(days)} DIGESTS VERIFY")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
