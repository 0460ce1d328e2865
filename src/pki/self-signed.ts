import { serialNumber } from './certificate-authority.js';
import { generateKeyPair, privateKeyPem, SIGNING_ALGORITHM } from './keys.js';
import { subjectAltNames } from './names.js';
import { x509 } from './x509-library.js';

/** A self-signed TLS server certificate (ECDSA P-256) for the given host names and addresses. */
export async function selfSignedServerCertificate(name: string, hosts: string[], days: number): Promise<{ cert: string; key: string }> {
  const keys = await generateKeyPair();
  const now = Date.now();
  const certificate = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serialNumber(),
    name: `CN=${name}`,
    keys,
    signingAlgorithm: SIGNING_ALGORITHM,
    notBefore: new Date(now - 60 * 60 * 1000),
    notAfter: new Date(now + days * 24 * 60 * 60 * 1000),
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(subjectAltNames(hosts)),
    ],
  });
  return { cert: certificate.toString('pem') + '\n', key: await privateKeyPem(keys.privateKey) };
}
