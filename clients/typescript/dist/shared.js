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
/** The nil event id: resume from a channel's first stored event. */
export const NIL_ID = '00000000000000000000000000';
const sockets = new WeakMap();
/** The client's shared socket (made on first use). */
export function sharedSocket(client) {
    let socket = sockets.get(client);
    if (!socket) {
        socket = new SharedSocket(client);
        sockets.set(client, socket);
    }
    return socket;
}
export class SharedSocket {
    client;
    /** `false` once the server showed it has no multiplexed route. */
    supported;
    socket;
    ready = false;
    opened = false;
    lanes = new Map();
    refs = 0;
    constructor(client) {
        this.client = client;
    }
    /** Carries `channel` for `lane`; false when it must go elsewhere (see `Lane.onElsewhere`). */
    attach(channel, request, lane) {
        if (this.supported === false || this.lanes.has(channel))
            return false;
        const attached = { lane, request, ref: `s${++this.refs}`, sent: false, live: false };
        this.lanes.set(channel, attached);
        if (!this.socket)
            this.open();
        else if (this.ready)
            this.subscribe(channel, attached);
        return true;
    }
    /** Ends `lane`'s subscription (the caller closed it); the last one closes the socket. */
    detach(channel, lane) {
        const attached = this.lanes.get(channel);
        if (attached?.lane !== lane)
            return;
        this.lanes.delete(channel);
        if (attached.sent && this.ready)
            this.send({ unsubscribe: { ref: attached.ref, channel } });
        if (this.lanes.size === 0)
            this.socket?.close(1000, 'client closed');
    }
    open() {
        const WebSocketImpl = this.client.WebSocketImpl;
        const socket = new WebSocketImpl(this.client.multiplexedUrl({ token: this.client.token }));
        this.socket = socket;
        this.ready = this.opened = false;
        socket.onopen = () => {
            this.opened = true;
        };
        socket.onmessage = (message) => {
            if (typeof message.data === 'string')
                this.receive(JSON.parse(message.data));
        };
        socket.onclose = (close) => {
            void this.closed(socket, { opened: this.opened, code: close.code, reason: close.reason });
        };
        // An error is always followed by a close, which decides what happens.
        socket.onerror = () => { };
    }
    async closed(socket, end) {
        if (this.socket !== socket)
            return;
        this.socket = undefined;
        this.ready = false;
        // A socket that never opened: is it the route that is missing?
        if (!end.opened && this.supported === undefined && (await this.routeMissing()))
            this.supported = false;
        const lanes = [...this.lanes.values()];
        this.lanes.clear();
        for (const { lane } of lanes)
            lane.onEnd(end);
    }
    /** Whether the server answers the route's URL with 404, as one without it does (a current one says 426). */
    async routeMissing() {
        try {
            const url = this.client.multiplexedUrl().replace(/^ws/, 'http');
            return (await fetch(url)).status === 404;
        }
        catch {
            return false; // the server is down or restarting
        }
    }
    receive(frame) {
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
                for (const [channel, attached] of this.lanes)
                    this.subscribe(channel, attached);
                return;
            case 'subscribed': {
                const attached = this.lanes.get(body.channel);
                if (!attached || attached.ref !== body.ref)
                    return;
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
                if (!attached || (body.ref !== null && body.ref !== undefined && body.ref !== attached.ref))
                    return;
                this.lanes.delete(body.channel);
                attached.lane.onEnd({ opened: true, code: body.code, reason: body.reason });
                return;
            }
            case 'error': {
                const entry = [...this.lanes.entries()].find(([, a]) => a.ref === body.ref);
                if (!entry)
                    return; // a refused unsubscribe of a lane already gone
                const [channel, attached] = entry;
                this.lanes.delete(channel);
                if (body.status === 409 || body.status === 429)
                    attached.lane.onElsewhere();
                else {
                    const problem = { type: 'about:blank', title: body.title, status: body.status, detail: body.detail, error: body.detail };
                    attached.lane.onRefused(new ChannelhubError(problem, { retryAfter: body.retry_after }));
                }
                if (this.lanes.size === 0)
                    this.socket?.close(1000, 'client closed');
                return;
            }
            default:
                return; // caught_up, refreshed, and kinds a later server adds
        }
    }
    live(channel) {
        const attached = this.lanes.get(channel);
        return attached?.live ? attached : undefined;
    }
    subscribe(channel, attached) {
        attached.sent = true;
        const { types, after, token } = attached.request;
        this.send({ subscribe: { ref: attached.ref, channel, types, after, token } });
    }
    send(frame) {
        this.socket?.send(JSON.stringify(frame));
    }
}
//# sourceMappingURL=shared.js.map