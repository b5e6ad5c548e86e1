/**
 * An error answer from the server (its problem+json body), or a subscription
 * that the server ended for good (`code`/`reason` of the WebSocket close).
 */
export class ChannelhubError extends Error {
    status;
    title;
    detail;
    type;
    /** Seconds from a `Retry-After` header (429, 503), when there was one. */
    retryAfter;
    /** The WebSocket close code, for a subscription the server ended. */
    closeCode;
    constructor(problem, extra = {}) {
        super(`${problem.status} ${problem.title}: ${problem.detail}`);
        this.name = 'ChannelhubError';
        this.status = problem.status;
        this.title = problem.title;
        this.detail = problem.detail;
        this.type = problem.type;
        this.retryAfter = extra.retryAfter;
        this.closeCode = extra.closeCode;
    }
    /** Reads a failed response: its problem+json body, or a stand-in when it has none. */
    static async fromResponse(response) {
        const text = await response.text();
        let problem;
        try {
            problem = JSON.parse(text);
            if (typeof problem !== 'object' || problem === null || typeof problem.status !== 'number') {
                throw new TypeError('not a problem document');
            }
        }
        catch {
            // A proxy or a crash can answer without a problem body: keep what there is.
            problem = { type: 'about:blank', title: response.statusText || 'HTTP error', status: response.status, detail: text, error: text };
        }
        const retry = Number(response.headers.get('retry-after'));
        return new ChannelhubError(problem, { retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined });
    }
}
//# sourceMappingURL=errors.js.map