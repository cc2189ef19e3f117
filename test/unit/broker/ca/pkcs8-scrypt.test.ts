// Keys encrypted with scrypt (broker/pkcs8-scrypt.ts): Node reads back what we write, with the right
// passphrase only, for every key type a CA may have; and which derivation an encrypted key uses.
import assert from 'node:assert/strict';
import { createPrivateKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, it } from 'node:test';
import { encryptPrivateKey, keyDerivationOf } from '../../../../broker/ca/pkcs8-scrypt.js';

const PASS = 'correct horse battery staple ✓'; // not only ASCII: the passphrase is used as UTF-8
const ec = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey;
const der = (k: KeyObject) => k.export({ format: 'der', type: 'pkcs8' }).toString('hex');

describe('encryptPrivateKey', () => {
  const keys: Array<[string, KeyObject]> = [
    ['P-256', ec],
    ['P-384', generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey],
    ['RSA 3072 (a DER length over 255)', generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey],
  ];
  for (const [name, key] of keys) {
    it(`${name}: createPrivateKey reads it back with the passphrase, and not without`, () => {
      const pem = encryptPrivateKey(key, PASS);
      assert.match(pem, /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n([A-Za-z0-9+/=]{64}\n)*[A-Za-z0-9+/=]{1,64}\n-----END ENCRYPTED PRIVATE KEY-----\n$/);
      assert.equal(der(createPrivateKey({ key: pem, passphrase: PASS })), der(key));
      assert.throws(() => createPrivateKey({ key: pem, passphrase: 'correct horse battery staple' }));
      assert.deepEqual(keyDerivationOf(pem), { kdf: 'scrypt', N: 16384, r: 8, p: 5 });
    });
  }

  it('uses a fresh salt and IV each time', () => {
    assert.notEqual(encryptPrivateKey(ec, PASS), encryptPrivateKey(ec, PASS));
  });
});

describe('keyDerivationOf', () => {
  const rows: Array<[string, string, ReturnType<typeof keyDerivationOf>]> = [
    ["Node's own export (PBKDF2)", ec.export({ format: 'pem', type: 'pkcs8', cipher: 'aes-256-cbc', passphrase: PASS }).toString(), { kdf: 'pbkdf2' }],
    ['an unencrypted key', ec.export({ format: 'pem', type: 'pkcs8' }).toString(), null],
    ['garbage in the PEM', '-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n', null],
    ['nothing', '', null],
  ];
  for (const [name, pem, expected] of rows) it(name, () => assert.deepEqual(keyDerivationOf(pem), expected));
});
