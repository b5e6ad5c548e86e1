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
export declare const NIL_ID = "00000000000000000000000000";
/** The client's shared socket (made on first use). */
export declare function sharedSocket(client: RestClient): SharedSocket;
export declare class SharedSocket {
    private readonly client;
    /** `false` once the server showed it has no multiplexed route. */
    supported: boolean | undefined;
    private socket;
    private ready;
    private opened;
    private readonly lanes;
    private refs;
    constructor(client: RestClient);
    /** Carries `channel` for `lane`; false when it must go elsewhere (see `Lane.onElsewhere`). */
    attach(channel: string, request: LaneRequest, lane: Lane): boolean;
    /** Ends `lane`'s subscription (the caller closed it); the last one closes the socket. */
    detach(channel: string, lane: Lane): void;
    private open;
    private closed;
    /** Whether the server answers the route's URL with 404, as one without it does (a current one says 426). */
    private routeMissing;
    private receive;
    private live;
    private subscribe;
    private send;
}
