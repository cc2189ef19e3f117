// Private keys encrypted at rest with scrypt: a standard PKCS#8 EncryptedPrivateKeyInfo (RFC 5958,
// PEM "ENCRYPTED PRIVATE KEY") with PBES2 (RFC 8018 §6.2), key derivation id-scrypt (RFC 7914 §7) and
// AES-256-CBC. Node's KeyObject.export({cipher, passphrase}) can only write PBKDF2-SHA256 at 2,048
// iterations, cheap to brute-force on a stolen disk (issue 7); OpenSSL and Node's createPrivateKey
// read this format, so reading a key stays createPrivateKey({key, passphrase}) for both.
import { createCipheriv, type KeyObject, randomBytes, scryptSync } from 'node:crypto';

/**
 * N=2^14, r=8, p=5: OWASP's scrypt equivalent of N=2^17, p=1, in 16 MiB — under the 32 MiB that
 * OpenSSL (`openssl pkey`, and Node's createPrivateKey through it) allows when it decrypts a key.
 */
export const SCRYPT_PARAMS = { N: 2 ** 14, r: 8, p: 5 } as const;
const KEY_BYTES = 32;

const OID = {
  pbes2: '1.2.840.113549.1.5.13',
  pbkdf2: '1.2.840.113549.1.5.12',
  scrypt: '1.3.6.1.4.1.11591.4.11',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
} as const;

// ---- a DER encoder for the few types used here (X.690 §8, definite lengths) ----------------------

/** `n` as the fewest big-endian bytes (at least one). */
function bigEndian(n: number): number[] {
  const out = [n & 0xff];
  for (let v = Math.floor(n / 256); v > 0; v = Math.floor(v / 256)) out.unshift(v & 0xff);
  return out;
}

function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  const len = n < 0x80 ? [n] : [0x80 | bigEndian(n).length, ...bigEndian(n)];
  return Buffer.concat([Buffer.from([tag, ...len]), content]);
}

const seq = (...parts: Buffer[]) => tlv(0x30, Buffer.concat(parts));
const octets = (b: Buffer) => tlv(0x04, b);

function int(n: number): Buffer {
  const b = bigEndian(n);
  return tlv(0x02, Buffer.from(b[0]! & 0x80 ? [0, ...b] : b)); // non-negative: no sign bit
}

function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split('.').map(Number) as [number, number, ...number[]];
  const out = [40 * a + b];
  for (const arc of rest) {
    const base128 = [arc & 0x7f];
    for (let v = Math.floor(arc / 128); v > 0; v = Math.floor(v / 128)) base128.unshift((v & 0x7f) | 0x80);
    out.push(...base128);
  }
  return tlv(0x06, Buffer.from(out));
}

function pem(label: string, der: Buffer): string {
  const lines = der.toString('base64').match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join('\n')}\n-----END ${label}-----\n`;
}

/** `key` as an "ENCRYPTED PRIVATE KEY" PEM: PBES2 with scrypt (SCRYPT_PARAMS) and AES-256-CBC. */
export function encryptPrivateKey(key: KeyObject, passphrase: string): string {
  const salt = randomBytes(16);
  const iv = randomBytes(16);
  const { N, r, p } = SCRYPT_PARAMS;
  const aesKey = scryptSync(passphrase, salt, KEY_BYTES, { N, r, p }); // 16 MiB: within Node's default maxmem (32 MiB)
  const cipher = createCipheriv('aes-256-cbc', aesKey, iv);
  const plain = key.export({ format: 'der', type: 'pkcs8' });
  const encrypted = Buffer.concat([cipher.update(plain), cipher.final()]);
  const der = seq(
    seq(oid(OID.pbes2), seq(
      seq(oid(OID.scrypt), seq(octets(salt), int(N), int(r), int(p), int(KEY_BYTES))),
      seq(oid(OID.aes256Cbc), octets(iv)),
    )),
    octets(encrypted),
  );
  return pem('ENCRYPTED PRIVATE KEY', der);
}

// ---- reading back which key derivation an encrypted key uses -------------------------------------

interface Tlv { tag: number; body: Buffer; next: number }

function readTlv(buf: Buffer, at: number): Tlv | null {
  if (at + 2 > buf.length) return null;
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let start = at + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 4 || start + count > buf.length) return null;
    len = buf.readUIntBE(start, count);
    start += count;
  }
  if (start + len > buf.length) return null;
  return { tag, body: buf.subarray(start, start + len), next: start + len };
}

/** The elements in a SEQUENCE's body; none if it does not parse. */
function children(seqBody: Buffer): Tlv[] {
  const out: Tlv[] = [];
  for (let at = 0; at < seqBody.length;) {
    const t = readTlv(seqBody, at);
    if (!t) return [];
    out.push(t);
    at = t.next;
  }
  return out;
}

function decodeOid(body: Buffer): string {
  const arcs: number[] = [];
  let v = 0;
  for (const byte of body) {
    v = v * 128 + (byte & 0x7f);
    if ((byte & 0x80) === 0) { arcs.push(v); v = 0; }
  }
  const first = arcs.shift() ?? 0;
  const a = Math.min(2, Math.floor(first / 40));
  return [a, first - 40 * a, ...arcs].join('.');
}

/** What an encrypted key's PBES2 derivation is, with scrypt's parameters; null when it is not PBES2 PKCS#8. */
export type KeyDerivation = { kdf: 'scrypt'; N: number; r: number; p: number } | { kdf: 'pbkdf2' } | { kdf: 'other'; oid: string };

export function keyDerivationOf(encryptedPem: string): KeyDerivation | null {
  const m = /-----BEGIN ENCRYPTED PRIVATE KEY-----([^-]+)-----END ENCRYPTED PRIVATE KEY-----/.exec(encryptedPem);
  if (!m) return null;
  const top = readTlv(Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64'), 0);
  const [alg] = top?.tag === 0x30 ? children(top.body) : [];
  const [algOid, params] = alg?.tag === 0x30 ? children(alg.body) : [];
  if (algOid?.tag !== 0x06 || decodeOid(algOid.body) !== OID.pbes2 || params?.tag !== 0x30) return null;
  const [kdf] = children(params.body);
  const [kdfOid, kdfParams] = kdf?.tag === 0x30 ? children(kdf.body) : [];
  if (kdfOid?.tag !== 0x06) return null;
  const id = decodeOid(kdfOid.body);
  if (id === OID.pbkdf2) return { kdf: 'pbkdf2' };
  if (id !== OID.scrypt) return { kdf: 'other', oid: id };
  const [, n, r, p] = kdfParams?.tag === 0x30 ? children(kdfParams.body) : [];
  const num = (t: Tlv | undefined) => (t?.tag === 0x02 && t.body.length >= 1 && t.body.length <= 6 ? t.body.readUIntBE(0, t.body.length) : NaN);
  return { kdf: 'scrypt', N: num(n), r: num(r), p: num(p) };
}
