'use strict'
// Certificates made with openssl for the TLS tests.
const fs = require('node:fs')
const path = require('node:path')
const { execFileSync } = require('node:child_process')

/**
 * Writes into `dir` a CA (`ca.crt`), another CA, a server certificate for
 * 127.0.0.1 (`server.crt`, `server.key`) and a client certificate, both signed
 * by the first CA; returns the client's side as Buffers.
 */
function makeCertificates(dir) {
  const openssl = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
  const key = (name) => openssl('ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`)
  const ca = (name) => {
    key(name)
    openssl('req', '-x509', '-new', '-key', `${name}.key`, '-out', `${name}.crt`, '-days', '2', '-subj', `/CN=${name}`)
  }
  const signed = (name, by, extensions) => {
    key(name)
    openssl('req', '-new', '-key', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${name}`)
    fs.writeFileSync(path.join(dir, `${name}.ext`), extensions)
    openssl(
      'x509',
      '-req',
      '-in',
      `${name}.csr`,
      '-CA',
      `${by}.crt`,
      '-CAkey',
      `${by}.key`,
      '-CAcreateserial',
      '-out',
      `${name}.crt`,
      '-days',
      '2',
      '-extfile',
      `${name}.ext`,
    )
  }
  ca('ca')
  ca('other-ca')
  signed('server', 'ca', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n')
  signed('client', 'ca', 'extendedKeyUsage=clientAuth\n')
  const read = (file) => fs.readFileSync(path.join(dir, file))
  return { ca: read('ca.crt'), otherCa: read('other-ca.crt'), cert: read('client.crt'), key: read('client.key'), dir }
}

/** redis-server arguments for a TLS port serving the certificates in `dir`, with client certificates required. */
function tlsServerArgs(dir, tlsPort) {
  return [
    '--tls-port',
    String(tlsPort),
    '--tls-cert-file',
    path.join(dir, 'server.crt'),
    '--tls-key-file',
    path.join(dir, 'server.key'),
    '--tls-ca-cert-file',
    path.join(dir, 'ca.crt'),
    '--tls-auth-clients',
    'yes',
  ]
}

module.exports = { makeCertificates, tlsServerArgs }
