// One WebSocket per client: every subscription of a `Channelhub` instance
// rides the server's multiplexed socket (`GET /api/v1/ws`), each as its own
// `subscribe` with its own types, resume point and token. A subscription
// learns of its own ending (`unsubscribed`, with the same application codes
// the per-channel route closes with) while the others keep flowing; a
// socket that closes ends them all, and each resumes as it would after its
// own socket closed. Against a server without the route (an older one, or a
// proxy that only passes per-channel sockets), subscriptions use the
// per-channel route instead: `subscribe.ts` decides, this file only carries.
import { ChannelhubError } from './errors.js';
import type { RestClient } from './rest.js';

/** How a socket, or one subscription on the shared socket, ended. */
export interface WsEnd {
  opened: boolean;
  code: number;
  reason: string;
}

/** What the shared socket tells one subscription. */
export interface Lane {
  /** The server took the subscription: its stream starts now. */
  onSubscribed(): void;
  /** An event, or a gap notice (`{gap: {after, removed_through}}`), as the per-channel route sends them. */
  onFrame(frame: Record<string, unknown>): void;
  /** The subscription ended (it is no longer on the socket). */
  onEnd(end: WsEnd): void;
  /** The server refused it for good (401, 403, 404, 400). */
  onRefused(error: ChannelhubError): void;
  /** The socket cannot carry it (a second subscription to the same channel, or the socket's bound): use the per-channel route. */
  onElsewhere(): void;
}

export interface LaneRequest {
  types?: string[];
  after?: string;
  /** Only when it differs from the client's own token (the connection credential). */
  token?: string;
}

/** The nil event id: resume from a channel's first stored event. */
export const NIL_ID = '00000000000000000000000000';

const sockets = new WeakMap<RestClient, SharedSocket>();

/** The client's shared socket (made on first use). */
export function sharedSocket(client: RestClient): SharedSocket {
  let socket = sockets.get(client);
  if (!socket) {
    socket = new SharedSocket(client);
    sockets.set(client, socket);
  }
  return socket;
}

interface Attached {
  lane: Lane;
  request: LaneRequest;
  ref: string;
  /** `subscribe` was sent on the current socket. */
  sent: boolean;
  /** Its `subscribed` arrived: frames for the channel before it belong to an earlier subscription. */
  live: boolean;
}

export class SharedSocket {
  /** `false` once the server showed it has no multiplexed route. */
  supported: boolean | undefined;
  private socket: WebSocket | undefined;
  private ready = false;
  private opened = false;
  private readonly lanes = new Map<string, Attached>();
  private refs = 0;

  constructor(private readonly client: RestClient) {}

  /** Carries `channel` for `lane`; false when it must go elsewhere (see `Lane.onElsewhere`). */
  attach(channel: string, request: LaneRequest, lane: Lane): boolean {
    if (this.supported === false || this.lanes.has(channel)) return false;
    const attached: Attached = { lane, request, ref: `s${++this.refs}`, sent: false, live: false };
    this.lanes.set(channel, attached);
    if (!this.socket) this.open();
    else if (this.ready) this.subscribe(channel, attached);
    return true;
  }

  /** Ends `lane`'s subscription (the caller closed it); the last one closes the socket. */
  detach(channel: string, lane: Lane): void {
    const attached = this.lanes.get(channel);
    if (attached?.lane !== lane) return;
    this.lanes.delete(channel);
    if (attached.sent && this.ready) this.send({ unsubscribe: { ref: attached.ref, channel } });
    if (this.lanes.size === 0) this.socket?.close(1000, 'client closed');
  }

  private open(): void {
    const WebSocketImpl = this.client.WebSocketImpl!;
    const socket = new WebSocketImpl(this.client.multiplexedUrl({ token: this.client.token }));
    this.socket = socket;
    this.ready = this.opened = false;
    socket.onopen = () => {
      this.opened = true;
    };
    socket.onmessage = (message) => {
      if (typeof message.data === 'string') this.receive(JSON.parse(message.data) as Record<string, any>);
    };
    socket.onclose = (close) => {
      void this.closed(socket, { opened: this.opened, code: close.code, reason: close.reason });
    };
    // An error is always followed by a close, which decides what happens.
    socket.onerror = () => {};
  }

  private async closed(socket: WebSocket, end: WsEnd): Promise<void> {
    if (this.socket !== socket) return;
    this.socket = undefined;
    this.ready = false;
    // A socket that never opened: is it the route that is missing?
    if (!end.opened && this.supported === undefined && (await this.routeMissing())) this.supported = false;
    const lanes = [...this.lanes.values()];
    this.lanes.clear();
    for (const { lane } of lanes) lane.onEnd(end);
  }

  /** Whether the server answers the route's URL with 404, as one without it does (a current one says 426). */
  private async routeMissing(): Promise<boolean> {
    try {
      const url = this.client.multiplexedUrl().replace(/^ws/, 'http');
      return (await fetch(url)).status === 404;
    } catch {
      return false; // the server is down or restarting
    }
  }

  private receive(frame: Record<string, any>): void {
    if (frame.id !== undefined) {
      this.live(frame.channel_id)?.lane.onFrame(frame);
      return;
    }
    const [kind] = Object.keys(frame);
    const body = frame[kind] ?? {};
    switch (kind) {
      case 'hello':
        this.supported = true;
        this.ready = true;
        for (const [channel, attached] of this.lanes) this.subscribe(channel, attached);
        return;
      case 'subscribed': {
        const attached = this.lanes.get(body.channel);
        if (!attached || attached.ref !== body.ref) return;
        attached.live = true;
        attached.lane.onSubscribed();
        return;
      }
      case 'gap':
        this.live(body.channel)?.lane.onFrame({ gap: { after: body.after, removed_through: body.removed_through } });
        return;
      case 'unsubscribed': {
        // The answer to our own unsubscribe comes after the lane left; an
        // ending before `subscribed` is an earlier subscription's.
        const attached = this.live(body.channel);
        if (!attached || (body.ref !== null && body.ref !== undefined && body.ref !== attached.ref)) return;
        this.lanes.delete(body.channel);
        attached.lane.onEnd({ opened: true, code: body.code, reason: body.reason });
        return;
      }
      case 'error': {
        const entry = [...this.lanes.entries()].find(([, a]) => a.ref === body.ref);
        if (!entry) return; // a refused unsubscribe of a lane already gone
        const [channel, attached] = entry;
        this.lanes.delete(channel);
        if (body.status === 409 || body.status === 429) attached.lane.onElsewhere();
        else {
          const problem = { type: 'about:blank', title: body.title, status: body.status, detail: body.detail, error: body.detail };
          attached.lane.onRefused(new ChannelhubError(problem, { retryAfter: body.retry_after }));
        }
        if (this.lanes.size === 0) this.socket?.close(1000, 'client closed');
        return;
      }
      default:
        return; // caught_up, refreshed, and kinds a later server adds
    }
  }

  private live(channel: string): Attached | undefined {
    const attached = this.lanes.get(channel);
    return attached?.live ? attached : undefined;
  }

  private subscribe(channel: string, attached: Attached): void {
    attached.sent = true;
    const { types, after, token } = attached.request;
    this.send({ subscribe: { ref: attached.ref, channel, types, after, token } });
  }

  private send(frame: unknown): void {
    this.socket?.send(JSON.stringify(frame));
  }
}
