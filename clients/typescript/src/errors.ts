import type { components } from './generated/openapi.js';

/** An RFC 9457 problem document, as the server sends every error. */
export type Problem = components['schemas']['Problem'];

/**
 * An error answer from the server (its problem+json body), or a subscription
 * that the server ended for good (`code`/`reason` of the WebSocket close).
 */
export class ChannelhubError extends Error {
  readonly status: number;
  readonly title: string;
  readonly detail: string;
  readonly type: string;
  /** Seconds from a `Retry-After` header (429, 503), when there was one. */
  readonly retryAfter?: number;
  /** The WebSocket close code, for a subscription the server ended. */
  readonly closeCode?: number;

  constructor(problem: Problem, extra: { retryAfter?: number; closeCode?: number } = {}) {
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
  static async fromResponse(response: Response): Promise<ChannelhubError> {
    const text = await response.text();
    let problem: Problem;
    try {
      problem = JSON.parse(text) as Problem;
      if (typeof problem !== 'object' || problem === null || typeof problem.status !== 'number') {
        throw new TypeError('not a problem document');
      }
    } catch {
      // A proxy or a crash can answer without a problem body: keep what there is.
      problem = { type: 'about:blank', title: response.statusText || 'HTTP error', status: response.status, detail: text, error: text };
    }
    const retry = Number(response.headers.get('retry-after'));
    return new ChannelhubError(problem, { retryAfter: Number.isFinite(retry) && retry > 0 ? retry : undefined });
  }
}
