export class WebhookVerificationError extends Error {
    constructor(message) {
        super(message);
        this.name = 'WebhookVerificationError';
    }
}
/**
 * Checks a delivery and answers its event. Pass the body exactly as received
 * (before any JSON parsing), and at least one of `secret` and `publicKey`.
 * Throws `WebhookVerificationError` when a header is missing, the timestamp
 * is outside the tolerance (a replay), or no signature matches.
 */
export async function verifyWebhook(headers, rawBody, options) {
    const id = header(headers, 'webhook-id');
    const timestamp = header(headers, 'webhook-timestamp');
    const signatures = header(headers, 'webhook-signature');
    if (!id || !timestamp || !signatures)
        throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
    if (!options.secret && !options.publicKey)
        throw new WebhookVerificationError('pass a secret or a publicKey');
    const seconds = Number(timestamp);
    const tolerance = options.toleranceSeconds ?? 300;
    const now = (options.now ?? Date.now()) / 1000;
    if (!/^\d+$/.test(timestamp) || Math.abs(now - seconds) > tolerance) {
        throw new WebhookVerificationError('webhook-timestamp is outside the tolerance');
    }
    const body = typeof rawBody === 'string' ? new TextEncoder().encode(rawBody) : rawBody;
    const signed = concat(new TextEncoder().encode(`${id}.${timestamp}.`), body);
    const entries = signatures.split(' ').map((entry) => {
        const comma = entry.indexOf(',');
        return { version: entry.slice(0, comma), signature: entry.slice(comma + 1) };
    });
    const keys = [];
    if (options.secret)
        keys.push({ version: 'v1', key: hmacKey(options.secret), algorithm: 'HMAC' });
    if (options.publicKey)
        keys.push({ version: 'v1a', key: ed25519Key(options.publicKey), algorithm: 'Ed25519' });
    for (const { version, key, algorithm } of keys) {
        for (const entry of entries.filter((e) => e.version === version)) {
            const signature = decodeBase64(entry.signature);
            // subtle.verify compares in constant time.
            if (signature && (await crypto.subtle.verify(algorithm, await key, signature, signed))) {
                return JSON.parse(new TextDecoder().decode(body));
            }
        }
    }
    throw new WebhookVerificationError('no signature matches');
}
function hmacKey(secret) {
    const encoded = secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret;
    // As the server does: a secret that is not base64 is used as its bytes.
    const bytes = decodeBase64(encoded) ?? new TextEncoder().encode(secret);
    return crypto.subtle.importKey('raw', bytes, { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
}
function ed25519Key(publicKey) {
    const bytes = decodeBase64(publicKey.startsWith('whpk_') ? publicKey.slice('whpk_'.length) : publicKey);
    if (!bytes || bytes.length !== 32)
        throw new WebhookVerificationError('publicKey is not a whpk_<base64> Ed25519 key');
    return crypto.subtle.importKey('raw', bytes, { name: 'Ed25519' }, false, ['verify']);
}
function header(headers, name) {
    if (typeof headers.get === 'function')
        return headers.get(name) ?? undefined;
    const record = headers;
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    const value = key === undefined ? undefined : record[key];
    return Array.isArray(value) ? value[0] : value;
}
function decodeBase64(text) {
    try {
        return Uint8Array.from(atob(text), (c) => c.charCodeAt(0));
    }
    catch {
        return undefined;
    }
}
function concat(a, b) {
    const out = new Uint8Array(a.length + b.length);
    out.set(a);
    out.set(b, a.length);
    return out;
}
//# sourceMappingURL=webhooks.js.map