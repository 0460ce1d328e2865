import type { Connection } from 'ssh2';

interface KexInitLike {
  constructor: new (lists: object) => KexInitLike;
  lists: {
    kex: { array: string[] };
    serverHostKey: { array: string[] };
    cs: Record<'cipher' | 'mac' | 'compress' | 'lang', { array: string[] }>;
    sc: Record<'cipher' | 'mac' | 'compress' | 'lang', { array: string[] }>;
  };
}

/**
 * Keeps ssh2 from offering host-key algorithms the operator did not allow.
 * For an RSA host key ssh2's Server always adds `ssh-rsa` (SHA-1 signatures),
 * last, even when its algorithm list leaves it out. The offer (the KEXINIT it
 * sends) is built once per Server; the 'connection' event comes after the
 * identification lines and before ssh2 sends its KEXINIT, so replacing the
 * connection's offer there takes effect for the whole connection, rekeys included.
 */
export class HostKeyOffer {
  private filtered: KexInitLike | undefined;

  constructor(private readonly allowed: readonly string[]) {}

  apply(client: Connection): void {
    const protocol = (client as unknown as { _protocol: { _offer: KexInitLike } })._protocol;
    this.filtered ??= this.build(protocol._offer);
    protocol._offer = this.filtered;
  }

  private build(offer: KexInitLike): KexInitLike {
    const { lists } = offer;
    const side = (s: KexInitLike['lists']['cs']) => ({ cipher: s.cipher.array, mac: s.mac.array, compress: s.compress.array, lang: s.lang.array });
    return new offer.constructor({
      kex: lists.kex.array,
      serverHostKey: lists.serverHostKey.array.filter((name) => this.allowed.includes(name)),
      cs: side(lists.cs),
      sc: side(lists.sc),
    });
  }
}
