import type { Connection } from 'ssh2';

/** What a client is told when its login cannot be checked (the database is away): not "Permission denied". */
export const UNAVAILABLE_MESSAGE = 'Ferry: service temporarily unavailable, please try again later';

/** RFC 4253 section 11.1 and RFC 4250 section 4.2.2. */
const SSH_DISCONNECT_SERVICE_NOT_AVAILABLE = 7;
/** RFC 4252 section 5.4: may be sent at any time before authentication succeeds. */
const SSH_MSG_USERAUTH_BANNER = 53;

/** The parts of ssh2's Protocol object (lib/protocol/Protocol.js) this module uses. */
interface Ssh2Protocol {
  _packetRW?: { write: { allocStart: number; alloc(length: number): Buffer; finalize(packet: Buffer): Buffer } };
  _cipher?: { encrypt(packet: Buffer): void };
  _kexinit?: unknown;
  disconnect(reason: number): void;
}

/**
 * Ends a connection whose login could not be decided because a service the node
 * depends on is away: a USERAUTH_BANNER with UNAVAILABLE_MESSAGE (OpenSSH's ssh,
 * sftp and scp print it on stderr), then DISCONNECT with reason
 * SERVICE_NOT_AVAILABLE. A client then knows to retry later rather than that its
 * key or password is wrong. ssh2 has no API for either message on a server
 * connection: the banner is written as ssh2 writes its own configured banner.
 */
export function refuseAsUnavailable(client: Connection): void {
  const internals = client as unknown as { _protocol?: Ssh2Protocol; _sock?: { writable: boolean; end(): void } };
  const protocol = internals._protocol;
  const socket = internals._sock;
  if (!protocol || !socket?.writable) return void client.end();
  try {
    // During a key exchange a packet would have to wait in ssh2's queue; skip the banner then.
    if (protocol._packetRW && protocol._cipher && protocol._kexinit === undefined) {
      const text = Buffer.from(`${UNAVAILABLE_MESSAGE}\r\n`, 'utf8');
      const writer = protocol._packetRW.write;
      const at = writer.allocStart;
      const packet = writer.alloc(1 + 4 + text.length + 4);
      packet[at] = SSH_MSG_USERAUTH_BANNER;
      packet.writeUInt32BE(text.length, at + 1);
      text.copy(packet, at + 5);
      packet.writeUInt32BE(0, at + 5 + text.length); // no language tag
      protocol._cipher.encrypt(writer.finalize(packet));
    }
    protocol.disconnect(SSH_DISCONNECT_SERVICE_NOT_AVAILABLE);
    socket.end();
  } catch {
    client.end();
  }
}
