// Signing a channel API request in Node.js, with node's own crypto (no npm packages).
//
//   node sign.js [path/to/test-vectors.json]   checks this code against every published test vector
//
// Use signedHeaders() in your client: it returns the four headers of a signed request.
'use strict';
const crypto = require('node:crypto');
const fs = require('node:fs');
const path = require('node:path');

// METHOD \n PATH_WITH_QUERY \n TIMESTAMP \n NONCE \n hex(sha256(body)), as UTF-8.
// pathWithQuery is exactly what goes on the request line (no re-encoding, no reordering of the query).
function stringToSign(method, pathWithQuery, timestamp, nonce, body) {
  const bodyHash = crypto.createHash('sha256').update(body).digest('hex');
  return [method.toUpperCase(), pathWithQuery, String(timestamp), nonce, bodyHash].join('\n');
}

function signHmac(secret, method, pathWithQuery, timestamp, nonce, body) {
  return crypto.createHmac('sha256', Buffer.from(secret, 'utf8'))
    .update(stringToSign(method, pathWithQuery, timestamp, nonce, body), 'utf8').digest('base64');
}

// SHA256withRSA = RSASSA-PKCS1-v1_5 with SHA-256; privateKeyPem is a PKCS#8 or PKCS#1 PEM.
function signRsa(privateKeyPem, method, pathWithQuery, timestamp, nonce, body) {
  const data = Buffer.from(stringToSign(method, pathWithQuery, timestamp, nonce, body), 'utf8');
  return crypto.sign('sha256', data, { key: privateKeyPem, padding: crypto.constants.RSA_PKCS1_PADDING })
    .toString('base64');
}

// body: a Buffer or a string (sent as UTF-8); send exactly these bytes.
function signedHeaders(channelId, { secret, privateKeyPem }, method, pathWithQuery, body) {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = crypto.randomBytes(16).toString('hex'); // 32 characters, never reused
  const signature = privateKeyPem
    ? signRsa(privateKeyPem, method, pathWithQuery, timestamp, nonce, body)
    : signHmac(secret, method, pathWithQuery, timestamp, nonce, body);
  return { 'X-Channel-Id': channelId, 'X-Timestamp': timestamp, 'X-Nonce': nonce, 'X-Signature': signature };
}

function checkVectors(file) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  const key = doc.test_rsa_key;
  let failed = 0;
  for (const v of doc.vectors) {
    const body = Buffer.from(v.body, 'utf8');
    const args = [v.method, v.path_with_query, v.timestamp, v.nonce, body];
    const problems = [];
    if (stringToSign(...args) !== v.string_to_sign) problems.push('string_to_sign');
    if (v.algorithm === 'HMAC-SHA256') {
      if (signHmac(v.secret, ...args) !== v.signature) problems.push('signature');
    } else {
      if (signRsa(key.private_key_pem, ...args) !== v.signature) problems.push('signature');
      const ok = crypto.verify('sha256', Buffer.from(v.string_to_sign, 'utf8'),
        { key: key.public_key_pem, padding: crypto.constants.RSA_PKCS1_PADDING }, Buffer.from(v.signature, 'base64'));
      if (!ok) problems.push('verify');
    }
    failed += problems.length ? 1 : 0;
    console.log(`${problems.length ? 'FAIL' : 'ok  '} ${v.name}${problems.length ? ' (' + problems.join(', ') + ')' : ''}`);
  }
  return failed;
}

module.exports = { stringToSign, signHmac, signRsa, signedHeaders };

if (require.main === module) {
  const file = process.argv[2] || path.join(__dirname, '..', 'test-vectors.json');
  process.exit(checkVectors(file) ? 1 : 0);
}
