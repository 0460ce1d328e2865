import type { PacketReader } from '../packet-reader.js';
import type { SftpSession } from '../session.js';

/** Handles one request; replies through the session. Sync handlers return nothing. */
export type Handler = (session: SftpSession, id: number, request: PacketReader) => void | Promise<void>;
