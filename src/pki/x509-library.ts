/**
 * The X.509 library, ready to use. @peculiar/x509 builds certificates on WebCrypto
 * (Node's crypto.webcrypto here); it resolves its internals through tsyringe, which
 * needs the `reflect-metadata` polyfill loaded before it. Import the library only
 * through this module, and only where certificates are made (the CLI loads it lazily),
 * so the polyfill stays out of nodes and edges.
 */
import 'reflect-metadata';
import { webcrypto } from 'node:crypto';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(webcrypto as unknown as Crypto);

export { x509 };
