-- Public keys that sign JSON Web Tokens this server accepts (issue "bring
-- your own tokens"). Public keys are not secret: nothing here is hashed. The
-- HS256 secret is a flag, never stored.
CREATE TABLE trusted_keys (
    kid         TEXT PRIMARY KEY,
    alg         TEXT NOT NULL,       -- EdDSA, ES256, ES384, RS256 ... pinned per key
    jwk         TEXT NOT NULL,       -- the public JWK, as JSON (no private members)
    max_scopes  TEXT,                -- JSON array of scope patterns; NULL: no ceiling
    issuer      TEXT,                -- prefixes publisher ids; a token's iss must equal it
    require_exp INTEGER NOT NULL,
    max_ttl_ms  BIGINT,              -- exp - iat may not exceed it
    fingerprint TEXT NOT NULL,       -- hex of SHA-256(alg, jwk), first 16 bytes: which key material
    created_at  BIGINT NOT NULL
) WITHOUT ROWID;

-- Tokens refused before their exp: by jti, or by subject (optionally only
-- those issued before a time). Rows may be swept after expires_at.
CREATE TABLE jwt_revocations (
    id            TEXT PRIMARY KEY,
    kind          TEXT NOT NULL,     -- 'jti' | 'subject'
    value         TEXT NOT NULL,     -- the jti, or the sub
    issuer        TEXT,              -- subject revocations: the key's issuer (NULL: none)
    issued_before BIGINT,            -- subject: tokens with iat before this (ms); NULL: all
    expires_at    BIGINT,            -- when the row may be swept (ms); NULL: kept
    created_at    BIGINT NOT NULL
) WITHOUT ROWID;

-- A webhook registered with a JWT holds that token's identity, so that it
-- stops with it: key removed or replaced (jwt_key: the fingerprint of the
-- key, or of the HS secret, that verified it), jti or subject revoked (its
-- expires_at is already no later than the token's exp).
ALTER TABLE webhooks ADD COLUMN jwt_kid TEXT;
ALTER TABLE webhooks ADD COLUMN jwt_key TEXT;
ALTER TABLE webhooks ADD COLUMN jwt_sub TEXT;
ALTER TABLE webhooks ADD COLUMN jwt_issuer TEXT;
ALTER TABLE webhooks ADD COLUMN jwt_jti TEXT;
ALTER TABLE webhooks ADD COLUMN jwt_iat BIGINT;
