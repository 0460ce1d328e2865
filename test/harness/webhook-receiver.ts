import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One request the receiver got, checked as a receiver should check it. */
export interface ReceivedAlert {
  eventId: string;
  attempt: number;
  body: string;
  event: { id: number; kind: string; at: string; node: string | null; nodeId: string | null; detail: string };
  /** The X-Ferry-Signature matched HMAC-SHA256(secret, timestamp + "." + body), with a timestamp within five minutes. */
  signatureValid: boolean;
  /** The HTTP status it was answered with; undefined while held (or when the sender went away first). */
  answered?: number;
}

/** What to do with a request: answer with a status, or hold it unanswered until `releaseHeld`. */
export type Answer = number | 'hold';

/**
 * An alert webhook for tests (node:http on loopback): verifies each request's
 * signature independently of Ferry's code, records it, and answers as `decide` says.
 */
export class WebhookReceiver {
  readonly received: ReceivedAlert[] = [];
  private readonly held: http.ServerResponse[] = [];
  private server!: http.Server;
  port = 0;

  constructor(
    private readonly secret: string,
    private readonly decide: (alert: ReceivedAlert, earlier: ReceivedAlert[]) => Answer = () => 200,
  ) {}

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => this.onRequest(req, res, Buffer.concat(chunks).toString('utf8')));
    });
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as AddressInfo).port;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse, body: string): void {
    const header = (name: string) => String(req.headers[name] ?? '');
    const timestamp = header('x-ferry-timestamp');
    const expected = 'sha256=' + crypto.createHmac('sha256', this.secret).update(`${timestamp}.${body}`).digest('hex');
    const given = header('x-ferry-signature');
    const fresh = Math.abs(Date.now() / 1000 - Number(timestamp)) < 300;
    const alert: ReceivedAlert = {
      eventId: header('x-ferry-event-id'),
      attempt: Number(header('x-ferry-delivery-attempt')),
      body,
      event: JSON.parse(body),
      signatureValid: fresh && given.length === expected.length && crypto.timingSafeEqual(Buffer.from(given), Buffer.from(expected)),
    };
    const earlier = this.received.filter((r) => r.eventId === alert.eventId);
    this.received.push(alert);
    const answer = this.decide(alert, earlier);
    if (answer === 'hold') {
      this.held.push(res);
      return;
    }
    alert.answered = answer;
    res.writeHead(answer).end();
  }

  /** Requests answered 2xx: what the receiver acknowledged. */
  get acknowledged(): ReceivedAlert[] {
    return this.received.filter((r) => r.answered !== undefined && r.answered >= 200 && r.answered < 300);
  }

  /** The acknowledged events of a kind, each id once. */
  distinct(kind?: string): ReceivedAlert[] {
    const byId = new Map<string, ReceivedAlert>();
    for (const r of this.acknowledged) if (!kind || r.event.kind === kind) byId.set(r.eventId, r);
    return [...byId.values()];
  }

  async stop(): Promise<void> {
    for (const res of this.held.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
